"""The pages listeners use, in a real browser: a published show served by `podcast serve`.

The demo show is published with the CLI (a two-second intro before each interview, so the
chapter times in the MP3 are not the ones written in episode.md; episode art, a host photo,
subscribe links, a hostile episode title), then `podcast serve` answers on 127.0.0.1 and
headless Chromium (Playwright) opens the pages.  Expected times come from the published
chapters JSON and the episode's VTT, never from the page code.  Screenshots land in
``$PODCAST_REVIEW_DIR`` (default: the test's tmp folder) for a person to look at.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_fixtures import (
    INTRO_SECONDS,
    REPO,
    Site,
    Visit,
    demo_with_intro,
    edit_front_matter,
    feed_item,
    needs_chromium,
    published_chapters,
    served_show,
    write_config,
)
from feed_fixtures import make_image

EPISODE = "002-marc-olivier"
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> & "Co"'

pytestmark = [pytest.mark.browser, needs_chromium]


@dataclass
class LoggedSite(Site):
    """A served show and the access log `podcast serve` writes."""

    log: Path

    def audio_requests(self) -> list[str]:
        """Request targets of every logged request for an MP3 (path and query)."""
        lines = self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []
        return [m.group(1) for line in lines
                if (m := re.search(r'"GET (/media/[^ ]+\.mp3[^ ]*) HTTP', line))]


# --------------------------------------------------------------------------- the show


def make_show(folder: Path, base: str) -> Path:
    """The demo show with an intro, art, photos, subscribe links and a hostile title."""
    config = demo_with_intro(folder, base)
    photo = make_image(folder / "public" / "people" / "julien.jpg", size=(200, 200))
    config["hosts"][0]["img"] = f"{base}/people/{photo.name}"
    config["subscribe"] = {"Apple Podcasts": "https://podcasts.apple.com/podcast/id1",
                           "Spotify": "https://open.spotify.com/show/abc",
                           HOSTILE: "https://example.com/?a=1&b=2"}
    path = write_config(folder, config)  # in the apps' order
    episode = folder / "episodes" / EPISODE
    make_image(episode / "art.jpg")
    edit_front_matter(episode / "episode.md", title=f"Marc Olivier {HOSTILE}", image="art.jpg",
                      guests=[{"name": "Marc Olivier", "title": HOSTILE,
                               "img": f"{base}/people/{photo.name}"}])
    edit_front_matter(folder / "episodes" / "003-claire-dubois" / "episode.md", type="bonus")
    return path


def media_key(public: Path, slug: str) -> str:
    """Storage key of the episode's MP3, from the feed's enclosure."""
    return feed_item(public, slug).find("enclosure").get("url").split("/", 3)[3]


def chapter_starts(public: Path, slug: str) -> dict[str, float]:
    """Chapter title -> start (s) in the published MP3, read from the feed's chapters JSON."""
    return {c["title"]: float(c["startTime"]) for c in published_chapters(public, slug)}


def vtt_starts(path: Path) -> list[float]:
    """Cue start times (s) of a WebVTT file, read with a plain regex."""
    return [int(h) * 3600 + int(m) * 60 + float(s) for h, m, s in
            re.findall(r"(?m)^(\d+):(\d\d):(\d\d\.\d+) -->", path.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[LoggedSite]:
    folder = tmp_path_factory.mktemp("show")
    with served_show(folder, make_show) as (base, _config):
        yield LoggedSite(base=base, public=folder / "public", log=folder / "access.log")


class PlayerVisit(Visit):
    """A page visit that also waits for the player's script and reads its highlights."""

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


def test_clicking_a_chapter_seeks_the_player_to_its_time_in_the_mp3(site: LoggedSite, browser):
    starts = chapter_starts(site.public, EPISODE)
    target = starts["Des réservations plus tardives"]
    assert target == pytest.approx(10 + INTRO_SECONDS, abs=0.05)  # the intro moved it
    with PlayerVisit(browser, site.page(f"episodes/{EPISODE}.html")) as visit:
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
        site: LoggedSite, browser, review: Path):
    offset = chapter_starts(site.public, EPISODE)["Introduction"]  # where the interview starts
    cues = [start + offset for start in vtt_starts(REPO / "episodes" / EPISODE / "transcript.vtt")]
    before, after = cues[3], cues[4]  # 12.5 s and 20.5 s into the interview
    with PlayerVisit(browser, site.page(f"episodes/{EPISODE}.html"), width=390) as visit:
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


def test_the_captions_track_is_the_published_vtt(site: LoggedSite, browser):
    with PlayerVisit(browser, site.page(f"episodes/{EPISODE}.html")) as visit:
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
        site: LoggedSite, browser, query: str, expected: str):
    key = media_key(site.public, EPISODE)
    seen_before = len(site.audio_requests())
    with PlayerVisit(browser, site.page(f"episodes/{EPISODE}.html{query}")) as visit:
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
def test_pages_fit_phones_and_desktops_without_a_console_error(site: LoggedSite, browser, key: str,
                                                               width: int, review: Path):
    with PlayerVisit(browser, site.page(key), width=width) as visit:
        overflow, images = visit.layout(review / f"{key.replace('/', '_')}-{width}.png")
        pwned = visit.page.evaluate("window.pwned")
        title = visit.page.title()
        problems = visit.problems
    assert overflow <= 0, f"horizontal overflow: {overflow} px"
    assert images and all(width > 0 for _src, width in images), images  # every image loads
    assert pwned is None
    if key != "index.html":
        assert HOSTILE in title
    assert problems == []


def test_the_feed_url_is_copied_with_one_click(site: LoggedSite, browser):
    with PlayerVisit(browser, site.page("index.html")) as visit:
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
def test_each_player_is_described_by_its_episode_duration(site: LoggedSite, browser, key: str):
    # The players load nothing before play, so their own clock reads 0:00: the page says
    # how long the episode is, as text the player points at (aria-describedby).
    from mutagen.mp3 import MP3

    with PlayerVisit(browser, site.page(key)) as visit:
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
