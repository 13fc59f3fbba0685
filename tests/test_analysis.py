"""Pass 1's plumbing (podcast/audio/analysis.py, issue 25): ffmpeg's log read in whatever
pieces the pipe hands out, and a WAV read in large packets and probed on one, which must
give the very samples ffmpeg's defaults give.

The log is written here from known numbers in ffmpeg's layout, so the numbers read are
checked against the ones written; the samples are checked against ffmpeg run with its
default options on the same file.
"""

from __future__ import annotations

import random
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from podcast.audio.analysis import TAIL_LINES, FrameLog, input_options
from podcast.binaries import ffmpeg


def _frame_line(t: float, momentary: float, short: float) -> str:
    # ebur128's own layout (f_ebur128.c): "t: %-10g TARGET:%d LUFS    M:%6.1f S:%6.1f ..."
    return (f"[Parsed_ebur128_2 @ 0x34dce700] [info] t: {t:<10g} TARGET:-23 LUFS    "
            f"M:{momentary:6.1f} S:{short:6.1f}     I: -19.4 LUFS       LRA:   0.0 LU\n")


def _log() -> tuple[bytes, np.ndarray, list[str]]:
    """A frame log of 700 blocks with other lines among them: its bytes, the (t, M, S)
    written, and the other lines in order."""
    rng = np.random.default_rng(7)
    # Written as ffmpeg prints them (6 significant digits for t, 1 decimal for M and S).
    times = [float(f"{t:g}") for t in np.arange(1, 701) * 0.1 - 2.27e-5]
    rows = np.column_stack([times, np.round(rng.uniform(-60, -10, 700), 1),
                            np.round(rng.uniform(-60, -10, 700), 1)])
    rows[3, 1:] = -np.inf  # silence before the first full block reads -inf
    rows[4, 2] = -120.7
    others = ["[info] Input #0, wav, from 'in.wav':\n",
              "[wav @ 0x2] [warning] Guessed Channel Layout: stereo\n",
              "[info]   Stream #0:0 -> #0:0 (pcm_s16le (native) -> pcm_f32le (native))\n",
              "[aist#0:0/pcm_s16le @ 0x3] [error] a damaged packet \r in two\n",
              "[info] caf\u00e9 \ufffd\n"]
    lines: list[str] = []
    for index, row in enumerate(rows):
        if index % 150 == 0:
            lines.append(others[index // 150])
        lines.append(_frame_line(*row))
    summary = ["[Parsed_ebur128_2 @ 0x34dce700] [info] Summary:\n", "\n",
               "  Integrated loudness:\n", "    I:         -19.4 LUFS\n"]
    others = [*others, *summary, "[info] the last line, without a newline"]
    text = "".join([*lines, *summary, others[-1]])
    # A byte that is not UTF-8 reads as the replacement character.
    return text.encode().replace("\ufffd".encode(), b"\xff"), rows, others


@pytest.mark.parametrize("seed", range(6))
def test_the_frame_log_reads_the_same_in_any_pieces(seed: int):
    data, rows, others = _log()
    log = FrameLog()
    pick = random.Random(seed)
    ended = 0
    start = 0
    while start < len(data):
        size = len(data) if seed == 0 else pick.randint(1, 3000)
        ended += log.feed(data[start:start + size])
        start += size
    log.close()
    times, momentary, short = log.series()
    np.testing.assert_array_equal(times, rows[:, 0])
    np.testing.assert_array_equal(momentary, rows[:, 1])
    np.testing.assert_array_equal(short, rows[:, 2])
    assert log.last == rows[-1, 0]
    assert ended >= 1
    assert list(log.tail) == others[-TAIL_LINES:]
    assert log.problems == [others[1], others[3]]


def test_a_log_without_frames_reads_as_empty_series():
    log = FrameLog()
    log.feed(b"[error] No such file or directory\n")
    log.close()
    times, momentary, short = log.series()
    assert times.size == momentary.size == short.size == 0
    assert log.last == 0.0
    assert log.problems == ["[error] No such file or directory\n"]


# --------------------------------------------------------------------------- WAV packets


def _wav_with_big_chunk(path: Path, source: Path) -> Path:
    """``source`` (a 16-bit WAV ffmpeg wrote) with a 60 kB LIST chunk before its data:
    nearly the probe's 64 KiB to get past before the first sample (a larger header is
    not taken for a WAV's, see ``wav_declared_duration``, and read with ffmpeg's
    defaults)."""
    raw = source.read_bytes()
    at = raw.index(b"data")
    junk = b"LIST" + struct.pack("<I", 60_000) + b"INFO" + bytes(60_000 - 4)
    body = raw[12:at] + junk + raw[at:]
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + 4) + b"WAVE" + body)
    return path


#: How each kind of WAV is written: a filter after the two channels are made, and the
#: output options.
KINDS = {
    "16bit-stereo": ("", ("-c:a", "pcm_s16le")),
    "24bit-stereo": ("", ("-c:a", "pcm_s24le")),
    "float-stereo": ("", ("-c:a", "pcm_f32le")),
    "8k-mono": (",aresample=8000,pan=mono|c0=c0", ("-c:a", "pcm_s16le")),
    "96k-24bit": (",aresample=96000", ("-c:a", "pcm_s24le")),
    "5.1-extensible": (",pan=5.1|FL=c0|FR=c1|FC=c0|LFE=c1|BL=c0|BR=c1",
                       ("-c:a", "pcm_s24le")),
    "big-chunk": ("", ("-c:a", "pcm_s16le")),
}


def _decoded(path: Path, *options: str) -> bytes:
    done = subprocess.run(
        [ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", *options, "-i", str(path),
         "-map", "0:a:0", "-f", "f64le", "-c:a", "pcm_f64le", "pipe:1"],
        capture_output=True, check=True)
    return done.stdout


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_wav_read_in_large_packets_gives_ffmpegs_own_samples(kind: str, tmp_path: Path):
    path = tmp_path / "in.wav"
    # 23.4 s of two tones and noise: no whole number of packets, a seek inside one.
    subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-v", "error",
                    "-f", "lavfi", "-i", "sine=f=440:d=23.4,aformat=channel_layouts=mono",
                    "-f", "lavfi", "-i", "anoisesrc=d=23.4:a=0.1:seed=3",
                    "-filter_complex", f"[0][1]amerge=inputs=2,aresample=44100{KINDS[kind][0]}",
                    *KINDS[kind][1], str(path)], check=True)
    if kind == "big-chunk":
        path = _wav_with_big_chunk(tmp_path / "big.wav", path)
    options = input_options(path)
    assert "-probesize" in options and "-max_size" in options
    whole = _decoded(path)
    assert len(whole) > 0
    assert _decoded(path, *options) == whole
    # Each half as pass 1 reads it: from the start for a length, and from a point on.
    assert _decoded(path, "-t", "11.700", *options) == _decoded(path, "-t", "11.700")
    assert _decoded(path, "-ss", "7.700", *options) == _decoded(path, "-ss", "7.700")


def test_other_inputs_keep_ffmpegs_defaults(tmp_path: Path):
    path = tmp_path / "in.flac"
    subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi",
                    "-i", "sine=f=440:d=2", str(path)], check=True)
    assert input_options(path) == []
