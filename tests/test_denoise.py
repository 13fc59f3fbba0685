"""Noise reduction (``audio.denoise``): the floor in pauses drops >= 10 dB with ``light``,
and the speech keeps its intelligibility (STOI against the clean speech, PyPI ``pystoi``).
Hum removal: only the harmonics the hum has are notched, so a humming recording keeps the
intelligibility of the same recording without hum.

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
from podcast.audio.cleanup import detect_hum
from podcast.loudness import probe

pytestmark = [pytest.mark.audio, pytest.mark.slow]

pystoi = pytest.importorskip("pystoi")

RATE = 44100
CLEAN = Path(__file__).resolve().parent.parent / "episodes" / "003-claire-dubois" / \
    "interview.flac"
PAUSE = 5.0


def _speech_with_pauses(speech: np.ndarray) -> np.ndarray:
    """``speech`` twice, each time followed by a pause of ``PAUSE`` seconds."""
    gap = np.zeros(int(PAUSE * RATE))
    return np.concatenate([speech, gap, speech, gap])


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


def _lag(reference: np.ndarray, samples: np.ndarray) -> int:
    """How many samples late ``samples`` are against ``reference`` (cross-correlation over
    the first 10 s, lags up to 0.2 s either way)."""
    size = min(reference.size, samples.size, 10 * RATE)
    a, b = reference[:size], samples[:size]
    correlation = np.fft.irfft(np.fft.rfft(b, 2 * size) * np.conj(np.fft.rfft(a, 2 * size)))
    window = int(0.2 * RATE)
    lags = np.concatenate([np.arange(window), np.arange(-window, 0)])
    return int(lags[np.argmax(np.concatenate([correlation[:window], correlation[-window:]]))])


def _aligned(reference: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """``samples`` shifted so they line up with ``reference`` (see :func:`_lag`)."""
    lag = _lag(reference, samples)
    shifted = samples[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), samples])
    out = np.zeros(reference.size)
    out[:min(reference.size, shifted.size)] = shifted[:reference.size]
    return out


@pytest.fixture(scope="module")
def masters(tmp_path_factory):
    folder = tmp_path_factory.mktemp("denoise") / "ep"
    folder.mkdir()
    speech = decode(CLEAN, RATE)
    clean = _speech_with_pauses(speech)
    source = folder / "noisy.wav"
    _write_wav(source, clean + _pink(clean.size, -50.0))
    show, episode = show_and_episode(folder, source)
    heard, lags = {}, {}
    for level in ("off", "light", "strong"):
        settings = replace(show.audio, denoise=level)
        output = folder / f"{level}.mp3"
        master(replace(show, audio=settings), episode, output)
        decoded = decode(output, RATE)
        lags[level] = (_lag(clean, decoded), decoded.size - clean.size)
        heard[level] = _aligned(clean, decoded)
    return clean, speech.size, heard, lags


def _level(samples: np.ndarray, start: float, stop: float) -> float:
    part = samples[int(start * RATE):int(stop * RATE)]
    return 10 * np.log10(float(np.mean(part ** 2)) + 1e-30)


def test_light_denoise_lowers_the_floor_in_pauses_by_10_db(masters):
    clean, speech, heard, _lags = masters
    first_end = speech / RATE
    # Both pauses, the one the noise is learned from included.
    for start in (first_end, 2 * first_end + PAUSE):
        pause = (start + 1.0, start + PAUSE - 0.5)
        assert _level(heard["light"], *pause) - _level(heard["off"], *pause) <= -10.0
    # The speech itself keeps its level (within 0.5 dB).
    assert abs(_level(heard["light"], 0, first_end) - _level(heard["off"], 0, first_end)) \
        <= 0.5


def test_light_denoise_keeps_the_speech_intelligible(masters):
    clean, _speech, heard, _lags = masters
    off = pystoi.stoi(clean, heard["off"], RATE)
    light = pystoi.stoi(clean, heard["light"], RATE)
    assert off > 0.9
    assert light >= off - 0.01


def test_no_option_moves_the_audio_nor_shortens_it(masters):
    # afftdn delays its output by 25 ms: the master takes it back, to the sample (the
    # undenoised master's own shift, within one sample of the input's), and keeps the
    # recording's end (the MP3 decodes to the input's length, +- one sample).
    _clean, _speech, _heard, lags = masters
    for level, (lag, extra) in lags.items():
        assert abs(lag) <= 1 and lag == lags["off"][0], \
            f"{level}: {1000 * lag / RATE:.2f} ms late"
        assert abs(extra) <= 1, f"{level}: {extra} samples more than the input"


@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_the_tracking_reduction_keeps_the_audio_in_place(rate: int, tmp_path: Path):
    # Without a pause to learn from, the reduction tracks the noise: its chain, run by
    # ffmpeg on pink noise, gives back as many samples as it got, none of them late.
    from audio_fixtures import run_ffmpeg

    from podcast.audio.cleanup import denoise_filter

    source, output = tmp_path / "in.wav", tmp_path / "out.wav"
    run_ffmpeg("-f", "lavfi", "-i", f"anoisesrc=d=3:c=pink:r={rate}:a=0.3:seed=4",
               "-c:a", "pcm_f32le", str(source))
    chain = denoise_filter("strong", tmp_path / "unused.cmd", rate=rate)
    run_ffmpeg("-i", str(source), "-af", chain, "-c:a", "pcm_f32le", str(output))
    heard_in, heard_out = decode(source, rate), decode(output, rate)
    assert heard_out.size == heard_in.size
    size = heard_in.size
    correlation = np.fft.irfft(np.fft.rfft(heard_out, 2 * size)
                               * np.conj(np.fft.rfft(heard_in, 2 * size)))
    assert int(np.argmax(np.abs(correlation))) == 0


# --------------------------------------------------------------------------- hum

#: Mains hum with no harmonic above 150 Hz: (Hz, dBFS RMS) of each line.
HUM_LINES = ((50.0, -44.0), (100.0, -50.0), (150.0, -56.0))


def _hum(size: int) -> np.ndarray:
    t = np.arange(size) / RATE
    return sum(10 ** (dbfs / 20) * np.sqrt(2) * np.sin(2 * np.pi * freq * t)
               for freq, dbfs in HUM_LINES)


@pytest.fixture(scope="module")
def humming(tmp_path_factory):
    """The speech under a -50 dBFS pink bed, with and without hum, and their masters."""
    folder = tmp_path_factory.mktemp("hum") / "ep"
    folder.mkdir()
    clean = _speech_with_pauses(decode(CLEAN, RATE))
    noisy = clean + _pink(clean.size, -50.0)
    heard, sources = {}, {}
    for name, samples in (("plain", noisy), ("hum", noisy + _hum(clean.size))):
        sources[name] = folder / f"{name}.wav"
        _write_wav(sources[name], samples)
        show, episode = show_and_episode(folder, sources[name])
        output = folder / f"{name}.mp3"
        master(show, replace(episode, audio=sources[name]), output)
        heard[name] = _aligned(clean, decode(output, RATE))
    return clean, sources, heard


def test_only_the_harmonics_found_are_notched(humming):
    _clean, sources, _heard = humming
    hum = detect_hum(probe(sources["hum"], what="audio file"))
    assert hum is not None and hum.frequencies == [50, 100, 150]
    assert detect_hum(probe(sources["plain"], what="audio file")) is None


def test_a_humming_recording_keeps_its_intelligibility(humming):
    clean, _sources, heard = humming
    plain = pystoi.stoi(clean, heard["plain"], RATE)
    hum = pystoi.stoi(clean, heard["hum"], RATE)
    assert plain > 0.9
    assert hum >= plain - 0.01, (plain, hum)
