"""A producer's first show: the README's "Your first show" walkthrough run as written from a
regular install, and the messages on that path (`new`, a scheduled episode's publish,
`master`'s target in the user's terms, `publish` reusing what `master` made).
"""

from __future__ import annotations

import re
import shutil
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import feedparser
import pytest
import yaml
from audio_fixtures import alternating, ebur128, interview, run_ffmpeg
from click.testing import CliRunner
from s3_servers import free_port, serving
from test_install import Install, run

from podcast.cli import main
from podcast.publish import wait_in_words

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"

def invoke(*args: str) -> str:
    """``podcast ARGS`` in this process; fails the test with its output on a non-zero exit."""
    done = CliRunner().invoke(main, list(args))
    assert done.exit_code == 0, done.output
    return done.output


# --- waits in words ---------------------------------------------------------------------------


@pytest.mark.parametrize(("wait", "words"), [
    (timedelta(days=2, hours=3, minutes=59, seconds=59), "2 days 3 h"),
    (timedelta(days=1, seconds=30), "1 day"),
    (timedelta(hours=5, minutes=12), "5 h 12 min"),
    (timedelta(hours=1), "1 h"),
    (timedelta(minutes=59, seconds=59), "59 min"),
    (timedelta(seconds=59), "under a minute"),
])
def test_a_wait_reads_to_the_minute(wait: timedelta, words: str):
    assert wait_in_words(wait) == words


# --- master, then publish: the messages and the reuse -----------------------------------------


@dataclass(frozen=True)
class FirstShow:
    """A show made by ``podcast init`` with one episode made by ``podcast new`` and a
    generated 24 s interview in it."""

    config: Path
    folder: Path  # the episode's folder

    @property
    def slug(self) -> str:
        return self.folder.name


@pytest.fixture(scope="module")
def first_show(tmp_path_factory: pytest.TempPathFactory) -> FirstShow:
    root = tmp_path_factory.mktemp("first")
    invoke("init", str(root), "--title", "Engines and Poetry")
    config = root / "podcast.yaml"
    invoke("--config", str(config), "new", "Ada: engines and poetry", "--guest", "Ada")
    (folder,) = (root / "episodes").iterdir()
    interview(folder / "interview.wav", alternating(24.0, 6.0), {"host": -20, "guest": -26})
    return FirstShow(config, folder)


@pytest.mark.audio
def test_master_prints_its_target_as_set_and_publish_uploads_that_master(
        first_show: FirstShow, tmp_path: Path):
    made = tmp_path / "master.mp3"
    said = invoke("--config", str(first_show.config), "master", first_show.slug,
                  "-o", str(made))

    # The init'd show: loudness -16, mono.  A plain meter reads a mono master 3 LU lower.
    meter = ebur128(made)["lufs"]
    played = re.search(r"wrote \S+: (-?\d+\.\d) LUFS \(target -16\), ", said)
    assert played, said
    assert float(played.group(1)) == pytest.approx(meter + 3.0, abs=0.11)
    assert abs(meter + 3.0 - (-16)) <= 0.5  # on target, as the user set it
    assert (f"  mono: players send it to both speakers, so it plays 3 LU louder than a plain "
            f"meter (`podcast loudness`) reads it: {float(played.group(1)) - 3:.1f} LUFS"
            in said)
    assert "-18.9 LUFS (target" not in said and "-19.0 LUFS (target" not in said
    assert "`podcast publish` uploads this master as it is" in said

    published = invoke("--config", str(first_show.config), "publish")
    assert "mastering" not in published, published
    assert "feed: 1 episode(s) live" in published
    public = first_show.config.parent / "public"
    (uploaded,) = (public / "media").glob(f"{first_show.slug}-*.mp3")
    assert uploaded.read_bytes() == made.read_bytes()


@pytest.mark.audio
def test_a_scheduled_episode_says_when_it_goes_live_and_how_to_release_it_now(
        first_show: FirstShow):
    # A fixed clock an hour ahead (the first episode is live by then), at 30 s past a minute.
    now = (datetime.now(UTC) + timedelta(hours=1)).replace(second=30, microsecond=0)
    when = now.replace(second=0) + timedelta(days=2, hours=4, minutes=4)  # 2 d 4 h 3.5 min
    paris = when.astimezone(timezone(timedelta(hours=1))).isoformat()
    said = invoke("--config", str(first_show.config), "new", "Later", "--published", paris)
    assert f"scheduled: it goes live at the first publish after {paris}" in said
    later = next(p for p in first_show.folder.parent.iterdir() if p.name.endswith("-later"))
    shutil.copy(first_show.folder / "interview.wav", later / "interview.wav")

    said = invoke("--config", str(first_show.config), "publish", "--now", now.isoformat())
    assert f"1 scheduled ({later.name})" in said
    assert (f"{later.name} goes live {when:%Y-%m-%d %H:%M} UTC (in 2 days 4 h), at the first "
            "`podcast publish` or `podcast feed --upload` after that time; to release it now, "
            f"set `published: {now:%Y-%m-%dT%H:%M}:00+00:00` in "
            f"episodes/{later.name}/episode.md and run `podcast publish`") in said
    feed = feedparser.parse((first_show.config.parent / "public" / "feed.xml").read_bytes())
    assert [entry.title for entry in feed.entries] == ["Ada: engines and poetry"]


# --- the README walkthrough, as written, from a regular install ------------------------------
# Its blocks follow a `<!-- first-show[: kind] -->` line: shell commands (run as written, one
# bash per block, each in the folder the one before left), the `podcast.yaml` keys to fill
# in, the install commands (the `installed` fixture's wheel in a fresh venv is `pip install
# .`) and `podcast serve`.

MARKED = re.compile(r"^<!-- first-show(?:: ([\w.]+))? -->\n```\w*\n(.*?)^```$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    kind: str  # "shell", "install", "podcast.yaml" or "serve"
    text: str


def walkthrough(readme: str) -> list[Block]:
    """The marked blocks of the README's "Your first show" section, in order."""
    start = readme.index("\n## Your first show\n")
    section = readme[start:readme.index("\n## ", start + 1)]
    return [Block(kind or "shell", text) for kind, text in MARKED.findall(section)]


def test_the_walkthrough_blocks_are_found_in_order():
    kinds = [block.kind for block in walkthrough(README.read_text(encoding="utf-8"))]
    assert kinds == ["install", "shell", "podcast.yaml", "shell", "shell", "serve"]


def fill_in(config: Path, keys: str) -> None:
    """What the producer does by hand: the README's keys replace the scaffolded ones."""
    values = yaml.safe_load(keys)
    show = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert set(values) <= set(show), "the README names a key podcast init does not write"
    config.write_text(yaml.safe_dump({**show, **values}, allow_unicode=True, sort_keys=False),
                      encoding="utf-8")


def recording(home: Path, commands: str) -> Path:
    """The recording the walkthrough copies (``cp ~/X ...``): the demo's espeak-ng interview
    as a 48 kHz stereo WAV, where it says."""
    match = re.search(r"^cp ~/(\S+) ", commands, re.M)
    assert match, "the walkthrough copies no recording from ~"
    path = home / match.group(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg("-i", str(REPO / "episodes" / "003-claire-dubois" / "interview.flac"),
               "-ar", "48000", "-ac", "2", "-c:a", "pcm_s16le", str(path))
    return path


def fetch(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:
        return answer.read()


@pytest.mark.slow
def test_the_readme_walkthrough_ends_with_a_live_episode(installed: Install, tmp_path: Path):
    blocks = walkthrough(README.read_text(encoding="utf-8"))
    assert "pip install ." in blocks[0].text  # what the `installed` fixture did
    home, here = tmp_path / "home", tmp_path / "work"
    here.mkdir()
    env = installed.env(HOME=str(home))
    recording(home, "\n".join(b.text for b in blocks if b.kind == "shell"))
    took, said = [], []
    for block in blocks[1:-1]:
        started = time.monotonic()
        if block.kind == "podcast.yaml":
            fill_in(here / "podcast.yaml", block.text)
            continue
        # `pwd` at the end: the next block starts where this one left (a `cd`).
        done = run(["bash", "-e", "-c", block.text + "\npwd > \"$1\"", "walkthrough",
                    tmp_path / "cwd"], cwd=here, env=env)
        here = Path((tmp_path / "cwd").read_text().strip())
        took.append(round(time.monotonic() - started, 1))
        said.append(done.stdout)
    print("walkthrough blocks took (s):", took)  # the README's figures (`pytest -s`)
    assert "created my-show/podcast.yaml" in said[0]
    assert "next: put the recording in episodes/001-ada-lovelace-engines-and-poetry/" in said[1]
    assert "feed: 1 episode(s) live" in said[2] and "scheduled" not in said[2]

    serve = blocks[-1].text.strip()
    assert serve == "podcast serve"
    port = free_port()  # the README's 8000 may be taken on a shared machine
    log = tmp_path / "serve.out"
    with serving([*serve.split(), "--port", str(port)], port, log, cwd=here, env=env):
        feed = feedparser.parse(fetch(port, "/feed.xml"))
        assert not feed.bozo, feed.bozo_exception
        assert feed.feed.title == "Engines and Poetry" and feed.feed.author == "Jane Host"
        (entry,) = feed.entries
        assert entry.title == "Ada Lovelace: engines and poetry"
        enclosure = entry.enclosures[0]
        assert enclosure.href.startswith("http://127.0.0.1:8000/media/001-ada-lovelace-")
        media = fetch(port, urllib.parse.urlsplit(enclosure.href).path)
        assert len(media) == int(enclosure.length) and media[:3] == b"ID3"
        index = fetch(port, "/").decode("utf-8")
        assert "Ada Lovelace: engines and poetry" in index
        assert 'href="episodes/001-ada-lovelace-engines-and-poetry.html"' in index
    assert "serving " in log.read_text()
