"""The audio settings of issue 10 in podcast.yaml: defaults, accepted values, and clear
errors (file, key, what is wrong, the fix) for anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from podcast.config import load_show
from podcast.errors import ConfigError


def _with_audio(demo_show: Path, lines: str) -> Path:
    text = demo_show.read_text().replace("  sample_rate: 44100\n",
                                         "  sample_rate: 44100\n" + lines)
    demo_show.write_text(text)
    return demo_show


def test_defaults(demo_show: Path):
    audio = load_show(demo_show).audio
    assert (audio.highpass, audio.hum, audio.max_pause, audio.denoise) == \
        (80.0, "auto", None, "off")


@pytest.mark.parametrize(("lines", "expected"), [
    ("  highpass: 0\n", {"highpass": 0.0}),
    ("  highpass: 120\n", {"highpass": 120.0}),
    ("  hum: 50\n", {"hum": "50"}),
    ("  hum: '60'\n", {"hum": "60"}),
    ("  hum: off\n", {"hum": "off"}),  # YAML reads a bare off as false
    ("  max_pause: 1.5\n", {"max_pause": 1.5}),
    ("  max_pause: off\n", {"max_pause": None}),
    ("  denoise: light\n", {"denoise": "light"}),
    ("  denoise: strong\n", {"denoise": "strong"}),
    ("  denoise: deep\n", {"denoise": "deep"}),
    ("  denoise: off\n", {"denoise": "off"}),
])
def test_accepted_values(demo_show: Path, lines: str, expected: dict):
    audio = load_show(_with_audio(demo_show, lines)).audio
    assert {key: getattr(audio, key) for key in expected} == expected


@pytest.mark.parametrize(("lines", "field", "message"), [
    ("  highpass: 500\n", "audio.highpass", "outside 20..300"),
    ("  highpass: loud\n", "audio.highpass", "expected a number"),
    ("  hum: 55\n", "audio.hum", "not one of auto, 50, 60, off"),
    ("  hum: yes\n", "audio.hum", "not one of"),
    ("  max_pause: 0.1\n", "audio.max_pause", "outside 0.5..60"),
    ("  max_pause: long\n", "audio.max_pause", "expected a number"),
    ("  denoise: medium\n", "audio.denoise", "not one of off, light, strong"),
    ("  denoise: [light]\n", "audio.denoise", "not one of"),
    ("  dehum: 50\n", "audio.dehum", "unknown key"),
])
def test_unknown_values_are_clear_errors(demo_show: Path, lines: str, field: str,
                                         message: str):
    with pytest.raises(ConfigError, match=message) as caught:
        load_show(_with_audio(demo_show, lines))
    assert caught.value.field == field
    assert caught.value.fix


def test_every_audio_setting_is_part_of_the_masters_input_hash(demo_show: Path):
    """Changing any audio setting re-masters: a setting left out of the hash would keep
    publishing the old master."""
    from dataclasses import fields, replace

    from podcast.config import load_episodes
    from podcast.publish import episode_input_hash

    show = load_show(demo_show)
    episode = load_episodes(show)[0]
    before = episode_input_hash(show, episode)
    other = {"loudness": -14.0, "true_peak": -2.0, "channels": "stereo", "bitrate": "128k",
             "sample_rate": 48000, "intro": demo_show.parent / "assets" / "cover.jpg",
             "outro": demo_show.parent / "assets" / "cover.jpg", "highpass": 0.0, "hum": "off",
             "max_pause": 1.5, "denoise": "light"}
    # `rendition` is encoded from the finished master: turning it on or changing it makes
    # the second file only, never a new master (tests/test_feed_renditions.py).
    assert set(other) | {"rendition"} == {field.name for field in fields(show.audio)}
    for name, value in other.items():
        changed = replace(show, audio=replace(show.audio, **{name: value}))
        assert episode_input_hash(changed, episode) != before, name
