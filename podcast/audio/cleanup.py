"""Cleanup before analysis: DC removal, the voice high-pass and mains-hum notches.

The same filter chain runs in every pass that reads the interview (analysis, limiter
calibration, encode), so what is measured and levelled is the cleaned signal, and the
gain curve never multiplies a DC offset or hum.  Intros and outros (music) are left alone.

Mains hum is found by :func:`detect_hum` from the averaged spectrum of the recording's
first minute: hum is a set of lines, at exactly 50 Hz (Europe, most of the world) or
60 Hz (the Americas) and their harmonics, standing far out of the spectrum around them,
where speech (its pitch always moving) is smooth once averaged over a minute.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import binaries
from ..binaries import ffmpeg
from ..loudness import AudioInfo
from ..model import AudioSettings
from .analysis import input_options

#: With the voice high-pass off, DC is still removed by a one-pole high-pass this low (Hz).
DC_CUTOFF = 10.0
#: Mains frequencies (Hz) and the highest harmonic looked for (Hz): hum above it is faint.
MAINS = (50, 60)
HUM_TOP = 400.0
#: Width (Hz) of each notch, the same at every harmonic (a constant Q would take 13 Hz out
#: of the voice at 400 Hz): the mains frequency drifts by less than 0.1 Hz.
NOTCH_WIDTH = 1.7
#: How far (dB) the hum's lines must stand out of their neighbourhood to be notched: the
#: hum (its fundamental, or two of its first four lines) ...
HUM_MIN_DB = 10.0
#: ... and then each harmonic on its own.
HARMONIC_MIN_DB = 6.0
#: Seconds of the recording the detection listens to, at this sample rate (Hz) ...
HUM_SECONDS = 60.0
HUM_RATE = 2000
#: ... in segments this long (s): 0.25 Hz resolution, averaged.
HUM_SEGMENT = 4.0


@dataclass(frozen=True)
class Hum:
    """Mains hum found in a recording: its frequency (Hz) and which of its harmonics
    (1 the fundamental) stand out of the spectrum, the ones notched."""

    mains: int
    harmonics: tuple[int, ...]

    @property
    def frequencies(self) -> list[int]:
        """The frequencies (Hz) notched."""
        return [self.mains * harmonic for harmonic in self.harmonics]


def cleanup_filter(highpass: float, hum: Hum | int | None) -> str:
    """The ffmpeg filter chain of the cleanup: high-pass (DC included), then the notches.

    ``highpass`` in Hz (0: only DC removal); ``hum`` the :class:`Hum` whose harmonics are
    notched, a mains frequency (every harmonic up to :data:`HUM_TOP`), or None.  Biquads
    run in double precision: a 50 Hz notch at 44.1 kHz has poles within 1e-4 of the unit
    circle.
    """
    if highpass > 0:
        filters = [f"highpass=f={highpass:g}:p=2:precision=f64"]
    else:
        filters = [f"highpass=f={DC_CUTOFF:g}:p=1:precision=f64"]
    if isinstance(hum, int):
        hum = Hum(hum, tuple(range(1, int(HUM_TOP // hum) + 1)))
    for frequency in hum.frequencies if hum else []:
        filters.append(f"bandreject=f={frequency}:t=h:w={NOTCH_WIDTH:g}:precision=f64")
    return ",".join(filters)


def _spectrum(samples: np.ndarray, rate: int, seconds: float,
              quietest: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and averaged power spectrum of ``samples`` in Hann-windowed segments of
    ``seconds``, over the ``quietest`` share of the segments (the pauses, for 1/3)."""
    size = int(seconds * rate)
    count = samples.size // size
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    if count == 0:
        return freqs, np.ones(freqs.size)
    windowed = samples[:count * size].reshape(count, size) * np.hanning(size)
    power = np.abs(np.fft.rfft(windowed, axis=1)) ** 2
    keep = max(1, round(quietest * count))
    quiet = np.argsort(power.sum(axis=1))[:keep]
    return freqs, power[quiet].mean(axis=0) + 1e-30


def line_scores(freqs: np.ndarray, power: np.ndarray, mains: int, count: int) -> np.ndarray:
    """How far (dB) the lines at ``mains`` Hz and its harmonics up to the ``count``-th
    stand out of the spectrum ``power`` around them (+-2 to 8 Hz), one score each."""
    scores = []
    for harmonic in range(1, count + 1):
        distance = np.abs(freqs - mains * harmonic)
        line = power[distance <= 0.5].max()
        around = power[(distance >= 2.0) & (distance <= 8.0)]
        scores.append(10 * np.log10(line / np.median(around)))
    return np.asarray(scores)


def hum_score(samples: np.ndarray, rate: int, mains: int) -> float:
    """How far (dB) the lines at ``mains`` Hz and its first four harmonics stand out of the
    averaged spectrum around them: the fundamental's score, or the second best
    harmonic's, so one held music note at 100 or 120 Hz cannot fake a hum on its own."""
    scores = line_scores(*_spectrum(samples, rate, HUM_SEGMENT), mains, 4)
    return float(max(scores[0], sorted(scores)[-2]))


def hum_harmonics(samples: np.ndarray, rate: int, mains: int) -> tuple[int, ...]:
    """The harmonics of ``mains`` (up to :data:`HUM_TOP`) standing
    :data:`HARMONIC_MIN_DB` out of the spectrum of the recording's pauses (its quietest
    third of 1 s stretches: under the voices a faint harmonic is hidden, in the pauses it
    is heard): the ones to notch."""
    spectrum = _spectrum(samples, rate, 1.0, quietest=1 / 3)
    scores = line_scores(*spectrum, mains, int(HUM_TOP // mains))
    return tuple(int(number) + 1 for number in np.flatnonzero(scores >= HARMONIC_MIN_DB))


def _hum_samples(info: AudioInfo) -> np.ndarray | None:
    """The first :data:`HUM_SECONDS` of the recording, mono at :data:`HUM_RATE` Hz, its
    mean taken out (None for a broken float file: the analysis names it).

    A WAV is read in pass 1's large packets and probed on one (:func:`.input_options`):
    0.10 -> 0.02 CPU-s, the same samples."""
    done = binaries.run(
        [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "error",
         "-t", f"{HUM_SECONDS:g}", *input_options(info.path), "-i", str(info.path),
         "-map", "0:a:0",
         "-af", f"aformat=sample_fmts=flt:channel_layouts=mono,aresample={HUM_RATE}",
         "-f", "f32le", "pipe:1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    samples = np.frombuffer(done.stdout, dtype="<f4").astype(float)
    if not np.isfinite(samples).all():  # a broken float file: the analysis names it
        return None
    return samples - samples.mean() if samples.size else samples


def detect_hum(info: AudioInfo) -> Hum | None:
    """The mains hum of the recording (50 or 60 Hz and the harmonics found), or None.

    Decodes the first :data:`HUM_SECONDS` (mono, :data:`HUM_RATE` Hz) through ffmpeg into
    numpy and compares the two candidates' :func:`hum_score`.
    """
    samples = _hum_samples(info)
    if samples is None:
        return None
    scores = {mains: hum_score(samples, HUM_RATE, mains) for mains in MAINS}
    best = max(scores, key=scores.__getitem__)
    if scores[best] < HUM_MIN_DB:
        return None
    return Hum(best, hum_harmonics(samples, HUM_RATE, best))


def resolve_hum(setting: str, info: AudioInfo) -> Hum | None:
    """The hum to notch for ``audio.hum`` (``auto``, ``50``, ``60``, ``off``): with a
    mains frequency named, its fundamental and whichever harmonics stand out."""
    if setting == "off":
        return None
    if setting == "auto":
        return detect_hum(info)
    mains = int(setting)
    samples = _hum_samples(info)
    found = hum_harmonics(samples, HUM_RATE, mains) if samples is not None else ()
    return Hum(mains, tuple(sorted({1, *found})))


# --------------------------------------------------------------------------- noise reduction

#: ``audio.denoise`` -> afftdn's noise reduction (dB).  Measured on espeak speech under
#: -50 dBFS pink noise, mastered, with the profile from one pause: the floor in every
#: pause drops 12 dB (light) and 15.5 dB (strong), STOI against the clean speech 0.965
#: undenoised, 0.967 with either (tests/test_denoise.py checks it).
DENOISE_NR = {"light": 15, "strong": 24}
#: The noise profile is learned over at most this long a stretch of the longest pause (s).
PROFILE_SECONDS = 5.0


def quietest_stretch(times: np.ndarray, speech: np.ndarray,
                     minimum: float = 0.5) -> tuple[float, float] | None:
    """The longest pause of a block series (recording seconds, at most
    :data:`PROFILE_SECONDS`, clear of the speech either side), or None if no pause is
    ``minimum`` s long.  A pause runs from the end of the last speech block's window to
    the start of the next one's."""
    best = None
    padded = np.concatenate([[True], speech, [True]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        begin = times[start - 1] + 0.1 if start > 0 else 0.0
        end = times[stop] - 0.5 if stop < times.size else times[-1]
        if end - begin >= minimum and (best is None or end - begin > best[1] - best[0]):
            best = (begin, end)
    if best is None:
        return None
    return best[0], min(best[1], best[0] + PROFILE_SECONDS)


def denoise_filter(level: str, commands: Path, learn: float | None = None, *,
                   rate: int | None = None) -> str:
    """The afftdn chain for ``audio.denoise`` (empty for ``off``).

    Given ``learn`` seconds, afftdn samples the noise over the stream's first ``learn``
    seconds (``asendcmd`` reads the start/stop commands from the file ``commands``, written
    here) and removes that spectrum from then on: the caller puts a pause of the recording
    there, played once more before it (see ``Preroll`` in the pipeline) and cut off after.
    Without, it tracks the noise floor adaptively.

    Given the stream's sample ``rate``, afftdn's delay (:func:`denoise_delay`) is taken
    back: the stream is padded by that many samples of silence before it and as many are
    cut from the front after it, so the audio comes out in place and whole.
    """
    if level == "off":
        return ""
    reduction = DENOISE_NR[level]
    if learn is None:
        chain = f"afftdn=nr={reduction}:tn=1"
    else:
        commands.write_text(f"0.00 afftdn sn start;\n{learn:.3f} afftdn sn stop;\n",
                            encoding="utf-8")
        chain = f"asendcmd=f={_filter_path(commands)},afftdn=nr={reduction}"
    delay = denoise_delay(rate) if rate else 0
    if delay == 0:
        return chain
    return (f"apad=pad_len={delay},{chain},atrim=start_sample={delay},"
            f"asetpts=PTS-STARTPTS")


def denoise_delay(rate: int) -> int:
    """How many samples afftdn delays its output by at ``rate`` Hz (25 ms in ffmpeg 6:
    half its 50 ms window), measured once per ffmpeg and rate by cross-correlating 1 s of
    white noise with its denoised copy."""
    return _measured_delay(ffmpeg(), rate)


@functools.lru_cache(maxsize=16)
def _measured_delay(program: str, rate: int) -> int:
    mono = "aformat=sample_fmts=flt:channel_layouts=mono"
    graph = (f"anoisesrc=d=1:c=white:r={rate}:a=0.5:seed=1,{mono},asplit[a][b];"
             f"[b]afftdn=nr={DENOISE_NR['light']}:tn=1,{mono}[c];[a][c]amerge=inputs=2")
    done = binaries.run([program, "-hide_banner", "-nostdin", "-nostats", "-v", "error",
                         "-filter_complex", graph, "-f", "f32le", "pipe:1"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    pairs = np.frombuffer(done.stdout, dtype="<f4").astype(float)
    if pairs.size < 2 * rate // 2:
        return 0  # no measure (ffmpeg failed): the master's own run names the problem
    source, denoised = pairs[0::2], pairs[1::2]
    size = source.size
    correlation = np.fft.irfft(np.fft.rfft(denoised, 2 * size)
                               * np.conj(np.fft.rfft(source, 2 * size)))
    return int(np.argmax(correlation[:size // 2]))


def _filter_path(path: Path) -> str:
    """``path`` escaped for a filter option value (``\\``, ``:`` and ``'`` are special)."""
    text = str(path).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")
    return text.replace(",", "\\,")


def recording_cleanup(settings: AudioSettings, info: AudioInfo) -> str:
    """The cleanup chain for the recording ``info``: high-pass, and hum notches when
    ``audio.hum`` names a mains frequency or ``auto`` finds one."""
    return cleanup_filter(settings.highpass, resolve_hum(settings.hum, info))
