"""Issue 22's acceptance on real recorded speech, beside the synthesized speech of
test_speaker_changes, test_voice_activity, test_room_tone and test_denoise.

The host is a CMU ARCTIC sentence, the guest the words of alsa-utils' speaker-test voice
on a telephone band 14 dB quieter (tests/data/speech; ``voice_fixtures.real_*`` lays out
their turns in numpy, so every word's place is known), over a -60 dBFS pink room bed.
``podcast master`` masters them; the results are measured on the decoded files with numpy,
pystoi and ffmpeg's ``ebur128``, never with the product's code:

1. the host's last second before a reply keeps its level relative to its turn (+1.5 dB);
   a reply of two words is lifted like one of four, its gain reached in the gap before
   its first word;
3. speech against non-speech per 100 ms against the known words: F1 >= 0.95;
4. the room tone under a lifted reply's pauses moves by at most 3 dB against the pause
   before it; a hummed copy masters as intelligibly (STOI within 0.01) as the plain one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import decode, ebur128, show_and_episode
from voice_fixtures import (
    RATE,
    Conversation,
    band,
    heard_over_200,
    master_samples,
    power_db,
    real_conversation,
    real_music_intro,
    write_wav,
)

from podcast.audio import master
from podcast.audio.analysis import analyse
from podcast.audio.cleanup import detect_hum
from podcast.audio.voice import FrameReader
from podcast.loudness import probe
from podcast.model import AudioSettings

pytestmark = [pytest.mark.audio, pytest.mark.slow]

GUEST_BELOW = 14.0  # dB, the telephone guest under the host
#: Pauses as the synthesized speech's (voice_fixtures.PAUSES, 0.6-2.5 s) for the voice
#: detector: the truth counts gaps up to 0.3 s as speech, so tighter turns would score
#: the convention rather than the detector.
PAUSED = {"turn_gap": 0.8, "word_pause": 0.6, "reply_gap": 1.0}


def f1_score(found: np.ndarray, truth: np.ndarray) -> float:
    """F1 of the 100 ms decisions ``found`` against ``truth`` (the shorter length)."""
    size = min(found.size, truth.size)
    found, truth = found[:size], truth[:size]
    hits = float(np.sum(found & truth))
    return 2 * hits / max(float(found.sum() + truth.sum()), 1.0)


def aligned(reference: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """``samples`` shifted onto ``reference`` by their cross-correlation (lags up to
    0.2 s either way) and cut or padded to its length."""
    size = min(reference.size, samples.size)
    spectrum = np.fft.rfft(samples[:size], 2 * size) * np.conj(
        np.fft.rfft(reference[:size], 2 * size))
    correlation = np.fft.irfft(spectrum)
    window = int(0.2 * RATE)
    lags = np.concatenate([np.arange(window), np.arange(-window, 0)])
    lag = int(lags[np.argmax(np.concatenate([correlation[:window], correlation[-window:]]))])
    shifted = samples[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), samples])
    out = np.zeros(reference.size)
    out[:min(reference.size, shifted.size)] = shifted[:reference.size]
    return out


def gain(heard: tuple[np.ndarray, np.ndarray], start: float, stop: float) -> float:
    """The gain (dB) the master gave ``start``-``stop`` s: its power over the input's."""
    heard_in, heard_out = heard
    return power_db(heard_out, start, stop) - power_db(heard_in, start, stop)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("real") / "ep"
    path.mkdir()
    return path


# --------------------------------------------------------------------------- 1: speaker changes


@pytest.fixture(scope="module", params=[-60.0, -50.0], ids=["bed-60", "bed-50"])
def turns(folder, request):
    """Host turns, a 0.3 s gap, two-recording replies, as in a lively interview, over a
    -60 dBFS room bed, and over a -50 dBFS one (the level of the ARCTIC recording's own
    room noise in the voice band, so the floor no longer steps under the host); mastered."""
    talk = real_conversation(bed_dbfs=request.param)
    name = f"turns{int(-request.param)}"
    source, output = master_samples(folder, name, talk.samples)
    return talk, heard_over_200(source, output), output


def test_the_end_of_a_host_turn_keeps_its_level_before_a_reply(turns):
    talk, (heard_in, heard_out), _output = turns

    def relative(samples: np.ndarray, start: float, end: float) -> float:
        # The turn's last second against the rest of the turn.
        return power_db(samples, end - 1.0, end) - power_db(samples, start, end - 1.0)

    changes = [relative(heard_out, *turn) - relative(heard_in, *turn)
               for turn in talk.host_turns[:-1]]
    assert max(changes) <= 1.5, [round(change, 2) for change in changes]


def test_the_telephone_guest_is_brought_to_the_host(turns):
    talk, heard, output = turns
    host = np.mean([gain(heard, *turn) for turn in talk.host_turns])
    lifted = [gain(heard, *reply) - host for reply in talk.replies]
    assert all(abs(lift - GUEST_BELOW) <= 3.0 for lift in lifted), lifted
    assert ebur128(output)["lufs"] == pytest.approx(-19.0, abs=0.5)


def test_a_reply_of_two_words_is_lifted_like_one_of_four(turns, tone):
    # The replies of the room-tone session (four words a second apart) against those of
    # two words 0.3 s apart: a short reply is lifted as much, whatever the bed.
    def lifts(talk: Conversation, heard) -> list[float]:
        host = np.mean([gain(heard, *turn) for turn in talk.host_turns])
        return [gain(heard, *reply) - host for reply in talk.replies]

    long = float(np.mean(lifts(*tone)))
    short = lifts(turns[0], turns[1])
    assert max(abs(lift - long) for lift in short) <= 2.0, (round(long, 2), short)


def test_the_gain_reaches_the_reply_in_the_gap_before_its_first_word(turns):
    # The room tone in the last 60 ms before a reply's first word is lifted (nearly) as
    # much as the room tone between the reply's words: the gain has moved in the gap.
    talk, heard, _output = turns
    for (start, _end), pauses in zip(talk.replies, talk.reply_pauses, strict=True):
        reply = np.mean([gain(heard, a + 0.1, b - 0.1) for a, b in pauses])
        assert gain(heard, start - 0.08, start - 0.02) >= reply - 4.0, (start, reply)


# --------------------------------------------------------------------------- 1: first words
# A lifted reply's first word (the telephone guest's sharp onset, its pitch pulses 21 dB
# over the reply's RMS) against the rest of the reply.  Measured (issue 22): the levelling
# gives it the reply's gain within 0.05 dB (the limiter taken out: no ramp overshoot, no
# ringing of the resampled envelope); the limiter at the default loudness then dips it by
# 1.5-2.3 dB, because its honest peaks reach +1.8/+1.9 dBFS, 4 dB over the -2.2 dBFS
# ceiling (1 % of its samples), and the 5 ms attack / 80 ms release hold the gain down
# over the whole word (hard clipping the same peaks would take 0.3-0.4 dB).


def first_word(talk: Conversation, start: float, end: float) -> tuple[float, float, float]:
    """The first word of the reply ``start``-``end`` s (its start and end, s) and where
    the reply's next word starts: runs of 10 ms frames of the clean speech (over 200 Hz)
    within 25 dB of the reply's loudest, parted by more than 60 ms of quiet."""
    frame = RATE // 100
    voice = band(talk.speech[int(start * RATE):int(end * RATE)], 200.0, RATE)
    energy = np.mean(voice[:voice.size // frame * frame].reshape(-1, frame) ** 2, axis=1)
    loud = np.flatnonzero(energy > energy.max() * 10 ** (-25 / 10))
    parted = int(np.flatnonzero(np.diff(loud) > 6)[0])
    return (start + loud[0] / 100, start + (loud[parted] + 1) / 100,
            start + loud[parted + 1] / 100)


def first_word_changes(talk: Conversation, heard) -> list[float]:
    """Per reply: the gain (dB) its first word got less the gain the rest of it got."""
    changes = []
    for start, end in talk.replies:
        word_start, word_end, rest = first_word(talk, start, end)
        changes.append(gain(heard, word_start, word_end) - gain(heard, rest, end))
    return changes


@pytest.fixture(scope="module")
def headroom(folder):
    """The lively conversation of ``turns`` (-60 dBFS bed) mastered 7 dB under the
    default loudness: the replies' sharpest first words then peak 3 dB under the
    limiter's ceiling, so what the master does to them is the levelling's alone."""
    talk = real_conversation()
    source = write_wav(folder / "headroom.wav", talk.samples)
    show, episode = show_and_episode(folder, source, settings=AudioSettings(loudness=-23.0))
    output = folder / "headroom.mp3"
    master(show, episode, output)
    return talk, heard_over_200(source, output), output


def test_a_lifted_replys_first_word_gets_the_replys_gain(headroom):
    # The ramp into a reply lifted ~12 dB neither stops short of its first word nor
    # rings over it (10 % ringing of the band-limited envelope would be ~1 dB).
    talk, heard, output = headroom
    peak = 20 * np.log10(np.max(np.abs(decode(output, RATE))))
    assert peak < -3.0, f"the limiter had work to do ({peak:.2f} dBFS): not a levelling test"
    changes = first_word_changes(talk, heard)
    assert max(abs(change) for change in changes) <= 0.5, [round(c, 2) for c in changes]


# Known gap (issue 22, open; the limiter's, not the levelling's: see above).  Proposed in
# encoding.py: a fast peak stage (alimiter attack 0.1 ms, release 5 ms) before the
# present limiter and a 0.5 dB peak margin (true peak measured -1.8 dBTP for a -1.0
# target) measured -1.0/-0.8 dB here.  Strict: the day it passes, it fails.
LIMITER_DIPS_FIRST_WORDS = pytest.mark.xfail(
    strict=True, reason="the limiter dips a first word peaking 4 dB over its ceiling "
                        "by 1.5-2.3 dB")


@LIMITER_DIPS_FIRST_WORDS
def test_a_lifted_replys_first_word_keeps_its_lift_through_the_limiter(turns):
    talk, heard, _output = turns
    changes = first_word_changes(talk, heard)
    assert max(abs(change) for change in changes) <= 1.0, [round(c, 2) for c in changes]


# --------------------------------------------------------------------------- 3: speech found


def _decisions(path: Path) -> np.ndarray:
    analysis = analyse(probe(path, what="audio file"), rate=RATE, layout="mono",
                       what="audio file")
    assert analysis.voice is not None
    return analysis.voice


# After the music intro the telephone guest's words lie 2 dB under the bed: the music's
# notes hold the whole band's peaks steady, the words are found in the upper band (F1
# 0.927 before it was looked at on its own, 0.966 after).
@pytest.mark.parametrize("make", [real_conversation, real_music_intro],
                         ids=["room-noise", "music-intro"])
def test_speech_is_found_where_the_words_are(make, tmp_path: Path):
    talk: Conversation = make(**PAUSED)
    found = _decisions(write_wav(tmp_path / "in.wav", talk.samples))
    assert f1_score(found, talk.truth) >= 0.95


def test_a_music_intro_before_real_speech_is_not_speech(tmp_path: Path):
    talk = real_music_intro(**PAUSED)
    found = _decisions(write_wav(tmp_path / "in.wav", talk.samples))
    before = found[:int((talk.first_word - 0.3) / 0.1)]
    assert before.size > 60 and not before.any(), np.flatnonzero(before)


def hi_hats(size: int, dbfs: float, seed: int = 7) -> np.ndarray:
    """A hi-hat every 0.25 s for ``size`` samples: a burst of bright noise (white,
    differenced) at ``dbfs`` RMS as struck, decaying with a 40 ms time constant."""
    rng = np.random.default_rng(seed)
    out = np.zeros(size)
    step = int(0.25 * RATE)
    decay = np.exp(-np.arange(step) / RATE / 0.04)
    for start in range(0, size - step, step):
        noise = np.diff(rng.standard_normal(step + 1))
        out[start:start + step] = noise / np.sqrt(np.mean(noise ** 2)) * decay
    return out * 10 ** (dbfs / 20)


def test_a_music_intro_with_hi_hats_before_real_speech_is_not_speech(tmp_path: Path):
    # Bright noise bursts 4 dB under the music rise 20 dB out of its upper band and move
    # there, as a voice does; they keep no shape from one 100 ms to the next, a voice does.
    talk = real_music_intro(**PAUSED)
    intro = np.arange(talk.samples.size) < int((talk.first_word - 0.3) * RATE)
    hats = hi_hats(talk.samples.size, -24.0) * intro
    found = _decisions(write_wav(tmp_path / "in.wav", talk.samples + hats))
    before = found[:int((talk.first_word - 0.3) / 0.1)]
    assert before.size > 60 and not before.any(), np.flatnonzero(before)
    assert f1_score(found, talk.truth) >= 0.95


def _upper_band_by_the_book(samples: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per 20 ms frame of 8 kHz ``samples``, frame by frame in double precision as
    podcast/audio/voice.py's doc defines them: the upper band's energy (dB, bins 32-119
    of a 256-point Hann-windowed spectrum), the steadiness of the whole band's peaks
    (bins 5-119, levels floored at the frame's median) and of the upper band's (those
    peaks less 3 dB, floored at 0): each centred, normalised, dotted with 5 frames before."""
    hann = np.hanning(256)

    def unit(peaks: np.ndarray) -> np.ndarray:
        peaks = peaks - peaks.mean()
        return peaks / (np.sqrt(peaks @ peaks) + 1e-9)

    energy, whole, upper = [], [], []
    for start in range(0, samples.size - 256 + 1, 160):
        power = np.abs(np.fft.rfft(samples[start:start + 256] * hann))[5:120] ** 2
        level = 10 * np.log10(power + 1e-12)
        peaks = np.maximum(level - np.median(level), 0.0)
        energy.append(10 * np.log10(power[27:].sum() + 1e-12))
        whole.append(unit(peaks))
        upper.append(unit(np.maximum(peaks[27:] - 3.0, 0.0)))

    def lagged(rows: list[np.ndarray]) -> np.ndarray:
        return np.array([np.nan] * 5 + [rows[i] @ rows[i - 5] for i in range(5, len(rows))])

    return np.asarray(energy), lagged(whole), lagged(upper)


def _held(steadiness: np.ndarray) -> np.ndarray:
    """Whether the median steadiness of the 10 frames each side of a frame reaches 0.85."""
    values = np.where(np.isfinite(steadiness), steadiness, 1.0)
    return np.array([np.median(values[max(0, i - 10):i + 11])
                     for i in range(values.size)]) >= 0.85


def test_a_voice_under_a_music_bed_moves_in_the_upper_band(tmp_path: Path):
    # Why the upper band is looked at on its own: under a bed 2 dB over the guest, the
    # music holds the whole band's peaks on much of the guest's words, not the upper band.
    talk = real_music_intro(**PAUSED)
    samples = decode(write_wav(tmp_path / "in.wav", talk.samples), 8000)
    reader = FrameReader()
    data = samples.astype("<f4").tobytes()
    for start in range(0, len(data), 1 << 18):
        reader.feed(data[start:start + (1 << 18)])
    frames = reader.frames()
    energy, whole, upper = _upper_band_by_the_book(samples.astype(np.float32).astype(float))
    np.testing.assert_allclose(frames.upper, energy, atol=1e-3)
    np.testing.assert_allclose(frames.upper_steadiness, upper, atol=1e-4, equal_nan=True)
    times = (np.arange(energy.size) * 160 + 128) / 8000
    voiced = talk.truth[np.minimum((times / 0.1).astype(int), talk.truth.size - 1)]
    words = np.zeros(times.size, dtype=bool)
    for start, end in talk.replies:
        words |= (times >= start) & (times < end) & voiced
    music = times < talk.first_word - 0.5
    assert _held(whole)[music].mean() == 1.0
    assert _held(whole)[words].mean() > 0.3  # measured 0.46
    assert _held(upper)[words].mean() < 0.15  # measured 0.06


# --------------------------------------------------------------------------- 4: room tone, hum


@pytest.fixture(scope="module")
def tone(folder):
    """Host turns, a 2 s pause, replies of four words a second apart; mastered."""
    talk = real_conversation(turns=(2, 2, 1), words_per_reply=4, turn_gap=2.0,
                             word_pause=1.0, reply_gap=1.0)
    source, output = master_samples(folder, "tone", talk.samples)
    return talk, heard_over_200(source, output)


def test_the_replies_of_the_room_tone_session_are_lifted(tone):
    talk, heard = tone
    host = np.mean([gain(heard, *turn) for turn in talk.host_turns])
    for reply in talk.replies:
        assert gain(heard, *reply) - host == pytest.approx(GUEST_BELOW, abs=3.0)


def test_the_floor_does_not_step_across_a_lifted_reply(tone):
    talk, heard = tone
    for (start, _end), pauses in zip(talk.replies, talk.reply_pauses, strict=True):
        before = gain(heard, start - 1.6, start - 0.4)
        steps = [gain(heard, a + 0.25, b - 0.25) - before for a, b in pauses]
        assert max(abs(step) for step in steps) <= 3.0, [round(s, 2) for s in steps]


@pytest.fixture(scope="module")
def humming(folder):
    """The conversation with and without mains hum, mastered; the clean speech, the
    sources, and each master aligned on the clean speech."""
    pystoi = pytest.importorskip("pystoi")
    heard, sources = {}, {}
    for name, hummed in (("plain", False), ("hum", True)):
        talk = real_conversation(hummed=hummed)
        sources[name], output = master_samples(folder, f"hum-{name}", talk.samples)
        heard[name] = aligned(talk.speech, decode(output, RATE))
    return pystoi, talk.speech, sources, heard


def test_the_hum_found_in_real_speech_is_the_hum_laid(humming):
    _pystoi, _clean, sources, _heard = humming
    found = detect_hum(probe(sources["hum"], what="audio file"))
    assert found is not None and found.frequencies == [50, 100, 150]
    assert detect_hum(probe(sources["plain"], what="audio file")) is None


def test_a_humming_real_recording_keeps_its_intelligibility(humming):
    pystoi, clean, _sources, heard = humming
    plain = pystoi.stoi(clean, heard["plain"], RATE)
    hummed = pystoi.stoi(clean, heard["hum"], RATE)
    assert plain > 0.9
    assert hummed >= plain - 0.01, (plain, hummed)
