"""Music keeps its shape (issue 22, acceptance 2): a music intro ducked -12 dB under the
first words, a bed under the host's speech, faded out after the last word.

The master must give the music one gain: the intro, the duck, the bed in the pauses and
the fade tail come out moved by the same dB (within 3), nothing rises over 3 dB in the
1.5 s before the first word, and the speech lands on target (-19 +/- 1 LUFS mono, by
ffmpeg's meter).  The gain a stretch received is the energy ratio of master to input over
200 Hz (the cleanup's high-pass and DC removal do not count), from the decoded samples.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import ebur128
from voice_fixtures import RATE, Mix, heard_over_200, master_samples, music_intro, power_db

pytestmark = [pytest.mark.audio, pytest.mark.slow]

#: Stretches this long (s) are compared.
STEP = 0.5


@pytest.fixture(scope="module")
def mastered(tmp_path_factory) -> tuple[Mix, np.ndarray, np.ndarray, Path]:
    folder = tmp_path_factory.mktemp("music") / "ep"
    folder.mkdir()
    mix = music_intro()
    source, output = master_samples(folder, "intro", mix.samples)
    return mix, *heard_over_200(source, output), output


def _gain(heard, start: float, stop: float) -> float:
    _mix, raw_in, raw_out, _output = heard
    return power_db(raw_out, start, stop) - power_db(raw_in, start, stop)


def _music_alone(mix: Mix) -> list[tuple[float, float]]:
    """Every :data:`STEP` stretch where the music plays without a word over it and stands
    20 dB over the room (the fade's last seconds sink into it)."""
    quiet = np.abs(mix.speech) < 1e-6
    stretches = []
    for start in np.arange(0.0, mix.samples.size / RATE - STEP, STEP):
        span = slice(int(start * RATE), int((start + STEP) * RATE))
        music = 10 * math.log10(float(np.mean(mix.music[span] ** 2)) + 1e-30)
        if quiet[span].all() and music > -45.0:
            stretches.append((float(start), float(start + STEP)))
    return stretches


def test_the_music_gets_one_gain_from_intro_to_fade(mastered):
    mix = mastered[0]
    stretches = _music_alone(mix)
    # The intro, bed stretches between phrases, and the fade's first seconds.
    assert any(b <= mix.first_word - 2 for _a, b in stretches)
    assert any(a >= mix.last_word + 1 for a, _b in stretches)
    assert sum(mix.first_word < a and b < mix.last_word for a, b in stretches) >= 4
    gains = [_gain(mastered, a, b) for a, b in stretches]
    assert max(gains) - min(gains) <= 3.0, dict(zip(stretches, np.round(gains, 1), strict=True))


def test_the_duck_before_the_first_word_is_not_lifted(mastered):
    mix = mastered[0]
    intro = _gain(mastered, 1.0, mix.first_word - 2.0)
    for start in np.arange(mix.first_word - 1.5, mix.first_word - 0.05, 0.25):
        assert _gain(mastered, start, start + 0.25) <= intro + 3.0


def test_the_speech_is_on_target(mastered):
    mix, _raw_in, _raw_out, output = mastered
    assert ebur128(output)["lufs"] == pytest.approx(-19.0, abs=1.0)
    speech = ebur128(output, f"atrim={mix.first_word:.2f}:{mix.last_word:.2f}")["lufs"]
    assert speech == pytest.approx(-19.0, abs=1.0)
