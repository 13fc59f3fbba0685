"""The pages listeners use, in a real browser: a published show served by `podcast serve`.

The demo show is published with the CLI (a two-second intro before each interview, so the
chapter times in the MP3 are not the ones written in episode.md; episode art, a host photo,
subscribe links, a hostile episode title), then `podcast serve` answers on 127.0.0.1 and
headless Chromium (Playwright) opens the pages.  Expected times come from the published
chapters JSON and the episode's VTT, never from the page code.  Screenshots land in
``$PODCAST_REVIEW_DIR`` (default: the test's tmp folder) for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from feed_fixtures import make_image
from lxml import etree
from s3_servers import free_port

from podcast.binaries import ffmpeg
from podcast.cli import main
from podcast.config import split_front_matter

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NOW = "2026-12-01T00:00:00Z"
EPISODE = "002-marc-olivier"
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> & "Co"'
INTRO_SECONDS = 2.0
PODCAST_NS = "https://podcastindex.org/namespace/1.0"

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="needs Chromium at /usr/bin/chromium (apt-get install chromium)")]


@dataclass
class Site:
    """A published show and the `podcast serve` process answering for it."""

    base: str
    public: Path
    log: Path

    def page(self, key: str) -> str:
        return f"{self.base}/{key}"

    def audio_requests(self) -> list[str]:
        """Request targets of every logged request for an MP3 (path and query)."""
        lines = self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []
        return [m.group(1) for line in lines
                if (m := re.search(r'"GET (/media/[^ ]+\.mp3[^ ]*) HTTP', line))]


# --------------------------------------------------------------------------- the show


def edit_front_matter(path: Path, **changes) -> None:
    data, notes = split_front_matter(path.read_text(encoding="utf-8"), path)
    data.update(changes)
    front = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(f"---\n{front}---\n{notes}\n", encoding="utf-8")


def make_show(folder: Path, base: str) -> Path:
    """The demo show with an intro, art, photos, subscribe links and a hostile title."""
    for name in ("assets", "episodes"):
        shutil.copytree(REPO / name, folder / name)
    subprocess.run([ffmpeg(), "-v", "error", "-f", "lavfi", "-i",
                    f"sine=frequency=660:duration={INTRO_SECONDS}", "-ac", "1",
                    str(folder / "assets" / "intro.wav")], check=True)
    photo = make_image(folder / "public" / "people" / "julien.jpg", size=(200, 200))
    config = yaml.safe_load((REPO / "podcast.yaml").read_text(encoding="utf-8"))
    config.update(base_url=base, storage="file://public")
    config["audio"]["intro"] = "assets/intro.wav"
    config["hosts"][0]["img"] = f"{base}/people/{photo.name}"
    config["subscribe"] = {"Apple Podcasts": "https://podcasts.apple.com/podcast/id1",
                           "Spotify": "https://open.spotify.com/show/abc",
                           HOSTILE: "https://example.com/?a=1&b=2"}
    text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)  # keep the app order
    (folder / "podcast.yaml").write_text(text, encoding="utf-8")
    episode = folder / "episodes" / EPISODE
    make_image(episode / "art.jpg")
    edit_front_matter(episode / "episode.md", title=f"Marc Olivier {HOSTILE}", image="art.jpg",
                      guests=[{"name": "Marc Olivier", "title": HOSTILE,
                               "img": f"{base}/people/{photo.name}"}])
    edit_front_matter(folder / "episodes" / "003-claire-dubois" / "episode.md", type="bonus")
    return folder / "podcast.yaml"


def feed_item(public: Path, slug: str):
    """The published feed's item for an episode (found by its page link)."""
    for item in etree.parse(str(public / "feed.xml")).iter("item"):
        if item.findtext("link", "").endswith(f"/episodes/{slug}.html"):
            return item
    raise AssertionError(f"{slug} is not in the feed")


def media_key(public: Path, slug: str) -> str:
    """Storage key of the episode's MP3, from the feed's enclosure."""
    return feed_item(public, slug).find("enclosure").get("url").split("/", 3)[3]


def chapter_starts(public: Path, slug: str) -> dict[str, float]:
    """Chapter title -> start (s) in the published MP3, read from the feed's chapters JSON."""
    url = feed_item(public, slug).find(f"{{{PODCAST_NS}}}chapters").get("url")
    data = json.loads((public / url.split("/", 3)[3]).read_text(encoding="utf-8"))
    return {c["title"]: float(c["startTime"]) for c in data["chapters"]}


def vtt_starts(path: Path) -> list[float]:
    """Cue start times (s) of a WebVTT file, read with a plain regex."""
    return [int(h) * 3600 + int(m) * 60 + float(s) for h, m, s in
            re.findall(r"(?m)^(\d+):(\d\d):(\d\d\.\d+) -->", path.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("show")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = make_show(folder, base)
    published = CliRunner().invoke(main, ["--config", str(config), "publish", "--all",
                                          "--now", NOW])
    assert published.exit_code == 0, published.output
    log = folder / "access.log"
    process = subprocess.Popen(
        [sys.executable, "-c", "from podcast.cli import main; main()", "--config", str(config),
         "serve", "--port", str(port), "--log", str(log)],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"{base}/index.html", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, \
                    process.stderr.read() if process.poll() is not None else "no answer"
                time.sleep(0.1)
        yield Site(base=base, public=folder / "public", log=log)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def review(tmp_path: Path) -> Path:
    """Where screenshots go for a person to look at."""
    folder = Path(os.environ.get("PODCAST_REVIEW_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder




class Visit:
    """One page in a fresh browser context, with every console error and failed request."""

    def __init__(self, browser, url: str, width: int = 1280) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        self.page.on("response", lambda r: self.problems.append(f"{r.status} {r.url}")
                     if r.status >= 400 else None)
        self.page.goto(url, wait_until="load")

    def __enter__(self) -> Visit:
        return self

    def __exit__(self, *exc) -> None:
        self.context.close()

    def wait_until_scripted(self) -> None:
        """Until the script has enabled seeking; the player has loaded nothing (it never
        fetches audio before play: preload="none")."""
        self.page.wait_for_function(
            "!document.querySelector('button[data-seek]').disabled", timeout=10_000)
        state = self.page.eval_on_selector(
            "audio[data-player]", "a => [a.preload, a.readyState, a.buffered.length]")
        assert state == ["none", 0, 0], state

    def current(self, selector: str) -> list[str]:
        """data-start of the highlighted items in a list."""
        return self.page.eval_on_selector_all(
            f"{selector} [aria-current=true]", "items => items.map(i => i.dataset.start)")


# --------------------------------------------------------------------------- the player


def test_clicking_a_chapter_seeks_the_player_to_its_time_in_the_mp3(site: Site, browser):
    starts = chapter_starts(site.public, EPISODE)
    target = starts["Des réservations plus tardives"]
    assert target == pytest.approx(10 + INTRO_SECONDS, abs=0.05)  # the intro moved it
    with Visit(browser, site.page(f"episodes/{EPISODE}.html")) as visit:
        visit.wait_until_scripted()  # nothing loaded: the click is the first press of play
        visit.page.get_by_role("button", name=re.compile("Des réservations plus tardives")).click()
        visit.page.wait_for_function("!document.querySelector('audio').paused")
        position = visit.page.evaluate("document.querySelector('audio').currentTime")
        highlighted = visit.current("ol.chapters")
        problems = visit.problems
    assert target - 0.05 <= position <= target + 1.5
    assert [float(s) for s in highlighted] == pytest.approx([target])
    assert problems == []


def test_the_transcript_line_being_heard_is_highlighted_as_playback_moves_on(
        site: Site, browser, review: Path):
    offset = chapter_starts(site.public, EPISODE)["Introduction"]  # where the interview starts
    cues = [start + offset for start in vtt_starts(REPO / "episodes" / EPISODE / "transcript.vtt")]
    before, after = cues[3], cues[4]  # 12.5 s and 20.5 s into the interview
    with Visit(browser, site.page(f"episodes/{EPISODE}.html"), width=390) as visit:
        visit.wait_until_scripted()
        # Start just before a cue boundary and let the real MP3 play across it.
        visit.page.evaluate(f"(a => {{ a.currentTime = {after - 0.6}; return a.play(); }})"
                            "(document.querySelector('audio'))")
        visit.page.wait_for_function(
            f"document.querySelector('audio').currentTime < {after}", timeout=5_000)
        while_before = visit.current(".transcript")
        visit.page.wait_for_function(
            f"document.querySelector('audio').currentTime > {after + 0.3}", timeout=10_000)
        while_after = visit.current(".transcript")
        visit.page.locator(".transcript").screenshot(path=str(review / "playing-390.png"))
        problems = visit.problems
    assert [float(s) for s in while_before] == pytest.approx([before])
    assert [float(s) for s in while_after] == pytest.approx([after])
    assert problems == []


def test_the_captions_track_is_the_published_vtt(site: Site, browser):
    with Visit(browser, site.page(f"episodes/{EPISODE}.html")) as visit:
        track = visit.page.eval_on_selector(
            "audio track", "t => ({kind: t.kind, src: t.src, lang: t.srclang})")
    assert track["kind"] == "captions" and track["lang"] == "fr"
    path = site.public / track["src"][len(site.base) + 1:]
    assert path.read_text(encoding="utf-8").startswith("WEBVTT")


# --------------------------------------------------------------------------- share codes


@pytest.mark.parametrize(("query", "expected"), [
    ("?via=guest-marc", "?via=guest-marc"),
    ("", ""),
    ("?via=Not%20a%20code", ""),  # not a share code: dropped, not passed on
    ("?via=" + "x" * 41, ""),  # too long
])
def test_the_audio_request_carries_the_share_code_of_the_page_and_nothing_else(
        site: Site, browser, query: str, expected: str):
    key = media_key(site.public, EPISODE)
    seen_before = len(site.audio_requests())
    with Visit(browser, site.page(f"episodes/{EPISODE}.html{query}")) as visit:
        visit.wait_until_scripted()
        visit.page.wait_for_load_state("networkidle")
        before_play = len(site.audio_requests()) - seen_before
        visit.page.evaluate("document.querySelector('audio').play()")
        visit.page.wait_for_function("document.querySelector('audio').currentTime > 0.3")
        download = visit.page.get_attribute("a[download]", "href")
        stored = visit.page.evaluate(
            "[document.cookie, localStorage.length, sessionStorage.length]")
        problems = visit.problems
    deadline = time.monotonic() + 5  # the log line is written when the response ends
    while len(site.audio_requests()) == seen_before and time.monotonic() < deadline:
        time.sleep(0.05)
    requests = site.audio_requests()[seen_before:]
    assert before_play == 0  # the page view alone fetched no audio
    assert requests and all(r == f"/{key}{expected}" for r in requests), requests
    assert download == f"../{key}{expected}"
    assert stored == ["", 0, 0]
    assert problems == []


# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("key", ["index.html", f"episodes/{EPISODE}.html"])
def test_pages_fit_phones_and_desktops_without_a_console_error(site: Site, browser, key: str,
                                                               width: int, review: Path):
    with Visit(browser, site.page(key), width=width) as visit:
        visit.page.wait_for_load_state("networkidle")
        sizes = visit.page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]")
        images = visit.page.eval_on_selector_all(
            "img", "images => images.map(i => [i.getAttribute('src'), i.naturalWidth])")
        pwned = visit.page.evaluate("window.pwned")
        title = visit.page.title()
        visit.page.screenshot(path=str(review / f"{key.replace('/', '_')}-{width}.png"),
                              full_page=True)
        problems = visit.problems
    assert sizes[0] <= sizes[1], f"horizontal overflow: {sizes}"
    assert images and all(width > 0 for _src, width in images), images  # every image loads
    assert pwned is None
    if key != "index.html":
        assert HOSTILE in title
    assert problems == []


def test_the_feed_url_is_copied_with_one_click(site: Site, browser):
    with Visit(browser, site.page("index.html")) as visit:
        visit.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                        origin=site.base)
        visit.page.get_by_role("button", name="Copier").click()
        visit.page.wait_for_function(
            "document.querySelector('.copy [role=status]').textContent === 'Copié'")
        copied = visit.page.evaluate("navigator.clipboard.readText()")
        apps = visit.page.eval_on_selector_all(
            ".subscribe li a", "links => links.map(a => [a.textContent, a.href])")
        problems = visit.problems
    assert copied == f"{site.base}/feed.xml"
    assert apps == [["Apple Podcasts", "https://podcasts.apple.com/podcast/id1"],
                    ["Spotify", "https://open.spotify.com/show/abc"],
                    [HOSTILE, "https://example.com/?a=1&b=2"],
                    ["Flux RSS", f"{site.base}/feed.xml"]]
    assert problems == []


# --------------------------------------------------------------------------- duration


@pytest.mark.parametrize("key", ["index.html", f"episodes/{EPISODE}.html"])
def test_each_player_is_described_by_its_episode_duration(site: Site, browser, key: str):
    # The players load nothing before play, so their own clock reads 0:00: the page says
    # how long the episode is, as text the player points at (aria-describedby).
    from mutagen.mp3 import MP3

    with Visit(browser, site.page(key)) as visit:
        described = visit.page.eval_on_selector_all("audio", """players => players.map(a => {
            const d = document.getElementById(a.getAttribute('aria-describedby'));
            return [a.getAttribute('src'), d.textContent, d.getAttribute('datetime'),
                    a.readyState];
        })""")
    assert described
    for src, text, stamp, ready in described:
        length = MP3(site.public / src.removeprefix("../")).info.length
        shown = re.fullmatch(r"Durée (\d+):(\d\d)", text)
        assert shown, text
        assert abs(int(shown[1]) * 60 + int(shown[2]) - length) <= 1
        minutes, seconds = re.fullmatch(r"PT(?:(\d+)M)?(\d+)S", stamp).groups()
        assert (int(minutes or 0), int(seconds)) == (int(shown[1]), int(shown[2]))
        assert ready == 0  # and the player has fetched nothing to know it
