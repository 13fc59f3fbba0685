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

import subprocess
from pathlib import Path

import numpy as np

from .. import binaries
from ..binaries import ffmpeg
from ..loudness import AudioInfo

#: With the voice high-pass off, DC is still removed by a one-pole high-pass this low (Hz).
DC_CUTOFF = 10.0
#: Mains frequencies (Hz) and the highest harmonic notched (Hz): hum above it is faint.
MAINS = (50, 60)
HUM_TOP = 400.0
#: Quality factor of each notch: 50 Hz +- 0.8 Hz, narrow enough to leave voices alone.
NOTCH_Q = 30.0
#: How far (dB) the hum's lines must stand out of their neighbourhood to be notched.
HUM_MIN_DB = 10.0
#: Seconds of the recording the detection listens to, at this sample rate (Hz) ...
HUM_SECONDS = 60.0
HUM_RATE = 2000
#: ... in segments this long (s): 0.25 Hz resolution, averaged.
HUM_SEGMENT = 4.0


def cleanup_filter(highpass: float, hum: int | None) -> str:
    """The ffmpeg filter chain of the cleanup: high-pass (DC included), then the notches.

    ``highpass`` in Hz (0: only DC removal); ``hum`` the mains frequency to notch with its
    harmonics up to :data:`HUM_TOP`, or None.  Biquads run in double precision: a 50 Hz
    notch at 44.1 kHz has poles within 1e-4 of the unit circle.
    """
    if highpass > 0:
        filters = [f"highpass=f={highpass:g}:p=2:precision=f64"]
    else:
        filters = [f"highpass=f={DC_CUTOFF:g}:p=1:precision=f64"]
    if hum:
        for harmonic in range(1, int(HUM_TOP // hum) + 1):
            filters.append(f"bandreject=f={hum * harmonic}:t=q:w={NOTCH_Q:g}:precision=f64")
    return ",".join(filters)


def hum_score(samples: np.ndarray, rate: int, mains: int) -> float:
    """How far (dB) the lines at ``mains`` Hz and its first four harmonics stand out of the
    averaged spectrum around them: the fundamental's score, or the second best
    harmonic's, so one held music note at 100 or 120 Hz cannot fake a hum on its own."""
    size = int(HUM_SEGMENT * rate)
    count = samples.size // size
    if count == 0:
        return 0.0
    segments = samples[:count * size].reshape(count, size) * np.hanning(size)
    power = (np.abs(np.fft.rfft(segments, axis=1)) ** 2).mean(axis=0) + 1e-30
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    scores = []
    for harmonic in range(1, 5):
        centre = mains * harmonic
        line = power[np.abs(freqs - centre) <= 0.5].max()
        around = power[(np.abs(freqs - centre) >= 2.0) & (np.abs(freqs - centre) <= 8.0)]
        scores.append(10 * np.log10(line / np.median(around)))
    return float(max(scores[0], sorted(scores)[-2]))


def detect_hum(info: AudioInfo) -> int | None:
    """50 or 60 when the recording hums at that mains frequency, else None.

    Decodes the first :data:`HUM_SECONDS` (mono, :data:`HUM_RATE` Hz) through ffmpeg into
    numpy and compares the two candidates' :func:`hum_score`.
    """
    done = binaries.run(
        [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "error",
         "-t", f"{HUM_SECONDS:g}", "-i", str(info.path), "-map", "0:a:0",
         "-af", f"aformat=sample_fmts=flt:channel_layouts=mono,aresample={HUM_RATE}",
         "-f", "f32le", "pipe:1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    samples = np.frombuffer(done.stdout, dtype="<f4").astype(float)
    if not np.isfinite(samples).all():  # a broken float file: the analysis names it
        return None
    samples = samples - samples.mean() if samples.size else samples
    scores = {mains: hum_score(samples, HUM_RATE, mains) for mains in MAINS}
    best = max(scores, key=scores.get)
    return best if scores[best] >= HUM_MIN_DB else None


def resolve_hum(setting: str, info: AudioInfo) -> int | None:
    """The mains frequency to notch for ``audio.hum`` (``auto``, ``50``, ``60``, ``off``)."""
    if setting == "off":
        return None
    if setting == "auto":
        return detect_hum(info)
    return int(setting)


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


def denoise_filter(level: str, commands: Path, learn: float | None = None) -> str:
    """The afftdn chain for ``audio.denoise`` (empty for ``off``).

    Given ``learn`` seconds, afftdn samples the noise over the stream's first ``learn``
    seconds (``asendcmd`` reads the start/stop commands from the file ``commands``, written
    here) and removes that spectrum from then on: the caller puts a pause of the recording
    there, played once more before it (see ``Preroll`` in the pipeline) and cut off after.
    Without, it tracks the noise floor adaptively.
    """
    if level == "off":
        return ""
    reduction = DENOISE_NR[level]
    if learn is None:
        return f"afftdn=nr={reduction}:tn=1"
    commands.write_text(f"0.00 afftdn sn start;\n{learn:.3f} afftdn sn stop;\n",
                        encoding="utf-8")
    return f"asendcmd=f={_filter_path(commands)},afftdn=nr={reduction}"


def _filter_path(path: Path) -> str:
    """``path`` escaped for a filter option value (``\\``, ``:`` and ``'`` are special)."""
    text = str(path).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")
    return text.replace(",", "\\,")
