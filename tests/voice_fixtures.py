"""Speech, music and noise mixed in numpy, with the exact truth of where the speech is.

The speech is real (synthesized) speech: the demo's espeak-ng recordings of episode 004
(the host's sentences from ``host.flac``, the guest's from ``guest.mp3`` put through a
telephone band).  The music is generated: a four-chord progression (triads with two
overtones and a bass note) struck on every half-second beat and decaying, as a bed or an
intro is.  The truth is read from the clean speech alone, before anything is mixed in, with
plain numpy (never the product's code): 10 ms frames whose speech band (100-4000 Hz: a
recording's rumble is not a voice) comes within :data:`VOICED_DB` of their sentence's
level are voiced, gaps of up to 300 ms between them (between words) are speech
too, and a 100 ms interval is speech when most of it is.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from audio_fixtures import decode, show_and_episode

from podcast.audio import master

RATE = 44100
EPISODE = Path(__file__).resolve().parent.parent / "episodes" / "004-lea-fontaine"
#: Where each voice speaks alone in the demo tracks (s).
HOST_SENTENCES = [(0.4, 9.4), (13.8, 16.7), (23.3, 25.7), (28.2, 30.1), (38.8, 40.7)]
GUEST_SENTENCES = [(10.2, 13.0), (17.5, 22.5), (30.9, 37.9)]
#: The pauses laid between sentences (s), in turn.
PAUSES = [1.2, 0.8, 2.0, 1.0, 1.5, 0.6, 2.5]
SPEECH_DBFS = -20.0  # RMS of the host's sentences
#: A 10 ms frame is voiced within this many dB of its sentence's RMS.
VOICED_DB = 25.0
#: Gaps between voiced frames up to this long (s) are inside the speech.
WORD_GAP = 0.3
INTERVAL = 0.1


@dataclass(frozen=True)
class Mix:
    """A generated recording: its samples, the clean speech and music in it, the truth per
    100 ms, and where the words start and end (s)."""

    samples: np.ndarray
    speech: np.ndarray
    music: np.ndarray
    truth: np.ndarray
    first_word: float
    last_word: float


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples ** 2)))


def power_db(samples: np.ndarray, start: float, stop: float) -> float:
    """Mean power (dB) of ``samples`` from ``start`` to ``stop`` s."""
    part = samples[int(start * RATE):int(stop * RATE)]
    return 10 * math.log10(float(np.mean(part ** 2)) + 1e-30)


def band(samples: np.ndarray, low: float, high: float) -> np.ndarray:
    """``samples`` with everything outside ``low``-``high`` Hz removed (FFT brick wall)."""
    spectrum = np.fft.rfft(samples)
    freqs = np.fft.rfftfreq(samples.size, 1.0 / RATE)
    spectrum[(freqs < low) | (freqs > high)] = 0.0
    return np.fft.irfft(spectrum, samples.size)


def pink(size: int, dbfs: float, seed: int = 5) -> np.ndarray:
    """Pink noise at ``dbfs`` RMS (numpy, seeded)."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(size))
    freqs = np.fft.rfftfreq(size, 1.0 / RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, size)
    return noise * 10 ** (dbfs / 20) / rms(noise)


def trimmed(samples: np.ndarray) -> np.ndarray:
    """``samples`` from their first to their last 10 ms above -50 dBFS: the first and
    the last word, so the gaps laid between sentences are the real ones."""
    frames = samples[:samples.size // 441 * 441].reshape(-1, 441)
    voiced = np.flatnonzero(np.mean(frames ** 2, axis=1) > 1e-5)
    return samples[voiced[0] * 441:(voiced[-1] + 1) * 441]


def sentences(guest_below: float | None = None) -> list[np.ndarray]:
    """The host's sentences at :data:`SPEECH_DBFS`, then (with ``guest_below``) the
    guest's on a telephone band that many dB under them."""
    host = decode(EPISODE / "host.flac", RATE)
    said = [trimmed(host[int(a * RATE):int(b * RATE)]) for a, b in HOST_SENTENCES]
    level = rms(np.concatenate(said))
    said = [s * 10 ** (SPEECH_DBFS / 20) / level for s in said]
    if guest_below is None:
        return said
    guest = decode(EPISODE / "guest.mp3", RATE)
    replies = [band(trimmed(guest[int(a * RATE):int(b * RATE)]), 300.0, 3400.0)
               for a, b in GUEST_SENTENCES]
    target = 10 ** ((SPEECH_DBFS - guest_below) / 20)
    return said + [r * target / rms(r) for r in replies]


def music(seconds: float) -> np.ndarray:
    """Chords with rhythm, RMS 1: Am, F, C, G (2 s each), struck every 0.5 s."""
    t = np.arange(int(seconds * RATE)) / RATE
    chords = [(220.0, 261.63, 329.63), (174.61, 220.0, 261.63), (261.63, 329.63, 392.0),
              (196.0, 246.94, 293.66)]
    out = np.zeros(t.size)
    for beat, start in enumerate(np.arange(0.0, seconds, 0.5)):
        a, b = int(start * RATE), min(t.size, int((start + 0.5) * RATE))
        local = t[a:b] - start
        accent = 1.0 if beat % 2 == 0 else 0.6
        envelope = np.minimum(local / 0.01, 1.0) * np.exp(-local / 0.35) * accent
        chord = chords[int(start // 2) % 4]
        tones = sum(0.5 ** h * np.sin(2 * np.pi * f * (h + 1) * t[a:b])
                    for f in chord for h in range(3))
        out[a:b] = (tones + 0.8 * np.sin(np.pi * chord[0] * t[a:b])) * envelope
    return out / rms(out)


def _music_for(size: int) -> np.ndarray:
    """:func:`music` exactly ``size`` samples long."""
    score = music(size / RATE + 1.0)
    return score[:size]


def truth(pieces: list[tuple[int, np.ndarray]], size: int) -> np.ndarray:
    """Speech per 100 ms of a recording ``size`` samples long, from its sentences
    (``(first sample, samples)``; see the module doc)."""
    frame = RATE // 100
    voiced = np.zeros(size // frame + 1, dtype=bool)
    for start, said in pieces:
        voice = band(said, 100.0, 4000.0)
        frames = voice[:voice.size // frame * frame].reshape(-1, frame)
        level = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-20)
        loud = level > 20 * np.log10(rms(voice)) - VOICED_DB
        voiced[start // frame:start // frame + loud.size] |= loud
    where = np.flatnonzero(voiced)
    for a, b in zip(where[:-1], where[1:], strict=True):
        if 1 < b - a <= WORD_GAP * 100:
            voiced[a:b] = True
    count = int(size / RATE / INTERVAL)
    return voiced[:count * 10].reshape(count, 10).mean(axis=1) >= 0.5


def speech_track(said: list[np.ndarray], lead: float, tail: float,
                 pauses: list[float] = PAUSES, rounds: int = 2
                 ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The sentences ``rounds`` times with :data:`PAUSES` between them, ``lead`` s of
    silence before and ``tail`` s after: samples, truth, first and last word (s)."""
    parts, pieces, at = [np.zeros(int(lead * RATE))], [], int(lead * RATE)
    for turn in range(rounds):
        for index, sentence in enumerate(said):
            pieces.append((at, sentence))
            gap = np.zeros(int(pauses[(index + turn) % len(pauses)] * RATE)) if pauses \
                else np.zeros(0)
            parts += [sentence, gap]
            at += sentence.size + gap.size
    last = (pieces[-1][0] + pieces[-1][1].size) / RATE
    samples = np.concatenate([*parts, np.zeros(int(tail * RATE))])
    return samples, truth(pieces, samples.size), lead, last


def noisy_interview() -> Mix:
    """Host and a telephone guest 10 dB under them, over a pink room bed at -50 dBFS."""
    speech, known, first, last = speech_track(sentences(guest_below=10.0), 2.0, 3.0)
    return Mix(speech + pink(speech.size, -50.0), speech, np.zeros(speech.size), known,
               first, last)


def music_bed() -> Mix:
    """The host over a music bed 12 dB under the speech from start to end."""
    speech, known, first, last = speech_track(sentences(), 3.0, 3.0)
    bed = _music_for(speech.size) * 10 ** ((SPEECH_DBFS - 12) / 20)
    return Mix(speech + bed + pink(speech.size, -60.0), speech, bed, known, first, last)


#: The intro plays alone this long (s) at :data:`SPEECH_DBFS`; it is ducked by
#: :data:`DUCK_DB` over :data:`DUCK_RAMP` s ending at the first word, and after the last
#: word fades out over :data:`FADE` s.
INTRO, DUCK_DB, DUCK_RAMP, FADE = 8.0, 12.0, 0.3, 6.0


def music_intro() -> Mix:
    """A music intro ducked -12 dB under the first words, a bed under the host, faded out
    after the last word."""
    speech, known, first, last = speech_track(sentences(), INTRO, FADE + 2.0)
    t = np.arange(speech.size) / RATE
    shape_db = np.interp(t, [first - DUCK_RAMP, first], [0.0, -DUCK_DB])
    fade = np.clip(1.0 - (t - last - 0.5) / FADE, 0.0, 1.0)
    score = _music_for(speech.size) * 10 ** (SPEECH_DBFS / 20)
    bed = score * 10 ** (shape_db / 20) * fade
    return Mix(speech + bed + pink(speech.size, -60.0), speech, bed, known, first, last)


def dense_monologue() -> Mix:
    """The host's sentences end to end three times, no pause between them (a looped or
    tightly edited monologue), over a pink bed at -60 dBFS."""
    speech, known, first, last = speech_track(sentences(), 0.0, 0.0, pauses=[], rounds=3)
    return Mix(speech + pink(speech.size, -60.0), speech, np.zeros(speech.size), known,
               first, last)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """Mono 16-bit WAV at :data:`RATE`."""
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def master_samples(folder: Path, name: str, samples: np.ndarray) -> tuple[Path, Path]:
    """``samples`` written to ``folder/NAME.wav`` and mastered (the show's default audio
    settings) to ``folder/NAME.mp3``: the WAV and the MP3."""
    source = write_wav(folder / f"{name}.wav", samples)
    show, episode = show_and_episode(folder, source)
    output = folder / f"{name}.mp3"
    master(show, episode, output)
    return source, output


def heard_over_200(source: Path, output: Path) -> tuple[np.ndarray, np.ndarray]:
    """The recording and its master decoded to the same length, over 200 Hz (the
    cleanup's high-pass and DC removal are not a gain)."""
    raw_in, raw_out = decode(source, RATE), decode(output, RATE)
    size = min(raw_in.size, raw_out.size)
    return band(raw_in[:size], 200.0, RATE), band(raw_out[:size], 200.0, RATE)


# --------------------------------------------------------------------------- real speech
# Real recorded voices (tests/data/speech/README.md): the host is a CMU ARCTIC sentence
# (speaker awb), the guest the words of alsa-utils' speaker-test voice put on a telephone
# band.  Their turns are laid out in numpy, so where each word starts and ends is known.

SPEECH_DATA = Path(__file__).resolve().parent / "data" / "speech"
HOST_FILE = SPEECH_DATA / "arctic_a0007.flac"
#: The guest's recordings, two words each, in the order the replies use them.
GUEST_FILES = tuple(SPEECH_DATA / f"{name}.flac" for name in (
    "Front_Center", "Front_Left", "Rear_Right", "Side_Left", "Front_Right", "Rear_Center",
    "Rear_Left", "Side_Right"))
#: Mains hum for the hummed variant: (Hz, dBFS RMS) of each line (no harmonic over 150 Hz).
HUM_LINES = ((50.0, -44.0), (100.0, -50.0), (150.0, -56.0))


@dataclass(frozen=True)
class Conversation:
    """A recording made of real voices: its samples, the clean speech in it, the truth
    per 100 ms, the host's turns and the guest's replies ((start, end) s, first to last
    word), and inside each reply the pauses between its words ((start, end) s)."""

    samples: np.ndarray
    speech: np.ndarray
    truth: np.ndarray
    host_turns: list[tuple[float, float]]
    replies: list[tuple[float, float]]
    reply_pauses: list[list[tuple[float, float]]]

    @property
    def first_word(self) -> float:
        return min(self.host_turns[0][0], self.replies[0][0])


def words_only(samples: np.ndarray) -> np.ndarray:
    """``samples`` from their first to their last 10 ms frame whose voice band (100-4000 Hz:
    not the recording's rumble) comes within 30 dB of the loudest, with 10 ms fades at the
    cuts (the recording's own noise floor must not click)."""
    voice = band(samples, 100.0, 4000.0)
    frames = voice[:voice.size // 441 * 441].reshape(-1, 441)
    level = np.mean(frames ** 2, axis=1) + 1e-20
    loud = np.flatnonzero(level > level.max() * 10 ** (-30 / 10))
    words = samples[loud[0] * 441:(loud[-1] + 1) * 441].copy()
    ramp = np.linspace(0.0, 1.0, 441)
    words[:441] *= ramp
    words[-441:] *= ramp[::-1]
    return words


def real_host() -> np.ndarray:
    """The host's sentence (3.3 s of words) at :data:`SPEECH_DBFS` RMS."""
    said = words_only(decode(HOST_FILE, RATE))
    return said * 10 ** (SPEECH_DBFS / 20) / rms(said)


def real_guest(below: float) -> list[np.ndarray]:
    """The guest's recordings (two words each) on a telephone band (300-3400 Hz), each
    ``below`` dB under the host's RMS."""
    target = 10 ** ((SPEECH_DBFS - below) / 20)
    words = [band(words_only(decode(path, RATE)), 300.0, 3400.0) for path in GUEST_FILES]
    return [w * target / rms(w) for w in words]


def hum(size: int) -> np.ndarray:
    """:data:`HUM_LINES` for ``size`` samples."""
    t = np.arange(size) / RATE
    return sum((10 ** (dbfs / 20) * np.sqrt(2) * np.sin(2 * np.pi * freq * t)
                for freq, dbfs in HUM_LINES), np.zeros(size))


def real_conversation(*, turns: tuple[int, ...] = (1, 2, 1, 2, 1), words_per_reply: int = 2,
                      turn_gap: float = 0.3, word_pause: float = 0.3,
                      reply_gap: float = 0.4, guest_below: float = 14.0,
                      lead: float = 3.0, bed_dbfs: float = -60.0,
                      hummed: bool = False) -> Conversation:
    """Host turns (``turns[i]`` times the sentence, a 0.3 s breath between) each followed
    by ``turn_gap`` s, a reply of ``words_per_reply`` guest recordings ``word_pause`` s
    apart ``guest_below`` dB quieter, and ``reply_gap`` s (the last turn has no reply);
    ``lead`` s of room tone before the first word and after the last, a pink room bed at
    ``bed_dbfs`` throughout, and with ``hummed`` 50 Hz mains hum (:data:`HUM_LINES`).

    The ARCTIC recording carries its own room noise between its words, about -56 dBFS in
    the voice band (150-3750 Hz) once at :data:`SPEECH_DBFS`: a -50 dBFS pink bed has the
    same level there; under a -60 one the floor steps up by 10 dB while the host speaks."""
    host, guest = real_host(), real_guest(guest_below)
    breath = np.zeros(int(0.3 * RATE))
    parts, pieces = [np.zeros(int(lead * RATE))], []
    at, host_turns, replies, pauses = int(lead * RATE), [], [], []
    used = 0

    def lay(samples: np.ndarray) -> int:
        nonlocal at
        start = at
        parts.append(samples)
        at += samples.size
        return start

    for number, count in enumerate(turns):
        start = at
        for index in range(count):
            pieces.append((lay(host), host))
            if index < count - 1:
                lay(breath)
        host_turns.append((start / RATE, at / RATE))
        if number == len(turns) - 1:
            break
        lay(np.zeros(int(turn_gap * RATE)))
        start, inside = at, []
        for index in range(words_per_reply):
            words = guest[used % len(guest)]
            used += 1
            pieces.append((lay(words), words))
            if index < words_per_reply - 1:
                inside.append((at / RATE, at / RATE + word_pause))
                lay(np.zeros(int(word_pause * RATE)))
        replies.append((start / RATE, at / RATE))
        pauses.append(inside)
        lay(np.zeros(int(reply_gap * RATE)))
    lay(np.zeros(int(lead * RATE)))
    speech = np.concatenate(parts)
    samples = speech + pink(speech.size, bed_dbfs) + (hum(speech.size) if hummed else 0.0)
    return Conversation(samples, speech, truth(pieces, speech.size), host_turns, replies,
                        pauses)


def real_music_intro(*, turn_gap: float = 0.3, word_pause: float = 0.3,
                     reply_gap: float = 0.4) -> Conversation:
    """:func:`real_conversation` (with those pauses) after a music intro: :data:`INTRO` s
    of music alone at :data:`SPEECH_DBFS`, ducked by :data:`DUCK_DB` over
    :data:`DUCK_RAMP` s ending at the first word, a bed under the talk, faded out over
    :data:`FADE` s after the last word."""
    talk = real_conversation(lead=INTRO, bed_dbfs=-60.0, turn_gap=turn_gap,
                             word_pause=word_pause, reply_gap=reply_gap)
    first = talk.host_turns[0][0]
    last = talk.host_turns[-1][1]
    size = talk.samples.size + int(FADE * RATE)
    t = np.arange(size) / RATE
    shape_db = np.interp(t, [first - DUCK_RAMP, first], [0.0, -DUCK_DB])
    fade = np.clip(1.0 - (t - last - 0.5) / FADE, 0.0, 1.0)
    bed = _music_for(size) * 10 ** (SPEECH_DBFS / 20) * 10 ** (shape_db / 20) * fade
    speech = np.concatenate([talk.speech, np.zeros(size - talk.speech.size)])
    samples = np.concatenate([talk.samples, pink(size, -60.0)[talk.samples.size:]]) + bed
    known = np.concatenate([talk.truth, np.zeros(int(size / RATE / INTERVAL)
                                                  - talk.truth.size, dtype=bool)])
    return Conversation(samples, speech, known, talk.host_turns, talk.replies,
                        talk.reply_pauses)
