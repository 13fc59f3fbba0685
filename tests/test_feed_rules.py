"""One set of feed rules: config validation, the feed builder and `validate` agree, and
`publish` / `feed --upload` never upload a feed `validate` finds errors in.

Apple's serial/trailer/bonus table is written out below as Apple states it ("A Podcaster's
Guide to RSS": `itunes:type` serial needs `itunes:episode` numbers; the `itunes:episodeType`
table of show, season and episode trailers and bonus episodes).  Each row is tried three
ways: as front matter, as an Episode handed to the builder, and as a feed handed to
`validate`.  Publishing runs the real command on a tiny mastered show; WebSub pings go to a
hub served on 127.0.0.1 that records them.
"""

from __future__ import annotations

import dataclasses
import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from feed_fixtures import NOW, Published, publish_demo
from lxml import etree
from test_publish import CHRISTMAS, edit_episode, master_tiny_show, tiny_show
from test_publish import NOW as PUBLISH_NOW

from podcast.cli import main
from podcast.config import load_episodes, load_show, split_front_matter
from podcast.errors import ConfigError, PodcastError
from podcast.feed import ITUNES_NS, PODCAST_NS, build_feed
from podcast.rules import episode_kind
from podcast.validate import validate

NS = {"itunes": ITUNES_NS, "podcast": PODCAST_NS}

# (show type, episode type, season, number) -> (accepted, what Apple makes of it)
APPLE_TABLE = [
    ("episodic", "full", None, None, True, "episode"),
    ("episodic", "full", 1, 2, True, "episode"),
    ("serial", "full", 1, 2, True, "episode"),
    ("serial", "full", None, 2, True, "episode"),
    ("serial", "full", None, None, False, "episode"),  # serial: every episode numbered
    ("serial", "full", 1, None, False, "episode"),
    ("serial", "trailer", None, None, True, "show trailer"),
    ("serial", "trailer", 1, None, True, "season trailer"),
    ("serial", "trailer", 1, 3, True, "episode trailer"),
    ("serial", "trailer", None, 3, True, "episode trailer"),
    ("serial", "bonus", None, None, True, "show bonus"),
    ("serial", "bonus", 2, None, True, "season bonus"),
    ("serial", "bonus", 2, 4, True, "episode bonus"),
    ("episodic", "trailer", None, None, True, "show trailer"),
    ("episodic", "bonus", 1, None, True, "season bonus"),
]
ROWS = [pytest.param(*row, id=f"{row[0]} {row[1]} season={row[2]} number={row[3]}")
        for row in APPLE_TABLE]
FIRST = "001-sonia-mamin"


def set_front_matter(config: Path, slug: str, **changes) -> None:
    """Set (or, with None, remove) front matter keys of an episode."""
    path = config.parent / "episodes" / slug / "episode.md"
    data, notes = split_front_matter(path.read_text(encoding="utf-8"), path)
    for key, value in changes.items():
        data.pop(key, None)
        if value is not None:
            data[key] = value
    front = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(f"---\n{front}---\n{notes}\n", encoding="utf-8")


@pytest.mark.parametrize(("show_type", "kind", "season", "number", "accepted", "meaning"),
                         ROWS)
def test_config_validation_follows_apples_table(demo_show: Path, show_type, kind, season,
                                                number, accepted, meaning):
    text = demo_show.read_text(encoding="utf-8").replace("type: episodic", f"type: {show_type}")
    demo_show.write_text(text, encoding="utf-8")
    set_front_matter(demo_show, FIRST, type=kind, season=season, number=number)
    show = load_show(demo_show)
    if accepted:
        episode = next(e for e in load_episodes(show) if e.slug == FIRST)
        assert (episode.type, episode.season, episode.number) == (kind, season, number)
        return
    with pytest.raises(ConfigError) as caught:
        load_episodes(show)
    assert caught.value.field == "number"
    assert f"{FIRST}/episode.md" in str(caught.value)
    assert "serial" in caught.value.message and "number: N" in caught.value.fix


@pytest.fixture
def published(demo_show: Path, mp3_cache: Path) -> Published:
    return publish_demo(demo_show, mp3_cache)


def as_row(pub: Published, show_type: str, kind: str, season, number):
    """The demo show and episodes with the first episode as in a row of the table."""
    show = dataclasses.replace(pub.show, type=show_type)
    episodes = [dataclasses.replace(e, type=kind, season=season, number=number)
                if e.slug == FIRST else e for e in pub.episodes]
    return show, episodes


@pytest.mark.parametrize(("show_type", "kind", "season", "number", "accepted", "meaning"),
                         ROWS)
def test_the_builder_follows_apples_table(published: Published, show_type, kind, season,
                                          number, accepted, meaning):
    show, episodes = as_row(published, show_type, kind, season, number)
    assert episode_kind(kind, season, number) == meaning
    if not accepted:
        with pytest.raises(PodcastError) as caught:
            build_feed(show, episodes, published.catalog, now=NOW)
        assert caught.value.field == "number" and FIRST in caught.value.file
        return
    channel = etree.fromstring(build_feed(show, episodes, published.catalog, now=NOW)
                               ).find("channel")
    item = channel.xpath(f"item[guid='{episodes[0].guid}']")[0]
    assert item.findtext("itunes:episodeType", namespaces=NS) == kind
    assert item.findtext("itunes:episode", namespaces=NS) == (str(number) if number else None)
    # Show and season trailers are also the channel's podcast:trailer (with its season).
    trailers = [(t.text, t.get("season")) for t in channel.findall("podcast:trailer", NS)]
    expected = [(episodes[0].title, str(season) if season else None)] \
        if meaning in ("show trailer", "season trailer") else []
    assert trailers == expected


@pytest.mark.parametrize(("show_type", "kind", "season", "number", "accepted", "meaning"),
                         ROWS)
def test_validate_follows_apples_table(published: Published, show_type, kind, season,
                                       number, accepted, meaning):
    # An episodic show accepts every row: build it so, then say the show is of the row's type.
    show, episodes = as_row(published, "episodic", kind, season, number)
    root = etree.fromstring(build_feed(show, episodes, published.catalog, now=NOW))
    root.find("channel/itunes:type", NS).text = show_type
    feed = published.public / "feed.xml"
    feed.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    errors = [f for f in validate(str(feed)) if f.level == "error"]

    if accepted:
        assert errors == []
    else:
        assert [(f.rule, episodes[0].title in f.message) for f in errors] == [
            ("show-type", True)]


# --------------------------------------------------------------------------- publish refuses


@pytest.fixture(scope="module")
def masters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test_publish's tiny show mastered once for the module; tests copy the masters."""
    return master_tiny_show(tmp_path_factory.mktemp("masters"), PUBLISH_NOW)


def add_soundbite_past_the_end(config: Path) -> None:
    """A soundbite the 6-second episode is too short for: only `validate` can tell."""
    edit_episode(config, FIRST, soundbites=[{"start": 5, "duration": 30, "title": "Trop"}])


@pytest.mark.audio
def test_publish_refuses_a_feed_with_errors_and_the_previous_feed_stays(tmp_path: Path,
                                                                       masters: Path):
    config = tiny_show(tmp_path, masters)
    runner = CliRunner()
    args = ["--config", str(config), "publish", "--now", PUBLISH_NOW.isoformat()]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    feed = tmp_path / "public" / "feed.xml"
    before = feed.read_bytes()

    add_soundbite_past_the_end(config)
    refused = runner.invoke(main, args)

    assert refused.exit_code == 1, refused.output
    assert "the new feed has 1 error(s), so it was not uploaded" in refused.output
    assert "error: [podcast-tags]" in refused.output and "ends after the episode" in \
        refused.output
    assert "fix:" in refused.output
    assert feed.read_bytes() == before
    assert "soundbite" not in feed.read_text(encoding="utf-8")


@pytest.mark.audio
def test_feed_upload_refuses_it_too_and_publishes_once_it_is_fixed(tmp_path: Path,
                                                                  masters: Path):
    config = tiny_show(tmp_path, masters)
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(config), "publish", "--now",
                                PUBLISH_NOW.isoformat()]).exit_code == 0
    feed = tmp_path / "public" / "feed.xml"
    before = feed.read_bytes()
    add_soundbite_past_the_end(config)
    upload = ["--config", str(config), "feed", "--upload", "--now", PUBLISH_NOW.isoformat()]

    refused = runner.invoke(main, upload)
    assert refused.exit_code == 1 and "not uploaded" in refused.output
    assert feed.read_bytes() == before

    edit_episode(config, FIRST, soundbites=[{"start": 1, "duration": 2, "title": "Court"}])
    fixed = runner.invoke(main, upload)
    assert fixed.exit_code == 0, fixed.output
    bite = etree.fromstring(feed.read_bytes()).find(".//podcast:soundbite", NS)
    assert (bite.get("startTime"), bite.get("duration"), bite.text) == ("1.0", "2.0", "Court")


# --------------------------------------------------------------------------- WebSub


class Hub:
    """A WebSub hub on 127.0.0.1 that records each POST and answers ``status``."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.pings: list[tuple[str, dict[str, list[str]]]] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                hub.pings.append((self.headers["Content-Type"], urllib.parse.parse_qs(body)))
                self.send_response(hub.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"


@contextmanager
def running(hub: Hub) -> Iterator[Hub]:
    thread = threading.Thread(target=hub.server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield hub
    finally:
        hub.server.shutdown()
        hub.server.server_close()
        thread.join()


def with_hubs(config: Path, *hubs: str) -> None:
    with config.open("a", encoding="utf-8") as stream:
        stream.write("websub:\n" + "".join(f"  - {hub}\n" for hub in hubs))


@pytest.mark.audio
def test_each_feed_upload_pings_the_hub_and_an_unchanged_feed_does_not(tmp_path: Path,
                                                                      masters: Path):
    config = tiny_show(tmp_path, masters)
    runner = CliRunner()
    with running(Hub()) as hub:
        with_hubs(config, hub.url)
        feed_url = load_show(config).feed_url
        ping = ("application/x-www-form-urlencoded",
                {"hub.mode": ["publish"], "hub.url": [feed_url]})

        published = runner.invoke(main, ["--config", str(config), "publish", "--now",
                                         PUBLISH_NOW.isoformat()])
        assert published.exit_code == 0, published.output
        assert hub.pings == [ping]
        assert f"pinged WebSub hub {hub.url}" in published.output
        root = etree.fromstring((tmp_path / "public" / "feed.xml").read_bytes())
        assert root.find("channel/{http://www.w3.org/2005/Atom}link[@rel='hub']"
                         ).get("href") == hub.url

        again = runner.invoke(main, ["--config", str(config), "publish", "--now",
                                     PUBLISH_NOW.isoformat()])
        assert again.exit_code == 0 and hub.pings == [ping]  # nothing changed: no ping

        # The nightly build that releases the Christmas episode uploads a new feed: a ping.
        nightly = runner.invoke(main, ["--config", str(config), "feed", "--upload", "--now",
                                       CHRISTMAS.isoformat()])
        assert nightly.exit_code == 0, nightly.output
        assert hub.pings == [ping, ping]


@pytest.mark.audio
def test_a_hub_that_fails_is_a_warning_not_a_failure(tmp_path: Path, masters: Path):
    config = tiny_show(tmp_path, masters)
    closed = Hub()  # bound, then closed: nothing answers on its port
    closed.server.server_close()
    with running(Hub(status=500)) as broken, running(Hub()) as good:
        with_hubs(config, broken.url, closed.url, good.url)
        done = CliRunner().invoke(main, ["--config", str(config), "publish", "--now",
                                         PUBLISH_NOW.isoformat()])

        assert done.exit_code == 0, done.output
        assert f"warning: WebSub hub {broken.url}: answered HTTP 500" in done.output
        assert f"warning: WebSub hub {closed.url}: could not be reached" in done.output
        assert len(broken.pings) == 1 and len(good.pings) == 1
        assert (tmp_path / "public" / "feed.xml").is_file()
