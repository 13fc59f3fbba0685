"""Pages never fetch audio before the listener presses play (issue 19).

SPEC, counting rules: requests a web page's player makes before the listener pressed play
never count, and the project's own pages never pre-load audio.  The demo show is published
to a folder and served by `podcast serve` with its access log; headless Chromium opens the
pages as listeners do.  What left the browser is read twice, independently: the request
lines of the serve log (written once the server has stopped) and Chromium's own network
events.  Expected counts come from the visits the test makes, never from the stats code.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from feed_fixtures import publish_demo
from s3_servers import free_port
from stats_fixtures import GOOGLEBOT, podcast_cli

REPO = Path(__file__).resolve().parent.parent
PODCAST = str(Path(sys.executable).with_name("podcast"))
NOW = "2026-12-01T00:00:00+00:00"
MARC, SONIA = "002-marc-olivier", "001-sonia-mamin"
#: One request line of the combined log `podcast serve` writes.
LINE = re.compile(r'"(?P<method>\S+) (?P<target>\S+) [^"]*" (?P<status>\d+) (?P<sent>\d+) '
                  r'"[^"]*" "(?P<agent>[^"]*)"$')


def browser_agent(n: int) -> str:
    """A desktop Chrome user agent; ``n`` makes a distinct listener (one IP here)."""
    return (f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/120.0.{n}.0 Safari/537.36")


# --------------------------------------------------------------------------- the show


@dataclass
class Show:
    """The demo show published to ``public/`` (pages included), and its media keys."""

    config: Path
    port: int
    media: dict[str, str]  # slug -> storage key of the MP3

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def show(tmp_path_factory, mp3_cache: Path) -> Show:
    from podcast.storage import open_store, write_catalog

    folder = tmp_path_factory.mktemp("preload")
    for name in ("assets", "episodes"):
        shutil.copytree(REPO / name, folder / name)
    port = free_port()
    text = (REPO / "podcast.yaml").read_text(encoding="utf-8")
    config = folder / "podcast.yaml"
    config.write_text(re.sub(r"(?m)^base_url: .*$", f"base_url: http://127.0.0.1:{port}",
                             text), encoding="utf-8")
    published = publish_demo(config, mp3_cache)
    write_catalog(open_store(published.show.storage, published.show.root), published.catalog)
    podcast_cli(config, "feed", "--upload", "--now", NOW)
    return Show(config=config, port=port,
                media={slug: m.key for slug, m in published.catalog.media.items()})


@dataclass
class Server:
    """`podcast serve` for ``show``, logging to ``log``."""

    show: Show
    log: Path
    process: subprocess.Popen | None = None

    def start(self) -> Server:
        self.process = subprocess.Popen(
            [PODCAST, "--config", str(self.show.config), "serve", "--port",
             str(self.show.port), "--log", str(self.log)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"{self.show.base}/feed.xml", timeout=1).close()
                return self
            except OSError:
                assert time.monotonic() < deadline and self.process.poll() is None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop serving; serve writes the lines of requests in flight, then exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def requests(self) -> list[dict]:
        """Every logged request (method, target, status, sent, agent), once stopped."""
        self.stop()
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [LINE.search(line).groupdict() for line in lines]

    def media_requests(self) -> list[dict]:
        return [r for r in self.requests() if re.match(r"/media/[^?]+\.mp3", r["target"])]


@pytest.fixture
def server(show: Show, tmp_path: Path) -> Iterator[Server]:
    """A fresh `podcast serve` with its own log (one port: the pages' base_url)."""
    running = Server(show, tmp_path / "serve.log").start()
    try:
        yield running
    finally:
        running.stop()


# --------------------------------------------------------------------------- a listener


@dataclass
class Visit:
    """One page opened in a fresh browser context, with what Chromium requested."""

    context: object
    page: object
    media: list[str] = field(default_factory=list)  # URLs of MP3 requests Chromium made
    problems: list[str] = field(default_factory=list)

    def play(self, selector: str = "audio") -> None:
        """Press play and wait until the whole (short) MP3 is in the player's buffer."""
        self.page.evaluate("s => document.querySelector(s).play()", selector)
        self.page.wait_for_function(
            """s => { const a = document.querySelector(s);
                     return a.readyState >= 1 && a.buffered.length
                            && a.buffered.end(a.buffered.length - 1) >= a.duration - 0.05; }""",
            arg=selector, timeout=15_000)

    def players(self) -> list[dict]:
        """Each <audio>: preload, src, readyState and networkState (nothing loaded: 0, 1)."""
        return self.page.eval_on_selector_all("audio", """players => players.map(a => ({
            preload: a.preload, src: a.src, ready: a.readyState, network: a.networkState}))""")


def open_page(browser, url: str, agent: str | None = None, javascript: bool = True) -> Visit:
    context = browser.new_context(user_agent=agent or browser_agent(0),
                                  java_script_enabled=javascript)
    page = context.new_page()
    visit = Visit(context, page)
    page.on("request", lambda r: visit.media.append(r.url) if ".mp3" in r.url else None)
    page.on("console", lambda m: visit.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: visit.problems.append(str(e)))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return visit


# --------------------------------------------------------------------------- 1. views


PAGES = [f"episodes/{MARC}.html", f"episodes/{MARC}.html?via=marc-olivier",
         "index.html", "index.html?via=newsletter", f"episodes/{SONIA}.html?via=newsletter"]


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_page_views_without_play_fetch_no_audio(show: Show, server: Server, browser,
                                                javascript: bool):
    seen = {}
    for key in PAGES:
        visit = open_page(browser, f"{show.base}/{key}", javascript=javascript)
        try:
            # Give a pre-load every chance to start: focus and scroll as a reader would.
            visit.page.mouse.wheel(0, 2000)
            visit.page.wait_for_load_state("networkidle")
            seen[key] = (visit.players(), visit.media, visit.problems)
        finally:
            visit.context.close()
    logged = server.media_requests()
    assert logged == []  # not one byte of audio left the server
    for key, (players, chromium_media, problems) in seen.items():
        assert chromium_media == [], key
        assert players and all(p["preload"] == "none" and p["ready"] == 0
                               and p["network"] in (0, 1) for p in players), (key, players)
        assert problems == [], key
    # The request lines of the pages themselves are there: the log was written.
    pages = [r["target"] for r in server.requests() if ".html" in r["target"]]
    assert sorted(pages) == sorted(f"/{key}" for key in PAGES)


def test_a_share_code_is_on_the_players_urls_before_play_but_fetches_nothing(
        show: Show, server: Server, browser):
    visit = open_page(browser, f"{show.base}/index.html?via=newsletter")
    try:
        players = visit.players()
    finally:
        visit.context.close()
    expected = sorted(f"{show.base}/{key}?via=newsletter" for key in show.media.values())
    assert sorted(p["src"] for p in players) == expected
    assert server.media_requests() == []


# --------------------------------------------------------------------------- 2. play


def test_pressing_play_on_the_page_sends_the_share_code_with_every_audio_request(
        show: Show, server: Server, browser):
    visit = open_page(browser, f"{show.base}/episodes/{MARC}.html?via=marc-olivier")
    try:
        before = list(visit.media)
        # The listener's own press on the player's play button (left end of its controls).
        box = visit.page.locator("audio[data-player]").bounding_box()
        visit.page.mouse.click(box["x"] + 20, box["y"] + box["height"] / 2)
        visit.page.wait_for_function("!document.querySelector('audio[data-player]').paused")
        visit.play("audio[data-player]")
        download = visit.page.get_attribute("a[download]", "href")
        chromium_media = list(visit.media)
        problems = visit.problems
    finally:
        visit.context.close()
    target = f"/{show.media[MARC]}?via=marc-olivier"
    assert before == []
    assert chromium_media and set(chromium_media) == {show.base + target}
    logged = server.media_requests()
    assert logged and {r["target"] for r in logged} == {target}
    assert sum(int(r["sent"]) for r in logged) >= (
        show.config.parent / "public" / show.media[MARC]).stat().st_size
    assert download == f"../{show.media[MARC]}?via=marc-olivier"
    assert problems == []


def test_a_player_on_the_show_page_sends_the_code_too(show: Show, server: Server, browser):
    visit = open_page(browser, f"{show.base}/index.html?via=newsletter")
    try:
        visit.play(f"[id='{SONIA}'] audio")
    finally:
        visit.context.close()
    assert {r["target"] for r in server.media_requests()} == {
        f"/{show.media[SONIA]}?via=newsletter"}


def test_without_javascript_the_page_still_plays_its_audio(show: Show, server: Server,
                                                          browser):
    visit = open_page(browser, f"{show.base}/episodes/{MARC}.html?via=marc-olivier",
                      javascript=False)
    try:
        visit.play("audio")
    finally:
        visit.context.close()
    # No script, no code: the plain URL (the referer still names the link).
    assert {r["target"] for r in server.media_requests()} == {f"/{show.media[MARC]}"}


# --------------------------------------------------------------------------- 3. counting


@dataclass(frozen=True)
class Listen:
    """One visit of a share link: who, which link, whether they pressed play."""

    agent: str
    slug: str
    via: str
    plays: bool


def session(bot: str) -> list[Listen]:
    """Visits only, visits with play, repeat visitors (one who comes back to play, one who
    plays twice, one who only looks twice) and a bot that plays."""
    marc, news = (MARC, "marc-olivier"), (SONIA, "newsletter")
    return [
        Listen(browser_agent(1), *marc, plays=False),
        Listen(browser_agent(2), *marc, plays=True),
        Listen(browser_agent(3), *marc, plays=False),
        Listen(bot, *marc, plays=True),
        Listen(browser_agent(4), *news, plays=True),
        Listen(browser_agent(3), *marc, plays=True),  # came back and played
        Listen(browser_agent(5), *news, plays=False),
        Listen(browser_agent(4), *news, plays=True),  # played it again
        Listen(browser_agent(5), *news, plays=False),
        Listen(browser_agent(6), *news, plays=False),
    ]


def test_a_share_link_session_counts_one_download_and_listener_per_play(
        show: Show, server: Server, browser):
    visits = session(bot=GOOGLEBOT)
    for listen in visits:
        visit = open_page(browser, f"{show.base}/episodes/{listen.slug}.html?via={listen.via}",
                          agent=listen.agent)
        try:
            if listen.plays:
                visit.play("audio[data-player]")
        finally:
            visit.context.close()
    logged = server.requests()  # stops the server: every line is written
    podcast_cli(show.config, "stats", "ingest", str(server.log))
    rows = json.loads(podcast_cli(show.config, "stats", "report", "--format", "json",
                                  "--by", "via"))["rows"]

    # Independently: one download per (listener, episode) that pressed play that day, every
    # listener new; one visit per (visitor, page).  The bot is none of them.
    people = [v for v in visits if v.agent != GOOGLEBOT]
    expected = {}
    for code in ("marc-olivier", "newsletter"):
        mine = [v for v in people if v.via == code]
        expected[code] = {
            "page_visits": len({(v.agent, v.slug) for v in mine}),
            "downloads": len({(v.agent, v.slug) for v in mine if v.plays}),
            "new_listeners": len({v.agent for v in mine if v.plays})}
    got = {row["via"]: {name: row[name] for name in ("page_visits", "downloads",
                                                       "new_listeners")} for row in rows}
    assert got == expected
    assert expected == {"marc-olivier": {"page_visits": 3, "downloads": 2, "new_listeners": 2},
                        "newsletter": {"page_visits": 3, "downloads": 1, "new_listeners": 1}}
    # What they stand on: audio requests only from those who pressed play, each with its code.
    media_agents = {r["agent"] for r in logged if ".mp3" in r["target"]}
    assert media_agents == {v.agent for v in visits if v.plays}
    assert all("?via=" in r["target"] for r in logged if ".mp3" in r["target"])


def test_the_feed_enclosures_stay_clean(show: Show):
    # Apps read the feed: no share code, no page script between them and the MP3.
    from lxml import etree

    feed = etree.parse(str(show.config.parent / "public" / "feed.xml"))
    urls = [e.get("url") for e in feed.iter("enclosure")]
    assert sorted(urls) == sorted(f"{show.base}/{key}" for key in show.media.values())


@pytest.mark.parametrize(("seconds", "expected"), [
    (312.4, "PT5M12S"), (3725, "PT1H2M5S"), (3605, "PT1H5S"), (59.99, "PT59S"), (0, "PT0S")])
def test_the_duration_text_has_a_machine_readable_twin(seconds: float, expected: str):
    # <time datetime> takes an ISO 8601 duration; it says the same whole seconds as the
    # clock shown beside it (podcast.feed.clock cuts, it does not round).
    from podcast.site import iso_duration

    assert iso_duration(seconds) == expected
