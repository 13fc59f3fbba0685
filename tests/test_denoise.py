"""Noise reduction (``audio.denoise``): the floor in pauses drops >= 10 dB with ``light``,
and the speech keeps its intelligibility (STOI against the clean speech, PyPI ``pystoi``).

The speech is the demo's espeak recording (003, clean: synthesized); the test lays it out
twice with 5 s pauses and adds -50 dBFS pink noise with numpy, masters it with denoise off
and light, and measures the decoded masters with numpy and pystoi, aligned on the clean
speech by cross-correlation.  Tolerance: STOI of the light master within 0.01 of the
undenoised master's (measured: equal to three decimals).
"""

from __future__ import annotations

import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import decode, show_and_episode

from podcast.audio import master

pystoi = pytest.importorskip("pystoi")

RATE = 44100
CLEAN = Path(__file__).resolve().parent.parent / "episodes" / "003-claire-dubois" / \
    "interview.flac"
PAUSE = 5.0


def _pink(size: int, dbfs: float, seed: int = 1) -> np.ndarray:
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(size))
    freqs = np.fft.rfftfreq(size, 1.0 / RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, size)
    return noise * 10 ** (dbfs / 20) / np.sqrt(np.mean(noise ** 2))


def _write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def _aligned(reference: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """``samples`` shifted so they line up with ``reference`` (cross-correlation over the
    first 10 s, lags up to 0.2 s either way)."""
    size = min(reference.size, samples.size, 10 * RATE)
    a, b = reference[:size], samples[:size]
    correlation = np.fft.irfft(np.fft.rfft(b, 2 * size) * np.conj(np.fft.rfft(a, 2 * size)))
    window = int(0.2 * RATE)
    lags = np.concatenate([np.arange(window), np.arange(-window, 0)])
    lag = int(lags[np.argmax(np.concatenate([correlation[:window], correlation[-window:]]))])
    shifted = samples[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), samples])
    out = np.zeros(reference.size)
    out[:min(reference.size, shifted.size)] = shifted[:reference.size]
    return out


@pytest.fixture(scope="module")
def masters(tmp_path_factory):
    folder = tmp_path_factory.mktemp("denoise") / "ep"
    folder.mkdir()
    speech = decode(CLEAN, RATE)
    gap = np.zeros(int(PAUSE * RATE))
    clean = np.concatenate([speech, gap, speech, gap])
    source = folder / "noisy.wav"
    _write_wav(source, clean + _pink(clean.size, -50.0))
    show, episode = show_and_episode(folder, source)
    heard = {}
    for level in ("off", "light"):
        settings = replace(show.audio, denoise=level)
        output = folder / f"{level}.mp3"
        master(replace(show, audio=settings), episode, output)
        heard[level] = _aligned(clean, decode(output, RATE))
    return clean, speech.size, heard


def _level(samples: np.ndarray, start: float, stop: float) -> float:
    part = samples[int(start * RATE):int(stop * RATE)]
    return 10 * np.log10(float(np.mean(part ** 2)) + 1e-30)


def test_light_denoise_lowers_the_floor_in_pauses_by_10_db(masters):
    clean, speech, heard = masters
    first_end = speech / RATE
    # Both pauses, the one the noise is learned from included.
    for start in (first_end, 2 * first_end + PAUSE):
        pause = (start + 1.0, start + PAUSE - 0.5)
        assert _level(heard["light"], *pause) - _level(heard["off"], *pause) <= -10.0
    # The speech itself keeps its level (within 0.5 dB).
    assert abs(_level(heard["light"], 0, first_end) - _level(heard["off"], 0, first_end)) \
        <= 0.5


def test_light_denoise_keeps_the_speech_intelligible(masters):
    clean, _speech, heard = masters
    off = pystoi.stoi(clean, heard["off"], RATE)
    light = pystoi.stoi(clean, heard["light"], RATE)
    assert off > 0.9
    assert light >= off - 0.01
