"""A scheduled episode is checked when it is published, not when it goes live.

The tiny show of test_publish (its third episode scheduled for Christmas Eve) is published
to a folder with the real command.  Artwork Apple refuses (a 1-bit PNG, made here with
Pillow) on the scheduled episode makes `publish` fail at once, naming the episode and its
date, before anything is uploaded.  With good art, the nightly `feed --upload --now` after
its time makes it public.  A release that fails (the feed that lists it has an error, or the
store fails the copy) leaves its media held back and the manifest unchanged, and the next
night releases it.

What the files, keys and feed hold is read from the folder, with Pillow and feedparser.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from PIL import Image
from test_publish import CHRISTMAS, NOW, edit_episode, master_tiny_show, tiny_show

from podcast.cli import main
from podcast.errors import StorageError
from podcast.storage import FileStore

pytestmark = pytest.mark.audio

SCHEDULED = "003-claire-dubois"


@pytest.fixture(scope="module")
def masters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny show mastered once for the module; tests copy the master cache."""
    return master_tiny_show(tmp_path_factory.mktemp("masters"), NOW)


def podcast(config: Path, *args: str):
    """One `podcast` command as the CLI runs it: (exit code, its output)."""
    done = CliRunner().invoke(main, ["--config", str(config), *args])
    return done.exit_code, done.output


def files(folder: Path) -> dict[str, str]:
    """{path relative to ``folder``: sha256} of every file under it."""
    if not folder.is_dir():
        return {}
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in folder.rglob("*") if path.is_file()}


def give_art(config: Path, mode: str) -> Path:
    """A 1400 px square PNG in ``mode`` as the scheduled episode's art; its path."""
    path = config.parent / "episodes" / SCHEDULED / "art.png"
    colour = 1 if mode == "1" else (30, 90, 160)
    Image.new(mode, (1400, 1400), colour).save(path, format="PNG")
    with Image.open(path) as image:  # what Apple will see: the mode as written
        assert image.mode == mode and image.format == "PNG"
    edit_episode(config, SCHEDULED, image="art.png")
    return path


def titles(feed: Path) -> list[str]:
    parsed = feedparser.parse(feed.read_bytes())
    assert not parsed.bozo, parsed.bozo_exception
    return [entry.title for entry in parsed.entries]


def public_keys(public: Path) -> set[str]:
    return {key for key in files(public) if not key.startswith(".podcast/")}


def test_art_apple_refuses_on_a_scheduled_episode_fails_publish_now(tmp_path: Path,
                                                                    masters: Path):
    config = tiny_show(tmp_path, masters)
    public = tmp_path / "public"
    give_art(config, "1")

    code, output = podcast(config, "publish", "--all", "--now", NOW.isoformat())

    assert code == 1, output
    assert SCHEDULED in output and "2026-12-24" in output  # the episode and its date
    assert "colour mode 1" in output and "RGB" in output
    assert files(public) == {}  # refused before anything was uploaded, public or held

    # With good art it is published held back, and the nightly build after its time
    # makes it public, art included.
    art = give_art(config, "RGB")
    code, output = podcast(config, "publish", "--all", "--now", NOW.isoformat())
    assert code == 0, output
    assert len(titles(public / "feed.xml")) == 2
    assert not [key for key in public_keys(public) if SCHEDULED in key]

    code, output = podcast(config, "feed", "--upload", "--now", CHRISTMAS.isoformat())
    assert code == 0, output
    assert len(titles(public / "feed.xml")) == 3
    (released_art,) = [key for key in public_keys(public)
                       if key.endswith(".png") and SCHEDULED in key]
    assert files(public)[released_art] == hashlib.sha256(art.read_bytes()).hexdigest()
    assert not files(public / ".podcast" / "staged")


def test_a_live_episode_with_the_same_art_is_refused_the_same_way(tmp_path: Path,
                                                                  masters: Path):
    config = tiny_show(tmp_path, masters)
    give_art(config, "1")
    code, output = podcast(config, "publish", "--all", "--now", CHRISTMAS.isoformat())
    assert code == 1, output
    assert "colour mode 1" in output and "not uploaded" in output
    assert not (tmp_path / "public" / "feed.xml").exists()


def _published_and_held(tmp_path: Path, masters: Path) -> tuple[Path, Path, dict, dict]:
    """The show published before Christmas: (config, public folder, its files, the held
    files)."""
    config = tiny_show(tmp_path, masters)
    code, output = podcast(config, "publish", "--now", NOW.isoformat())
    assert code == 0, output
    public = tmp_path / "public"
    held = files(public / ".podcast" / "staged")
    assert held and all(SCHEDULED in key for key in held)
    return config, public, files(public), held


def _assert_nothing_released(public: Path, before: dict, held: dict) -> None:
    assert files(public) == before  # manifest, feed, pages and held copies unchanged
    assert files(public / ".podcast" / "staged") == held
    assert not [key for key in public_keys(public) if SCHEDULED in key]


def test_a_release_whose_feed_fails_its_checks_leaves_everything_held(tmp_path: Path,
                                                                     masters: Path):
    config, public, before, held = _published_and_held(tmp_path, masters)
    # Before its time, a soundbite the 6-second episode is too short for: only the feed
    # check can tell, so the release must not happen.
    edit_episode(config, SCHEDULED, soundbites=[{"start": 5, "duration": 30, "title": "Trop"}])

    code, output = podcast(config, "feed", "--upload", "--now", CHRISTMAS.isoformat())

    assert code == 1, output
    assert SCHEDULED in output and "2026-12-24" in output and "ends after the episode" in output
    _assert_nothing_released(public, before, held)

    # Corrected, the next night releases it.
    edit_episode(config, SCHEDULED, soundbites=[{"start": 1, "duration": 2, "title": "Court"}])
    code, output = podcast(config, "feed", "--upload", "--now", CHRISTMAS.isoformat())
    assert code == 0, output
    assert len(titles(public / "feed.xml")) == 3
    assert {key.removeprefix(".podcast/staged/") for key in held} <= public_keys(public)
    assert not files(public / ".podcast" / "staged")


def test_a_release_the_store_fails_leaves_everything_held(tmp_path: Path, masters: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    config, public, before, held = _published_and_held(tmp_path, masters)

    def failing_copy(self, source: str, key: str, **_kwargs):  # the injected fault
        raise StorageError(f"copy {source} -> {key} failed: disk full")

    with monkeypatch.context() as patch:
        patch.setattr(FileStore, "copy", failing_copy)
        code, output = podcast(config, "feed", "--upload", "--now", CHRISTMAS.isoformat())
    assert code == 1 and "disk full" in output, output
    _assert_nothing_released(public, before, held)

    code, output = podcast(config, "feed", "--upload", "--now", CHRISTMAS.isoformat())
    assert code == 0, output
    assert len(titles(public / "feed.xml")) == 3
    assert not files(public / ".podcast" / "staged")
