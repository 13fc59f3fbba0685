"""Voice activity: where the speech is, told apart from music and steady noise, per 100 ms.

Pass 1 writes a mono 8 kHz copy of what it meters (:mod:`.analysis`); this module reads it
as it streams, in 20 ms frames (a 32 ms Hann window, the 150-3750 Hz bins), and keeps four
numbers per frame:

1. **Energy** (dB).  A frame is *active* when it stands :data:`ACTIVE_DB` above the
   recording's quiet frames (their :data:`QUIET_PERCENTILE`-th percentile).  20 ms frames
   reach the room's floor between words even in speech without pauses, so a dense
   monologue still has a floor to stand out of, and a steady noise bed never does.
2. **Steadiness**: the correlation of the frame's spectral peaks (each bin's level, floored
   at the frame's median, so only what stands out of it counts) with those
   :data:`LAG` frames (100 ms) before.  Music holds its notes and chords: its peaks stay
   where they are (0.9-1.0).  Speech moves its harmonics and formants every syllable
   (0.3-0.7), also over a music bed 12 dB under it.  A frame is *steady* when the median
   of its :data:`STEADY_SPAN` neighbours' steadiness reaches :data:`STEADY`.
3. The same two in the **upper band** (1000-3750 Hz, from :data:`UPPER_BIN`) alone: its
   energy, and the steadiness of its peaks, counted from :data:`UPPER_PEAK_DB` over the
   frame's median (the random bins of noise seldom reach that, so a weak partial in
   noise still reads as held).  Under a music bed as loud as the voice, the music's
   notes (mostly under 1 kHz) hold the whole band's peaks: a telephone guest's words
   2 dB under a bed read as held on 46 % of their frames (median steadiness 0.94 where
   they were missed, 0.98 on the bed alone), while the voice stands 15-20 dB out of the
   bed's upper band and moves there (held on 6 %).

A frame *moves* when it is active and not steady (1, 2), or when its upper band speaks:
its level (the median of :data:`UPPER_HOLD` frames each side: a syllable holds, a click
does not) stands :data:`ACTIVE_DB` above that band's quiet frames and
:data:`UPPER_RISE_DB` above its local floor (the :data:`UPPER_FLOOR_RANK`-th quietest
100 ms within :data:`UPPER_SPAN` each side: the bed between words), and its steadiness
(as for 2) lies between :data:`UPPER_SHAPED` and :data:`STEADY`: formants move but keep
some shape from one 100 ms to the next, held notes keep all of it, a burst of noise (a
hi-hat, ~0) none.  A 100 ms interval is speech when :data:`MIN_FRAMES` of its frames move; gaps of
:data:`CLOSE_GAP` intervals or fewer inside speech are closed (between words), shorter
runs than :data:`MIN_RUN` dropped (a knock, a note's attack).

Cost: no model, no dependency.  The 8 kHz copy costs pass 1's ffmpeg about 0.07 CPU-s
per 10 minutes of 44.1 kHz stereo (of its 0.75); the frames here, one 256-point FFT per
20 ms, 0.13-0.15 CPU-s (a bare MP3 transcode of them: 4.1 s), in a thread beside ffmpeg,
read 16 s at a time.  The upper band (3) adds a quarter: 0.062 -> 0.075 CPU-s for the
frames, 0.003 -> 0.009 for the decisions (10 minutes, measured side by side).
silero's VAD model (ONNX) scored lower on the same inputs (F1 ~0.93) at a far higher cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .levelling import true_runs

#: Sample rate (Hz) of the copy the features are read from: speech's band fits.
RATE = 8000
#: Frame hop and window (samples): 20 ms frames, 32 ms windows.
HOP = 160
WINDOW = 256
#: The spectrum's bins read (31.25 Hz each): 156-3750 Hz.
LOW_BIN, HIGH_BIN = 5, 120
#: Frames between the two spectra whose peaks are compared (100 ms).
LAG = 5
#: A frame is steady (music) when the median steadiness over this many frames each side
#: reaches :data:`STEADY`.
STEADY_SPAN = 10
STEADY = 0.85
#: The upper band's first bin (1000 Hz); its peaks count from this many dB over the frame's
#: median; it speaks this many dB above its floor: the ``UPPER_FLOOR_RANK``-th quietest
#: (from 0) of the 100 ms intervals within ``UPPER_SPAN`` intervals each side.
UPPER_BIN = 32
UPPER_PEAK_DB = 3.0
UPPER_RISE_DB = 10.0
UPPER_SPAN = 10
UPPER_FLOOR_RANK = 2
#: The upper band's steadiness (its median, as :func:`steady_frames` takes it) at least
#: this where it speaks: a burst of noise keeps no shape (module doc, 3).
UPPER_SHAPED = 0.1
#: The upper band's level is taken as its median over this many frames each side (140 ms).
UPPER_HOLD = 3
#: A frame is active this many dB above the quiet frames (this percentile of all frames).
ACTIVE_DB = 6.0
QUIET_PERCENTILE = 5.0
#: Seconds per decision, and how many active, moving frames make one speech.
INTERVAL = 0.1
MIN_FRAMES = 2
#: Gaps this many intervals or shorter inside speech are closed; runs shorter than
#: :data:`MIN_RUN` intervals dropped.
CLOSE_GAP = 2
MIN_RUN = 2
#: Bytes of the 8 kHz float copy read at a time (16 s): fewer, larger numpy passes (a
#: fifth less CPU than 64 KiB reads).
CHUNK_BYTES = 1 << 18


@dataclass(frozen=True)
class Frames:
    """The features of every 20 ms frame: centre times (s), energy (dB), steadiness, and
    the upper band's energy (dB) and steadiness."""

    times: np.ndarray
    energy: np.ndarray
    steadiness: np.ndarray
    upper: np.ndarray
    upper_steadiness: np.ndarray

    def _kept(self, keep: np.ndarray, offset: float = 0.0) -> Frames:
        return Frames(self.times[keep] + offset, *(getattr(self, name)[keep]
                                                   for name in _FEATURES))

    def after(self, start: float, offset: float = 0.0) -> Frames:
        """The frames centred after ``start`` (s), their times moved by ``offset``."""
        return self._kept(self.times + offset > start, offset)

    def before(self, stop: float) -> Frames:
        """The frames centred at or before ``stop`` (s)."""
        return self._kept(self.times <= stop)

    @staticmethod
    def join(first: Frames, second: Frames) -> Frames:
        """Two runs of frames end to end."""
        return Frames(*(np.concatenate([getattr(first, name), getattr(second, name)])
                        for name in ("times", *_FEATURES)))


#: The per-frame features of :class:`Frames` beside its times.
_FEATURES = ("energy", "steadiness", "upper", "upper_steadiness")


class FrameReader:
    """Turns a stream of 8 kHz float samples into :class:`Frames`, a chunk at a time,
    keeping only the samples of the next frame's window and the last :data:`LAG`
    spectra between chunks."""

    def __init__(self) -> None:
        self._pending = b""
        self._samples = np.zeros(0, dtype=np.float32)
        self._recent = np.zeros((0, HIGH_BIN - LOW_BIN), dtype=np.float32)
        self._recent_upper = np.zeros((0, HIGH_BIN - UPPER_BIN), dtype=np.float32)
        self._count = 0
        self._energy: list[np.ndarray] = []
        self._steady: list[np.ndarray] = []
        self._upper: list[np.ndarray] = []
        self._upper_steady: list[np.ndarray] = []
        self._window = np.hanning(WINDOW).astype(np.float32)

    def feed(self, data: bytes) -> None:
        """Take the next bytes of little-endian float32 samples."""
        if self._pending:
            data = self._pending + data
        whole = len(data) // 4 * 4
        self._pending = data[whole:]
        # A broken file (NaN, inf, 1e30: named by the loudness checks) must not overflow
        # here: infinities clipped as any large value, NaN (which clipping keeps) zeroed.
        samples = np.clip(np.frombuffer(data, "<f4", count=whole // 4), -64.0, 64.0)
        broken = np.isnan(samples)
        if broken.any():
            samples[broken] = 0.0
        self._samples = np.concatenate([self._samples, samples]) if self._samples.size \
            else samples
        count = (self._samples.size - WINDOW) // HOP + 1
        if count <= 0:
            return
        # Every HOP-th window of the samples, a view: the product with the Hann window is
        # the one copy made.
        windows = np.lib.stride_tricks.sliding_window_view(self._samples, WINDOW)[::HOP]
        spectra = np.fft.rfft(windows[:count] * self._window, axis=1)[:, LOW_BIN:HIGH_BIN]
        power = spectra.real ** 2 + spectra.imag ** 2
        self._energy.append(10 * np.log10(power.sum(axis=1) + 1e-12))
        self._upper.append(10 * np.log10(power[:, UPPER_BIN - LOW_BIN:].sum(axis=1) + 1e-12))
        self._steadiness(power)
        self._samples = self._samples[count * HOP:]
        self._count += count

    def _steadiness(self, power: np.ndarray) -> None:
        """Keep each frame's peak correlation with the frame :data:`LAG` before (NaN for
        the first frames of the stream), over the whole band and over the upper band."""
        # Single precision: the correlation needs no more, and it halves the work.  The
        # natural log: the correlation is blind to the log's base (a scale), and numpy's
        # float32 log is three times as fast as its log10.
        level = np.log(power.astype(np.float32, copy=False) + np.float32(1e-12))
        # Measured from the median (centring below takes any offset out): a flat frame,
        # digital silence, is then exactly zero and correlates with nothing, where the
        # rounding of its mean would leave a pattern that correlates with itself.
        peaks = np.maximum(level - _row_medians(level), np.float32(0.0))
        upper = np.maximum(peaks[:, UPPER_BIN - LOW_BIN:]
                           - np.float32(UPPER_PEAK_DB * np.log(10) / 10), np.float32(0.0))
        steady, self._recent = _lagged(_normalised(peaks), self._recent)
        upper_steady, self._recent_upper = _lagged(_normalised(upper), self._recent_upper)
        self._steady.append(steady)
        self._upper_steady.append(upper_steady)

    def frames(self) -> Frames:
        """Every full frame read so far."""
        times = (np.arange(self._count) * HOP + WINDOW / 2) / RATE
        return Frames(times, *(np.concatenate(parts) if parts else np.zeros(0)
                               for parts in (self._energy, self._steady, self._upper,
                                             self._upper_steady)))


def _normalised(peaks: np.ndarray) -> np.ndarray:
    """``peaks`` (a frame per row) centred and scaled to unit length, in place."""
    peaks -= peaks.mean(axis=1, keepdims=True)
    peaks /= np.sqrt(np.einsum("ij,ij->i", peaks, peaks))[:, None] + np.float32(1e-9)
    return peaks


def _lagged(peaks: np.ndarray, recent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``peaks``' dot product with the row :data:`LAG` before it (``recent``:
    the last rows of the previous chunk; NaN where there is none), and the new
    ``recent``."""
    history = np.concatenate([recent, peaks])
    earlier = history[:-LAG] if history.shape[0] > LAG else history[:0]
    out = np.full(peaks.shape[0], np.nan)
    paired = min(peaks.shape[0], earlier.shape[0])
    if paired:
        out[peaks.shape[0] - paired:] = np.einsum("ij,ij->i", history[-paired:],
                                                  earlier[-paired:])
    return out, history[-LAG:]


def _row_medians(values: np.ndarray) -> np.ndarray:
    """Each row's median, as a column: ``np.median(values, axis=1, keepdims=True)`` for
    the finite values here, a sixth of its cost (one partition, none of its NaN checks)."""
    half = values.shape[1] // 2
    if values.shape[1] % 2:
        return np.partition(values, half, axis=1)[:, half:half + 1]
    part = np.partition(values, (half - 1, half), axis=1)
    return (part[:, half - 1:half] + part[:, half:half + 1]) / 2


def steady_frames(steadiness: np.ndarray) -> np.ndarray:
    """Whether each frame is held music: the median steadiness around it reaches
    :data:`STEADY`."""
    return _steadiness_around(steadiness) >= STEADY


def _steadiness_around(steadiness: np.ndarray) -> np.ndarray:
    """The median steadiness of the :data:`STEADY_SPAN` frames each side of each frame
    (frames without a value yet take the first one's)."""
    if steadiness.size == 0:
        return np.zeros(0)
    known = np.isfinite(steadiness)
    values = np.where(known, steadiness, steadiness[known][0] if known.any() else 0.0)
    padded = np.pad(values, STEADY_SPAN, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * STEADY_SPAN + 1)
    return _row_medians(windows)[:, 0]


def speech_intervals(frames: Frames, duration: float) -> np.ndarray:
    """Whether each :data:`INTERVAL` of ``duration`` seconds holds speech (module doc)."""
    size = max(0, int(np.ceil(duration / INTERVAL - 1e-9)))
    speech = np.zeros(size, dtype=bool)
    if frames.energy.size == 0 or size == 0:
        return speech
    index = np.minimum((frames.times / INTERVAL).astype(int), size - 1)
    quiet = float(np.percentile(frames.energy, QUIET_PERCENTILE))
    moving = (frames.energy > quiet + ACTIVE_DB) & ~steady_frames(frames.steadiness)
    moving |= _upper_moving(frames, index, size)
    counts = np.bincount(index, weights=moving, minlength=size)
    speech = counts >= MIN_FRAMES
    for start, stop in true_runs(~speech):
        if start > 0 and stop < size and stop - start <= CLOSE_GAP:
            speech[start:stop] = True
    for start, stop in true_runs(speech):
        if stop - start < MIN_RUN:
            speech[start:stop] = False
    return speech


def _upper_moving(frames: Frames, index: np.ndarray, size: int) -> np.ndarray:
    """Whether each frame's upper band speaks (module doc, after 3); ``index``: each
    frame's interval, of ``size``."""
    counts = np.bincount(index, minlength=size)
    power = np.bincount(index, weights=10 ** (frames.upper / 10), minlength=size)
    # An interval without frames (the end's partial one) is never the floor.
    level = np.full(size, np.inf)
    level[counts > 0] = 10 * np.log10(power[counts > 0] / counts[counts > 0] + 1e-12)
    windows = np.lib.stride_tricks.sliding_window_view(
        np.pad(level, UPPER_SPAN, mode="edge"), 2 * UPPER_SPAN + 1)
    floor = np.partition(windows, UPPER_FLOOR_RANK, axis=1)[:, UPPER_FLOOR_RANK]
    quiet = float(np.percentile(frames.upper, QUIET_PERCENTILE))
    # A syllable holds its level 100 ms and more, a hi-hat's burst or a click does not:
    # the band's median over UPPER_HOLD frames each side is what must stand out.
    held = _row_medians(np.lib.stride_tricks.sliding_window_view(
        np.pad(frames.upper, UPPER_HOLD, mode="edge"), 2 * UPPER_HOLD + 1))[:, 0]
    around = _steadiness_around(frames.upper_steadiness)
    return ((held > quiet + ACTIVE_DB) & (held > floor[index] + UPPER_RISE_DB)
            & (around >= UPPER_SHAPED) & (around < STEADY))


def block_speech(times: np.ndarray, intervals: np.ndarray, block: float = 0.4) -> np.ndarray:
    """Per loudness block (each ``block`` s long ending at ``times``): whether speech is
    heard at its centre, where its gain applies (either interval touching the centre)."""
    if intervals.size == 0:
        return np.zeros(len(times), dtype=bool)
    centre = np.asarray(times, dtype=float) - block / 2
    after = np.clip(np.round(centre / INTERVAL).astype(int), 0, intervals.size - 1)
    before = np.clip(after - 1, 0, intervals.size - 1)
    return intervals[after] | intervals[before]
