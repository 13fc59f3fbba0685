"""Loudness measurement: BS.1770 arithmetic, ffmpeg log parsing, and ``measure()`` on real files.

The pure helpers are checked against hand-computed values; ``measure()`` is checked against
a direct run of ffmpeg's meter and against BS.1770's own calibration point (a 997 Hz sine at
full scale in one channel reads -3.01 LUFS).
"""

from __future__ import annotations

import json
import math
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import alternating, ebur128, interview, run_ffmpeg
from click.testing import CliRunner

from podcast.cli import main as cli
from podcast.errors import AudioError
from podcast.loudness import (
    block_energy,
    damage_lines,
    energy_loudness,
    ffmpeg_errors,
    gated_loudness,
    measure,
    parse_frame,
    parse_named_summaries,
    parse_summary,
    parse_true_peak,
    progress_seconds,
    wav_declared_duration,
)

FRAME = ("[Parsed_ebur128_0 @ 0x342ba1c0] [info] t: 12.4999  TARGET:-23 LUFS    "
         "M: -21.8 S: -24.5     I: -22.0 LUFS       LRA:   3.1 LU")
SUMMARY = """\
[Parsed_ebur128_0 @ 0x85930] t: 3.0999  TARGET:-23 LUFS  M: -20.0 S: -20.0  I: -99.0 LUFS
[Parsed_ebur128_0 @ 0x8593000] [info] Summary:

  Integrated loudness:
    I:         -21.7 LUFS
    Threshold: -31.7 LUFS

  Loudness range:
    LRA:        20.0 LU
    Threshold: -41.7 LUFS
    LRA low:   -41.7 LUFS
    LRA high:  -21.6 LUFS

  True peak:
    Peak:      -inf dBFS
"""


# --------------------------------------------------------------------------- parsing


def test_a_frame_line_gives_time_momentary_and_short_term():
    assert parse_frame(FRAME) == (12.4999, -21.8, -24.5)
    assert parse_frame("[info] Summary:") is None


def test_the_summary_is_read_after_the_frame_log_never_from_it():
    figures = parse_summary(SUMMARY.splitlines())
    assert figures["lufs"] == -21.7  # not the frame log's "I: -99.0"
    assert figures["lra"] == 20.0
    assert (figures["lra_low"], figures["lra_high"]) == (-41.7, -21.6)


def test_the_true_peak_is_the_meters_last_report():
    # ffmpeg may configure a -filter_complex graph twice: the empty first run reports too.
    log = ["[Parsed_astats_3 @ 0x9d2] [info] Overall", "[Parsed_astats_3 @ 0x9d2] [info] "
           "Peak level dB: -inf", "[Parsed_astats_3 @ 0x7a1] [info] Overall",
           "[Parsed_astats_3 @ 0x7a1] [info] Peak level dB: -2.175205"]
    assert parse_true_peak(log) == -2.175205
    assert parse_true_peak(log[:2]) == -math.inf
    with pytest.raises(ValueError):
        parse_true_peak(SUMMARY.splitlines())


def test_output_without_a_summary_is_an_error():
    with pytest.raises(ValueError):
        parse_summary([FRAME])


def test_summaries_of_named_meters_are_told_apart():
    log = [*SUMMARY.replace("Parsed_ebur128_0", "a").splitlines(),
           "[b @ 0x5ce4bc0] [info] Summary:", "  Integrated loudness:",
           "    I:         -19.5 LUFS"]
    found = parse_named_summaries(log)
    assert found["a"]["lufs"] == -21.7 and found["b"]["lufs"] == -19.5


def test_an_error_is_named_once_however_often_it_was_logged():
    # Pass 2's log keeps its error lines beside its tail, which holds them too; ffmpeg
    # also repeats an error for every packet it cannot read.
    error = "[mp3 @ 0x55d0] [error] Header missing"
    full = "[out#0/mp3 @ 0x55e0] [fatal] Error writing trailer: No space left on device"
    log = [error, full, "[info] size=N/A", error, full]
    assert ffmpeg_errors(log) == ["Header missing",
                                  "Error writing trailer: No space left on device"]
    # Nothing marked: the last lines, as before.
    assert ffmpeg_errors(["a", "", "b", "c"]) == ["b", "c"]


def test_progress_seconds_ignores_the_unset_first_report():
    lines = ["out_time_us=-9223372036854775807", "out_time_us=3100000", "progress=end"]
    assert progress_seconds(lines) == 3.1


def test_damage_lines_are_cleaned_of_ffmpeg_prefixes():
    log = ["[wav @ 0xcf891c0] [warning] Packet corrupt (stream = 0, dts = NOPTS).",
           "[info] Guessed Channel Layout for Input Stream #0.0 : mono"]
    assert damage_lines(log) == ["Packet corrupt (stream = 0, dts = NOPTS)."]


# --------------------------------------------------------------------------- BS.1770 gating


def test_energy_and_loudness_are_inverse():
    values = np.array([-70.0, -23.0, -3.01, 0.0])
    assert np.allclose(energy_loudness(block_energy(values)), values)


def test_constant_blocks_integrate_to_their_own_loudness():
    assert gated_loudness([-20.0] * 50) == pytest.approx(-20.0)


def test_blocks_below_the_absolute_gate_do_not_count():
    assert gated_loudness([-20.0] * 10 + [-80.0] * 90) == pytest.approx(-20.0)


def test_the_relative_gate_drops_blocks_10_lu_under_the_mean():
    # Half the blocks at -20 and half at -40: the ungated mean energy is -23.0 LUFS, the
    # gate -33.0, so only the -20 blocks count.
    assert gated_loudness([-20.0] * 20 + [-40.0] * 20) == pytest.approx(-20.0)


def test_blocks_above_the_relative_gate_are_energy_averaged():
    # -20 and -26 are both above the gate: the result is the mean *energy*, not -23.
    expected = 10 * math.log10((10 ** -2.0 + 10 ** -2.6) / 2)
    assert gated_loudness([-20.0, -26.0] * 10) == pytest.approx(expected)


def test_silence_has_no_integrated_loudness():
    assert gated_loudness([-120.7] * 30) == -math.inf
    assert gated_loudness([]) == -math.inf


# --------------------------------------------------------------------------- WAV headers


def _wav_header(data_bytes: int, byte_rate: int = 96000) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, 48000, byte_rate, 2, 16)
    return (b"RIFF" + struct.pack("<I", (36 + data_bytes) & 0xFFFFFFFF) + b"WAVE" + b"fmt "
            + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_bytes))


def test_the_wav_header_states_the_recorded_length(tmp_path: Path):
    path = tmp_path / "a.wav"
    path.write_bytes(_wav_header(96000 * 10))  # header only: the audio was cut off
    assert wav_declared_duration(path) == pytest.approx(10.0)


def test_streaming_placeholders_and_other_formats_state_no_length(tmp_path: Path):
    streaming = tmp_path / "s.wav"
    streaming.write_bytes(_wav_header(0xFFFFFFFF))
    other = tmp_path / "x.flac"
    other.write_bytes(b"fLaC" + bytes(100))
    assert wav_declared_duration(streaming) is None
    assert wav_declared_duration(other) is None


# --------------------------------------------------------------------------- measure()


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    """12 s of host and guest, stereo 48 kHz, 24-bit WAV."""
    folder = tmp_path_factory.mktemp("speech")
    return interview(folder / "speech.wav", alternating(12, 6), {"host": -20, "guest": -30},
                     codec=("-c:a", "pcm_s24le"))


def test_measure_agrees_with_ffmpegs_own_meter(speech: Path):
    result = measure(speech)
    direct = ebur128(speech)
    assert result.lufs == pytest.approx(direct["lufs"], abs=0.1)
    assert result.true_peak == pytest.approx(direct["true_peak"], abs=0.1)
    assert result.lra == pytest.approx(direct["lra"], abs=0.1)
    assert result.duration == pytest.approx(12.0, abs=0.15)
    assert (result.sample_rate, result.channels, result.silent) == (48000, 2, False)


def test_a_full_scale_997_hz_sine_reads_minus_3_lufs(tmp_path: Path):
    # BS.1770-4 calibration: this tone in one channel reads -3.01 LKFS.
    path = tmp_path / "tone.wav"
    run_ffmpeg("-f", "lavfi", "-i", "aevalsrc=sin(2*PI*997*t):s=48000:d=5",
               "-c:a", "pcm_f32le", str(path))
    result = measure(path)
    assert result.lufs == pytest.approx(-3.0, abs=0.1)
    assert result.true_peak == pytest.approx(0.0, abs=0.2)


@pytest.mark.parametrize(("rate", "fraction", "phase"), [
    (44100, 0.25, 0.25), (48000, 0.25, 0.25), (44100, 0.36, 0.1)])
def test_inter_sample_peaks_read_as_ffmpegs_true_peak_meter_reads_them(
        tmp_path: Path, rate: int, fraction: float, phase: float):
    """A sine at a quarter of the sample rate, its samples off the crests (the sample peak
    3 dB under the true peak), and one near the top of an MP3's band: the true-peak meter
    reads what ffmpeg's ebur128 reads, and the sine's amplitude (faded in and out, so no
    edge rings)."""
    path = tmp_path / "peaky.wav"
    envelope = "min(min(1\\,t)\\,3-t)"
    run_ffmpeg("-f", "lavfi", "-i", f"aevalsrc=0.5*{envelope}*sin(2*PI*{rate * fraction}*t"
               f"+{phase}*PI):s={rate}:d=3", "-c:a", "pcm_f32le", str(path))
    assert measure(path).true_peak == pytest.approx(ebur128(path)["true_peak"], abs=0.1)
    assert measure(path).true_peak == pytest.approx(20 * math.log10(0.5), abs=0.1)


def test_digital_silence_is_reported_as_silent_with_no_peak(tmp_path: Path):
    path = tmp_path / "silence.wav"
    run_ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-t", "5", str(path))
    result = measure(path)
    assert result.silent
    assert result.to_dict()["true_peak"] is None  # -inf is not JSON
    json.dumps(result.to_dict(), allow_nan=False)


def test_a_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(AudioError, match="does not exist") as error:
        measure(tmp_path / "nope.wav")
    assert error.value.file == str(tmp_path / "nope.wav")
    assert error.value.fix


def test_a_text_file_named_wav_is_not_audio(tmp_path: Path):
    path = tmp_path / "notes.wav"
    path.write_text("Interview notes, not audio.\n")
    with pytest.raises(AudioError, match="not audio"):
        measure(path)


@pytest.mark.parametrize("suffix, codec", [("wav", ("-c:a", "pcm_s16le")),
                                           ("mp3", ("-c:a", "libmp3lame", "-b:a", "96k")),
                                           ("flac", ("-c:a", "flac"))])
def test_a_truncated_file_is_a_clear_error(speech: Path, tmp_path: Path, suffix: str,
                                           codec: tuple[str, ...]):
    whole = tmp_path / f"whole.{suffix}"
    run_ffmpeg("-i", str(speech), *codec, str(whole))
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    assert measure(whole).duration == pytest.approx(12.0, abs=0.15)
    with pytest.raises(AudioError, match="truncated or corrupt"):
        measure(cut)


def test_the_loudness_command_prints_json(speech: Path, tmp_path: Path):
    copy = Path(shutil.copy(speech, tmp_path / "copy.wav"))
    result = CliRunner().invoke(cli, ["loudness", "--json", str(copy)])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["lufs"] == pytest.approx(ebur128(copy)["lufs"], abs=0.1)
    assert set(figures) >= {"lufs", "true_peak", "lra", "duration"}
