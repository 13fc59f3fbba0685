"""Speech-aware levelling: the gain curve, computed offline from the 400 ms block loudness.

The input is the momentary loudness of every 400 ms BS.1770 block, one every 100 ms (the
ebur128 frame log of pass 1).  Everything here is numpy arithmetic on that series:

1. **Noise floor.**  The recording's own floor is a low percentile of its block loudness:
   every real recording pauses (breaths, ends of sentences), and those blocks are room noise.
2. **Speech.**  Where the voice detector of pass 1 heard speech (:mod:`.voice`: energy out
   of the room's floor that moves like speech, not held like music), above the -70 LUFS
   gate.  Without it (the multitrack mix's tracks), a block is speech when it stands
   :data:`SPEECH_SNR` dB above that floor.  A noise bed is the floor itself, and a music
   intro, bed or sting holds its notes: neither is levelled as speech, so a music segment
   keeps the one gain of the pause it sits in (4.), and its ducks and fades their shape.
3. **Speech gain.**  The speech blocks (pauses taken out) are cut into turns where their
   level steps by :data:`SWITCH_DB` or more (a median over a second before against one over
   the second after), the cut put in the gap between the two voices.  Each turn's level is
   followed with a running *median* over its own blocks only, so the gain of one speaker
   never leaks into the other's words: a 2 s reply gets the reply's gain from its first
   word, the end of a turn keeps the turn's.  The curve is computed after the fact, so the
   median looks ahead as far as it looks back.
4. **Pauses.**  A gap holds the lower of its neighbours' gains, reached within
   :data:`RAMP` of its edges, so the gain moves to the next speaker in the gap just before
   their first word (a rise) or just after the last word of the louder one (a fall), never
   over the words.  A pause of :data:`LONG_PAUSE` or more (between two phrases too) also
   gets at most the gain of the loudest speaker (the "floor gain"): the room noise in
   pauses stays where it sits under the host, flat, never swelling, and does not step up
   in the pauses of a quiet guest's lifted answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..loudness import block_energy, energy_loudness, gated_loudness, range_problem

#: Below this integrated loudness an input is silence or noise: boosting it would only
#: amplify hiss (a +40 dB gain is never right for an interview).
MIN_INPUT_LUFS = -55.0
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
#: words and over a sentence's falling end (1.5 s lifted the last words by 2 dB).
MEDIAN_SPAN = 3.0
#: A new turn starts where the median level of this many seconds of speech blocks after a
#: point parts by :data:`SWITCH_DB` or more from the one before it.
CHANGE_SPAN = 1.0
SWITCH_DB = 3.0
#: Speech blocks this close (blocks) to a pause read part of the pause: the level is read
#: without them.
EDGE_BLOCKS = 2
#: Seconds over which the median's steps are rounded off (a moving average).
ROUND_SPAN = 0.5
#: A run of non-speech blocks this long (s) or longer (0.8 s of quiet audio: a 400 ms
#: block is speech while any of it is) is a pause, held at the floor gain; a shorter one
#: is a gap between words or speakers, held at the lower of its neighbours' gains.
LONG_PAUSE = 0.5
#: Seconds the gain takes to fall into, or rise out of, a gap (inside the gap).
RAMP = 0.2
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


def speech_profile(momentary: np.ndarray, voice: np.ndarray | None = None) -> SpeechProfile:
    """The noise floor of a block series and its speech blocks (see the module doc):
    ``voice`` (bool per block, from :mod:`.voice`) where given, else the blocks
    :data:`SPEECH_SNR` dB above the floor.

    Digital silence counts towards the percentile: a recording whose pauses are exact
    zeros has a floor at -200, and then every audible block above :data:`SPEECH_MIN` is
    speech.
    """
    loud = _clean(momentary)
    if loud.size == 0:
        return SpeechProfile(-math.inf, SPEECH_MIN, np.zeros(0, dtype=bool))
    floor = float(np.percentile(loud, FLOOR_PERCENTILE))
    threshold = max(floor + SPEECH_SNR, SPEECH_MIN)
    if voice is not None:
        speech = np.zeros(loud.size, dtype=bool)
        heard = np.asarray(voice, dtype=bool)[:loud.size]
        speech[:heard.size] = heard
        return SpeechProfile(floor if floor > AUDIBLE else -math.inf, SPEECH_MIN,
                             speech & (loud > SPEECH_MIN))
    return SpeechProfile(floor if floor > AUDIBLE else -math.inf, threshold, loud > threshold)


def turn_level(values: np.ndarray, width: int) -> np.ndarray:
    """The running median of one turn's block levels over ``width`` blocks, the window
    kept whole inside the turn near its ends (the whole turn if shorter).

    A window cut short at a turn's end would follow the voice dropping over the last
    words of a sentence, and lift them: this one hears the turn around them.
    """
    if values.size <= width:
        return np.full(values.size, float(np.median(values))) if values.size else \
            values.astype(float)
    medians = np.median(np.lib.stride_tricks.sliding_window_view(values.astype(float), width),
                        axis=1)
    first = np.clip(np.arange(values.size) - width // 2, 0, values.size - width)
    return medians[first]


def _side_steps(values: np.ndarray, width: int) -> np.ndarray:
    """For each boundary ``k`` (before ``values[k]``, k = 1..n-1): how far the median of
    up to ``width`` values from it on lies from that of up to ``width`` values before it."""
    padded = np.concatenate([np.full(width, np.nan), values.astype(float),
                             np.full(width, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    # windows[j] covers padded[j:j + width] = values[j - width:j].
    before = np.nanmedian(windows[np.arange(1, values.size)], axis=1)
    after = np.nanmedian(windows[np.arange(1, values.size) + width], axis=1)
    return np.abs(after - before)


def _split_cost(values: np.ndarray, boundary: int, width: int,
                cuts: np.ndarray) -> np.ndarray:
    """How badly a step at each of ``cuts`` fits the blocks around ``boundary``: the summed
    distance (dB) of the blocks before it from the level before ``boundary`` and of those
    after it from the level after.  A fading word's end nearer the first voice's level
    stays with it; a dip between the voices goes with the quieter one."""
    low, high = max(0, boundary - width), min(values.size, boundary + width)
    around = values[low:high].astype(float)
    # The two levels from the blocks clear of the change (the words around it fade).
    reach = width // 2
    before = float(np.median(values[low:max(low + 1, boundary - reach)]))
    after = float(np.median(values[min(high - 1, boundary + reach):high]))
    early = np.concatenate([[0.0], np.cumsum(np.abs(around - before))])
    late = np.concatenate([[0.0], np.cumsum(np.abs(around - after))])
    split = cuts - low
    return early[split] + (late[-1] - late[split])


def turn_starts(values: np.ndarray, gaps: np.ndarray) -> list[int]:
    """Where a new turn starts in a series of speech-block levels: indices ``k`` where the
    median of the :data:`CHANGE_SPAN` after ``k`` parts from the one before by
    :data:`SWITCH_DB` or more, the strongest such step in its neighbourhood.

    ``gaps[k]`` is how many non-speech blocks lie between ``values[k - 1]`` and
    ``values[k]``: among the boundaries stepping nearly as much, the cut goes to the
    widest gap (the pause between two voices), so a word's fading tail stays with its
    speaker; without a gap, where a step from one voice's level to the other's fits the
    blocks best (:func:`_split_cost`).
    """
    width = max(2, round(CHANGE_SPAN / BLOCK))
    if values.size < 4:
        return []
    step = _side_steps(values, width)
    starts: list[int] = []
    reach = width // 2
    taken = np.zeros(values.size + 1, dtype=bool)  # boundaries near a cut already made
    candidates = np.flatnonzero(step >= SWITCH_DB)
    for index in candidates[np.argsort(-step[candidates], kind="stable")]:
        boundary = int(index) + 1
        if taken[boundary]:
            continue
        near = np.arange(max(1, boundary - reach), min(values.size, boundary + reach + 1))
        strong = near[step[near - 1] >= max(SWITCH_DB, step[index] - 3.0)]
        # The widest gap among them, else (and between equal gaps) the best split.
        cost = _split_cost(values, boundary, width, strong)
        start = int(strong[np.lexsort((cost, -gaps[strong]))[0]])
        if taken[start]:
            continue
        starts.append(start)
        # One cut per second at most: a sentence's fading end stays with its speaker.
        for point in (boundary, start):
            taken[max(0, point - width):point + width + 1] = True
    return sorted(starts)


def core_blocks(speech: np.ndarray) -> np.ndarray:
    """The speech blocks more than :data:`EDGE_BLOCKS` from any non-speech block: a
    400 ms block at the edge of a pause holds part of the pause, and reads quieter than
    the voice.  All the speech blocks when fewer than half of them are core."""
    core = speech.copy()
    for shift in range(1, EDGE_BLOCKS + 1):
        core[shift:] &= speech[:-shift]
        core[:-shift] &= speech[shift:]
    return core if core.sum() * 2 >= speech.sum() else speech.copy()


def _nearest(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each of ``targets``, the position in the sorted ``points`` of the nearest one
    (the earlier on a tie)."""
    after = np.clip(np.searchsorted(points, targets), 0, points.size - 1)
    before = np.clip(after - 1, 0, points.size - 1)
    closer = np.abs(points[before] - targets) <= np.abs(points[after] - targets)
    return np.where(closer, before, after)


def speech_gains(loud: np.ndarray, speech: np.ndarray, reference: float, *,
                 max_boost: float, max_cut: float) -> np.ndarray:
    """The gain (dB) of each speech block: ``reference`` minus the speech's running level.

    The level is read from the core speech blocks (:func:`core_blocks`), cut into turns
    (:func:`turn_starts`); each turn's level is a running median over its own blocks
    (:func:`turn_level`), rounded over :data:`ROUND_SPAN`, so no speaker's level reaches
    into another's words.  A block at the edge of a pause takes the level of the nearest
    core block: a word's onset or fading tail, that of its own speaker.
    """
    if not speech.any():
        return np.zeros(0)
    core = core_blocks(speech)
    where = np.flatnonzero(core)
    values = loud[core]
    gaps = np.concatenate([[0], np.diff(where) - 1])
    edges = [0, *turn_starts(values, gaps), values.size]
    level = np.empty(values.size)
    for start, stop in zip(edges, edges[1:], strict=False):
        turn = turn_level(values[start:stop], max(1, round(MEDIAN_SPAN / BLOCK)))
        level[start:stop] = moving_average(turn, max(1, round(ROUND_SPAN / BLOCK)))
    spoken = level[_nearest(where, np.flatnonzero(speech))]
    return np.clip(reference - spoken, -max_cut, max_boost)


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of the True runs of ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def fill_pauses(gains: np.ndarray, speech: np.ndarray, floor_gain: float) -> np.ndarray:
    """Gains for the non-speech blocks, given those of the speech blocks (see the module doc).

    Every gap holds ``min(before, after)`` (a pause of :data:`LONG_PAUSE` or more: also
    at most ``floor_gain``), reached within :data:`RAMP` of its edges, so nothing rises
    inside a gap and the gain never moves over the words around it.
    """
    out = gains.astype(float).copy()
    size = out.size
    for start, stop in true_runs(~speech):
        before = out[start - 1] if start > 0 else None
        after = out[stop] if stop < size else None
        length = stop - start
        sides = [value for value in (before, after) if value is not None]
        pause = length >= LONG_PAUSE / BLOCK or not sides
        hold = min([*sides, floor_gain]) if pause else min(sides)
        ramp = max(1, round(RAMP / BLOCK))
        out[start:stop] = hold
        if before is not None:
            fall = min(ramp, length)
            out[start:start + fall] = np.linspace(before, hold, fall + 1)[1:]
        if after is not None:
            rise = min(ramp, length)
            out[stop - rise:stop] = np.minimum(out[stop - rise:stop],
                                               np.linspace(hold, after, rise + 1)[:-1])
    return out


def round_corners(gains: np.ndarray) -> np.ndarray:
    """The gain curve with its corners rounded over 3 blocks, only ever downwards.

    A rise is not started early nor a fall ended late: the blocks before a rise and after
    a fall keep their gain, so no word of the louder voice next to a change is lifted.
    """
    return np.minimum(moving_average(gains, 3), gains)


def level_gains(times: np.ndarray, momentary: np.ndarray, target: float, *,
                max_boost: float = 20.0, max_cut: float = 10.0,
                voice: np.ndarray | None = None) -> Levelling:
    """The speaker-levelling gain curve for blocks of momentary loudness, and its offset.

    Speech blocks are brought to the input's integrated loudness (each by the running level
    of the speech around it, clamped to ``+max_boost`` / ``-max_cut`` dB); pauses and noise
    get no more than the speech around them and than the loudest speaker
    (:func:`fill_pauses`).  Then the integrated loudness after the curve is predicted with
    the BS.1770 gates over the same blocks, and one offset moves it onto ``target``.
    ``times`` are the blocks' ends (as ebur128 logs them); the gains apply from the blocks'
    centres.  A series without speech (noise only) gets one flat gain.  ``voice``: the
    speech blocks pass 1 heard (:func:`speech_profile`).
    """
    times = np.asarray(times, dtype=float)
    loud = _clean(momentary)
    input_lufs = gated_loudness(loud)
    if not math.isfinite(input_lufs):
        raise ValueError("no block above the -70 LUFS gate: the input is silent")
    profile = speech_profile(loud, voice)
    if profile.speech.any():
        gains = np.zeros(loud.size)
        gains[profile.speech] = speech_gains(loud, profile.speech, input_lufs,
                                             max_boost=max_boost, max_cut=max_cut)
        floor_gain = float(np.percentile(gains[profile.speech], FLOOR_GAIN_PERCENTILE))
        levelling = round_corners(fill_pauses(gains, profile.speech, floor_gain))
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


def sound_problem(momentary: np.ndarray, voice: np.ndarray | None = None) -> str | None:
    """Why a recording (its block loudness series) cannot be mastered, or None.

    Says what it is: samples far beyond full scale (:func:`.loudness.range_problem`),
    digital silence,
    faint hiss under the -70 LUFS gate, speech far too quiet to lift, or noise with no
    speech in it (nothing rises out of its own floor; with ``voice``, the speech blocks
    pass 1 heard: nothing moves like a voice).
    """
    problem = range_problem(momentary, np.arange(1, len(momentary) + 1) * BLOCK)
    if problem is not None:
        return problem
    loud = np.asarray(momentary, dtype=float)
    audible = loud[np.isfinite(loud) & (loud > AUDIBLE)]
    if audible.size == 0:
        return "is silent (no sound at all: digital silence)"
    level = float(energy_loudness(np.mean(block_energy(audible))))
    lufs = gated_loudness(loud)
    profile = speech_profile(loud, voice)
    if not math.isfinite(lufs):
        return (f"holds only faint noise (hiss at {level:.1f} LUFS, under the -70 LUFS "
                f"gate), no speech")
    if not profile.has_speech and voice is not None:
        return (f"holds no speech, only steady noise or held music: nothing in it moves "
                f"like a voice out of its noise floor ({profile.floor:.1f} LUFS; "
                f"{lufs:.1f} LUFS overall)")
    if not profile.has_speech:
        return (f"holds no speech, only steady noise: nothing in it rises "
                f"{SPEECH_SNR:g} dB above its noise floor ({profile.floor:.1f} LUFS; "
                f"{lufs:.1f} LUFS overall)")
    if lufs < MIN_INPUT_LUFS:
        return (f"is nearly silent ({lufs:.1f} LUFS; bringing it to a podcast's loudness "
                f"would take over {-16 - MIN_INPUT_LUFS:.0f} dB of gain)")
    return None
