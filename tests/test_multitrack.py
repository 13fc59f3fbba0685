"""Multitrack interviews (issue 15): one recording per speaker, levelled, de-bled, mixed.

Each test session is generated here (``audio_fixtures.multitrack``): a host and a guest 10 dB
quieter, each on a track with its own pink room noise, each voice leaking into the other's
track 25 dB down — 3 ms late (two microphones in one room) or 200 ms late (a remote guest
on speakers).  The episode is a real show folder mastered with the ``podcast master`` CLI.

Results are measured from the decoded MP3 with numpy and ffmpeg's meter, never with the
product's code.  How much of each *track* the mix carries over a stretch is found by
regressing the master's samples on the two input tracks (a short FIR filter per track, so
the cleanup's phase and the codec do not matter): that gain, where only the other speaker
talks, against the gain where the track's own speaker talks, is how far the bleed was
taken down compared with plainly summing the levelled tracks.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import Passage, Recording, decode, ebur128, momentary_series, multitrack
from click.testing import CliRunner

from podcast.audio.multitrack.filtergraph import MixTrack, calibration_command
from podcast.binaries import ffmpeg
from podcast.cli import main
from podcast.config import load_episode, load_show
from podcast.errors import ConfigError

pytestmark = [pytest.mark.audio, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
RATE = 44100
LEVELS = {"host": -20.0, "guest": -30.0}
NOISE = {"host": -56.0, "guest": -58.0}  # dBFS RMS, pink
#: Long turns, replies of 1.5-3 s, and an 8 s pause where nobody speaks (46-54 s).
SESSION = [Passage("host", 0, 12), Passage("guest", 12, 24), Passage("host", 24, 30),
           Passage("guest", 30, 32), Passage("host", 32, 38), Passage("guest", 38, 39.5),
           Passage("host", 39.5, 46), Passage("guest", 54, 70), Passage("host", 70, 80),
           Passage("guest", 80, 83), Passage("host", 83, 92)]
PAUSE = (46.0, 54.0)
OTHER = {"host": "guest", "guest": "host"}


def write_show(folder: Path, audio: str) -> Path:
    """The demo show's podcast.yaml and artwork with one episode whose front matter has
    ``audio`` (YAML text); returns the config path."""
    shutil.copytree(REPO / "assets", folder / "assets")
    shutil.copy(REPO / "podcast.yaml", folder / "podcast.yaml")
    episode = folder / "episodes" / "001-interview"
    episode.mkdir(parents=True, exist_ok=True)
    (episode / "episode.md").write_text(
        "---\ntitle: Une interview\npublished: 2026-11-24T07:00:00+01:00\nnumber: 1\n"
        f"audio:\n{audio}\n---\nNotes.\n", encoding="utf-8")
    return folder / "podcast.yaml"


def two_tracks(offset: str = "") -> str:
    return ("  - {file: host.wav, role: host, name: Julien Morel}\n"
            f"  - {{file: guest.wav, role: guest{offset}}}")


def run_master(config: Path, *extra: str) -> dict:
    output = config.parent / "master.mp3"
    result = CliRunner().invoke(main, ["--config", str(config), "master", "001-interview",
                                       "-o", str(output), "--force", "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def session(folder: Path, delay: float, late: dict[str, float] | None = None,
            bleed_into: tuple[str, ...] | None = None) -> Recording:
    episode = folder / "episodes" / "001-interview"
    episode.mkdir(parents=True, exist_ok=True)
    return multitrack(episode, SESSION, LEVELS, NOISE, delay=delay, late=late, rate=RATE,
                      bleed_into=bleed_into)


# --------------------------------------------------------------------------- measuring


def highpassed(samples: np.ndarray, rate: int, cutoff: float = 300.0) -> np.ndarray:
    """``samples`` without anything under ``cutoff`` Hz (FFT brick wall)."""
    spectrum = np.fft.rfft(samples)
    spectrum[np.fft.rfftfreq(samples.size, 1.0 / rate) < cutoff] = 0.0
    return np.fft.irfft(spectrum, samples.size)


def level(samples: np.ndarray, start: float, stop: float, rate: int = RATE) -> float:
    part = samples[int(start * rate):int(stop * rate)]
    return 10 * math.log10(float(np.mean(part ** 2)) + 1e-30)


def _resampled(samples: np.ndarray, size: int) -> np.ndarray:
    """``samples`` (at RATE) at Mix.FIT_RATE by FFT resampling, ``size`` long."""
    count = round(samples.size * Mix.FIT_RATE / RATE)
    spectrum = np.fft.rfft(samples)[:count // 2 + 1]
    out = np.fft.irfft(spectrum, count) * count / samples.size
    return np.pad(out, (0, max(0, size - out.size)))[:size]


class Mix:
    """A master and its input tracks, decoded; the gain the mix gave each track."""

    FIT_RATE = 16000
    LAGS = range(-8, 9)  # samples at 16 kHz: +-0.5 ms (the bleed, 3 ms late, is not)

    def __init__(self, recording: Recording, output: Path) -> None:
        self.recording = recording
        out = decode(output, self.FIT_RATE)
        tracks = {voice: decode(path, self.FIT_RATE)
                  for voice, path in recording.paths.items()}
        size = min(out.size, *(track.size for track in tracks.values()))
        self.out = highpassed(out[:size], self.FIT_RATE)
        self.tracks = {voice: highpassed(track[:size], self.FIT_RATE)
                       for voice, track in tracks.items()}
        self.noises = {voice: highpassed(_resampled(noise, size), self.FIT_RATE)
                       for voice, noise in recording.noises.items()}
        self.voices = {voice: highpassed(_resampled(sound, size), self.FIT_RATE)
                       for voice, sound in recording.voices.items()}
        raw = decode(output, RATE)
        self.raw_out = raw
        self.out_full = highpassed(raw, RATE, 200.0)

    def track_gain(self, voice: str, stretches: list[tuple[float, float]]) -> float:
        """dB the mix applied to ``voice``'s track over the stretches, read from its own
        room noise (independent of every other sound): the norm of that noise's FIR in a
        least-squares fit of the master by both voices, the other track and this noise."""
        rows = np.concatenate([np.arange(int(a * self.FIT_RATE) + 16, int(b * self.FIT_RATE))
                               for a, b in stretches])
        rows = np.random.default_rng(5).choice(rows, size=min(120000, rows.size),
                                               replace=False)
        signals = [self.noises[voice], self.voices[voice], self.voices[OTHER[voice]],
                   self.tracks[OTHER[voice]]]
        design = np.stack([signal[rows - lag] for signal in signals for lag in self.LAGS],
                          axis=1)
        taps, *_ = np.linalg.lstsq(design, self.out[rows], rcond=None)
        return 20 * math.log10(float(np.linalg.norm(taps[:len(self.LAGS)])) + 1e-12)

    def voice_out_level(self, passage: Passage) -> float:
        """The speaker's loudness in the master over a passage: its nominal level plus the
        gain the passage received (output over input energy, above 200 Hz)."""
        voice = highpassed(self.recording.voices[passage.voice], RATE, 200.0)
        gain = (level(self.out_full, passage.start, passage.end)
                - level(voice, passage.start, passage.end))
        return LEVELS[passage.voice] + gain


@pytest.fixture(scope="module", params=[0.003, 0.2], ids=["same-room", "remote-200ms"])
def mastered(request, tmp_path_factory) -> tuple[Mix, dict, Path]:
    folder = tmp_path_factory.mktemp("multitrack")
    recording = session(folder, request.param)
    config = write_show(folder, two_tracks())
    figures = run_master(config)
    output = config.parent / "master.mp3"
    return Mix(recording, output), figures, output


# --------------------------------------------------------------------------- acceptance


def test_host_and_guest_come_out_within_1_5_lu_including_short_replies(mastered):
    mix, _figures, _output = mastered
    host = np.mean([mix.voice_out_level(p) for p in SESSION if p.voice == "host"])
    for passage in SESSION:
        assert abs(mix.voice_out_level(passage) - host) <= 1.5, passage


def test_the_bleed_is_taken_down_15_db_below_a_plain_sum_of_the_levelled_tracks(mastered):
    mix, _figures, _output = mastered
    for voice in ("host", "guest"):
        own = mix.track_gain(voice, [(p.start + 1, p.end - 1) for p in SESSION
                                     if p.voice == voice and p.end - p.start >= 6])
        # Where only the other speaker talks, this track carries nothing but its bleed
        # (and its room): the mix must carry it 15 dB under the track's own gain.
        bleed = mix.track_gain(voice, [(p.start + 1, p.end - 1) for p in SESSION
                                       if p.voice == OTHER[voice] and p.end - p.start >= 6])
        assert bleed <= own - 15.0, (voice, own, bleed)


def test_pause_noise_is_not_lifted_beyond_the_speech_gain_and_does_not_swell(mastered):
    mix, _figures, output = mastered
    recording = mix.recording
    host_gain = np.mean([mix.voice_out_level(p) - LEVELS["host"] for p in SESSION
                         if p.voice == "host"])
    # The room noise of a plain sum of the two tracks, in the pause.
    noise = highpassed(recording.noises["host"] + recording.noises["guest"], RATE, 200.0)
    start, stop = PAUSE
    lifted = level(mix.out_full, start + 1.5, stop - 1.5) - level(noise, start + 1.5,
                                                                   stop - 1.5)
    assert lifted <= host_gain + 3.0
    inside = [m for t, m in momentary_series(output) if start + 1.4 <= t <= stop - 1.0]
    assert max(inside) - min(inside) <= 4.0


def test_loudness_true_peak_and_per_track_figures(mastered):
    _mix, figures, output = mastered
    measured = ebur128(output)
    assert measured["lufs"] == pytest.approx(-19.0, abs=0.5)  # mono: dual-mono convention
    assert measured["true_peak"] <= -1.0
    host, guest = figures["tracks"]
    assert (host["file"], host["role"], host["name"]) == ("host.wav", "host", "Julien Morel")
    # Each track's own floor and loudness, as ffmpeg's meter reads the input file.
    for track, voice in ((host, "host"), (guest, "guest")):
        path = mastered[0].recording.paths[voice]
        assert track["input_lufs"] == pytest.approx(ebur128(path)["lufs"], abs=0.5)
        assert track["noise_floor_lufs"] < LEVELS[voice] - 20
        assert 0.15 < track["speech_share"] < 0.6
    # The quiet guest is lifted about 10 dB more than the host.
    assert guest["levelling_min_db"] - host["levelling_min_db"] == pytest.approx(10, abs=3)


def test_align_finds_a_half_second_offset_within_10_ms(tmp_path: Path):
    # The guest's recorder started 0.5 s late: its file lacks the first half second.
    session(tmp_path, 0.003, late={"guest": 0.5})
    config = write_show(tmp_path, two_tracks())
    reported = run_master(config)["tracks"][1]
    assert reported["estimated_offset"] == pytest.approx(0.5, abs=0.010)
    assert reported["offset"] == 0.0 and "not applied" in reported["alignment"]
    # Each voice is in the other's track (3 ms late): both bleeds found, the delay cancels.
    assert reported["estimate_bleed"] == "both ways"
    aligned = run_master(config, "--align")["tracks"][1]
    assert aligned["offset"] == pytest.approx(0.5, abs=0.010)
    assert aligned["alignment"] == "applied (--align)"


def test_bleed_heard_both_ways_cancels_its_delay(tmp_path: Path):
    # Two rooms, both on speakers: each voice reaches the other's track 50 ms late, and
    # both are loud enough to be heard there.  The two bleed peaks straddle the offset.
    episode = tmp_path / "episodes" / "001-interview"
    episode.mkdir(parents=True)
    multitrack(episode, SESSION, {"host": -20.0, "guest": -20.0}, NOISE, delay=0.05,
               late={"guest": 0.5}, rate=RATE)
    reported = run_master(write_show(tmp_path, two_tracks()))["tracks"][1]
    assert reported["estimate_bleed"] == "both ways"
    assert reported["estimated_offset"] == pytest.approx(0.5, abs=0.010)
    assert reported["alignment"] == "estimated, not applied (use --align)"


def lag(mixed: np.ndarray, source: np.ndarray, rate: int, within: float = 1.0) -> float:
    """How late (s) ``source`` sounds in ``mixed``: the peak of their cross-correlation."""
    size = 1 << int(np.ceil(np.log2(mixed.size + source.size)))
    circular = np.fft.irfft(np.fft.rfft(mixed, size) * np.conj(np.fft.rfft(source, size)),
                            size)
    span = int(within * rate)
    values = np.concatenate([circular[-span:], circular[:span + 1]])
    return (int(np.argmax(values)) - span) / rate


def test_one_way_bleed_is_lined_up_with_its_source_and_says_so(tmp_path: Path):
    # The host wears headphones, the guest listens on speakers: only her track carries
    # the other voice, the host's, 200 ms late; and her recorder started 0.5 s late.
    recording = session(tmp_path, 0.2, late={"guest": 0.5}, bleed_into=("guest",))
    config = write_show(tmp_path, two_tracks())
    reported = run_master(config)["tracks"][1]
    # Nothing in the recordings tells the 0.5 s from the 0.2 s: the estimate lines the
    # host's bleed up with the host's voice, the recorders' offset less the delay.
    assert reported["estimated_offset"] == pytest.approx(0.5 - 0.2, abs=0.010)
    assert reported["estimate_bleed"] == "one way"
    assert "one-way bleed: includes its delay" in reported["alignment"]
    aligned = run_master(config, "--align")["tracks"][1]
    assert aligned["offset"] == pytest.approx(0.3, abs=0.010)
    assert aligned["alignment"].startswith("applied (--align)")
    # Applied, the guest speaks 0.2 s earlier in the master than on the common clock (as
    # she heard the host), and the host stays where his track has him.
    master = decode(config.parent / "master.mp3", Mix.FIT_RATE)
    for voice, expected in (("guest", -0.2), ("host", 0.0)):
        source = _resampled(recording.voices[voice], master.size)
        assert lag(master, source, Mix.FIT_RATE) == pytest.approx(expected, abs=0.005)


def test_a_large_disagreement_is_reported_not_applied(tmp_path: Path):
    session(tmp_path, 0.003, late={"guest": 0.5})
    config = write_show(tmp_path, two_tracks(", offset: 8"))
    reported = run_master(config, "--align")["tracks"][1]
    assert reported["offset"] == 8.0
    assert reported["estimated_offset"] == pytest.approx(0.5, abs=0.010)
    # The note says what to write instead, with the estimate.
    suggested = re.search(r"`offset: (-?[\d.]+)`", reported["alignment"])
    assert "not applied" in reported["alignment"] and suggested
    assert float(suggested.group(1)) == pytest.approx(0.5, abs=0.010)


# --------------------------------------------------------------------------- config


def _load(folder: Path, audio: str):
    episode = folder / "episodes" / "001-interview"
    episode.mkdir(parents=True, exist_ok=True)
    for name in ("host.wav", "guest.wav", "bed.mp3"):
        (episode / name).write_bytes(b"")
    config = write_show(folder, audio)
    return load_episode(load_show(config), episode)


def test_a_track_list_is_read_with_its_settings(tmp_path: Path):
    episode = _load(tmp_path, "  - {file: host.wav, role: host, name: Julien Morel}\n"
                              "  - {file: guest.wav, role: guest, offset: 0.25, gain: -3,"
                              " pan: 0.5}\n  - {file: bed.mp3, role: music}")
    host, guest, bed = episode.tracks
    assert episode.audio == host.file and episode.is_multitrack
    assert (guest.offset, guest.gain, guest.pan, bed.role) == (0.25, -3.0, 0.5, "music")


@pytest.mark.parametrize(("audio", "field", "message"), [
    ("  - {file: host.wav, role: narrator}", "audio[0].role", "not one of host, guest"),
    ("  - {file: host.wav}", "audio[0].role", "missing required key"),
    ("  - {file: nope.wav, role: host}", "audio[0].file", "does not exist"),
    ("  - {file: host.wav, role: host, offset: soon}", "audio[0].offset",
     "expected a number"),
    ("  - {file: host.wav, role: host, pan: 2}", "audio[0].pan", "outside -1..1"),
    ("  - {file: host.wav, role: host, volume: 3}", "audio[0].volume", "unknown key"),
    ("  - {file: host.wav, role: host, name: Nobody}", "audio[0].name",
     "not a host of the episode"),
    ("  - {file: host.wav, role: host}\n  - {file: host.wav, role: guest}",
     "audio[1].file", "also track 0"),
    ("  - {file: bed.mp3, role: music}", "audio", "no track is a speaker"),
    ("  []", "audio", "list of tracks is empty"),
])
def test_bad_tracks_are_clear_errors(tmp_path: Path, audio: str, field: str, message: str):
    with pytest.raises(ConfigError, match=message) as caught:
        _load(tmp_path, audio)
    assert caught.value.field == field and caught.value.fix


def test_with_max_pause_publish_finds_the_cuts_the_master_makes(demo_show: Path, tmp_path):
    """The demo's two-track episode with ``max_pause: 0.8``: the timeline found without
    mastering (what a dry run plans chapters and transcripts with) is the master's own."""
    from podcast.audio import episode_timeline, master
    from podcast.config import load_episodes

    demo_show.write_text(demo_show.read_text().replace(
        "  sample_rate: 44100\n", "  sample_rate: 44100\n  max_pause: 0.8\n"))
    show = load_show(demo_show)
    episode = next(e for e in load_episodes(show) if e.is_multitrack)
    made = master(show, episode, tmp_path / "out.mp3")
    assert made.timeline.cuts  # the demo has pauses longer than 0.8 s
    assert episode_timeline(show, episode) == made.timeline
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["levelling"]["cuts"] == [list(cut) for cut in made.timeline.cuts]


def test_calibration_windows_past_a_short_tracks_end_play_as_silence(tmp_path: Path):
    """A calibration window after a track has ended reads nothing from that track: its
    silence still has time stamps (ffmpeg logged "Invalid data found" from concat, and a
    frame-size filter after the meter made that fatal), and both meters hear the long one."""
    tracks = []
    for name, seconds in (("short", 10), ("long", 60)):
        path = tmp_path / f"{name}.wav"
        subprocess.run([ffmpeg(), "-v", "error", "-f", "lavfi", "-i",
                        f"anoisesrc=d={seconds}:c=pink:r={RATE}:a=0.1:seed=1",
                        "-ac", "1", str(path)], check=True)
        times = np.arange(0, 60, 0.1)
        tracks.append(MixTrack(path=path, offset=0.0, filters="", times=times,
                               gains_db=np.zeros(times.size), rate=RATE))
    spans = [(start, 6.0) for start in (0.0, 20.0, 40.0)]
    command = calibration_command(tracks, spans, tmp_path, rate=RATE, layout="mono",
                                  offset_db=0.0, ceiling=-2.0, step=1.0)
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[error]" not in done.stderr and "[fatal]" not in done.stderr
    # Each of the two meters heard the three windows: 18 s, 180 blocks of 100 ms.
    assert len(re.findall(r"\] \[info\] t: .*TARGET", done.stderr)) >= 2 * 179
