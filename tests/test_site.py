"""The show's web pages: what a listener sees, checked as HTML and in a real browser.

The pages are rendered for the published demo show, written into its ``public/`` folder
next to the media (where ``podcast publish`` puts them), and opened through the project's
own HTTP server in headless Chromium: the players must load the real MP3s, every link must
resolve, and a hostile title must print as text.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
from feed_fixtures import NOW, THIRD_LIVE, Published

from podcast.model import Person
from podcast.serve import serving
from podcast.site import parse_json_transcript, parse_timed_transcript, render_site

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> & "Co" ]]>'



def render(pub: Published, now=NOW, episodes=None) -> dict[str, bytes]:
    return render_site(pub.show, pub.episodes if episodes is None else episodes, pub.catalog,
                       now=now)


def write(pub: Published, pages: dict[str, bytes]) -> None:
    for key, data in pages.items():
        (pub.public / key).parent.mkdir(parents=True, exist_ok=True)
        (pub.public / key).write_bytes(data)


class Links(HTMLParser):
    """Collects src/href attributes and the visible text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.links.append((tag, value))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: bytes) -> Links:
    links = Links()
    links.feed(html.decode("utf-8"))
    return links


# --------------------------------------------------------------------------- pages


def test_pages_are_the_show_page_and_one_per_live_episode(published: Published):
    assert sorted(render(published)) == [
        "episodes/001-sonia-mamin.html", "episodes/002-marc-olivier.html", "index.html"]
    later = render(published, now=THIRD_LIVE)
    assert "episodes/003-claire-dubois.html" in later
    assert b"Claire Dubois" in later["index.html"]
    assert b"Claire Dubois" not in render(published)["index.html"]


def test_show_page_lists_episodes_newest_first_each_with_a_player(published: Published):
    index = render(published)["index.html"].decode()
    assert index.index("Marc Olivier : organiser") < index.index("Sonia Mamin : le salon")
    for slug in ("001-sonia-mamin", "002-marc-olivier"):
        media = published.catalog.media[slug]
        assert f'<audio controls preload="none" src="{media.key}">' in index
    assert f'<img src="{published.catalog.image_key}"' in index
    assert "Salons &amp; Rencontres" in index


def test_every_local_link_points_at_a_published_file(published: Published):
    pages = render(published)
    write(published, pages)
    for key, html in pages.items():
        base = f"http://site/{key}"
        for tag, link in parse(html).links:
            target = urljoin(base, link)
            if not target.startswith("http://site/"):
                continue  # the public feed URL, guests' sites
            path = published.public / target[len("http://site/"):]
            assert path.is_file(), f"{key}: <{tag}> {link} -> {path} is missing"


def test_episode_page_has_notes_guests_chapters_and_transcript(published: Published):
    page = render(published)["episodes/002-marc-olivier.html"].decode()

    assert "<em>écoutez vos participants, et mesurez tout ce que vous faites.</em>" in page
    assert "<li>Marc Olivier, Organisateur de congrès médicaux</li>" in page
    assert "<li><time>0:10</time>Des réservations plus tardives</li>" in page
    media = published.catalog.media["002-marc-olivier"]
    assert f'href="../{media.transcript_key}"' in page
    assert ("<p><time>0:05</time> <b>Marc Olivier</b> Bonjour à tous, et merci pour "
            "l&#39;invitation.</p>") in page
    assert f'<audio controls preload="metadata" src="../{media.key}">' in page
    # Shared on social networks: absolute URLs and a plain-text summary of the notes.
    assert f'<meta property="og:audio" content="http://127.0.0.1:8000/{media.key}">' in page
    assert '<meta property="og:description" content="Marc Olivier organise des congrès' in page

    sonia = render(published)["episodes/001-sonia-mamin.html"].decode()
    assert '<a href="https://example.com/sonia-mamin">Sonia Mamin</a>' in sonia
    assert "Transcription" not in sonia  # no transcript, no empty section


def test_hostile_titles_and_names_are_printed_as_text(published: Published):
    guest = Person(HOSTILE, role="guest", title=HOSTILE)
    episode = dataclasses.replace(published.episodes[0], title=HOSTILE, guests=(guest,),
                                  notes=HOSTILE)
    pages = render(published, episodes=[episode])
    for html in pages.values():
        assert b"<script>" not in html and b"<img src=x" not in html
    page = pages["episodes/001-sonia-mamin.html"].decode()
    assert HOSTILE in "".join(parse(page.encode()).text)  # shown, not run


def test_same_inputs_give_identical_pages(published: Published):
    assert render(published) == render_site(published.show, list(reversed(published.episodes)),
                                            published.catalog, now=NOW)


def test_timed_transcripts_are_read_from_vtt_and_srt():
    vtt = "WEBVTT\n\n00:01:02.500 --> 00:01:05.000\n<v Ana Lu>Salut &amp; <i>bienvenue</i>\n"
    srt = "1\n01:00:00,000 --> 01:00:02,000\nLigne une\nligne deux\n"
    assert [(c.start, c.speaker, c.text) for c in parse_timed_transcript(vtt)] == [
        (62.5, "Ana Lu", "Salut & bienvenue")]
    assert [(c.start, c.speaker, c.text) for c in parse_timed_transcript(srt)] == [
        (3600.0, None, "Ligne une ligne deux")]


def test_json_transcripts_join_a_speakers_segments():
    text = ('{"version": "1.0.0", "segments": ['
            '{"speaker": "Ana", "startTime": 0.5, "endTime": 1, "body": "Bonjour"},'
            '{"speaker": "Ana", "startTime": 1.0, "endTime": 2, "body": "à tous."},'
            '{"speaker": "Léo", "startTime": 2.5, "endTime": 3, "body": "Merci <b>!</b>"}]}')
    assert [(c.start, c.speaker, c.text) for c in parse_json_transcript(text)] == [
        (0.5, "Ana", "Bonjour à tous."), (2.5, "Léo", "Merci <b>!</b>")]
    assert parse_json_transcript("[1, 2]") == ()


# --------------------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--autoplay-policy=no-user-gesture-required"])
        yield browser
        browser.close()


def test_episode_page_plays_the_real_mp3_in_chromium(published: Published, browser,
                                                     tmp_path: Path):
    guest = Person(HOSTILE, role="guest")
    episodes = [dataclasses.replace(published.episodes[1], title=HOSTILE, guests=(guest,)),
                published.episodes[0]]
    write(published, render(published, episodes=episodes))
    with serving(published.public, log_path=tmp_path / "access.log") as server:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        try:
            page.goto(f"{base}/episodes/002-marc-olivier.html")
            page.wait_for_function("document.querySelector('audio').readyState >= 1",
                                   timeout=10_000)
            duration = page.evaluate("document.querySelector('audio').duration")
            assert page.evaluate("window.pwned") is None
            assert page.title().startswith(HOSTILE)
            page.click("text=← Tous les épisodes")
            page.wait_for_url(f"{base}/index.html")
            players = page.locator("audio").count()
        finally:
            page.close()
    media = published.catalog.media["002-marc-olivier"]
    assert duration == pytest.approx(media.duration, abs=0.1)
    assert players == 2
    assert problems == []


def test_pages_render_before_the_artwork_is_published(published: Published):
    catalog = dataclasses.replace(published.catalog, image_key=None)
    index = render_site(published.show, published.episodes, catalog, now=NOW)["index.html"]
    assert b"<img" not in index and b"None" not in index
