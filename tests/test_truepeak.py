"""The true peak of a master, read from its MP3's decoded samples (:mod:`podcast.audio.truepeak`).

The search skips the stretches that cannot hold the peak; it must read exactly what
oversampling every sample reads, for any split of the signal into blocks, and agree with
ffmpeg's own true-peak meter (``ebur128=peak=true``, 192 kHz) on real MP3s.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podcast import binaries
from podcast.audio.truepeak import FACTOR, interpolator, stream_peak, true_peak
from podcast.errors import AudioError


def ffmpeg_true_peak(path: Path) -> float:
    """ffmpeg's true peak (dBTP) of ``path``: ebur128's 4x meter (its summary)."""
    done = subprocess.run([binaries.ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-i",
                           str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
                          capture_output=True, text=True, check=True)
    summary = done.stderr[done.stderr.rindex("True peak:"):]
    return float(re.search(r"Peak:\s*(-?[\d.]+|-inf)", summary).group(1))


def oversampled_peak(samples: np.ndarray, taps: np.ndarray) -> float:
    """The largest absolute value of ``samples`` (frames x channels, silence around them)
    upsampled 4x through ``taps`` with numpy's own convolution, every sample read."""
    if samples.size == 0:
        return 0.0
    padded = np.pad(samples.astype(np.float64), ((taps.size, taps.size), (0, 0)))
    return float(max(np.abs(np.convolve(channel, taps[phase::FACTOR])).max()
                     for channel in padded.T for phase in range(FACTOR)))


def encode(path: Path, source: str, *, channels: int = 1) -> Path:
    """An MP3 (96k CBR) of a lavfi ``source``, as a master's encoder writes it."""
    subprocess.run([binaries.ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi",
                    "-i", source, "-ac", str(channels), "-c:a", "libmp3lame", "-b:a", "96k",
                    str(path)], check=True)
    return path


@settings(max_examples=60, deadline=None)
@given(length=st.integers(1, 5000), channels=st.integers(1, 2),
       block=st.integers(1, 1200), seed=st.integers(0, 2 ** 16),
       loud=st.floats(0.001, 4.0))
def test_the_search_reads_what_oversampling_every_sample_reads(length, channels, block,
                                                               seed, loud):
    rng = np.random.default_rng(seed)
    # Speech-like: mostly quiet, a few loud bursts, so most groups are skipped.
    signal = rng.standard_normal((length, channels)) * 0.01
    for start in rng.integers(0, length, size=3):
        signal[start:start + 40] *= loud * 100
    signal = signal.astype(np.float32)
    blocks = [signal[index:index + block] for index in range(0, length, block)]
    assert stream_peak(blocks) == pytest.approx(oversampled_peak(signal, interpolator()),
                                                rel=1e-5)


def test_an_inter_sample_peak_is_read_between_the_samples():
    # A sine at a quarter of the rate, 45 degrees off: every sample at 0.707 of its peak.
    # (Faded in and out: an abrupt start rings over its level when oversampled.)
    n = np.arange(4000)
    fade = np.clip(np.minimum(n, n[::-1]) / 400, 0, 1)
    signal = (0.5 * fade * np.sin(np.pi / 2 * n + np.pi / 4)).astype(np.float32)[:, None]
    assert 20 * math.log10(np.abs(signal).max()) == pytest.approx(-9.03, abs=0.01)
    assert 20 * math.log10(stream_peak([signal])) == pytest.approx(-6.02, abs=0.1)


@pytest.mark.parametrize("source, channels", [
    ("sine=f=997:r=44100:d=4,volume=6", 1),
    ("sine=f=11025:r=44100:d=4,volume=5", 1),  # inter-sample peaks
    ("anoisesrc=d=4:c=pink:r=48000:a=0.7:seed=5", 2),
])
def test_the_mp3s_true_peak_agrees_with_ffmpegs_meter(tmp_path: Path, source: str,
                                                      channels: int):
    path = encode(tmp_path / "x.mp3", source, channels=channels)
    assert true_peak(path) == pytest.approx(ffmpeg_true_peak(path), abs=0.1)


def test_a_peak_over_full_scale_reads_over_0_dbtp(tmp_path: Path):
    # ffmpeg's sine peaks at 1/8 of full scale: times 12 is +3.5 dBFS, which the MP3's
    # float samples keep (+3.1 after libmp3lame): not clipped at 0 dBFS.
    path = encode(tmp_path / "over.mp3", "sine=f=997:r=44100:d=3,volume=12:precision=float")
    assert true_peak(path) > 2.5
    assert true_peak(path) == pytest.approx(ffmpeg_true_peak(path), abs=0.1)


def test_digital_silence_reads_minus_infinity(tmp_path: Path):
    path = encode(tmp_path / "silence.mp3", "anullsrc=r=44100:cl=mono:d=2")
    assert true_peak(path) == -math.inf


def test_a_file_that_is_not_an_mp3_is_an_error_naming_it(tmp_path: Path):
    path = tmp_path / "broken.mp3"
    path.write_bytes(b"not audio at all " * 50)
    with pytest.raises(AudioError) as error:
        true_peak(path)
    assert error.value.file == str(path) and "cannot be decoded" in str(error.value)
