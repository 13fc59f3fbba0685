"""Where each track of a multitrack episode starts, found from the bleed between them.

Every microphone hears the other speakers a little (the *bleed*), so two tracks share
sound: the host's voice is in the host's track and, some milliseconds later and much
quieter, in the guest's.  The cross-correlation of the two recordings peaks at their
relative offset less that acoustic delay; where the guest's voice leaks into the host's
track too, a second peak sits the same delay on the other side, and the offset is midway.

The correlation is the phase transform (GCC-PHAT: every frequency weighted alike, so the
peaks stay sharp for low-pitched, coloured voices) of the first :data:`ALIGN_SECONDS` of
each track, decoded by ffmpeg at :data:`ALIGN_RATE` Hz: a bounded amount of audio, however
long the episode (2 MB a track).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import binaries
from ..binaries import ffmpeg

#: Seconds of each track read for the correlation, at this rate (Hz): 0.25 ms steps.
ALIGN_SECONDS = 120.0
ALIGN_RATE = 4000
#: Offsets searched (s either way) ...
ALIGN_RANGE = 30.0
#: ... and the second (reverse-bleed) peak, this close (s) to the first and this strong.
PAIR_RANGE = 0.5
PAIR_SHARE = 0.15
#: A peak this many times the correlation's RMS is an estimate worth applying.
MIN_CONFIDENCE = 8.0
#: An estimate moving a track by more than this (s) from its configured offset is
#: reported, never applied: check it and write it in episode.md.
MAX_CHANGE = 5.0


@dataclass(frozen=True)
class Estimate:
    """A track's offset (s) against the reference track, and how sure it is."""

    offset: float
    confidence: float  # the peak over the correlation's RMS
    peaks: int  # 2: bleed heard both ways (the acoustic delay cancels); 1: one way

    @property
    def sure(self) -> bool:
        return self.confidence >= MIN_CONFIDENCE


def decode_start(path: Path) -> np.ndarray:
    """The first :data:`ALIGN_SECONDS` of ``path``, mono at :data:`ALIGN_RATE` Hz."""
    done = binaries.run(
        [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "error",
         "-t", f"{ALIGN_SECONDS:g}", "-i", str(path), "-map", "0:a:0",
         "-af", f"aformat=sample_fmts=flt:channel_layouts=mono,aresample={ALIGN_RATE}",
         "-f", "f32le", "pipe:1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return np.frombuffer(done.stdout, dtype="<f4").astype(float)


def _peak(values: np.ndarray, index: int) -> float:
    """The sub-sample position of the peak at ``index`` (a parabola through three)."""
    if index <= 0 or index >= values.size - 1:
        return float(index)
    left, centre, right = values[index - 1], values[index], values[index + 1]
    bend = left - 2 * centre + right
    return index + (0.5 * (left - right) / bend if bend else 0.0)


def estimate(reference: np.ndarray, track: np.ndarray,
             rate: int = ALIGN_RATE) -> Estimate | None:
    """How late (s) ``track``'s content must be placed against ``reference``'s, from their
    GCC-PHAT; None when either is too short to tell."""
    if reference.size < rate or track.size < rate:
        return None
    size = 1 << int(np.ceil(np.log2(reference.size + track.size)))
    cross = np.conj(np.fft.rfft(track, size)) * np.fft.rfft(reference, size)
    cross /= np.maximum(np.abs(cross), 1e-12)
    # lags[n]: ``reference[m + n]`` against ``track[m]``, from -range to +range.
    circular = np.fft.irfft(cross, size)
    span = min(int(ALIGN_RANGE * rate), size // 2 - 1)
    values = np.abs(np.concatenate([circular[-span:], circular[:span + 1]]))
    top = int(np.argmax(values))
    rms = float(np.sqrt(np.mean(values ** 2))) or 1e-12
    near = np.abs(np.arange(values.size) - top)
    around = np.where((near > 0.002 * rate) & (near <= PAIR_RANGE * rate), values, 0.0)
    second = int(np.argmax(around))
    if around[second] >= PAIR_SHARE * values[top]:
        position, peaks = (_peak(values, top) + _peak(values, second)) / 2, 2
    else:
        position, peaks = _peak(values, top), 1
    return Estimate(offset=(position - span) / rate, confidence=float(values[top]) / rms,
                    peaks=peaks)


def estimate_offsets(paths: list[Path], reference: int) -> list[Estimate | None]:
    """Each track's estimated offset against track ``reference`` (its own entry: 0)."""
    base = decode_start(paths[reference])
    out: list[Estimate | None] = []
    for index, path in enumerate(paths):
        if index == reference:
            out.append(Estimate(offset=0.0, confidence=float("inf"), peaks=0))
        else:
            out.append(estimate(base, decode_start(path)))
    return out
