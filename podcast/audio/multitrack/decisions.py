"""Multitrack decisions: per-track speech, bleed, levelling, gate and ducking curves.

Everything here is numpy arithmetic on the 10 Hz block-loudness series of pass 1 (one per
track, laid on the mix's timeline), so memory grows with neither the length (a few floats
per 100 ms) nor the audio (no samples).

1. **Own speech.**  Each speaker's track is profiled against its *own* noise floor
   (:func:`.levelling.speech_profile`).  A block standing out of its floor may still be
   another speaker's voice leaking in (*bleed*: two microphones in one room, or a remote
   guest on speakers).  Bleed follows its source: where track ``j`` speaks, track ``k``
   carries it at a steady level ``c`` below (the *coupling*, typically -20..-35 dB), a
   little later (up to :data:`BLEED_LAG`).  ``c`` is read from the data as the median
   level difference over the blocks where both stand out of their floors and ``k`` is
   the quieter; a block of ``k`` within :data:`BLEED_MARGIN` dB of ``j``'s recent
   loudness plus ``c`` is bleed, not ``k``'s speaker.
2. **Levelling.**  Each speaker's own speech is brought to one common level, by the
   running speech level of :func:`.levelling.speech_gains` over its own-speech blocks
   only; its other blocks hold the gain of :func:`.levelling.fill_pauses` (never more
   than the speech around them).
3. **Gate.**  Where its speaker is silent (a pause, or the other speaker talking), a track
   is taken down by :data:`GATE_DB`, opening a little before the speech
   (the curve is computed after the fact, so it can look ahead) and closing after a hold.
   Where nobody speaks, the first speaker's track is only lowered by :data:`ROOM_DB`, so
   the pauses keep a room tone instead of dropping to digital silence.
4. **Music** beds keep one gain (their loudness on the common level) and are ducked by
   :data:`DUCK_DB` under any speech.
5. **Prediction.**  The mix's blocks are the sum of the tracks' block energies after their
   curves (the speakers are independent sounds; the bleed left is 30 dB down), so its
   integrated loudness is predicted with the BS.1770 gates and one offset hits the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...loudness import block_energy, energy_loudness, gated_loudness
from ...model import Track
from ..levelling import (
    BLOCK,
    FLOOR_GAIN_PERCENTILE,
    fill_pauses,
    moving_average,
    speech_gains,
    speech_profile,
    true_runs,
)

#: Loudness (LUFS) of a block with no audio (before a track starts, after it ends).
ABSENT = -200.0
#: Bleed arrives up to this late (s) after its source: the 3 ms of two microphones in one
#: room, or the 100-300 ms of a remote guest hearing the host on speakers.
BLEED_LAG = 0.4
#: A block is the track's own speaker when it stands this many dB above the bleed the
#: other tracks explain.
BLEED_MARGIN = 6.0
#: Fewer blocks than this where a pair of tracks both stand out: no coupling measurable.
MIN_COUPLING_BLOCKS = 10
#: How far (dB) a track is taken down where its speaker is silent ...
GATE_DB = -30.0
#: ... except the first speaker's where nobody speaks (the room tone of the pauses).
ROOM_DB = -10.0
#: The gate opens this long (s) before the first own-speech block and holds this long
#: after the last ...
GATE_LEAD = 0.2
GATE_HOLD = 0.3
#: ... bridges gaps between words up to this long (s) unless another speaker talks in
#: them, and moves over this long (s).
GATE_BRIDGE = 0.8
GATE_RAMP = 0.3
#: A music bed is ducked this much (dB) under speech, over this long a ramp (s).
DUCK_DB = -18.0
DUCK_RAMP = 0.5
#: Own-speech blocks more than this (dB) under the track's median speech are the fading
#: ends of words: levelled with the speech around them.
CORE_DB = 15.0
#: Levelling range (dB) around the common level, as for a single recording.
MAX_BOOST = 20.0
MAX_CUT = 10.0


@dataclass(frozen=True)
class TrackSeries:
    """One track's pass-1 blocks on the mix's timeline (block ``i`` ends at
    ``(i + 1) * BLOCK`` s of the mix), ``ABSENT`` where the track has no audio."""

    track: Track
    loud: np.ndarray  # LUFS per block, with the track's ``gain``
    present: np.ndarray  # bool: the track has audio in this block
    offset: float  # seconds, as applied


@dataclass(frozen=True)
class TrackCurve:
    """What the mix applies to one track: levelling and gate (dB per block) and figures."""

    series: TrackSeries
    levelling_db: np.ndarray
    gate_db: np.ndarray
    own: np.ndarray  # bool: the track's own speaker (speech tracks) / speech under it
    floor: float
    coupling: dict[int, float]

    @property
    def gains_db(self) -> np.ndarray:
        """The whole gain (dB per block) before the mix's common offset."""
        return self.levelling_db + self.gate_db

    def figures(self) -> dict:
        """JSON-ready figures of the track (loudness, floor, speech, gain range)."""
        present = self.series.present
        loud = self.series.loud[present]
        own = self.own[present]
        applied = self.levelling_db[self.own] if self.own.any() else self.levelling_db
        track = self.series.track
        return {
            "file": track.file.name, "role": track.role, "name": track.name,
            "offset": round(self.series.offset, 3), "gain_db": track.gain,
            "input_lufs": _round(gated_loudness(loud)),
            "noise_floor_lufs": _round(self.floor),
            "speech_share": round(float(own.mean()), 3) if own.size else 0.0,
            "speech_lufs": _round(gated_loudness(loud[own])) if own.any() else None,
            "levelling_min_db": _round(float(applied.min())) if applied.size else 0.0,
            "levelling_max_db": _round(float(applied.max())) if applied.size else 0.0,
            "bleed_coupling_db": {str(index): round(value, 1)
                                  for index, value in sorted(self.coupling.items())},
        }


def _round(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


def place(track: Track, times: np.ndarray, momentary: np.ndarray, offset: float,
          size: int) -> TrackSeries:
    """A track's block series (ends at ``times`` s of the file) on a mix grid of ``size``
    blocks, shifted by ``offset`` s (rounded to the 100 ms grid: the decisions are made
    per block; the audio itself is moved sample-exactly)."""
    loud = np.full(size, ABSENT)
    index = np.round((np.asarray(times) + offset) / BLOCK).astype(int) - 1
    keep = (index >= 0) & (index < size)
    values = np.asarray(momentary, dtype=float)
    loud[index[keep]] = np.where(np.isfinite(values[keep]), values[keep], ABSENT) + track.gain
    present = np.zeros(size, dtype=bool)
    present[index[keep]] = True
    return TrackSeries(track=track, loud=loud, present=present, offset=offset)


def recent_max(values: np.ndarray, blocks: int) -> np.ndarray:
    """For each block, the largest of it and the ``blocks`` before it."""
    out = values.copy()
    for lag in range(1, blocks + 1):
        out[lag:] = np.maximum(out[lag:], values[:-lag])
    return out


def _dilate(mask: np.ndarray, before: int, after: int) -> np.ndarray:
    """``mask`` widened by ``before`` blocks earlier and ``after`` later."""
    out = mask.copy()
    for lag in range(1, after + 1):
        out[lag:] |= mask[:-lag]
    for lag in range(1, before + 1):
        out[:-lag] |= mask[lag:]
    return out


def own_speech(series: list[TrackSeries]) -> tuple[list[np.ndarray], list[float],
                                                     list[dict[int, float]]]:
    """Each speaker track's own-speech blocks (bleed taken out), its noise floor, and its
    measured couplings ``{other track index: dB}`` (see the module doc)."""
    lag = round(BLEED_LAG / BLOCK)
    stands, floors = [], []
    for item in series:
        profile = speech_profile(item.loud[item.present])
        mask = np.zeros(item.loud.size, dtype=bool)
        mask[item.present] = profile.speech
        stands.append(mask)
        floors.append(profile.floor)
    owns, couplings = [], []
    for k, item in enumerate(series):
        own, coupling = stands[k].copy(), {}
        for j, other in enumerate(series):
            if j == k:
                continue
            source = recent_max(np.where(stands[j], other.loud, ABSENT), lag)
            difference = item.loud - source
            both = stands[k] & (source > ABSENT) & (difference < 0)
            if both.sum() < MIN_COUPLING_BLOCKS:
                continue
            coupling[j] = float(np.median(difference[both]))
            own &= ~((source > ABSENT) & (difference <= coupling[j] + BLEED_MARGIN))
        owns.append(own)
        couplings.append(coupling)
    return owns, floors, couplings


def _bridge(own: np.ndarray, others: np.ndarray) -> np.ndarray:
    """``own`` with its short gaps filled, unless another speaker talks in them."""
    out = own.copy()
    longest = round(GATE_BRIDGE / BLOCK)
    for start, stop in true_runs(~own):
        if 0 < start and stop < own.size and stop - start <= longest \
                and not others[start:stop].any():
            out[start:stop] = True
    return out


def gate_curve(own: np.ndarray, others: np.ndarray, *, room: bool) -> np.ndarray:
    """The gate (dB per block) of a speaker's track: 0 where its speaker talks (opened
    :data:`GATE_LEAD` early, held :data:`GATE_HOLD`), :data:`GATE_DB` elsewhere, or
    :data:`ROOM_DB` where nobody talks when ``room``; ramped over :data:`GATE_RAMP`."""
    bridged = _bridge(own, others)
    # Centred blocks: gains apply from 200 ms before a block's end, see level_gains.
    opened = _dilate(bridged, round(GATE_LEAD / BLOCK), round(GATE_HOLD / BLOCK))
    closed = np.full(own.size, GATE_DB)
    if room:
        anyone = _dilate(own | others, round(GATE_LEAD / BLOCK), round(GATE_HOLD / BLOCK))
        closed[~anyone] = ROOM_DB
    return moving_average(np.where(opened, 0.0, closed), round(GATE_RAMP / BLOCK))


def speech_levelling(loud: np.ndarray, own: np.ndarray, reference: float) -> np.ndarray:
    """The levelling (dB per block) bringing a track's own speech to ``reference``; its
    other blocks get no more than the speech around them (:func:`.levelling.fill_pauses`)."""
    if not own.any():
        return np.zeros(loud.size)
    # The fading ends of words and phrases are levelled with the words around them (as
    # short gaps), not lifted to the common level on their own.
    core = own & (loud >= float(np.median(loud[own])) - CORE_DB)
    gains = np.zeros(loud.size)
    gains[core] = speech_gains(loud, core, reference, max_boost=MAX_BOOST, max_cut=MAX_CUT)
    floor_gain = float(np.percentile(gains[core], FLOOR_GAIN_PERCENTILE))
    return moving_average(fill_pauses(gains, core, floor_gain), 3)


def duck_curve(speech: np.ndarray) -> np.ndarray:
    """A music bed's ducking (dB per block): :data:`DUCK_DB` under ``speech``, ramped."""
    ramp = round(DUCK_RAMP / BLOCK)
    ducked = _dilate(speech, ramp, ramp)
    return moving_average(np.where(ducked, DUCK_DB, 0.0), ramp)


def common_level(series: list[TrackSeries], owns: list[np.ndarray]) -> float:
    """The level every speaker is brought to: the mean of their own speech's loudness
    (before the mix's offset moves it onto the target)."""
    levels = [gated_loudness(item.loud[own]) for item, own in zip(series, owns, strict=True)
              if own.any()]
    levels = [level for level in levels if math.isfinite(level)]
    return float(np.mean(levels)) if levels else -23.0


def track_curves(series: list[TrackSeries]) -> list[TrackCurve]:
    """Levelling and gate (speakers) or ducking (music) of every track, in order."""
    speakers = [index for index, item in enumerate(series) if item.track.is_speech]
    owns, floors, couplings = own_speech([series[index] for index in speakers])
    reference = common_level([series[index] for index in speakers], owns)
    size = series[0].loud.size
    anyone = np.zeros(size, dtype=bool)
    for own in owns:
        anyone |= own
    curves = []
    for index, item in enumerate(series):
        if item.track.is_speech:
            number = speakers.index(index)
            own = owns[number]
            others = anyone & ~own
            for other in owns[:number] + owns[number + 1:]:
                others |= other
            curves.append(TrackCurve(
                series=item, levelling_db=speech_levelling(item.loud, own, reference),
                gate_db=gate_curve(own, others, room=number == 0), own=own,
                floor=floors[number],
                coupling={speakers[j]: value for j, value in couplings[number].items()}))
        else:
            profile = speech_profile(item.loud[item.present])
            loudness = gated_loudness(item.loud[item.present])
            flat = reference - loudness if math.isfinite(loudness) else 0.0
            curves.append(TrackCurve(
                series=item, levelling_db=np.full(size, flat), gate_db=duck_curve(anyone),
                own=anyone.copy(), floor=profile.floor, coupling={}))
    return curves


def mix_loudness(curves: list[TrackCurve], offset: float = 0.0) -> np.ndarray:
    """The mix's block loudness (LUFS) predicted from the tracks' blocks and curves: the
    sum of their energies (``offset`` dB added to every track)."""
    energy = np.zeros(curves[0].series.loud.size)
    for curve in curves:
        present = curve.series.present
        energy[present] += block_energy(curve.series.loud[present]
                                        + curve.gains_db[present] + offset)
    with np.errstate(divide="ignore"):
        return np.where(energy > 0, energy_loudness(np.maximum(energy, 1e-30)), ABSENT)


def raw_mix_loudness(series: list[TrackSeries]) -> np.ndarray:
    """The plain sum of the tracks' blocks (no curves): where the pauses of the
    conversation are (for ``audio.max_pause``)."""
    energy = np.zeros(series[0].loud.size)
    for item in series:
        energy[item.present] += block_energy(item.loud[item.present])
    return np.where(energy > 0, energy_loudness(np.maximum(energy, 1e-30)), ABSENT)
