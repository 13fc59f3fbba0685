"""The show's web pages: what a listener sees, checked as HTML and in a real browser.

The pages are rendered for the published demo show, written into its ``public/`` folder
next to the media (where ``podcast publish`` puts them), and opened through the project's
own HTTP server in headless Chromium: the players must load the real MP3s, every link must
resolve, and a hostile title must print as text.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from datetime import UTC, datetime
from html import escape as html_escape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
from feed_fixtures import NOW, THIRD_LIVE, Published, make_image
from markupsafe import escape as markup_escape

from podcast.model import Chapter, Person
from podcast.serve import serving
from podcast.site import parse_json_transcript, parse_timed_transcript, render_site

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


def html_keys(pages: dict[str, bytes]) -> list[str]:
    return sorted(key for key in pages if key.endswith(".html"))


def test_pages_are_the_show_page_and_one_per_live_episode(published: Published):
    assert html_keys(render(published)) == [
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
        assert f'<audio controls preload="none" src="{media.key}"' in index
    assert f'<img src="{published.catalog.image_key}"' in index
    assert "Salons &amp; Rencontres" in index


def test_every_local_link_points_at_a_published_file(published: Published):
    pages = render(published)
    write(published, pages)
    for key in html_keys(pages):
        html, base = pages[key], f"http://site/{key}"
        for tag, link in parse(html).links:
            target = urljoin(base, link)
            if not target.startswith("http://site/"):
                continue  # the public feed URL, guests' sites
            path = published.public / target[len("http://site/"):]
            assert path.is_file(), f"{key}: <{tag}> {link} -> {path} is missing"


def test_episode_page_has_notes_guests_chapters_and_transcript(published: Published):
    page = render(published)["episodes/002-marc-olivier.html"].decode()

    assert "<em>écoutez vos participants, et mesurez tout ce que vous faites.</em>" in page
    assert "<span>Marc Olivier, Organisateur de congrès médicaux</span>" in page
    # Chapters and transcript lines are buttons that seek the player (the script enables
    # them); data-start is the time in the MP3.
    assert ('<li data-start="10"><button type="button" data-seek disabled><time>0:10</time>'
            "Des réservations plus tardives</button></li>") in page
    media = published.catalog.media["002-marc-olivier"]
    assert f'href="../{media.transcript_key}"' in page
    assert ('<p data-start="5.5"><button type="button" data-seek disabled aria-label="Écouter '
            'à partir de 0:05"><time>0:05</time></button> <b>Marc Olivier</b> Bonjour à tous, '
            "et merci pour l&#39;invitation.</p>") in page
    # No request before the script has put a share code (?via=) on the URL.
    assert f'<audio controls preload="none" src="../{media.key}" data-player' in page
    assert (f'<track kind="captions" src="../{media.transcript_key}" srclang="fr" '
            'label="Transcription">') in page
    # Shared on social networks: absolute URLs and a plain-text summary of the notes.
    assert f'<meta property="og:audio" content="http://127.0.0.1:8000/{media.key}">' in page
    assert '<meta property="og:description" content="Marc Olivier organise des congrès' in page

    sonia = render(published)["episodes/001-sonia-mamin.html"].decode()
    assert '<a href="https://example.com/sonia-mamin">Sonia Mamin</a>' in sonia
    assert "Transcription" not in sonia  # no transcript, no empty section


def test_hostile_text_in_every_field_is_printed_as_text(published: Published, tmp_path: Path):
    photo = 'https://example.com/a.jpg"onerror="window.pwned=3'
    guest = Person(HOSTILE, role="guest", title=HOSTILE, img=photo, href=photo)
    transcript = tmp_path / "transcript.vtt"
    vtt_text = html_escape(HOSTILE, quote=False)  # WebVTT escapes <, > and & as HTML does
    transcript.write_text(f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v {vtt_text}>{vtt_text}\n",
                          encoding="utf-8")
    episode = dataclasses.replace(
        published.episodes[0], title=HOSTILE, guests=(guest,), notes=HOSTILE, summary=HOSTILE,
        chapters=(Chapter(0, HOSTILE), Chapter(1.5, HOSTILE, url=photo)), transcript=transcript)
    show = dataclasses.replace(published.show, title=HOSTILE, description=HOSTILE,
                               author=HOSTILE, hosts=(Person(HOSTILE, img=photo),),
                               subscribe={HOSTILE: photo})
    pages = render_site(show, [episode], published.catalog, now=NOW)
    for key in html_keys(pages):
        html = pages[key]
        assert html.count(b"<script>") == 1  # the page's own script, nothing injected
        assert b"<script>window" not in html and b"<img src=x" not in html
        assert b'"onerror=' not in html  # the quote in the URL cannot end the attribute
    page = pages["episodes/001-sonia-mamin.html"].decode()
    text = "".join(parse(page.encode()).text)
    assert text.count(HOSTILE) >= 8  # title, notes, guest, chapters, cue speaker and line…
    shown = str(markup_escape(HOSTILE))  # as jinja2 escapes it: &#34; for "
    assert f"<b>{shown}</b> {shown}</p>" in page  # the transcript's speaker and line


def test_same_inputs_give_identical_pages(published: Published):
    assert render(published) == render_site(published.show, list(reversed(published.episodes)),
                                            published.catalog, now=NOW)


def test_timed_transcripts_are_read_from_vtt_and_srt():
    vtt = ("WEBVTT\n\n00:01:02.500 --> 00:01:05.000\n"
           "<v Ana &amp; Lu>Salut &amp; <i>bienvenue</i>\n")
    srt = "1\n01:00:00,000 --> 01:00:02,000\nLigne une\nligne deux\n"
    assert [(c.start, c.speaker, c.text) for c in parse_timed_transcript(vtt)] == [
        (62.5, "Ana & Lu", "Salut & bienvenue")]
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
            # The player loads nothing before play (preload="none"): press play first.
            page.evaluate("document.querySelector('audio').play()")
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


# --------------------------------------------------------------------------- what listeners use


def copy_episode(pub: Published, slug: str, new_slug: str, **changes):
    """Another episode made from a published one (same media under a new slug)."""
    source = next(e for e in pub.episodes if e.slug == slug)
    episode = dataclasses.replace(source, slug=new_slug, guid=f"guid-{new_slug}", **changes)
    return episode, dataclasses.replace(pub.catalog.media[slug], slug=new_slug)


def test_a_serial_show_is_listed_from_the_start_of_the_story(published: Published):
    def at(day: int) -> datetime:
        return datetime(2026, 11, day, 7, tzinfo=UTC)

    made = [  # (slug, title, changes), in publication order, none in story order
        ("s1-e1", "Premier", dict(season=1, number=1, published=at(1))),
        ("s1-bonus", "En coulisses", dict(season=1, number=None, type="bonus",
                                          published=at(5))),
        ("s1-e2", "Deuxième", dict(season=1, number=2, published=at(8))),
        ("s2-e1", "Saison deux", dict(season=2, number=1, published=at(15))),
        ("s1-trailer", "Bande-annonce de la saison", dict(season=1, number=None,
                                                         type="trailer", published=at(20))),
    ]
    pairs = [copy_episode(published, "001-sonia-mamin", slug, title=title, **changes)
             for slug, title, changes in made]
    catalog = dataclasses.replace(published.catalog, media={e.slug: m for e, m in pairs})
    episodes = [episode for episode, _media in pairs]

    def listed(show) -> list[str]:
        index = render_site(show, episodes, catalog, now=NOW)["index.html"].decode()
        titles = [title for _slug, title, _changes in made]
        return sorted(titles, key=index.index)

    serial = dataclasses.replace(published.show, type="serial")
    assert listed(serial) == ["Bande-annonce de la saison", "Premier", "Deuxième",
                              "En coulisses", "Saison deux"]
    assert listed(published.show) == ["Bande-annonce de la saison", "Saison deux", "Deuxième",
                                      "En coulisses", "Premier"]  # episodic: newest first


def test_the_show_page_gives_each_episode_a_summary_and_labels_trailers_and_bonuses(
        published: Published):
    long_summary = "mot " * 200
    sonia, marc = published.episodes[0], published.episodes[1]
    episodes = [dataclasses.replace(sonia, type="trailer"),
                dataclasses.replace(marc, type="bonus", summary=long_summary)]
    index = render(published, episodes=episodes)["index.html"].decode()
    text = " ".join("".join(parse(index.encode()).text).split())

    # Without `summary:`, the notes' first paragraph, as plain text.
    first_paragraph = " ".join(sonia.notes.split("\n\n")[0].split())
    assert first_paragraph.replace("**", "").replace("*", "") in text
    assert "<strong>" not in index.split('class="summary"', 1)[1].split("</p>", 1)[0]
    # A long summary is cut at a word, with an ellipsis.
    shown = re.search(r'<p class="summary">(mot[^<]*)</p>', index).group(1)
    assert shown.endswith("mot…") and len(shown) <= 301
    assert '<span class="badge">Bande-annonce</span>' in index
    assert '<span class="badge">Bonus</span>' in index
    assert index.count('class="badge"') == 2  # full episodes carry no label


def test_a_small_favicon_is_made_from_the_artwork(published: Published, tmp_path: Path):
    from PIL import Image

    cover = make_image(tmp_path / "cover.jpg", size=(3000, 3000))  # blue, a yellow disc
    show = dataclasses.replace(published.show, image=cover)
    pages = render_site(show, published.episodes, published.catalog, now=NOW)
    icons = {key: data for key, data in pages.items() if key.startswith("art/icon-")}
    assert len(icons) == 2
    for key, data in icons.items():
        size = int(re.fullmatch(r"art/icon-(\d+)-([0-9a-f]{12})\.png", key).group(1))
        assert key.endswith(f"-{hashlib.sha256(data).hexdigest()[:12]}.png")  # immutable key
        image = Image.open(io.BytesIO(data))
        assert (image.format, image.size, image.mode) == ("PNG", (size, size), "RGB")
        assert len(data) < 10_000
        centre, corner = image.getpixel((size // 2, size // 2)), image.getpixel((0, 0))
        assert all(abs(a - b) <= 20 for a, b in zip(centre, (240, 180, 40), strict=True))
        assert all(abs(a - b) <= 20 for a, b in zip(corner, (31, 95, 139), strict=True))
        for page in ("index.html", "episodes/002-marc-olivier.html"):
            root = "../" if "/" in page else ""
            assert (f'<link rel="icon" type="image/png" sizes="{size}x{size}" '
                    f'href="{root}{key}">').encode() in pages[page]
    assert sorted(int(key.split("-")[1]) for key in icons) == [32, 64]
    # Before the artwork is published there is no icon either (it would point nowhere).
    catalog = dataclasses.replace(published.catalog, image_key=None)
    assert not [key for key in render_site(show, published.episodes, catalog, now=NOW)
                if key.startswith("art/")]


def test_shared_pages_show_the_episode_art_or_else_the_cover(published: Published):
    art = "art/002-marc-olivier-0123456789ab.jpg"
    media = dict(published.catalog.media)
    media["002-marc-olivier"] = dataclasses.replace(media["002-marc-olivier"], image_key=art)
    catalog = dataclasses.replace(published.catalog, media=media)
    pages = render_site(published.show, published.episodes, catalog, now=NOW)
    base = published.show.base_url
    cover = f"{base}/{published.catalog.image_key}"

    def og(page: str, name: str) -> list[str]:
        return re.findall(rf'<meta property="og:{name}" content="([^"]*)">',
                          pages[page].decode())

    marc, sonia = "episodes/002-marc-olivier.html", "episodes/001-sonia-mamin.html"
    assert og(marc, "image") == [f"{base}/{art}"]
    assert og(sonia, "image") == [cover]
    assert og("index.html", "image") == [cover]
    assert og(marc, "url") == [f"{base}/{marc}"]
    assert og(marc, "title") == ["Marc Olivier : organiser un congrès quand tout bouge"]
    assert og(marc, "audio") == [f"{base}/{media['002-marc-olivier'].key}"]
    # The art is shown on the episode page and next to the episode on the show page.
    assert f'<img src="../{art}" alt=""'.encode() in pages[marc]
    assert f'<img src="{art}" alt=""'.encode() in pages["index.html"]


def test_people_photos_and_subscribe_links_come_from_the_config(published: Published):
    photo = "https://example.com/p/julien.jpg?s=1&t=2"
    show = dataclasses.replace(
        published.show,
        hosts=(Person("Julien Morel", img=photo),),
        subscribe={"Apple Podcasts": "https://podcasts.apple.com/x", HOSTILE: "https://e.com/",
                   "Piège": "javascript:alert(1)"})
    guest = Person("Marc Olivier", role="guest", img="https://example.com/p/marc.jpg")
    episodes = [published.episodes[0], dataclasses.replace(published.episodes[1],
                                                           guests=(guest,))]
    pages = render_site(show, episodes, published.catalog, now=NOW)
    index, marc = pages["index.html"].decode(), pages["episodes/002-marc-olivier.html"].decode()

    # Photos on another host are never loaded by the pages (no third-party request: the
    # feed still names them for the apps); see tests/test_pages_hosts.py for local photos.
    assert "example.com/p/" not in index and "example.com/p/" not in marc
    for page in (index, marc):
        links = [link for tag, link in parse(page.encode()).links if tag == "a"]
        apps = [link for link in links if link in show.subscribe.values()]
        assert apps == ["https://podcasts.apple.com/x", "https://e.com/"]  # never javascript:
        assert show.feed_url in links
        assert f'<input id="feed-url" type="url" readonly value="{show.feed_url}">' in page
        assert "javascript:" not in page
