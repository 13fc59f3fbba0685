"""The listener pages have what the best podcast hosts give (issue 24), in a real browser.

A copy of the demo show gets a support link, subscribe links, season names, a licence, a
place, local host and guest photos, a soundbite, an HTML transcript with a script in it and
a two-second intro (so the soundbite's moment in the MP3 is not the one written); it is
published with the CLI and served by `podcast serve` on 127.0.0.1, and headless Chromium
opens the pages at phone and desktop widths.  Each visit records every request (none may
leave 127.0.0.1), console errors, and runs axe-core (tests/js, npm) for accessibility.
Expected values come from the config written here, the stored files (read with Pillow and
hashlib) and the published chapters JSON, never from the page code.  Screenshots land in
``$PODCAST_REVIEW_DIR`` (default: the test's tmp folder).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from browser_fixtures import (
    INTRO_SECONDS,
    Site,
    Visit,
    demo_with_intro,
    edit_front_matter,
    needs_axe,
    needs_chromium,
    published_chapters,
    served_show,
    write_config,
)
from feed_fixtures import NOW as FIXTURE_NOW
from feed_fixtures import make_image
from lxml import etree
from PIL import Image

from podcast.config import load_show
from podcast.errors import PodcastError
from podcast.model import License, Person
from podcast.site import license_url, render_site

MARC, CLAIRE = "002-marc-olivier", "003-claire-dubois"
FUNDING = ("https://podcast.example.com/soutenir", "Soutenir le podcast")  # the demo's
SEASONS = {1: "Les débuts", 2: "La suite"}
PLACE = {"name": "Lyon", "geo": "geo:45.7578,4.8320"}  # where episode 003 was made
SOUNDBITE = {"start": "0:10", "duration": 12, "title": "Des réservations plus tardives"}
HTML_TRANSCRIPT = ('<h3>Claire Dubois</h3><p>Claire : bonjour à tous.</p>'
                   '<script>window.pwned = 1</script>'
                   '<p onclick="window.pwned = 2">Le salon éco-responsable.</p>')
TITLE_MARC = "Marc Olivier : organiser un congrès quand tout bouge"  # the demo episode's
WIDTHS = (390, 1280)
PAGES = ("index.html", f"episodes/{MARC}.html", f"episodes/{CLAIRE}.html")



# --------------------------------------------------------------------------- the show


def make_show(folder: Path, base: str) -> Path:
    """The demo show with every page feature of issue 24 configured."""
    config = demo_with_intro(folder, base)
    make_image(folder / "assets" / "julien.jpg", size=(640, 480))  # not square
    config.update(seasons=SEASONS,
                  license="CC-BY-4.0", location={"name": "Monaco", "osm": "R1124039"},
                  subscribe={"Apple Podcasts": "https://podcasts.apple.com/podcast/id1",
                             "Spotify": "https://open.spotify.com/show/abc"})
    config["hosts"][0]["img"] = "assets/julien.jpg"
    path = write_config(folder, config)
    episodes = folder / "episodes"
    make_image(episodes / MARC / "marc.png", size=(300, 500), fmt="PNG")
    edit_front_matter(episodes / MARC / "episode.md", soundbites=[SOUNDBITE],
                      guests=[{"name": "Marc Olivier", "title": "Organisateur",
                               "img": "marc.png"}])
    (episodes / CLAIRE / "transcript.html").write_text(HTML_TRANSCRIPT, encoding="utf-8")
    edit_front_matter(episodes / CLAIRE / "episode.md", season=2, number=1,
                      transcript="transcript.html", location=PLACE)
    edit_front_matter(episodes / "004-lea-fontaine" / "episode.md", season=2, number=2)
    return path


def interview_offset(public: Path, slug: str) -> float:
    """Where the recording starts in the published MP3 (the intro's length), read from the
    published chapters JSON: its first chapter is at 0:00 of the recording."""
    return float(published_chapters(public, slug)[0]["startTime"])


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("show")
    with served_show(folder, make_show) as (base, _config):
        yield Site(base=base, public=folder / "public")


def stored_photo(public: Path, src: str) -> tuple[Image.Image, bytes]:
    data = (public / src.removeprefix("../")).read_bytes()
    return Image.open(io.BytesIO(data)), data


# --------------------------------------------------------------------------- every page


@pytest.mark.audio  # the site fixture masters the show with ffmpeg
@needs_chromium
@needs_axe
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("key", PAGES)
def test_each_page_is_accessible_local_and_clean_at_phone_and_desktop_widths(
        site: Site, browser, key: str, width: int, review: Path):
    with Visit(browser, site.page(key), width=width) as visit:
        overflow, images = visit.layout(review / f"hosts-{key.replace('/', '_')}-{width}.png")
        violations = visit.axe_violations()
        pwned = visit.page.evaluate("window.pwned")
        requests, problems = visit.requests, visit.problems
    assert violations == []
    away = [url for url in requests if urlsplit(url).hostname != "127.0.0.1"]
    assert requests and away == []
    assert not any("/media/" in url for url in requests)  # no audio before play
    assert all(natural > 0 for _src, natural in images), images  # every image loads
    assert overflow <= 0
    assert pwned is None
    assert problems == []


# --------------------------------------------------------------------------- the show page


@pytest.mark.audio  # the site fixture masters the show with ffmpeg
@needs_chromium
def test_the_show_page_has_support_subscribe_seasons_photos_licence_and_place(
        site: Site, browser):
    with Visit(browser, site.page("index.html"), width=390) as visit:
        support = visit.page.eval_on_selector_all(
            ".support a", "links => links.map(a => [a.textContent.trim(), a.href])")
        apps = visit.texts(".subscribe li a")
        seasons = visit.texts("h3.season")
        under = visit.page.eval_on_selector_all("h3.season", """heads => heads.map(h => {
            const slugs = []; let next = h.nextElementSibling;
            while (next && next.matches('article')) { slugs.push(next.id);
                                                      next = next.nextElementSibling; }
            return slugs; })""")
        host = visit.attributes("ul.people img", "src")
        licence = visit.page.eval_on_selector_all(
            "footer.about a", "links => links.map(a => [a.textContent, a.href])")
        problems = visit.problems
    assert support == [[f"♥ {FUNDING[1]}", FUNDING[0]]]
    assert apps == ["Apple Podcasts", "Spotify", "Flux RSS"]
    # Episodic: newest first, a heading where the season changes, with its name.
    assert seasons == [f"Saison 2 · {SEASONS[2]}", f"Saison 1 · {SEASONS[1]}"]
    assert under == [["004-lea-fontaine", CLAIRE], [MARC, "001-sonia-mamin"]]
    assert len(host) == 1 and host[0].startswith("art/person-julien-morel-")
    image, data = stored_photo(site.public, host[0])
    assert image.size == (96, 96) and image.format == "JPEG"  # a 640×480 photo, squared
    assert host[0] == f"art/person-julien-morel-{hashlib.sha256(data).hexdigest()[:12]}.jpg"
    assert licence == [["CC-BY-4.0", "https://creativecommons.org/licenses/by/4.0/"],
                       ["Monaco", "https://www.openstreetmap.org/relation/1124039"]]
    assert problems == []


# --------------------------------------------------------------------------- an episode page


@pytest.mark.audio  # the site fixture masters the show with ffmpeg
@needs_chromium
def test_a_soundbite_plays_from_its_moment_in_the_mp3(site: Site, browser):
    target = interview_offset(site.public, MARC) + 10  # the soundbite's 0:10, after the intro
    assert target == pytest.approx(10 + INTRO_SECONDS, abs=0.05)
    with Visit(browser, site.page(f"episodes/{MARC}.html")) as visit:
        link = visit.page.get_by_role("link", name=re.compile(SOUNDBITE["title"]))
        href = link.get_attribute("href")
        link.click()
        visit.page.wait_for_function("!document.querySelector('audio').paused")
        position = visit.page.evaluate("document.querySelector('audio').currentTime")
        problems = visit.problems
    assert float(href.removeprefix("#t=")) == pytest.approx(target, abs=0.001)
    assert target - 0.05 <= position <= target + 1.5
    assert problems == []


@pytest.mark.audio  # the site fixture masters the show with ffmpeg
@needs_chromium
def test_the_share_box_copies_the_page_link_and_the_link_to_the_moment_heard(
        site: Site, browser):
    page_url = f"{site.base}/episodes/{MARC}.html"
    with Visit(browser, page_url) as visit:
        visit.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                        origin=site.base)
        visit.page.get_by_role("button", name="Copier le lien", exact=True).click()
        visit.page.wait_for_function(
            "document.querySelector('.share [role=status]').textContent === 'Copié'")
        plain = visit.page.evaluate("navigator.clipboard.readText()")
        visit.page.evaluate("(a => { a.currentTime = 30.7; return a.play(); })"
                            "(document.querySelector('audio'))")
        visit.page.wait_for_function("document.querySelector('audio').currentTime > 31")
        visit.page.evaluate("document.querySelector('audio').pause()")
        second = int(visit.page.evaluate("document.querySelector('audio').currentTime"))
        button = visit.page.locator("button[data-copy-time]")
        label = button.text_content()
        visit.page.evaluate("document.querySelector('.share [role=status]').textContent = ''")
        button.click()
        visit.page.wait_for_function(
            "document.querySelector('.share [role=status]').textContent === 'Copié'")
        timed = visit.page.evaluate("navigator.clipboard.readText()")
        mail = visit.attributes(".share a[href^=mailto]", "href")
        problems = visit.problems
    assert plain == page_url
    assert timed == f"{page_url}#t={second}"
    assert label == f"Copier le lien à 0:{second:02d}"
    [query] = [urlsplit(link).query for link in mail]
    assert parse_qs(query) == {"subject": [TITLE_MARC], "body": [page_url]}
    assert problems == []


@pytest.mark.audio  # the site fixture masters the show with ffmpeg
@needs_chromium
def test_guest_photos_come_from_the_store_resized(site: Site, browser):
    with Visit(browser, site.page(f"episodes/{MARC}.html")) as visit:
        photos = visit.page.eval_on_selector_all(
            "ul.people img", "images => images.map(i => [i.getAttribute('src'), i.naturalWidth])")
        requests = visit.requests
    [(src, natural)] = photos
    image, data = stored_photo(site.public, src)
    assert src == f"../art/person-marc-olivier-{hashlib.sha256(data).hexdigest()[:12]}.jpg"
    assert image.size == (96, 96) and natural == 96
    assert f"{site.base}/{src.removeprefix('../')}" in requests


@pytest.mark.audio  # the site fixture masters the show with ffmpeg
def test_the_feed_names_each_local_photo_by_its_stored_copy(site: Site):
    """Apps get the picture the pages show: ``podcast:person img`` is the stored copy's URL."""
    root = etree.fromstring((site.public / "feed.xml").read_bytes())
    base = root.find("channel/item/enclosure").get("url").split("/media/")[0]
    tags = root.iter("{https://podcastindex.org/namespace/1.0}person")
    pictured = {tag.text: tag.get("img") for tag in tags if tag.get("img")}
    assert pictured, "no person has a picture"
    for name, url in pictured.items():
        assert url.startswith(f"{base}/art/person-"), (name, url)
        image, _data = stored_photo(site.public, "../" + url.removeprefix(f"{base}/"))
        assert image.size == (96, 96)


@pytest.mark.audio  # the site fixture masters the show with ffmpeg
@needs_chromium
@pytest.mark.parametrize(("key", "places"), [
    (f"episodes/{CLAIRE}.html", [["Lyon", "https://www.openstreetmap.org/?mlat=45.7578"
                                          "&mlon=4.8320#map=12/45.7578/4.8320"]]),
    (f"episodes/{MARC}.html", [["Monaco", "https://www.openstreetmap.org/relation/1124039"]]),
])
def test_an_episode_page_names_its_own_place_else_the_shows(site: Site, browser, key: str,
                                                            places: list):
    with Visit(browser, site.page(key)) as visit:
        shown = visit.page.eval_on_selector_all(
            "footer.about p:last-child a", "links => links.map(a => [a.textContent, a.href])")
    assert shown == places


@pytest.mark.audio  # the site fixture masters the show with ffmpeg
@needs_chromium
def test_an_html_transcript_is_shown_in_the_page_without_its_script(site: Site, browser):
    with Visit(browser, site.page(f"episodes/{CLAIRE}.html")) as visit:
        shown = visit.texts(".transcript-html p")
        heading = visit.texts(".transcript-html h3")
        scripts = visit.page.eval_on_selector_all(".transcript-html script", "s => s.length")
        handlers = visit.attributes(".transcript-html [onclick]", "onclick")
        visit.page.click("text=Le salon éco-responsable.")
        pwned = visit.page.evaluate("window.pwned")
        problems = visit.problems
    assert shown == ["Claire : bonjour à tous.", "Le salon éco-responsable."]
    assert heading == ["Claire Dubois"]
    assert scripts == 0 and handlers == [] and pwned is None
    assert problems == []


# --------------------------------------------------------------------------- the config


def test_a_local_photo_must_be_a_jpeg_or_png_file(demo_show: Path):
    config = yaml.safe_load(demo_show.read_text(encoding="utf-8"))
    (demo_show.parent / "julien.gif").write_bytes(b"GIF89a")
    for img, message in (("julien.gif", "'julien.gif' is not a .jpg or .png file"),
                         ("missing.jpg", "does not exist")):
        config["hosts"][0]["img"] = img
        demo_show.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        with pytest.raises(PodcastError) as caught:
            load_show(demo_show)
        assert message in str(caught.value) and "hosts[0].img" in str(caught.value)


@pytest.mark.parametrize(("seasons", "field"), [
    ({0: "Zéro"}, "seasons"), ({"un": "Un"}, "seasons"), ({1: "x" * 200}, "seasons.1"),
    (["Un"], "seasons")])
def test_season_names_are_checked(demo_show: Path, seasons, field: str):
    config = yaml.safe_load(demo_show.read_text(encoding="utf-8"))
    config["seasons"] = seasons
    demo_show.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PodcastError) as caught:
        load_show(demo_show)
    assert caught.value.field == field, str(caught.value)


def test_season_names_are_read_by_number(demo_show: Path):
    config = yaml.safe_load(demo_show.read_text(encoding="utf-8"))
    config["seasons"] = {2: "La suite", 1: "Les débuts"}
    demo_show.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert load_show(demo_show).seasons == {2: "La suite", 1: "Les débuts"}


# --------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(("identifier", "url", "expected"), [
    ("CC-BY-4.0", None, "https://creativecommons.org/licenses/by/4.0/"),
    ("CC-BY-NC-ND-4.0", None, "https://creativecommons.org/licenses/by-nc-nd/4.0/"),
    ("cc-by-sa-3.0", None, "https://creativecommons.org/licenses/by-sa/3.0/"),
    ("CC0-1.0", None, "https://creativecommons.org/publicdomain/zero/1.0/"),
    ("ARR", None, None),  # all rights reserved: no text to link to
    ("CC-BY-4.0", "https://example.org/licence", "https://example.org/licence"),
])
def test_the_licence_links_to_its_text(identifier: str, url: str | None, expected: str | None):
    assert license_url(License(identifier, url)) == expected


@pytest.mark.audio  # the published fixture masters the demo
def test_photos_are_made_once_per_file_and_every_build_gives_the_same_bytes(
        published, tmp_path: Path):
    photo = make_image(tmp_path / "julien.png", size=(500, 300), fmt="PNG")
    show = dataclasses.replace(published.show, hosts=(
        Person("Julien Morel", photo=photo),
        Person("Julien Morel (bis)", photo=photo),  # the same file: one object
        Person("Ailleurs", img="https://elsewhere.example/p.jpg")))
    first = render_site(show, published.episodes, published.catalog, now=FIXTURE_NOW)
    again = render_site(show, published.episodes, published.catalog, now=FIXTURE_NOW)
    photos = {key: data for key, data in first.items() if key.startswith("art/person-")}
    assert first == again
    [(key, data)] = photos.items()
    assert key == f"art/person-julien-morel-{hashlib.sha256(data).hexdigest()[:12]}.jpg"
    assert Image.open(io.BytesIO(data)).size == (96, 96)
    index = first["index.html"].decode()
    assert index.count(f'<img src="{key}"') == 2
    assert "elsewhere.example" not in index  # another host's photo is not loaded


@pytest.mark.audio  # the published fixture masters the demo
def test_a_season_heading_starts_each_run_of_one_season_newest_first(published):
    source = published.episodes[0]
    made = [(f"e{day}", season, datetime(2026, 11, day, 7, tzinfo=UTC))
            for day, season in ((1, 1), (8, 2), (15, 1), (20, None))]
    episodes = [dataclasses.replace(source, slug=slug, guid=f"guid-{slug}", season=season,
                                    title=f"Titre {slug}", published=when)
                for slug, season, when in made]
    media = published.catalog.media[source.slug]
    catalog = dataclasses.replace(published.catalog, media={
        e.slug: dataclasses.replace(media, slug=e.slug) for e in episodes})
    show = dataclasses.replace(published.show, seasons={1: "Les débuts"})
    index = render_site(show, episodes, catalog, now=FIXTURE_NOW)["index.html"].decode()
    order = re.findall(r'<h3 class="season"( id="[^"]+")?>([^<]+)</h3>|id="(e\d+)"', index)
    assert [(anchor or slug, heading) for anchor, heading, slug in order] == [
        ("", "Autres épisodes"), ("e20", ""),
        (' id="season-1"', "Saison 1 · Les débuts"), ("e15", ""),
        (' id="season-2"', "Saison 2"), ("e8", ""),
        ("", "Saison 1 · Les débuts"), ("e1", "")]  # a season's anchor only once
