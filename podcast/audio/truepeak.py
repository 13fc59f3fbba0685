"""The true peak of the finished MP3, read in this process from its decoded samples.

BS.1770-4 Annex 2: the samples oversampled 4x, the largest absolute value of any
channel.  The MP3 is decoded by libsndfile (mpg123, through ``soundfile``) in blocks, so
memory stays flat.  Only the stretches that could hold the peak are oversampled: an
interpolated value exceeds the samples it is made of by at most the sum of the absolute
taps of its phase (:func:`peak_bound`), so a group of 16 samples whose neighbourhood,
times that bound, stays under the best peak found cannot hold the true peak and is
skipped.  The result is the value oversampling every sample gives
(tests/test_truepeak.py holds it against that, computed there).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ..errors import AudioError

#: Oversampling factor, and the interpolator's half length in input samples: 65 taps,
#: so phase 0 is centred on the samples themselves.
FACTOR = 4
REACH = 8
#: The interpolator passes up to this fraction of the original Nyquist frequency
#: (Kaiser window, its beta as ffmpeg's resampler's).
CUTOFF = 0.97
KAISER_BETA = 9.0
#: Samples per group the search skips or reads (larger than REACH: a value's taps lie in
#: its group and the two beside it), and groups decoded at a time (~10 s at 44.1 kHz).
GROUP = 16
GROUPS_PER_BLOCK = 27000


def interpolator() -> np.ndarray:
    """The 4x interpolating low-pass filter, 65 taps (gain 4: each phase keeps the level)."""
    length = 2 * REACH * FACTOR + 1
    n = np.arange(length) - REACH * FACTOR
    return CUTOFF * np.sinc(CUTOFF * n / FACTOR) * np.kaiser(length, KAISER_BETA)


def phase_matrix(taps: np.ndarray) -> np.ndarray:
    """(2 * REACH + 1, FACTOR): column ``q`` weighs the samples ``t - 2 * REACH`` ... ``t``
    (oldest first) into the value ``q / 4`` of a sample after ``t - REACH``."""
    matrix = np.zeros((2 * REACH + 1, FACTOR))
    for phase in range(FACTOR):
        weights = taps[phase::FACTOR]
        matrix[2 * REACH + 1 - weights.size:, phase] = weights[::-1]
    return matrix


def peak_bound(matrix: np.ndarray) -> float:
    """How many times the largest sample it is made of an interpolated value can be: the
    largest sum of absolute taps over the phases of ``matrix`` (:func:`phase_matrix`)."""
    return float(np.abs(matrix).sum(axis=0).max())


def true_peak(path: Path) -> float:
    """The true peak (dBTP) of the MP3 at ``path``; ``-inf`` for digital silence.

    Raises AudioError if the file cannot be decoded.
    """
    import soundfile  # type: ignore[import-untyped]  # (loads libsndfile when measuring)

    try:
        with soundfile.SoundFile(str(path)) as handle:
            blocks = handle.blocks(blocksize=GROUP * GROUPS_PER_BLOCK, dtype="float32",
                                   always_2d=True)
            peak = stream_peak(blocks)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise AudioError(f"the encoded MP3 cannot be decoded to measure its true peak "
                         f"({error})", file=path,
                         fix="reinstall soundfile (`pip install --force-reinstall "
                             "soundfile`): its libsndfile must read MP3 (1.1 or newer)"
                         ) from None
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def stream_peak(blocks: Iterable[np.ndarray]) -> float:
    """The 4x oversampled peak of consecutive blocks (frames x channels) of one signal."""
    matrix = phase_matrix(interpolator()).astype(np.float32)
    bound = peak_bound(matrix)
    best = 0.0
    for window in _windows(blocks):
        best = _window_peak(window, matrix, bound, best)
    return best


def _windows(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """The signal as windows of whole groups whose first and last group are context:
    each group of the signal is inside exactly one window (silence before and after)."""
    pending = None  # the last window's two last groups, and what did not fill a group
    for block in blocks:
        if pending is None:
            pending = np.zeros((2 * GROUP, block.shape[1]), dtype=np.float32)
        joined = np.concatenate([pending, block])
        usable = joined.shape[0] // GROUP * GROUP
        if usable < 3 * GROUP:
            pending = joined
            continue
        yield joined[:usable]
        pending = joined[usable - 2 * GROUP:]
    if pending is not None:
        silence = -pending.shape[0] % GROUP + GROUP
        yield np.concatenate([pending, np.zeros((silence, pending.shape[1]), np.float32)])


def _window_peak(window: np.ndarray, matrix: np.ndarray, bound: float,
                 best: float) -> float:
    """The best peak so far, with the inner groups of ``window`` that could beat it read."""
    groups = _group_maxima(window)
    near = np.maximum(groups[1:-1], np.maximum(groups[:-2], groups[2:]))
    loudest = int(np.argmax(near))
    best = max(best, _groups_peak(window, np.array([loudest + 1]), matrix))
    chosen = np.flatnonzero(near * bound > best) + 1
    return max(best, _groups_peak(window, chosen, matrix)) if chosen.size else best


def _group_maxima(window: np.ndarray) -> np.ndarray:
    """The largest absolute sample of each group of ``window`` (all channels)."""
    magnitude = np.abs(window[:, 0])
    for channel in window.T[1:]:
        magnitude = np.maximum(magnitude, np.abs(channel))
    groups = magnitude.reshape(-1, GROUP)
    while groups.shape[1] > 1:  # pairwise: numpy's max along a short axis is slow
        groups = np.maximum(groups[:, ::2], groups[:, 1::2])
    return groups[:, 0]


def _groups_peak(window: np.ndarray, chosen: np.ndarray, matrix: np.ndarray) -> float:
    """The oversampled peak over the groups ``chosen`` (indices into ``window``'s)."""
    first = chosen[:, None] * GROUP - REACH + np.arange(GROUP + 2 * REACH)
    peak = 0.0
    for channel in window.T:
        gathered = channel[first]  # (groups, GROUP + 2 * REACH)
        frames = np.lib.stride_tricks.sliding_window_view(gathered, 2 * REACH + 1, axis=1)
        values = frames @ matrix  # (groups, GROUP, FACTOR)
        peak = max(peak, float(np.abs(values).max()))
    return peak
