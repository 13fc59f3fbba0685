"""The README documents the config as the code reads it: every key `podcast.yaml` and
`episode.md` accept is named in the README's tables, and no key there is one the code refuses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from podcast import config

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _section(heading: str) -> str:
    start = README.index(f"\n## {heading}")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def _table(section: str) -> dict[str, str]:
    """``{key: meaning}`` of a two-column table; a row naming several keys gives each."""
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2 or cells[0] in ("key", "---"):
            continue
        for key in re.findall(r"`([a-z_]+)`", cells[0]):
            rows[key] = " | ".join(cells[1:])
    return rows


SHOW = _table(_section("The show: `podcast.yaml`"))
EPISODE = _table(_section("An episode: `episodes/<slug>/episode.md`"))


def _named(text: str) -> set[str]:
    return set(re.findall(r"`?\b([a-z_]+)\b`?", text))


def test_the_show_table_names_every_key_of_podcast_yaml_and_no_other():
    assert set(SHOW) == config.SHOW_KEYS


def test_the_episode_table_names_every_front_matter_key_and_no_other():
    assert set(EPISODE) == config.EPISODE_KEYS


@pytest.mark.parametrize(("row", "keys"), [
    ("audio", config.AUDIO_KEYS),
    ("targets", config.TARGET_KEYS),
    ("hosts", config.PERSON_KEYS),
])
def test_nested_keys_are_named_in_their_row(row: str, keys: set[str]):
    assert keys <= _named(SHOW[row])


def test_chapter_keys_are_named_in_the_episode_table():
    assert config.CHAPTER_KEYS <= _named(EPISODE["chapters"])


def test_required_keys_are_said_to_be_required():
    assert "required" in SHOW["title"] and "required" in EPISODE["title"]
    assert set(config.REQUIRED_SHOW_KEYS) <= set(SHOW)
