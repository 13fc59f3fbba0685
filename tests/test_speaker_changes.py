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

import math
import wave
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import decode, ebur128, show_and_episode

from podcast.audio import master

pytestmark = pytest.mark.audio

RATE = 44100
EPISODE = Path(__file__).resolve().parent.parent / "episodes" / "004-lea-fontaine"
#: Where each voice speaks alone in the demo tracks (s): the host's sentences, the guest's.
HOST_SENTENCES = [(0.4, 9.4), (13.8, 16.7), (23.3, 25.7), (28.2, 30.1), (38.8, 40.7)]
GUEST_SENTENCES = [(10.2, 13.0), (17.5, 22.5), (30.9, 37.9)]
#: Host turns (sentence numbers, a 0.3 s breath between) and the gap after each turn (s).
HOST_TURNS = [((0,), 0.3), ((1, 2, 3), 0.25), ((4, 1), 0.35), ((0,), 0.0)]
REPLY_GAP = 0.4
GUEST_BELOW = 14.0  # dB
BED = -60.0  # dBFS RMS, pink
ROOM_TONE = 3.0  # s
#: The end of every host turn falls by this much (dB) over this long (s).
FALL_DB, FALL = 8.0, 0.6


def _band(samples: np.ndarray, low: float, high: float) -> np.ndarray:
    """``samples`` with everything outside ``low``-``high`` Hz removed (FFT brick wall)."""
    spectrum = np.fft.rfft(samples)
    freqs = np.fft.rfftfreq(samples.size, 1.0 / RATE)
    spectrum[(freqs < low) | (freqs > high)] = 0.0
    return np.fft.irfft(spectrum, samples.size)


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples ** 2)))


def _pink(size: int, dbfs: float) -> np.ndarray:
    spectrum = np.fft.rfft(np.random.default_rng(5).standard_normal(size))
    freqs = np.fft.rfftfreq(size, 1.0 / RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, size)
    return noise * 10 ** (dbfs / 20) / _rms(noise)


def _trimmed(samples: np.ndarray) -> np.ndarray:
    """``samples`` from their first to their last 10 ms above -50 dBFS: the first and
    the last word, so the gaps laid between sentences are the real ones."""
    frames = samples[:samples.size // 441 * 441].reshape(-1, 441)
    voiced = np.flatnonzero(np.mean(frames ** 2, axis=1) > 1e-5)
    return samples[voiced[0] * 441:(voiced[-1] + 1) * 441]


def _falling_end(samples: np.ndarray) -> np.ndarray:
    """``samples`` fading by :data:`FALL_DB` over their last :data:`FALL` s, as a voice
    drops at the end of a sentence (espeak-ng keeps its level to the last word)."""
    count = int(FALL * RATE)
    fade = 10 ** (np.linspace(0.0, -FALL_DB, count) / 20)
    return np.concatenate([samples[:-count], samples[-count:] * fade])


def build_session() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The session's samples and its host turns' (start, end) in seconds."""
    host, guest = decode(EPISODE / "host.flac", RATE), decode(EPISODE / "guest.mp3", RATE)
    said = [_trimmed(host[int(a * RATE):int(b * RATE)]) for a, b in HOST_SENTENCES]
    replies = [_band(_trimmed(guest[int(a * RATE):int(b * RATE)]), 300.0, 3400.0)
               for a, b in GUEST_SENTENCES]
    host_rms = _rms(np.concatenate(said))
    replies = [r * host_rms * 10 ** (-GUEST_BELOW / 20) / _rms(r) for r in replies]
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
    return samples + _pink(samples.size, BED), turns


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def _level(samples: np.ndarray, start: float, stop: float) -> float:
    part = samples[int(start * RATE):int(stop * RATE)]
    return 10 * math.log10(float(np.mean(part ** 2)) + 1e-30)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("turns") / "ep"
    folder.mkdir()
    samples, turns = build_session()
    source = _write_wav(folder / "turns.wav", samples)
    show, episode = show_and_episode(folder, source)
    output = folder / "turns.mp3"
    master(show, episode, output)
    raw_in, raw_out = decode(source, RATE), decode(output, RATE)
    size = min(raw_in.size, raw_out.size)
    return (turns, _band(raw_in[:size], 200.0, RATE), _band(raw_out[:size], 200.0, RATE),
            output)


def test_the_end_of_a_host_turn_keeps_its_level_before_a_quiet_reply(session):
    turns, heard_in, heard_out, _output = session

    def relative(samples: np.ndarray, start: float, end: float) -> float:
        # The turn's last second against the rest of the turn.
        return _level(samples, end - 1.0, end) - _level(samples, start, end - 1.0)

    changes = [relative(heard_out, *turn) - relative(heard_in, *turn) for turn in turns[:-1]]
    assert max(changes) <= 1.5, [round(change, 2) for change in changes]


def test_the_replies_are_lifted_to_the_host(session):
    turns, heard_in, heard_out, _output = session
    host = np.mean([_level(heard_out, *turn) - _level(heard_in, *turn) for turn in turns])
    for (_start, end), (next_start, _end) in zip(turns, turns[1:], strict=False):
        # The reply lies between the gap after the turn and the gap before the next one.
        reply = (end + 0.3, next_start - REPLY_GAP)
        lifted = _level(heard_out, *reply) - _level(heard_in, *reply)
        assert abs(lifted - host - GUEST_BELOW) <= 3.0, (reply, lifted - host)


def test_the_session_masters_to_target(session):
    *_heard, output = session
    assert ebur128(output)["lufs"] == pytest.approx(-19.0, abs=0.5)
