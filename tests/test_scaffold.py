"""`podcast init` and `podcast new`: files that validate as written, and no overwriting."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from podcast.cli import main
from podcast.config import load_episode, load_show
from podcast.errors import ConfigError
from podcast.scaffold import default_publication, episode_slug, init_show, new_episode

REPO = Path(__file__).resolve().parent.parent


def test_init_creates_a_valid_show_with_apple_sized_artwork(tmp_path):
    created = init_show(tmp_path / "show", title="Salons & Rencontres : l'été")
    config, artwork, episodes = created
    assert [p.name for p in created] == ["podcast.yaml", "artwork.jpg", "episodes"]
    assert episodes.is_dir()

    show = load_show(config)
    assert show.title == "Salons & Rencontres : l'été"
    assert show.image == artwork.resolve()
    with Image.open(artwork) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (1400, 1400))
    assert "#" in config.read_text()  # commented for the newcomer


def test_init_refuses_to_overwrite_a_show(tmp_path):
    init_show(tmp_path, title="First")
    before = (tmp_path / "podcast.yaml").read_bytes()
    with pytest.raises(ConfigError) as caught:
        init_show(tmp_path, title="Second")
    assert "already exists" in str(caught.value)
    assert (tmp_path / "podcast.yaml").read_bytes() == before


def test_new_numbers_the_episode_and_folds_accents_into_the_slug(demo_show):
    show = load_show(demo_show)  # the demo has 001-, 002-, 003-... folders
    number = 1 + max(int(folder.name[:3]) for folder in show.episodes_dir.iterdir())
    path = new_episode(show, "Été phygital : où en est-on ?", ["Sonia Mamin", "Éric Noël"],
                       published=datetime(2027, 1, 5, 7, tzinfo=UTC))
    assert path.parent.name == f"{number:03d}-ete-phygital-ou-en-est-on"
    assert path.name == "episode.md"

    # Drop the recording in, and the episode is valid as scaffolded.
    shutil.copy(REPO / "episodes" / "001-sonia-mamin" / "interview.mp3",
                path.parent / "interview.wav")
    episode = load_episode(show, path.parent)
    assert episode.title == "Été phygital : où en est-on ?"
    assert episode.number == number
    assert episode.published == datetime(2027, 1, 5, 7, tzinfo=UTC)
    assert [(g.name, g.role) for g in episode.guests] == [("Sonia Mamin", "guest"),
                                                           ("Éric Noël", "guest")]


def test_new_refuses_to_overwrite_and_needs_a_title(tmp_path):
    init_show(tmp_path, title="Show")
    show = load_show(tmp_path / "podcast.yaml")
    (show.episodes_dir / "001-hello").write_text("a stray file, not an episode folder")
    with pytest.raises(ConfigError) as caught:
        new_episode(show, "Hello", [])
    assert "already exists" in str(caught.value)
    assert (show.episodes_dir / "001-hello").read_text().startswith("a stray file")
    with pytest.raises(ConfigError):
        new_episode(show, "   ", [])


def test_slugs_are_ascii_and_cut_at_a_word():
    assert episode_slug(3, "Été phygital") == "003-ete-phygital"
    assert episode_slug(12, "Ça va ? Oui !") == "012-ca-va-oui"
    assert episode_slug(1, "日本語") == "001-episode"
    long = episode_slug(7, "word " * 40)
    assert len(long) <= 4 + 60 and not long.endswith("-")


def test_default_publication_is_now_to_the_minute_in_utc():
    paris = timezone(timedelta(hours=1))
    assert default_publication(datetime(2026, 11, 23, 8, 59, 42, 7, tzinfo=paris)) == datetime(
        2026, 11, 23, 7, 59, tzinfo=UTC)


def test_a_new_episode_is_live_now_unless_given_a_date(tmp_path):
    init_show(tmp_path, title="Show")
    show = load_show(tmp_path / "podcast.yaml")
    before = datetime.now(UTC)
    path = new_episode(show, "Hello", [])
    shutil.copy(REPO / "episodes" / "001-sonia-mamin" / "interview.mp3",
                path.parent / "interview.wav")
    episode = load_episode(show, path.parent)
    assert before - timedelta(minutes=1) < episode.published <= datetime.now(UTC)
    assert episode.is_live(datetime.now(UTC))
    later = new_episode(show, "Later", [], published=datetime(2099, 1, 5, 7, tzinfo=UTC))
    assert "published: 2099-01-05T07:00:00+00:00" in later.read_text()


def test_new_says_where_the_recording_goes_and_when_a_date_schedules_it(tmp_path):
    init_show(tmp_path, title="Show")
    config = str(tmp_path / "podcast.yaml")
    done = CliRunner().invoke(main, ["--config", config, "new", "Hello"])
    assert done.exit_code == 0, done.output
    folder = tmp_path / "episodes" / "001-hello"
    assert f"next: put the recording in {folder / 'interview.wav'}" in done.output
    assert "then run `podcast publish`" in done.output and "scheduled" not in done.output
    done = CliRunner().invoke(main, ["--config", config, "new", "Later", "--published",
                                     "2099-01-05T07:00:00+00:00"])
    assert done.exit_code == 0, done.output
    assert ("scheduled: it goes live at the first publish after 2099-01-05T07:00:00+00:00"
            in done.output)


def test_the_commands_scaffold_from_the_command_line(tmp_path):
    runner = CliRunner()
    done = runner.invoke(main, ["init", str(tmp_path), "--title", "My Show"])
    assert done.exit_code == 0, done.output
    assert "created" in done.output
    config = str(tmp_path / "podcast.yaml")
    done = runner.invoke(main, ["--config", config, "new", "Première", "--guest", "Ana"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "episodes" / "001-premiere" / "episode.md").is_file()
    again = runner.invoke(main, ["init", str(tmp_path)])
    assert again.exit_code == 1 and "already exists" in again.output
