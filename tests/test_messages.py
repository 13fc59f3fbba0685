"""Issue 20: the smaller defects, each reported as what it is, with the file, the field and
the fix: bidirectional controls in text, too many tracks (or too few file descriptors for
them), a master that is mostly not speech, samples that are not audio, and a file-size
limit met while mastering."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from podcast.audio.encoding import resource_problem
from podcast.audio.multitrack.filtergraph import (
    Bookend,
    MixTrack,
    calibration_command,
    process_command,
)
from podcast.audio.multitrack.master import MIX_CALIBRATION_WINDOWS, mix_descriptors
from podcast.binaries import ffmpeg
from podcast.config import MAX_TRACKS, load_episodes, load_show
from podcast.errors import ConfigError

PODCAST = [sys.executable, "-c", "from podcast.cli import main; main()"]
RATE = 44100
#: Every bidirectional control of Unicode (UAX #9): each has the Bidi_Control property.
BIDI = ["\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
        "\u2066", "\u2067", "\u2068", "\u2069"]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture drifted: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def run(config: Path, *args: str, limits: dict[int, int] | None = None
        ) -> subprocess.CompletedProcess:
    """``podcast --config CONFIG ARGS…`` with the soft resource ``limits`` set in the child."""
    def apply() -> None:
        for which, soft in (limits or {}).items():
            resource.setrlimit(which, (soft, resource.getrlimit(which)[1]))

    return subprocess.run([*PODCAST, "--config", str(config), *args], cwd=config.parent,
                          capture_output=True, text=True, timeout=600, preexec_fn=apply)


# --- bidirectional controls ------------------------------------------------------------


def test_the_list_is_every_bidi_control_of_unicode():
    found = [chr(code) for code in range(0x10000)
             if unicodedata.bidirectional(chr(code)) in {"LRE", "RLE", "LRO", "RLO", "PDF",
                                                         "LRI", "RLI", "FSI", "PDI"}
             or chr(code) in "\u061c\u200e\u200f"]
    assert found == BIDI


@pytest.mark.parametrize("char", BIDI, ids=[f"U+{ord(c):04X}" for c in BIDI])
def test_a_bidi_control_in_the_show_config_is_refused(demo_show: Path, char: str):
    edit(demo_show, "author: Studio Rencontres", f"author: Studio {char}Rencontres")
    with pytest.raises(ConfigError) as caught:
        load_show(demo_show)
    error = caught.value
    assert error.field == "author" and error.file == str(demo_show)
    assert (f"bidirectional control character U+{ord(char):04X} "
            f"({unicodedata.name(char)}) at character 8") in str(error)
    assert "delete it" in error.fix


def test_a_right_to_left_override_in_a_multi_line_description_is_refused(demo_show: Path):
    edit(demo_show, "description: >-", "description: |-")
    edit(demo_show, "Chaque semaine", "Chaque\n  semaine \u202egnitekram")
    with pytest.raises(ConfigError, match="U\\+202E \\(RIGHT-TO-LEFT OVERRIDE\\)") as caught:
        load_show(demo_show)
    assert caught.value.field == "description"


@pytest.mark.parametrize(("old", "new", "field"), [
    ('title: "Sonia Mamin : le salon devient phygital"',
     'title: "Sonia Mamin : le salon \u202edevient phygital"', "title"),
    ("{start: \"0:12\", title: \"", "{start: \"0:12\", title: \"\u2067", "chapters[1].title"),
    ("- {name: Sonia Mamin", "- {name: Sonia \u200fMamin", "guests[0].name"),
])
def test_a_bidi_control_in_episode_front_matter_is_refused(demo_show: Path, old: str,
                                                           new: str, field: str):
    episode = demo_show.parent / "episodes/001-sonia-mamin/episode.md"
    edit(episode, old, new)
    with pytest.raises(ConfigError, match="bidirectional control character U\\+") as caught:
        load_episodes(load_show(demo_show))
    assert caught.value.field == field and caught.value.file == str(episode)


def test_text_in_right_to_left_scripts_is_kept(demo_show: Path):
    edit(demo_show, "author: Studio Rencontres", "author: استوديو لقاءات")
    assert load_show(demo_show).author == "استوديو لقاءات"


# --- tracks and file descriptors -------------------------------------------------------


def _multitrack_episode(demo_show: Path) -> Path:
    return demo_show.parent / "episodes/004-lea-fontaine/episode.md"


def test_more_than_32_tracks_are_refused_before_anything_is_read(demo_show: Path):
    episode = _multitrack_episode(demo_show)
    extra = "".join(f"  - {{file: bed{index}.wav, role: music}}\n"
                    for index in range(MAX_TRACKS - 1))  # files that do not exist
    edit(episode, "  - {file: guest.mp3, role: guest, name: Léa Fontaine}\n",
         "  - {file: guest.mp3, role: guest, name: Léa Fontaine}\n" + extra)
    with pytest.raises(ConfigError) as caught:
        load_episodes(load_show(demo_show))
    assert caught.value.field == "audio" and caught.value.file == str(episode)
    assert str(caught.value).count("33 tracks: at most 32 can be mixed") == 1
    assert "mix some recordings beforehand" in caught.value.fix


def _count_inputs(command: list[str]) -> int:
    return command.count("-i")


@pytest.mark.parametrize(("tracks", "windows", "bookends"),
                         [(2, 1, 0), (2, 1, 2), (8, 1, 1), (3, 4, 2), (32, 10, 2), (1, 10, 0)])
def test_the_descriptors_counted_cover_every_input_ffmpeg_opens(tmp_path: Path, tracks: int,
                                                                windows: int, bookends: int):
    """The count the check uses against the inputs of the real command lines (calibration
    and pass 2), counted here from the commands themselves."""
    times = np.arange(0, 60, 0.1)
    mix = [MixTrack(path=tmp_path / f"t{index}.wav", offset=0.5 * index, filters="",
                    times=times, gains_db=np.zeros(times.size), rate=RATE)
           for index in range(tracks)]
    ends = tuple(Bookend(path=tmp_path / f"b{index}.wav", gain_db=0.0) if index < bookends
                 else None for index in range(2))
    spans = [(0.0, 60.0)] if windows == 1 else [(6.0 * k, 6.0) for k in range(windows)]
    calibration = calibration_command(
        mix, spans, tmp_path, rate=RATE, layout="mono", offset_db=0.0, ceiling=-2.0, step=1.0,
        bookends=ends if windows == 1 else (None, None))
    encode = process_command(mix, 60.0, tmp_path, "x.mp3", rate=RATE, layout="mono",
                             channels=1, bitrate="96k", offset_db=0.0, ceiling=-2.0, cuts=[],
                             bookends=ends)
    inputs = max(_count_inputs(calibration), _count_inputs(encode))
    assert inputs < mix_descriptors(tracks, windows, bookends) <= inputs + 16
    assert windows <= MIX_CALIBRATION_WINDOWS


@pytest.mark.audio
def test_a_mix_that_would_run_out_of_descriptors_says_ulimit_n(demo_show: Path):
    """Eight tracks with 24 descriptors: refused with the number to raise it to, before
    ffmpeg fails with "Too many open files"."""
    episode = _multitrack_episode(demo_show)
    folder = episode.parent
    beds = ""
    for index in range(6):
        (folder / f"bed{index}.flac").write_bytes((folder / "host.flac").read_bytes())
        beds += f"  - {{file: bed{index}.flac, role: music, gain: -20}}\n"
    edit(episode, "  - {file: guest.mp3, role: guest, name: Léa Fontaine}\n",
         "  - {file: guest.mp3, role: guest, name: Léa Fontaine}\n" + beds)
    result = run(demo_show, "master", "004-lea-fontaine", "-o", "out.mp3",
                 limits={resource.RLIMIT_NOFILE: 24})
    needed = mix_descriptors(8, 1, 0)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"Error: {episode}: mixing 8 tracks opens up to {needed} "
                                    f"files at once, but this shell allows 24 (`ulimit -n`)")
    assert f"fix: raise the limit with `ulimit -n {needed}`" in result.stderr
    assert "Too many open files" not in result.stderr and "Traceback" not in result.stderr
    assert not (demo_show.parent / "out.mp3").exists()


# --- a master that is mostly not speech ------------------------------------------------


@pytest.mark.audio
def test_a_long_music_track_beside_short_speech_is_reported(demo_show: Path):
    """Four minutes of a silent music bed beside 40 s of speech: the master is made, and
    its report (JSON and stderr) says how little of it is speech and which track to trim."""
    episode = _multitrack_episode(demo_show)
    subprocess.run([ffmpeg(), "-v", "error", "-f", "lavfi", "-i",
                    f"anullsrc=r={RATE}:cl=mono", "-t", "240", "-c:a", "flac",
                    str(episode.parent / "bed.flac")], check=True)
    edit(episode, "  - {file: guest.mp3, role: guest, name: Léa Fontaine}\n",
         "  - {file: guest.mp3, role: guest, name: Léa Fontaine}\n"
         "  - {file: bed.flac, role: music}\n")
    result = run(demo_show, "master", "004-lea-fontaine", "-o", "out.mp3", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (warning,) = report["warnings"]
    # Speech: the blocks where either speaker talks, from the per-track report's own
    # figures (share of each track's blocks), at most the two tracks' sum.
    speech = sum(track["speech_share"] for track in report["tracks"][:2]) * 42
    share = float(warning.split("speech covers ")[1].split(" %")[0])
    assert 0 < share <= 100 * speech / report["output"]["duration"] + 1
    assert "of the 0:04:00 master" in warning
    assert "the music track bed.flac plays until 0:04:00" in warning
    assert "check its length or trim it" in warning
    assert f"warning: {warning}" in result.stderr
    sidecar = json.loads((demo_show.parent / "out.json").read_text(encoding="utf-8"))
    assert sidecar["warnings"] == [warning]


@pytest.mark.audio
def test_a_long_outro_after_a_short_recording_is_reported(demo_show: Path):
    """One recording (44 s) and a three-minute outro of near silence: the warning names the
    outro, not the recording."""
    subprocess.run([ffmpeg(), "-v", "error", "-f", "lavfi", "-i",
                    f"anoisesrc=r={RATE}:a=0.001:c=pink", "-t", "180", "-ac", "1",
                    str(demo_show.parent / "assets/outro.wav")], check=True)
    edit(demo_show, "  channels: mono", "  channels: mono\n  outro: assets/outro.wav")
    result = run(demo_show, "master", "001-sonia-mamin", "-o", "out.mp3", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (warning,) = report["warnings"]
    assert warning.startswith("speech covers ") and "of the 0:03:44 master" in warning
    share = float(warning.split("speech covers ")[1].split(" %")[0])
    assert 0 < share < 100 * 44 / 224  # at most the recording's length is speech
    assert warning.endswith("the outro outro.wav lasts 0:03:00, the recording 0:00:44: "
                            "check its length or trim it")


@pytest.mark.audio
def test_an_interview_is_not_reported(demo_show: Path):
    result = run(demo_show, "master", "001-sonia-mamin", "-o", "out.mp3", "--json")
    assert result.returncode == 0, result.stderr
    assert "warnings" not in json.loads(result.stdout) and "warning" not in result.stderr


# --- samples that are not audio --------------------------------------------------------


def _float_wav(path: Path, samples: np.ndarray) -> Path:
    """A 32-bit float WAV of ``samples`` as they are (NaN and infinity included): the
    RIFF header written here, format 3 (IEEE float)."""
    data = samples.astype("<f4").tobytes()
    header = (b"RIFF" + (36 + len(data)).to_bytes(4, "little") + b"WAVEfmt "
              + (16).to_bytes(4, "little") + (3).to_bytes(2, "little")
              + (1).to_bytes(2, "little") + RATE.to_bytes(4, "little")
              + (RATE * 4).to_bytes(4, "little") + (4).to_bytes(2, "little")
              + (32).to_bytes(2, "little") + b"data" + len(data).to_bytes(4, "little"))
    path.write_bytes(header + data)
    return path


def _tone(seconds: float = 10.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return 0.3 * np.sin(2 * np.pi * 440 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))


def _broken(kind: str) -> np.ndarray:
    samples = _tone()
    if kind == "1e30":
        return samples * 1e30 / 0.3
    samples[RATE * 2::1000] = {"inf": np.inf, "-inf": -np.inf, "nan": np.nan}[kind]
    return samples


EXPECTED = {"1e30": "holds samples far beyond full scale",
            "inf": "holds non-finite samples (0 NaN, ",
            "-inf": "holds non-finite samples (0 NaN, ",
            "nan": "holds non-finite samples ("}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_samples_that_are_not_audio_are_named_as_such_by_loudness(tmp_path: Path, demo_show,
                                                                   kind: str):
    path = _float_wav(tmp_path / "broken.wav", _broken(kind))
    result = run(demo_show, "loudness", str(path))
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith(f"Error: {path}: the audio file {EXPECTED[kind]}")
    assert "LUFS\n" not in result.stdout and "silence)" not in result.stderr
    assert "fix: export it again as 16- or 24-bit PCM" in result.stderr
    if kind != "1e30":  # the count, against the samples written
        bad = int(np.count_nonzero(~np.isfinite(_broken(kind))))
        assert f"{bad} " in result.stderr.split("non-finite samples (")[1]


@pytest.mark.parametrize("kind", ["1e30", "inf"])
def test_samples_that_are_not_audio_are_named_as_such_by_master(demo_show: Path, kind: str):
    folder = demo_show.parent / "episodes/001-sonia-mamin"
    _float_wav(folder / "broken.wav", _broken(kind))
    edit(folder / "episode.md", "audio: interview.mp3", "audio: broken.wav")
    result = run(demo_show, "master", "001-sonia-mamin", "-o", "out.mp3")
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {folder / 'broken.wav'}: the audio file "
                                    f"{EXPECTED[kind]}"), result.stderr
    # Not the old readings: "no speech … (596.3 LUFS …)" or "silent (… digital silence)".
    assert "no speech" not in result.stderr and "digital silence" not in result.stderr
    assert "fix: export it again as 16- or 24-bit PCM" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_float_recording_within_full_scale_is_measured(tmp_path: Path, demo_show: Path):
    """The checks name broken samples only: a float WAV of plain audio with digital
    silence in it (which the meter may read as NaN after sound) is measured."""
    samples = np.concatenate([_tone(8), np.zeros(3 * RATE), _tone(8)])
    result = run(demo_show, "loudness", str(_float_wav(tmp_path / "float.wav", samples)))
    assert result.returncode == 0, result.stderr
    assert "integrated" in result.stdout


# --- a file-size limit while mastering -------------------------------------------------


@pytest.mark.audio
def test_a_file_size_limit_is_named_with_ulimit_f(demo_show: Path):
    result = run(demo_show, "master", "001-sonia-mamin", "-o", "out.mp3",
                 limits={resource.RLIMIT_FSIZE: 100_000})
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: {demo_show.parent}: the file-size limit of this shell (100000 bytes, "
        f"`ulimit -f`) stopped ffmpeg writing the MP3 in this folder"), result.stderr
    assert "fix: raise it with `ulimit -f unlimited`" in result.stderr
    assert "Peak level" not in result.stderr and "Traceback" not in result.stderr
    assert not (demo_show.parent / "out.mp3").exists()


def test_a_full_disk_is_named_as_such(tmp_path: Path):
    """ffmpeg's words for ENOSPC (as it prints them), with the meter's figures after."""
    log = ["[mp3 @ 0x5580] Error writing trailer: No space left on device",
           "[Parsed_astats_2 @ 0x55d0] [info] Overall", "Peak level dB: -2.500277"]
    problem = resource_problem([0, 1, 0], log, tmp_path)
    assert problem is not None and str(problem).startswith(
        f"{tmp_path}: the disk is full: no space left to write the MP3 in this folder (")
    assert "free some space" in problem.fix
    assert resource_problem([1, 0, 0], ["Invalid data found"], tmp_path) is None


def test_running_out_of_descriptors_midway_says_ulimit_n(tmp_path: Path):
    """The safety net behind the mix's own count: ffmpeg's words for EMFILE."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    problem = resource_problem([1, 1, 0], ["/tmp/x/gain-7.f32: Too many open files"], tmp_path)
    assert str(problem).startswith(f"{tmp_path}: ffmpeg ran out of file descriptors "
                                   f"(`ulimit -n` is {soft})")
    assert f"`ulimit -n {2 * soft}`" in problem.fix
