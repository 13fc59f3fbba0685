"""Speech-aware levelling, as arithmetic on block-loudness series (no ffmpeg).

Series are built like ebur128's frame log: one 400 ms block every 100 ms, in LUFS.  Every
series has some room noise (``ROOM``) as real recordings do: the floor is found from it.
"""

from __future__ import annotations

import numpy as np
import pytest

from podcast.audio import level_gains, moving_average, sound_problem, speech_profile
from podcast.audio.levelling import running_median
from podcast.loudness import gated_loudness

HOST, GUEST, ROOM = -20.0, -36.0, -65.0


def blocks(levels: list[tuple[float, float]], *, jitter: float = 0.0,
           seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A momentary-loudness series (10 blocks/s) of ``(seconds, LUFS)`` stretches, with
    optional random variation (dB, standard deviation) as real blocks have."""
    values = np.concatenate([np.full(round(seconds * 10), level) for seconds, level in levels])
    values = values + np.random.default_rng(seed).normal(0.0, jitter, values.size)
    return np.arange(1, values.size + 1) * 0.1, values


def at(seconds: float) -> int:
    """The index of the block ending at ``seconds``."""
    return round(seconds * 10) - 1


def test_levelling_brings_the_quiet_guest_up_to_the_host():
    times, loud = blocks([(5, ROOM), (30, HOST), (30, GUEST), (30, HOST)])
    curve = level_gains(times, loud, -19.0)
    after = loud + curve.gains_db
    # Every speech stretch sits on the target, to within a block of each turn-over.
    for first, last in ((5, 35), (35, 65), (65, 95)):
        assert after[at(first) + 4:at(last) - 3] == pytest.approx(-19.0, abs=0.05)
    assert curve.predicted_lufs == pytest.approx(-19.0, abs=0.01)
    assert gated_loudness(after) == pytest.approx(curve.predicted_lufs)


def test_a_new_speaker_gets_their_gain_within_half_a_second():
    times, loud = blocks([(5, ROOM), (30, HOST), (30, GUEST)])
    gains = level_gains(times, loud, -19.0).gains_db
    change = at(35)
    # 16 dB to make up: done in 0.5 s around the change, over two blocks at least ...
    assert gains[change + 4] - gains[change - 4] == pytest.approx(16.0, abs=0.1)
    assert np.abs(np.diff(gains)).max() <= 16.0 * 2 / 3 + 0.1
    # ... all of it after the host's last block: the host's words keep the host's gain.
    assert np.ptp(gains[change - 20:change + 1]) <= 0.1


def test_the_gain_moves_in_the_gap_before_the_reply_not_over_the_last_words():
    # The host's sentence fades over its last 0.5 s, 0.3 s of room noise, then the reply.
    fade = [(0.1, HOST - 2.0 * step) for step in range(1, 6)]
    times, loud = blocks([(5, ROOM), (20, HOST), *fade, (0.3, ROOM), (10, GUEST),
                          (0.3, ROOM), (10, HOST)], jitter=0.5)
    gains = level_gains(times, loud, -19.0).levelling_db
    host = np.median(gains[at(10):at(20)])
    words_end, reply = at(25.5), at(25.8)
    # Up to the last faded word the host's gain; the guest's from the reply's first block.
    assert gains[at(22):words_end + 1].max() <= host + 1.0
    assert np.median(gains[reply + 1:reply + 30]) - host == pytest.approx(16.0, abs=1.0)
    assert gains[reply + 1] >= host + 16.0 / 3 - 1.0
    # Speaker turns are found where they are, and only there.
    from podcast.audio.levelling import turn_starts
    speech = speech_profile(loud).speech
    where = np.flatnonzero(speech)
    starts = turn_starts(loud[speech], np.concatenate([[0], np.diff(where) - 1]))
    assert [round(float(times[where[k]]), 1) for k in starts] == pytest.approx(
        [25.9, 36.2], abs=0.15)


def test_pauses_get_no_more_gain_than_the_loudest_speaker_and_stay_flat():
    # A 10 s pause of room noise inside the guest's turn: it keeps the host's gain, not
    # the guest's +16 dB, and does not move inside the pause.
    times, loud = blocks([(5, ROOM), (20, GUEST), (10, ROOM), (20, GUEST), (20, HOST)],
                         jitter=0.3)
    curve = level_gains(times, loud, -19.0)
    gains = curve.levelling_db
    host, guest = np.median(gains[at(60):at(70)]), np.median(gains[at(10):at(20)])
    assert guest - host == pytest.approx(16.0, abs=1.0)
    pause = gains[at(25) + 4:at(35) - 4]
    assert pause.max() <= host + 0.5
    assert np.ptp(pause) < 0.01
    assert curve.floor_lufs == pytest.approx(ROOM, abs=1.0)


def test_a_noise_bed_close_to_the_speech_is_not_levelled():
    # A bed 23 LU under the host (inside the old "input - 25 LU" speech range) is the
    # floor: it keeps the host's gain wherever it is heard alone.
    bed = -43.0
    times, loud = blocks([(5, bed), (20, HOST), (10, bed), (20, -30.0), (10, bed),
                          (20, HOST)], jitter=0.5)
    gains = level_gains(times, loud, -19.0).levelling_db
    host = np.median(gains[at(10):at(20)])
    for start, stop in ((25, 35), (55, 65)):
        assert gains[at(start) + 4:at(stop) - 4].max() <= host + 0.5


def test_short_replies_are_levelled_like_long_answers():
    turns = [(5, ROOM)]
    for reply in (2.0, 2.5, 3.0, 2.0):
        turns += [(10, HOST), (reply, GUEST)]
    turns.append((10, HOST))
    times, loud = blocks(turns, jitter=1.0)
    after = loud + level_gains(times, loud, -19.0).levelling_db
    start = 5.0
    for reply in (2.0, 2.5, 3.0, 2.0):
        start += 10
        reply_blocks = after[at(start) + 1:at(start + reply)]
        host_blocks = after[at(start - 8):at(start - 2)]
        assert abs(np.mean(reply_blocks) - np.mean(host_blocks)) <= 3.0
        start += reply


def test_the_boost_is_clamped():
    times, loud = blocks([(5, ROOM - 10), (30, HOST), (30, -42.0)])  # 22 LU down
    curve = level_gains(times, loud, -19.0, max_boost=20.0)
    assert curve.levelling_db.max() - curve.levelling_db[at(20)] == pytest.approx(
        20.0, abs=0.01)


def test_a_series_without_speech_gets_one_flat_gain():
    times, loud = blocks([(60, -50.0)], jitter=0.3)
    curve = level_gains(times, loud, -19.0)
    assert np.ptp(curve.gains_db) == 0.0


def test_the_noise_floor_and_the_speech_are_found():
    _times, loud = blocks([(5, ROOM), (30, HOST), (30, GUEST)], jitter=0.5)
    profile = speech_profile(loud)
    assert profile.floor == pytest.approx(ROOM, abs=1.5)
    assert profile.has_speech and profile.speech_share == pytest.approx(60 / 65, abs=0.01)


def test_noise_only_is_refused_and_each_refusal_says_what_it_heard():
    _times, hiss = blocks([(30, -50.0)], jitter=0.3)
    assert "no speech" in sound_problem(hiss) and "-50" in sound_problem(hiss)
    _times, faint = blocks([(30, -73.0)], jitter=0.3)
    assert "faint noise" in sound_problem(faint) and "no sound at all" not in \
        sound_problem(faint)
    assert "no sound at all" in sound_problem(np.full(100, -np.inf))
    _times, quiet = blocks([(5, -95.0), (30, -62.0)], jitter=0.5)
    assert "nearly silent" in sound_problem(quiet)
    # Speech over a music bed 15 LU under it is speech.
    _times, bed = blocks([(5, -35.0), (30, HOST), (5, -35.0), (30, GUEST + 8)], jitter=2.0)
    assert sound_problem(bed) is None


def test_moving_average_and_running_median_keep_constant_signals_and_edges():
    assert moving_average(np.full(10, 3.0), 5) == pytest.approx(np.full(10, 3.0))
    steps = moving_average(np.array([0.0] * 10 + [10.0] * 10), 5)
    assert steps[0] == 0.0 and steps[-1] == 10.0 and len(steps) == 20
    step = np.array([0.0] * 10 + [10.0] * 10)
    assert running_median(step, 5) == pytest.approx(step)  # a step stays a step
    assert running_median(np.array([0.0, 0, 9, 0, 0]), 3) == pytest.approx(np.zeros(5))
