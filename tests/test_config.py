"""podcast.yaml and episode.md: what is accepted, and how each mistake is reported."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from podcast.config import freeze_guid, load_episodes, load_show, parse_timestamp
from podcast.errors import ConfigError
from podcast.model import podcast_guid


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture drifted: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_podcast_guid_matches_the_specification_check_value():
    assert podcast_guid("https://podnews.net/rss") == "9b024349-ccf0-5f69-a609-6b82873eab3c"
    assert podcast_guid("http://podnews.net/rss/") == "9b024349-ccf0-5f69-a609-6b82873eab3c"


def test_the_demo_show_loads(demo_show):
    show = load_show(demo_show)
    assert show.title == "Salons & Rencontres"
    assert show.feed_url == show.base_url + "/feed.xml"
    assert show.audio.meter_target == -19.0  # mono: the dual-mono convention
    assert show.audio.bitrate_bps == 96000
    episodes = load_episodes(show)
    assert [e.slug for e in episodes] == ["001-sonia-mamin", "002-marc-olivier",
                                          "003-claire-dubois"]
    first = episodes[0]
    assert first.title == "Sonia Mamin : le salon devient phygital"
    assert first.guests[0].role == "guest"
    assert [c.start for c in first.chapters] == [0, 12, 30]
    assert first.published == datetime(2026, 11, 9, 6, 0, tzinfo=timezone.utc)
    assert len({e.guid for e in episodes}) == 3


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("type: episodic", "type: episodik", "type", "not one of"),
        ("explicit: false", "explicit: nope", "explicit", "true or false"),
        ("  - Business/Marketing", "  - Business/Marketting", "categories[0]", "subcategory"),
        ("  - Business/Marketing", "  - business", "categories[0]", "case matters"),
        ("language: fr", "language: French", "language", "ISO 639"),
        ("image: assets/cover.jpg", "image: assets/missing.jpg", "image", "does not exist"),
        ("base_url: http://127.0.0.1:8000", "base_url: 127.0.0.1", "base_url", "URL"),
        ("storage: file://public", "storage: ftp://x", "storage", "storage URL"),
        ("  bitrate: 96k", "  bitrate: 96", "audio.bitrate", "MP3 bitrate"),
        ("  loudness: -16", "  loudness: -3", "audio.loudness", "outside"),
        ("title: Salons", "titel: x\ntitle: Salons", "titel", "unknown key"),
        ("    by: 2027-06-30", "    by: someday", "targets[0].by", "not a date"),
    ],
)
def test_show_mistakes_name_the_file_and_key(demo_show, old, new, field, words):
    edit(demo_show, old, new)
    with pytest.raises(ConfigError) as caught:
        load_show(demo_show)
    assert caught.value.field == field
    assert str(demo_show.resolve()) in str(caught.value) or str(demo_show) in str(caught.value)
    assert words in str(caught.value)


def test_missing_config_says_how_to_create_one(tmp_path):
    with pytest.raises(ConfigError, match="podcast init"):
        load_show(tmp_path / "podcast.yaml")


def test_yaml_is_loaded_safely(demo_show):
    edit(demo_show, "author: Studio Rencontres", "author: !!python/object/apply:os.system [id]")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_show(demo_show)


EPISODE = "episodes/001-sonia-mamin/episode.md"


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("audio: interview.mp3", "audio: ../../podcast.yaml", "audio", "leaves the folder"),
        ("audio: interview.mp3", "audio: /etc/passwd", "audio", "leaves the folder"),
        ("audio: interview.mp3", "audio: nothing.wav", "audio", "does not exist"),
        ('{start: "0:30"', '{start: "0:05"', "chapters[2].start", "not after"),
        ('{start: "0:30"', '{start: "half past"', "chapters[2].start", "not a time"),
        ("published: 2026-11-09T07:00:00+01:00", "published: 2026-11-09T07:00:00",
         "published", "no time zone"),
        ("published: 2026-11-09T07:00:00+01:00", "published: soon", "published",
         "not a date-time"),
        ("season: 1", "season: 0", "season", "at least 1"),
        ("type: full", "type: teaser", "type", "not one of"),
        ("explicit: false", "explicit: false\nrating: 5", "rating", "unknown key"),
    ],
)
def test_episode_mistakes_name_the_file_and_key(demo_show, old, new, field, words):
    edit(demo_show.parent / EPISODE, old, new)
    show = load_show(demo_show)
    with pytest.raises(ConfigError) as caught:
        load_episodes(show)
    assert caught.value.field == field
    assert "001-sonia-mamin/episode.md" in str(caught.value)
    assert words in str(caught.value)


def test_a_slug_must_be_lowercase_ascii(demo_show):
    (demo_show.parent / "episodes/001-sonia-mamin").rename(
        demo_show.parent / "episodes/001-Sonia Mamin")
    with pytest.raises(ConfigError, match="not a valid slug"):
        load_episodes(load_show(demo_show))


def test_duplicate_guids_are_refused(demo_show):
    for slug in ("001-sonia-mamin", "002-marc-olivier"):
        edit(demo_show.parent / f"episodes/{slug}/episode.md", "season: 1",
             "guid: same-guid\nseason: 1")
    with pytest.raises(ConfigError, match="also used by"):
        load_episodes(load_show(demo_show))


def test_front_matter_is_required(demo_show):
    (demo_show.parent / EPISODE).write_text("just notes\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no YAML front matter"):
        load_episodes(load_show(demo_show))


@pytest.mark.parametrize(("text", "seconds"), [("0:00", 0), ("2:30", 150), ("1:02:03", 3723),
                                               ("75.5", 75.5), (90, 90)])
def test_chapter_times(text, seconds):
    assert parse_timestamp(text, file=Path("x"), field="start") == seconds


def test_freeze_guid_keeps_the_guid_when_the_feed_moves(demo_show):
    show = load_show(demo_show)
    assert freeze_guid(show) is True
    assert freeze_guid(load_show(demo_show)) is False
    edit(demo_show, "base_url: http://127.0.0.1:8000", "base_url: https://cdn.example.org")
    moved = load_show(demo_show)
    assert moved.feed_url == "https://cdn.example.org/feed.xml"
    assert moved.guid == show.guid
