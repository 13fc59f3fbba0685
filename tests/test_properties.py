"""Property-based tests (hypothesis): rules that must hold for *every* input, not just examples.

- The front-matter parser returns exactly what was written, whatever the text, line endings
  or byte-order mark, and any text at all either parses or gives a clear ConfigError.
- ``load_episode`` keeps any printable title, guest name and chapter list as typed.
- The log parsers and IAB counting rules: see the second half of this file.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from podcast.config import load_episode, load_show, split_front_matter
from podcast.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
EPISODE_MD = Path("episode.md")

# Text a user can type in a title: any printable character, including quotes, colons,
# '#', '---', emoji and right-to-left scripts (control characters are rejected on purpose).
printable = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029\x85"),
    min_size=1, max_size=60,
).map(str.strip).filter(bool)

# Scalar YAML values that survive ``safe_dump`` -> ``safe_load`` unchanged.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**9, 10**9), printable,
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
front_matter = st.dictionaries(
    st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True),
    st.one_of(scalars, st.lists(scalars, max_size=4)),
    max_size=8,
)
body_text = st.text(max_size=300)


def _document(data: dict, body: str) -> str:
    return "---\n" + yaml.safe_dump(data, allow_unicode=True, sort_keys=False) + "---\n" + body


# --- the front-matter parser ---------------------------------------------------------------


@given(data=front_matter, body=body_text)
def test_front_matter_round_trips_whatever_was_written(data: dict, body: str) -> None:
    parsed, notes = split_front_matter(_document(data, body), EPISODE_MD)
    assert parsed == data
    assert notes == body.strip()


@given(data=front_matter, body=body_text)
def test_line_endings_and_byte_order_mark_change_nothing(data: dict, body: str) -> None:
    assume("\r" not in body)
    unix = split_front_matter(_document(data, body), EPISODE_MD)
    windows = split_front_matter("\ufeff" + _document(data, body).replace("\n", "\r\n"),
                                 EPISODE_MD)
    assert windows[0] == unix[0]
    assert windows[1].replace("\r\n", "\n") == unix[1]


@given(st.text(max_size=400))
def test_any_text_parses_or_gives_a_clear_config_error(text: str) -> None:
    try:
        data, notes = split_front_matter(text, EPISODE_MD)
    except ConfigError as exc:
        assert str(EPISODE_MD) in str(exc)  # the message names the file
    else:
        assert isinstance(data, dict) and isinstance(notes, str)


@given(year=st.integers(1000, 9999), month=st.integers(0, 99), day=st.integers(0, 99))
def test_impossible_dates_in_front_matter_are_config_errors(year: int, month: int,
                                                            day: int) -> None:
    """YAML turns ``2026-13-45`` into a date and Python rejects it: that must not escape
    as a raw ValueError traceback."""
    text = f"---\ntitle: x\npublished: {year}-{month:02d}-{day:02d}\n---\nnotes\n"
    try:
        data, _ = split_front_matter(text, EPISODE_MD)
    except ConfigError as exc:
        assert "published" in str(exc) or "YAML" in str(exc)
    else:
        assert "published" in data


@given(st.sampled_from([
    '!!python/object/apply:os.system ["touch {marker}"]',
    '!!python/object/new:subprocess.check_output [["touch", "{marker}"]]',
    "!!python/name:os.system",
]))
@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_yaml_tags_never_run_code(tag: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        marker = Path(folder) / "pwned"
        text = f"---\ntitle: {tag.format(marker=marker)}\n---\n"
        with pytest.raises(ConfigError):
            split_front_matter(text, EPISODE_MD)
        assert not marker.exists()


# --- load_episode -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def show_dir() -> Path:
    """One private copy of the demo show for the whole module (hypothesis runs many times)."""
    folder = Path(tempfile.mkdtemp(prefix="props-show-"))
    shutil.copytree(REPO / "assets", folder / "assets")
    shutil.copy(REPO / "podcast.yaml", folder / "podcast.yaml")
    (folder / "episodes").mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


chapter_starts = st.lists(st.integers(0, 5 * 3600), min_size=0, max_size=6, unique=True).map(
    sorted)


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


@given(title=printable, guests=st.lists(printable, max_size=3), starts=chapter_starts,
       chapter_titles=st.lists(printable, min_size=6, max_size=6), notes=body_text)
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_load_episode_keeps_what_the_producer_typed(show_dir: Path, title: str,
                                                    guests: list[str], starts: list[int],
                                                    chapter_titles: list[str],
                                                    notes: str) -> None:
    show = load_show(show_dir / "podcast.yaml")
    folder = Path(tempfile.mkdtemp(dir=show_dir / "episodes"))
    episode_dir = folder.parent / "ep-1"
    try:
        shutil.rmtree(episode_dir, ignore_errors=True)
        folder.rename(episode_dir)
        (episode_dir / "interview.wav").write_bytes(b"RIFF")
        data = {
            "title": title,
            "published": "2026-11-24T07:00:00+01:00",
            "audio": "interview.wav",
            "guests": [{"name": name} for name in guests],
            "chapters": [{"start": _clock(s), "title": t}
                         for s, t in zip(starts, chapter_titles, strict=False)],
        }
        (episode_dir / "episode.md").write_text(_document(data, notes), encoding="utf-8")
        episode = load_episode(show, episode_dir)
    finally:
        shutil.rmtree(episode_dir, ignore_errors=True)
    assert episode.title == title
    assert [g.name for g in episode.guests] == guests
    assert all(g.role == "guest" for g in episode.guests)
    assert [c.start for c in episode.chapters] == [float(s) for s in starts]
    assert [c.title for c in episode.chapters] == chapter_titles[: len(starts)]
    assert episode.notes == notes.strip()
