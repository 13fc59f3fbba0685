"""podcast.yaml and episode.md: what is accepted, and how each mistake is reported."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from podcast.config import (
    FRONT_MATTER_RE,
    YAML_MAX_BYTES,
    YAML_MAX_DEPTH,
    freeze_guid,
    load_episodes,
    load_show,
    parse_timestamp,
)
from podcast.errors import ConfigError
from podcast.model import podcast_guid
from podcast.text import control_problem, shown, terminal_text


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
                                          "003-claire-dubois", "004-lea-fontaine"]
    first = episodes[0]
    assert first.title == "Sonia Mamin : le salon devient phygital"
    assert first.guests[0].role == "guest"
    assert [c.start for c in first.chapters] == [0, 12, 30]
    assert first.published == datetime(2026, 11, 9, 6, 0, tzinfo=timezone.utc)
    assert len({e.guid for e in episodes}) == 4
    # The fourth is a multitrack recording: one file per speaker.
    host, guest = episodes[3].tracks
    assert (host.role, host.name, guest.role, guest.name) == (
        "host", "Julien Morel", "guest", "Léa Fontaine")


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


# --- hostile input: the loader's bounds, values in messages, control characters ------------


def test_an_anchor_alone_is_harmless_but_an_alias_is_refused_with_its_line(demo_show):
    edit(demo_show, "author: Studio Rencontres", "author: &who Studio Rencontres")
    assert load_show(demo_show).author == "Studio Rencontres"
    edit(demo_show, "copyright: Studio Rencontres", "copyright: *who")
    line = demo_show.read_text().splitlines().index("copyright: *who") + 1
    with pytest.raises(ConfigError) as caught:
        load_show(demo_show)
    assert f"line {line}: a YAML alias" in str(caught.value)
    assert "podcast.yaml" in str(caught.value)


@pytest.mark.parametrize(("depth", "loads"), [(YAML_MAX_DEPTH - 2, True),
                                              (YAML_MAX_DEPTH - 1, False)])
def test_nesting_is_bounded(demo_show, depth, loads):
    """The document is one level, ``summary:``'s value the next: ``depth`` lists more."""
    path = demo_show.parent / EPISODE
    edit(path, "season: 1", "summary: " + "[" * depth + "x" + "]" * depth + "\nseason: 1")
    show = load_show(demo_show)
    if loads:  # (then refused as a list, not text: the nesting was read)
        with pytest.raises(ConfigError, match="expected text, got list"):
            load_episodes(show)
    else:
        with pytest.raises(ConfigError, match=f"more than {YAML_MAX_DEPTH} levels deep"):
            load_episodes(show)


def test_front_matter_at_the_size_limit_loads(demo_show):
    path = demo_show.parent / EPISODE

    def front_matter_bytes() -> int:
        return len(FRONT_MATTER_RE.match(path.read_text()).group(1).encode())

    edit(path, "season: 1", "#" + "x" * (YAML_MAX_BYTES - front_matter_bytes() - 2)
         + "\nseason: 1")  # a comment line
    assert front_matter_bytes() == YAML_MAX_BYTES
    assert load_episodes(load_show(demo_show))[0].season == 1
    edit(path, "season: 1", "#\nseason: 1")
    with pytest.raises(ConfigError, match=f"{YAML_MAX_BYTES + 2:,} bytes"):
        load_episodes(load_show(demo_show))


def test_values_in_messages_are_cut_to_a_readable_length():
    assert shown("a" * 1_000_000).startswith("'aaa") and len(shown("a" * 1_000_000)) < 100
    wide = [["x" * 1000] * 1000] * 1000  # a billion characters if printed whole
    assert len(shown(wide)) < 100
    assert shown("bell\x07 escape\x1b") == repr("bell\x07 escape\x1b")  # escaped, as repr


def test_a_long_bad_value_is_cut_in_the_message(demo_show):
    edit(demo_show, "language: fr", "language: " + "French" * 10_000)
    with pytest.raises(ConfigError) as caught:
        load_show(demo_show)
    assert "is not an ISO 639 language code" in str(caught.value)
    assert len(str(caught.value)) < 300


def test_description_and_summary_may_span_lines_other_text_may_not(demo_show):
    edit(demo_show, "description: >-", "description: |-")
    assert "\n" in load_show(demo_show).description
    edit(demo_show, "author: Studio Rencontres", 'author: "Studio\\nRencontres"')
    with pytest.raises(ConfigError, match="U\\+000A at character 7") as caught:
        load_show(demo_show)
    assert caught.value.field == "author"


@pytest.mark.parametrize(("text", "problem"), [
    ("plain text, a tab\tand all of Unicode: é 中 🎙", None),
    ("no\nnew line", "U+000A at character 3"),
    ("a\x00b", "U+0000 at character 2"),
    ("\x1b[31m", "U+001B at character 1"),
    ("del\x7f", "U+007F at character 4"),
    ("c1\x9b", "U+009B at character 3"),
    ("line\u2028separator", "U+2028 at character 5"),
])
def test_control_characters_are_named_by_code_point_and_place(text, problem):
    assert (control_problem(text) or None) == (problem and f"contains the control "
                                                           f"character {problem}")


@pytest.mark.parametrize(("text", "shown_as"), [
    ("Ana \x1b[1;31mred\x1b[0m Test", "Ana red Test"),
    ("title\x1b]0;owned\x07 after", "title after"),
    ("clip\x1b]52;c;cHduZWQ=\x1b\\board", "clipboard"),
    ("c1 csi\x9b2J and osc\x9d0;x\x9c end", "c1 csi and osc end"),
    ("back\rspace\x08 bell\x07", "backspace bell"),
    ("tabs\tand\nnewlines stay, é 中 too", "tabs\tand\nnewlines stay, é 中 too"),
])
def test_terminal_text_drops_escape_sequences_and_control_characters(text, shown_as):
    assert terminal_text(text) == shown_as


def _json_transcript(demo_show, document: str):
    folder = demo_show.parent / "episodes/001-sonia-mamin"
    (folder / "transcript.json").write_text(document, encoding="utf-8")
    edit(folder / "episode.md", "season: 1", "transcript: transcript.json\nseason: 1")
    return load_episodes(load_show(demo_show))[0]


def test_a_podcasting_2_json_transcript_loads(demo_show):
    episode = _json_transcript(demo_show, json.dumps({"version": "1.0.0", "segments": [
        {"speaker": "Ana", "startTime": 0, "endTime": 1.5, "body": "Bonjour"},
        {"startTime": 1.5, "endTime": 1.5, "body": ""}]}))
    assert episode.transcript.name == "transcript.json"


def test_a_json_transcript_error_names_the_segment_and_key(demo_show):
    with pytest.raises(ConfigError) as caught:
        _json_transcript(demo_show, '{"segments": [{"startTime": 0, "endTime": 1, "body": '
                                    '"a"}, {"startTime": 2, "endTime": NaN, "body": "b"}]}')
    assert caught.value.field == "transcript"
    assert "NaN is not a number JSON allows" in str(caught.value)
    with pytest.raises(ConfigError, match=r"segments\[1\]\.endTime: 1 is before"):
        _json_transcript(demo_show, '{"segments": [{"startTime": 0, "endTime": 1, "body": '
                                    '"a"}, {"startTime": 2, "endTime": 1, "body": "b"}]}')


def test_an_empty_entry_in_a_list_of_transcripts_is_named(demo_show):
    edit(demo_show.parent / "episodes/002-marc-olivier/episode.md",
         "transcript: transcript.vtt", "transcript: [transcript.vtt, null]")
    with pytest.raises(ConfigError) as caught:
        load_episodes(load_show(demo_show))
    assert caught.value.field == "transcript[1]"
    assert "an empty entry in the list of transcripts" in str(caught.value)
