"""Where each track of a multitrack episode starts, found from the bleed between them.

Every microphone hears the other speakers a little (the *bleed*), so two tracks share
sound: the host's voice is in the host's track and, some milliseconds later and much
quieter, in the guest's.  The cross-correlation of the two recordings peaks at their
relative offset less that delay; where the guest's voice leaks into the host's track too,
a second peak sits the same delay on the other side, and the offset is midway.

The correlation is the phase transform (GCC-PHAT: every frequency weighted alike, so the
peaks stay sharp for low-pitched, coloured voices) of the first :data:`ALIGN_SECONDS` of
each track, decoded by ffmpeg at :data:`ALIGN_RATE` Hz: a bounded amount of audio, however
long the episode (2 MB a track).

The two directions are told apart by who is speaking, not by the shape of one
correlation (a bleed path's own reflections and filtering put lesser peaks a few
milliseconds around the main one, which are not a second direction): once the tracks are
roughly aligned on the strongest peak, the correlation is taken again over the stretches
where the reference's speaker dominates and, apart, where the other track's does.  Each
direction whose peak stands out is a bleed heard that way; two of them straddle the
offset.  With one (a guest on speakers, the host on headphones), nothing in the
recordings separates the offset from that bleed's delay: the estimate lines the bleed up
with its source, and says it rests on one way.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import binaries
from ...binaries import ffmpeg

#: Seconds of each track read for the correlation, at this rate (Hz): 0.25 ms steps.
ALIGN_SECONDS = 120.0
ALIGN_RATE = 4000
#: Offsets searched (s either way) ...
ALIGN_RANGE = 30.0
#: ... and each direction's bleed, this close (s) to the strongest peak.
PAIR_RANGE = 0.5
#: A peak this many times the correlation's RMS is an estimate worth applying.
MIN_CONFIDENCE = 8.0
#: Who dominates is decided per frame of this long (s); a third of the frames, those
#: where one track's level (against its own loudest) stands most above the other's, are
#: that track's speaker's.
FRAME = 0.25
DOMINANT_SHARE = 1 / 3
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


def _gcc_phat(reference: np.ndarray, track: np.ndarray, span: int) -> np.ndarray:
    """|GCC-PHAT| of the two at lags ``-span..span`` (index ``n + span``: ``reference[m + n]``
    against ``track[m]``)."""
    size = 1 << int(np.ceil(np.log2(reference.size + track.size)))
    cross = np.conj(np.fft.rfft(track, size)) * np.fft.rfft(reference, size)
    cross /= np.maximum(np.abs(cross), 1e-12)
    circular = np.fft.irfft(cross, size)
    span = min(span, size // 2 - 1)
    return np.abs(np.concatenate([circular[-span:], circular[:span + 1]]))


def _overlap(reference: np.ndarray, track: np.ndarray,
             lag: int) -> tuple[np.ndarray, np.ndarray]:
    """The two where they overlap with ``track`` moved ``lag`` samples later."""
    if lag >= 0:
        size = max(0, min(reference.size - lag, track.size))
        return reference[lag:lag + size], track[:size]
    size = max(0, min(reference.size, track.size + lag))
    return reference[:size], track[-lag:-lag + size]


def _dominant(first: np.ndarray, second: np.ndarray, rate: int) -> np.ndarray:
    """Per sample: True where ``first``'s speaker dominates (its frame level against its
    own loudest frames stands most above ``second``'s, and is speech)."""
    length = int(FRAME * rate)
    count = first.size // length
    if count < 3:
        return np.zeros(first.size, dtype=bool)

    def levels(signal: np.ndarray) -> np.ndarray:
        power = np.mean(signal[:count * length].reshape(count, length) ** 2, axis=1)
        decibels = 10 * np.log10(power + 1e-20)
        return decibels - np.percentile(decibels, 95)

    mine, theirs = levels(first), levels(second)
    lead = mine - theirs
    frames = (lead >= np.quantile(lead, 1 - DOMINANT_SHARE)) & (mine > np.median(mine))
    return np.pad(np.repeat(frames, length), (0, first.size - count * length))


def _direction(reference: np.ndarray, track: np.ndarray, rate: int, *,
               source_is_reference: bool) -> float | None:
    """The lag (samples, sub-sample) near 0 of one direction's bleed peak: the source
    track kept only where its speaker dominates (the other whole, so the cut edges are in
    one signal only and cannot correlate), or None when it does not stand out."""
    if source_is_reference:
        mask = _dominant(reference, track, rate)
        reference = reference * mask
    else:
        mask = _dominant(track, reference, rate)
        track = track * mask
    if mask.sum() < rate:
        return None
    values = _gcc_phat(reference, track, int(ALIGN_RANGE * rate))
    span = (values.size - 1) // 2
    near = int(PAIR_RANGE * rate)
    window = values[span - near:span + near + 1]
    top = int(np.argmax(window))
    rms = float(np.sqrt(np.mean(values ** 2))) or 1e-12
    if window[top] / rms < MIN_CONFIDENCE:
        return None
    return _peak(window, top) - near


def estimate(reference: np.ndarray, track: np.ndarray,
             rate: int = ALIGN_RATE) -> Estimate | None:
    """How late (s) ``track``'s content must be placed against ``reference``'s, from their
    GCC-PHAT; None when either is too short to tell."""
    if reference.size < rate or track.size < rate:
        return None
    values = _gcc_phat(reference, track, int(ALIGN_RANGE * rate))
    span = (values.size - 1) // 2
    top = int(np.argmax(values))
    rms = float(np.sqrt(np.mean(values ** 2))) or 1e-12
    position, peaks = _peak(values, top) - span, 1
    # Each direction apart, on the tracks moved onto the strongest peak.
    near, far = _overlap(reference, track, top - span)
    forward, backward = (_direction(near, far, rate, source_is_reference=way)
                         for way in (True, False))
    if forward is not None and backward is not None:
        position, peaks = top - span + (forward + backward) / 2, 2
    return Estimate(offset=position / rate, confidence=float(values[top]) / rms,
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
