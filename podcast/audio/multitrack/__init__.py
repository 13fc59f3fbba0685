"""The multitrack master: one recording per speaker (and music beds), mixed into one MP3.

Its rooms, in the order a master passes through them:

- :mod:`.alignment`: where each track starts, estimated from the bleed between them;
- :mod:`.decisions`: numpy on the tracks' block loudness: own speech against bleed,
  levelling, gates, music ducking, the mix's predicted loudness;
- :mod:`.filtergraph`: the ffmpeg side: each track placed, cleaned, multiplied by its gain
  envelope, panned and summed, for the limiter calibration and pass 2;
- :mod:`.master`: the steps in order (:func:`.master.master_tracks`), and the timeline a
  multitrack master gives (:func:`.master.mix_timeline`).
"""
