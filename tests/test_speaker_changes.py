"""Speaker changes (issue 22, acceptance 1): the levelling gain moves to the next speaker
in the gap before their first word, never over the end of the previous speaker's words.

The session is built in numpy from real (synthesized) speech, the demo's espeak-ng
recordings of episode 004: the host's sentences from ``host.flac``, the guest's from
``guest.mp3`` put through a telephone band and set 14 dB under the host.  Host turns end
before each of the guest's replies, with a short gap between them as in real conversation,
over a pink room bed.  The gain each stretch received is measured from the decoded samples
(energy ratio of master to input over 200 Hz), never with the product's code.
"""

from __future__ import annotations

import numpy as np
import pytest
from audio_fixtures import decode, ebur128
from voice_fixtures import (
    EPISODE,
    GUEST_SENTENCES,
    HOST_SENTENCES,
    RATE,
    band,
    heard_over_200,
    master_samples,
    pink,
    power_db,
    rms,
    trimmed,
)

pytestmark = pytest.mark.audio

#: Host turns (sentence numbers, a 0.3 s breath between) and the gap after each turn (s).
HOST_TURNS = [((0,), 0.3), ((1, 2, 3), 0.25), ((4, 1), 0.35), ((0,), 0.0)]
REPLY_GAP = 0.4
GUEST_BELOW = 14.0  # dB
BED = -60.0  # dBFS RMS, pink
ROOM_TONE = 3.0  # s
#: The end of every host turn falls by this much (dB) over this long (s).
FALL_DB, FALL = 8.0, 0.6


def _falling_end(samples: np.ndarray) -> np.ndarray:
    """``samples`` fading by :data:`FALL_DB` over their last :data:`FALL` s, as a voice
    drops at the end of a sentence (espeak-ng keeps its level to the last word)."""
    count = int(FALL * RATE)
    fade = 10 ** (np.linspace(0.0, -FALL_DB, count) / 20)
    return np.concatenate([samples[:-count], samples[-count:] * fade])


def build_session() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The session's samples and its host turns' (start, end) in seconds."""
    host, guest = decode(EPISODE / "host.flac", RATE), decode(EPISODE / "guest.mp3", RATE)
    said = [trimmed(host[int(a * RATE):int(b * RATE)]) for a, b in HOST_SENTENCES]
    replies = [band(trimmed(guest[int(a * RATE):int(b * RATE)]), 300.0, 3400.0)
               for a, b in GUEST_SENTENCES]
    host_rms = rms(np.concatenate(said))
    replies = [r * host_rms * 10 ** (-GUEST_BELOW / 20) / rms(r) for r in replies]
    breath = np.zeros(int(0.3 * RATE))
    # Room tone before the first word and after the last, as a recording has.
    lead = np.zeros(int(ROOM_TONE * RATE))
    parts, turns, clock = [lead], [], lead.size / RATE
    for number, (sentences, gap) in enumerate(HOST_TURNS):
        turn = np.concatenate([piece for index in sentences for piece in (said[index], breath)]
                              )[:-breath.size]
        turn = _falling_end(turn)
        turns.append((clock, clock + turn.size / RATE))
        parts += [turn, np.zeros(int(gap * RATE))]
        clock += (turn.size + int(gap * RATE)) / RATE
        if number < len(replies):
            reply = replies[number]
            parts += [reply, np.zeros(int(REPLY_GAP * RATE))]
            clock += (reply.size + int(REPLY_GAP * RATE)) / RATE
    samples = np.concatenate([*parts, lead])
    return samples + pink(samples.size, BED), turns


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("turns") / "ep"
    folder.mkdir()
    samples, turns = build_session()
    source, output = master_samples(folder, "turns", samples)
    return (turns, *heard_over_200(source, output), output)


def test_the_end_of_a_host_turn_keeps_its_level_before_a_quiet_reply(session):
    turns, heard_in, heard_out, _output = session

    def relative(samples: np.ndarray, start: float, end: float) -> float:
        # The turn's last second against the rest of the turn.
        return power_db(samples, end - 1.0, end) - power_db(samples, start, end - 1.0)

    changes = [relative(heard_out, *turn) - relative(heard_in, *turn) for turn in turns[:-1]]
    assert max(changes) <= 1.5, [round(change, 2) for change in changes]


def test_the_replies_are_lifted_to_the_host(session):
    turns, heard_in, heard_out, _output = session
    host = np.mean([power_db(heard_out, *turn) - power_db(heard_in, *turn) for turn in turns])
    for (_start, end), (next_start, _end) in zip(turns, turns[1:], strict=False):
        # The reply lies between the gap after the turn and the gap before the next one.
        reply = (end + 0.3, next_start - REPLY_GAP)
        lifted = power_db(heard_out, *reply) - power_db(heard_in, *reply)
        assert abs(lifted - host - GUEST_BELOW) <= 3.0, (reply, lifted - host)


def test_the_session_masters_to_target(session):
    *_heard, output = session
    assert ebur128(output)["lufs"] == pytest.approx(-19.0, abs=0.5)
