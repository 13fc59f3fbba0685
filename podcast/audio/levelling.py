"""Speech-aware levelling: the gain curve, computed offline from the 400 ms block loudness.

The input is the momentary loudness of every 400 ms BS.1770 block, one every 100 ms (the
ebur128 frame log of pass 1).  Everything here is numpy arithmetic on that series:

1. **Noise floor.**  The recording's own floor is a low percentile of its block loudness:
   every real recording pauses (breaths, ends of sentences), and those blocks are room noise.
2. **Speech.**  A block is speech when it stands :data:`SPEECH_SNR` dB above that floor.  A
   noise bed is the floor itself, so it is never mistaken for speech and never levelled, how
   loud or quiet it is against the speech.
3. **Speech gain.**  The level of the speech is followed with a running *median* over the
   speech blocks alone (pauses taken out), so it jumps where a new speaker starts instead of
   gliding: a 2 s reply and the first second of an answer get the answer's gain.  The curve
   is computed after the fact, so the median looks ahead as far as it looks back.
4. **Pauses.**  A short gap (under :data:`LONG_PAUSE`) is where the gain moves from one speaker
   to the next, so the next words start at their own gain.  A longer pause gets at most the
   lower of its neighbours' gains and at most the gain of the loudest speaker (the "floor
   gain"): the room noise in pauses stays where it sits under the host, flat, never swelling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..loudness import gated_loudness

#: Seconds of the ebur128 frame log: one momentary value per 100 ms.
BLOCK = 0.1
#: Blocks quieter than this (LUFS) are digital silence: they tell nothing about the room.
AUDIBLE = -90.0
#: The noise floor is this percentile of the blocks' loudness.
FLOOR_PERCENTILE = 5.0
#: A block is speech when this many dB above the noise floor ...
SPEECH_SNR = 8.0
#: ... and above this loudness (LUFS), whatever the floor.
SPEECH_MIN = -70.0
#: Fewer speech blocks than this share of the audible ones (or than 1 s of them) means the
#: recording holds no speech.
MIN_SPEECH_SHARE = 0.02
#: Seconds of speech blocks the running median spans: long enough to ride over single
#: words ...
MEDIAN_SPAN = 1.5
#: ... and the span of a quicker one, followed wherever it parts from the slow one by more
#: than :data:`SWITCH_DB`: a new voice, in a reply of one or two short phrases.
QUICK_SPAN = 0.5
SWITCH_DB = 3.0
#: Seconds over which the median's steps are rounded off (a moving average).
ROUND_SPAN = 0.5
#: A run of non-speech blocks this long (s) or longer is a pause, held at the floor gain;
#: a shorter one is a gap between words or speakers, where the gain moves to the next one.
LONG_PAUSE = 1.5
#: Seconds the gain takes to fall into, or rise out of, a pause (inside the pause).
PAUSE_RAMP = 0.3
#: The floor gain is this percentile of the speech blocks' gains: the loudest speaker's.
FLOOR_GAIN_PERCENTILE = 10.0


@dataclass(frozen=True)
class SpeechProfile:
    """Where the speech is: the noise floor (LUFS) and which blocks stand above it."""

    floor: float
    threshold: float
    speech: np.ndarray  # bool per block

    @property
    def speech_share(self) -> float:
        """Speech blocks as a share of all blocks (0 for an empty series)."""
        return float(self.speech.mean()) if self.speech.size else 0.0

    @property
    def has_speech(self) -> bool:
        """Whether any stretch of the recording stands out of its floor like speech."""
        count = int(self.speech.sum())
        return count >= max(round(1.0 / BLOCK), MIN_SPEECH_SHARE * self.speech.size)


@dataclass(frozen=True)
class Levelling:
    """The gain curve and what it is predicted to achieve.

    ``gains_db[i]`` applies from ``times[i]`` (seconds) on.  ``levelling_db`` is the
    speaker-levelling part alone; ``offset_db`` the one overall gain added to reach the
    target; ``predicted_lufs`` the integrated loudness the curve is expected to give;
    ``floor_lufs`` the recording's noise floor and ``floor_gain_db`` the most any pause is
    lifted by the levelling.
    """

    times: np.ndarray
    gains_db: np.ndarray
    levelling_db: np.ndarray
    input_lufs: float
    offset_db: float
    predicted_lufs: float
    floor_lufs: float = -math.inf
    floor_gain_db: float = 0.0
    speech_share: float = 1.0

    def summary(self) -> dict:
        """A JSON-ready description (range of gains applied, the floor found)."""
        return {
            "input_lufs": round(self.input_lufs, 2),
            "offset_db": round(self.offset_db, 2),
            "predicted_lufs": round(self.predicted_lufs, 2),
            "levelling_min_db": round(float(self.levelling_db.min()), 2),
            "levelling_max_db": round(float(self.levelling_db.max()), 2),
            "noise_floor_lufs": round(self.floor_lufs, 2),
            "pause_gain_db": round(self.floor_gain_db, 2),
            "speech_share": round(self.speech_share, 3),
        }


def moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over ``width`` samples, edges padded with the edge values."""
    if width <= 1 or values.size == 0:
        return values.astype(float)
    half = width // 2
    padded = np.pad(values.astype(float), (half, width - 1 - half), mode="edge")
    kernel = np.ones(width) / width
    return np.convolve(padded, kernel, mode="valid")


def running_median(values: np.ndarray, width: int) -> np.ndarray:
    """Centred running median over ``width`` samples, edges padded with the edge values.

    A median keeps a step (a change of speaker) a step, where a mean would smear it.
    """
    if width <= 1 or values.size == 0:
        return values.astype(float)
    half = width // 2
    padded = np.pad(values.astype(float), (half, width - 1 - half), mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)


def _clean(momentary: np.ndarray) -> np.ndarray:
    """The series with -inf / nan blocks (digital silence) as a very low number."""
    values = np.asarray(momentary, dtype=float)
    return np.where(np.isfinite(values), values, -200.0)


def speech_profile(momentary: np.ndarray) -> SpeechProfile:
    """The noise floor of a block series and its speech blocks (see the module doc).

    Digital silence counts towards the percentile: a recording whose pauses are exact
    zeros has a floor at -200, and then every audible block above :data:`SPEECH_MIN` is
    speech.
    """
    loud = _clean(momentary)
    if loud.size == 0:
        return SpeechProfile(-math.inf, SPEECH_MIN, np.zeros(0, dtype=bool))
    floor = float(np.percentile(loud, FLOOR_PERCENTILE))
    threshold = max(floor + SPEECH_SNR, SPEECH_MIN)
    return SpeechProfile(floor if floor > AUDIBLE else -math.inf, threshold, loud > threshold)


def speech_gains(loud: np.ndarray, speech: np.ndarray, reference: float, *,
                 max_boost: float, max_cut: float) -> np.ndarray:
    """The gain (dB) of each speech block: ``reference`` minus the speech's running level.

    The level is a running median over the speech blocks, switching to a quicker median
    where the two part by :data:`SWITCH_DB` (a short reply in another voice: the slow one
    would still hear the voice around it); the slow one is rounded over
    :data:`ROUND_SPAN`, the quick one is not, so a reply's gain is there from its first word.
    """
    values = loud[speech]
    slow = running_median(values, max(1, round(MEDIAN_SPAN / BLOCK)))
    quick = running_median(values, max(1, round(QUICK_SPAN / BLOCK)))
    slow = moving_average(slow, max(1, round(ROUND_SPAN / BLOCK)))
    level = np.where(np.abs(quick - slow) > SWITCH_DB, quick, slow)
    return np.clip(reference - level, -max_cut, max_boost)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of the True runs of ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def fill_pauses(gains: np.ndarray, speech: np.ndarray, floor_gain: float) -> np.ndarray:
    """Gains for the non-speech blocks, given those of the speech blocks (see the module doc).

    Short gaps ramp linearly from one speech gain to the next; pauses of
    :data:`LONG_PAUSE` or more hold ``min(before, after, floor_gain)``, reached within
    :data:`PAUSE_RAMP` of their edges, so nothing rises inside them.
    """
    out = gains.astype(float).copy()
    size = out.size
    ramp = max(1, round(PAUSE_RAMP / BLOCK))
    for start, stop in _runs(~speech):
        before = out[start - 1] if start > 0 else None
        after = out[stop] if stop < size else None
        length = stop - start
        if before is not None and after is not None and length < LONG_PAUSE / BLOCK:
            out[start:stop] = np.linspace(before, after, length + 2)[1:-1]
            continue
        sides = [value for value in (before, after) if value is not None]
        hold = min([*sides, floor_gain])
        out[start:stop] = hold
        if before is not None:
            fall = min(ramp, length)
            out[start:start + fall] = np.linspace(before, hold, fall + 1)[1:]
        if after is not None:
            rise = min(ramp, length)
            out[stop - rise:stop] = np.minimum(out[stop - rise:stop],
                                               np.linspace(hold, after, rise + 1)[:-1])
    return out


def level_gains(times: np.ndarray, momentary: np.ndarray, target: float, *,
                max_boost: float = 20.0, max_cut: float = 10.0) -> Levelling:
    """The speaker-levelling gain curve for blocks of momentary loudness, and its offset.

    Speech blocks are brought to the input's integrated loudness (each by the running level
    of the speech around it, clamped to ``+max_boost`` / ``-max_cut`` dB); pauses and noise
    get no more than the speech around them and than the loudest speaker
    (:func:`fill_pauses`).  Then the integrated loudness after the curve is predicted with
    the BS.1770 gates over the same blocks, and one offset moves it onto ``target``.
    ``times`` are the blocks' ends (as ebur128 logs them); the gains apply from the blocks'
    centres.  A series without speech (noise only) gets one flat gain.
    """
    times = np.asarray(times, dtype=float)
    loud = _clean(momentary)
    input_lufs = gated_loudness(loud)
    if not math.isfinite(input_lufs):
        raise ValueError("no block above the -70 LUFS gate: the input is silent")
    profile = speech_profile(loud)
    if profile.speech.any():
        gains = np.zeros(loud.size)
        gains[profile.speech] = speech_gains(loud, profile.speech, input_lufs,
                                             max_boost=max_boost, max_cut=max_cut)
        floor_gain = float(np.percentile(gains[profile.speech], FLOOR_GAIN_PERCENTILE))
        # The corners rounded (no step over a third of a jump per 100 ms), so a sudden
        # change of voice is met in 0.3 s rather than in one block.
        levelling = moving_average(fill_pauses(gains, profile.speech, floor_gain), 3)
    else:
        floor_gain, levelling = 0.0, np.zeros(loud.size)
    offset = target - gated_loudness(loud + levelling)
    gains = levelling + offset
    return Levelling(
        times=np.maximum(times - 2 * BLOCK, 0.0),
        gains_db=gains,
        levelling_db=levelling,
        input_lufs=input_lufs,
        offset_db=offset,
        predicted_lufs=gated_loudness(loud + gains),
        floor_lufs=profile.floor,
        floor_gain_db=floor_gain,
        speech_share=profile.speech_share,
    )
