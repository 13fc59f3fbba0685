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
   the second after, in time) and the turns' levels part by :data:`TURN_DB`, the cut put in
   the gap between the two voices.  Each turn's level is followed with a running loudness
   (mean energy) over its own blocks only, so the gain of one speaker never leaks into the
   other's words: a reply of two words gets the reply's gain from its first word, the end
   of a turn keeps the turn's.  The curve is computed after the fact, so the running
   level looks ahead as far as it looks back.
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
#: Seconds of speech blocks a turn's running level spans: long enough to ride over single
#: words and over a sentence's falling end (1.5 s lifted the last words by 2 dB).
LEVEL_SPAN = 3.0
#: A new turn may start where the median level of the speech blocks in this many seconds
#: after a point parts by :data:`SWITCH_DB` or more from the one before it ...
CHANGE_SPAN = 1.0
SWITCH_DB = 3.0
#: ... and does where the medians of the two turns part by this much: a real sentence's
#: first second is 4-5 dB louder than its rest, which is no new speaker.
TURN_DB = 5.0
#: A cut goes to the widest gap among the places where a step between the two turns'
#: levels fits the blocks within this share of the step of the best fit (a fading word
#: end mid-way between two voices is the previous speaker's).
GAP_SLACK = 0.5
#: Speech blocks this close (blocks) to a pause read part of the pause: the level is read
#: without them.
EDGE_BLOCKS = 2
#: Seconds over which a turn's level is rounded off (a moving average).
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


def energy_mean(levels: np.ndarray, axis: int | None = None) -> np.ndarray:
    """The loudness (dB) of blocks of ``levels`` dB heard together: their mean energy,
    as BS.1770 integrates, so a sentence's dips between syllables count as little as
    they are heard (a median of them reads a flowing sentence quieter than a reply's
    separate words, and lifted short replies 3 dB too little)."""
    return 10 * np.log10(np.mean(np.power(10.0, levels / 10), axis=axis))


def turn_level(values: np.ndarray, width: int) -> np.ndarray:
    """The running loudness (:func:`energy_mean`) of one turn's block levels over
    ``width`` blocks, the window kept whole inside the turn near its ends (the whole turn
    if shorter).

    A window cut short at a turn's end would follow the voice dropping over the last
    words of a sentence, and lift them: this one hears the turn around them.
    """
    if values.size <= width:
        return np.full(values.size, float(energy_mean(values))) if values.size else \
            values.astype(float)
    levels = energy_mean(np.lib.stride_tricks.sliding_window_view(values.astype(float), width),
                         axis=1)
    first = np.clip(np.arange(values.size) - width // 2, 0, values.size - width)
    return levels[first]


def _side_steps(values: np.ndarray, width: int, position: np.ndarray) -> np.ndarray:
    """For each boundary ``k`` (before ``values[k]``, k = 1..n-1): how far the median of
    the values in the ``width`` blocks from ``values[k]`` on lies from that of those in
    the ``width`` blocks up to ``values[k - 1]``, counted in time (``position``: each
    value's block number, pauses included), so a short reply's few values are not read
    together with the next turn's, seconds later."""
    size = values.size
    offsets = np.arange(width)
    boundary = np.arange(1, size)[:, None]
    before = np.clip(boundary - 1 - offsets, 0, size - 1)
    after = np.clip(boundary + offsets, 0, size - 1)
    near_before = (boundary - 1 - offsets >= 0) & (
        position[boundary - 1] - position[before] < width)
    near_after = (boundary + offsets < size) & (position[after] - position[boundary] < width)
    level = values.astype(float)
    early = np.nanmedian(np.where(near_before, level[before], np.nan), axis=1)
    late = np.nanmedian(np.where(near_after, level[after], np.nan), axis=1)
    return np.abs(late - early)


def _mark(taken: np.ndarray, position: np.ndarray, point: int, width: int) -> None:
    """Mark in ``taken`` the values within ``width`` blocks (in time) of ``values[point]``."""
    low = int(np.searchsorted(position, position[point] - width))
    high = int(np.searchsorted(position, position[point] + width, side="right"))
    taken[low:high] = True


def turn_starts(values: np.ndarray, gaps: np.ndarray) -> list[int]:
    """Where a new turn starts in a series of speech-block levels (indices ``k``: a turn
    starts at ``values[k]``).

    ``gaps[k]`` is how many non-speech blocks lie between ``values[k - 1]`` and
    ``values[k]``; every distance here is in time, pauses included, so a reply of a few
    words (a few values) is weighed like a long one.  Three steps:

    1. *Candidates*: boundaries where the median of the :data:`CHANGE_SPAN` after parts
       from the one before by :data:`SWITCH_DB` or more, the strongest first, at most one
       a :data:`CHANGE_SPAN`, none in the first or last one of speech (a sentence's level
       falls by 4-5 dB after its first second, as after any cut).
    2. *Turns* (:func:`_distinct_turns`): two neighbours whose medians part by less than
       :data:`TURN_DB` are one speaker's turn, its level moving within a sentence, and so
       is a stretch under a :data:`CHANGE_SPAN` running into one with no pause.
    3. *Placing* (:func:`_placed`): each cut goes where a step from one turn's level to
       the next fits the blocks best, or to the widest gap nearly as good (the pause
       between two voices): a word's fading tail stays with its speaker, a reply's first
       word goes with the reply.
    """
    width = max(2, round(CHANGE_SPAN / BLOCK))
    if values.size < 4:
        return []
    position = np.cumsum(gaps + 1)
    step = _side_steps(values, width, position)
    taken = np.zeros(values.size, dtype=bool)  # values near a cut already made
    for edge in (0, values.size - 1):
        _mark(taken, position, edge, width)
    starts: list[int] = []
    candidates = np.flatnonzero(step >= SWITCH_DB)
    for index in candidates[np.argsort(-step[candidates], kind="stable")]:
        boundary = int(index) + 1
        if not taken[boundary]:
            starts.append(boundary)
            _mark(taken, position, boundary, width)
    turns = _distinct_turns(values, gaps, position, sorted(starts), width)
    return _placed(values, gaps, position, turns, width)


def _distinct_turns(values: np.ndarray, gaps: np.ndarray, position: np.ndarray,
                    starts: list[int], width: int) -> list[int]:
    """``starts`` less the cuts that do not part two speakers' turns, one at a time, the
    turns joined compared again:

    - a turn under ``width`` blocks long that another one runs into with no pause between
      them (a quiet word's end, a loud syllable) is part of it (of the closer in level
      when both do): a short reply is set off by pauses;
    - two turns whose medians part by less than :data:`TURN_DB` (the closest first) are
      one speaker's: a sentence's level moves by a few dB.
    """
    cuts = list(starts)
    edges = [0, *cuts, values.size]
    medians = [float(np.median(values[a:b])) for a, b in zip(edges, edges[1:], strict=False)]
    while cuts:
        bounds = np.array([0, *cuts, values.size])
        parts = np.abs(np.diff(medians))
        # Per turn: its length in time, and whether it runs into the turn before / after.
        length = position[bounds[1:] - 1] - position[bounds[:-1]] + 1
        joined = gaps[bounds[1:-1]] == 0
        into_before = np.concatenate([[False], joined])
        into_after = np.concatenate([joined, [False]])
        short = np.flatnonzero((length < width) & (into_before | into_after))
        if short.size:
            turn = int(short[np.argmin(length[short])])
            # The cut to drop: to the neighbour it runs into, the closer in level if both.
            before = into_before[turn] and (
                not into_after[turn] or parts[turn - 1] <= parts[turn])
            closest = turn - 1 if before else turn
        else:
            closest = int(np.argmin(parts))
            if parts[closest] >= TURN_DB:
                break
        del cuts[closest]
        bounds = np.array([0, *cuts, values.size])
        medians[closest:closest + 2] = [float(np.median(
            values[bounds[closest]:bounds[closest + 1]]))]
    return cuts


def _placed(values: np.ndarray, gaps: np.ndarray, position: np.ndarray, starts: list[int],
            width: int) -> list[int]:
    """Each cut of ``starts`` moved, within ``width`` blocks (in time) and inside its two
    turns, to where a step from the level before it to the one after fits the blocks
    best (summed distance in dB); among the places fitting within :data:`GAP_SLACK` of
    that step of the best, to the widest gap."""
    placed = list(starts)
    span = max(1, round(LEVEL_SPAN / BLOCK))
    for number, cut in enumerate(placed):
        first = placed[number - 1] + 1 if number else 1
        last = placed[number + 1] - 1 if number + 1 < len(placed) else values.size - 1
        # The two levels: medians of up to LEVEL_SPAN of each turn next to the cut.
        low = max(first - 1, int(np.searchsorted(position, position[cut - 1] - span + 1)))
        high = max(cut + 1, min(last + 1, int(np.searchsorted(position, position[cut] + span))))
        before, after = float(np.median(values[low:cut])), float(np.median(values[cut:high]))
        near = np.arange(first, last + 1)
        near = near[np.abs(position[near] - position[cut]) <= width]
        lo = int(near[0]) - 1
        around = values[lo:int(near[-1]) + 1].astype(float)
        early = np.concatenate([[0.0], np.cumsum(np.abs(around - before))])
        late = np.concatenate([[0.0], np.cumsum(np.abs(around - after))])
        cost = early[near - lo] + (late[-1] - late[near - lo])
        fits = cost <= cost.min() + GAP_SLACK * abs(after - before)
        placed[number] = int(near[fits][np.lexsort((cost[fits], -gaps[near[fits]]))[0]])
    return placed


def core_blocks(speech: np.ndarray, loud: np.ndarray) -> np.ndarray:
    """The speech blocks more than :data:`EDGE_BLOCKS` from any non-speech block: a
    400 ms block at the edge of a pause holds part of the pause, and reads quieter than
    the voice.  All the speech blocks when fewer than half of them are core.  A run of
    speech too short to have such a block (a word or two of a short reply) keeps its
    loudest block (``loud``), the one most of its words are in: every word is measured,
    and levelled with its own turn rather than the nearest long one's."""
    core = speech.copy()
    for shift in range(1, EDGE_BLOCKS + 1):
        core[shift:] &= speech[:-shift]
        core[:-shift] &= speech[shift:]
    if core.sum() * 2 < speech.sum():
        return speech.copy()
    for start, stop in true_runs(speech):
        if not core[start:stop].any():
            core[start + int(np.argmax(loud[start:stop]))] = True
    return core


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
    (:func:`turn_starts`); each turn's level is a running loudness over its own blocks
    (:func:`turn_level`), rounded over :data:`ROUND_SPAN`, so no speaker's level reaches
    into another's words.  A block at the edge of a pause takes the level of the nearest
    core block: a word's onset or fading tail, that of its own speaker.
    """
    if not speech.any():
        return np.zeros(0)
    core = core_blocks(speech, loud)
    where = np.flatnonzero(core)
    values = loud[core]
    gaps = np.concatenate([[0], np.diff(where) - 1])
    edges = [0, *turn_starts(values, gaps), values.size]
    level = np.empty(values.size)
    for start, stop in zip(edges, edges[1:], strict=False):
        turn = turn_level(values[start:stop], max(1, round(LEVEL_SPAN / BLOCK)))
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
    at most ``floor_gain``), left and reached within :data:`RAMP` *inside* the gap: its
    first block keeps the gain of the words before it and its last block has the gain of
    the words after it, so the gain never moves over the words around it (a gap of one
    block goes half-way).
    """
    out = gains.astype(float).copy()
    size = out.size
    ramp = max(1, round(RAMP / BLOCK))
    for start, stop in true_runs(~speech):
        before = out[start - 1] if start > 0 else None
        after = out[stop] if stop < size else None
        length = stop - start
        sides = [value for value in (before, after) if value is not None]
        pause = length >= LONG_PAUSE / BLOCK or not sides
        hold = min([*sides, floor_gain]) if pause else min(sides)
        if length == 1 and len(sides) == 2 and not pause:
            out[start] = (sides[0] + sides[1]) / 2
            continue
        # The fall from the words before and the rise to the words after, the higher
        # of the two where they meet (one of them is flat in a gap between words).
        fall = np.full(length, hold)
        rise = np.full(length, hold)
        steps = min(ramp, length - 1)
        if before is not None and steps:
            fall[:steps + 1] = np.linspace(before, hold, steps + 1)
        if after is not None and steps:
            rise[length - steps - 1:] = np.linspace(hold, after, steps + 1)
        out[start:stop] = np.maximum(fall, rise)
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
