"""The feed's lifecycle and discovery keys: podcast.yaml and front matter in, tags out.

The demo show gets every key (moving the feed, block, complete, txt, licence, location,
podroll, WebSub, subscribe links), a season trailer and soundbites; the feed is then read by
the Podcast Index's own parser (podcast-partytime, run with the machine's Node), by feedparser
and podcastparser, and by lxml for the exact tag shapes of podcast-namespace docs/tags/*.md.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import podcastparser
import pytest
from feed_fixtures import NOW, Published, channel, item, publish_demo
from lxml import etree

from podcast.config import load_episodes, load_show
from podcast.errors import ConfigError
from podcast.feed import ITUNES_NS, PODCAST_NS
from podcast.validate import validate

NS = {"itunes": ITUNES_NS, "podcast": PODCAST_NS, "atom": "http://www.w3.org/2005/Atom"}
JS = Path(__file__).resolve().parent / "js"

LIFECYCLE = """
new_feed_url: https://feeds.example.org/salons.xml
block: true
complete: true
txt:
  - {value: S6lpp-7ZCn8-dZfGc-OoyaG, purpose: verify}
  - naj3eEZaWVVY9a38uhX8FekACyhtqP4JN
license: CC-BY-4.0
location:
  name: Monaco
  rel: creator
  geo: "geo:43.7384,7.4246"
  osm: R1124039
  country: MC
podroll:
  - {url: "https://feeds.podcastindex.org/pc20.xml",
     guid: 917393e3-1b1e-5cef-ace4-edaa54e1f810, title: Podcasting 2.0}
  - https://podnews.net/rss
websub: https://hub.example.org/
subscribe:
  Apple Podcasts: https://podcasts.apple.com/fr/podcast/salons/id1
  Spotify: https://open.spotify.com/show/abc
  Overcast: https://overcast.fm/itunes1
"""

TRAILER = """---
title: "Bande-annonce de la saison 1"
published: 2026-11-02T07:00:00+01:00
audio: interview.mp3
season: 1
type: trailer
---
Ce que vous entendrez cette saison.
"""

SOUNDBITES = """soundbites:
  - {start: "0:01", duration: 1.5, title: "Le salon devient phygital"}
  - {start: 2, duration: 0.75}
"""


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture drifted: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def add_lifecycle(config: Path) -> None:
    """Every lifecycle key in podcast.yaml, a season trailer and soundbites on episode 1."""
    with config.open("a", encoding="utf-8") as stream:
        stream.write(LIFECYCLE)
    episodes = config.parent / "episodes"
    trailer = episodes / "000-bande-annonce"
    trailer.mkdir()
    shutil.copy(episodes / "001-sonia-mamin" / "interview.mp3", trailer / "interview.mp3")
    (trailer / "episode.md").write_text(TRAILER, encoding="utf-8")
    edit(episodes / "001-sonia-mamin" / "episode.md", "chapters:", SOUNDBITES + "chapters:")


@pytest.fixture
def lifecycle(demo_show: Path, mp3_cache: Path) -> Published:
    add_lifecycle(demo_show)
    pub = publish_demo(demo_show, mp3_cache)
    pub.write_feed()
    return pub


# --------------------------------------------------------------------------- config


def test_the_keys_load_into_the_show(lifecycle: Published):
    show = lifecycle.show
    assert show.new_feed_url == "https://feeds.example.org/salons.xml"
    assert (show.block, show.complete) == (True, True)
    assert [(t.value, t.purpose) for t in show.txt] == [
        ("S6lpp-7ZCn8-dZfGc-OoyaG", "verify"), ("naj3eEZaWVVY9a38uhX8FekACyhtqP4JN", None)]
    assert (show.license.identifier, show.license.url) == ("CC-BY-4.0", None)
    assert [(p.name, p.rel, p.geo, p.osm, p.country) for p in show.locations] == [
        ("Monaco", "creator", "geo:43.7384,7.4246", "R1124039", "MC")]
    # The second show gives only its URL: its guid is the one the guid tag derives from it
    # (the podcast-namespace check value for podnews.net/rss).
    assert [(r.guid, r.url, r.title) for r in show.podroll] == [
        ("917393e3-1b1e-5cef-ace4-edaa54e1f810", "https://feeds.podcastindex.org/pc20.xml",
         "Podcasting 2.0"),
        ("9b024349-ccf0-5f69-a609-6b82873eab3c", "https://podnews.net/rss", None)]
    assert show.websub == ("https://hub.example.org/",)
    assert list(show.subscribe.items()) == [
        ("Apple Podcasts", "https://podcasts.apple.com/fr/podcast/salons/id1"),
        ("Spotify", "https://open.spotify.com/show/abc"),
        ("Overcast", "https://overcast.fm/itunes1")]
    first = next(e for e in lifecycle.episodes if e.slug == "001-sonia-mamin")
    assert [(b.start, b.duration, b.title) for b in first.soundbites] == [
        (1.0, 1.5, "Le salon devient phygital"), (2.0, 0.75, None)]


def test_a_show_without_the_keys_has_none_of_them(demo_show: Path):
    show = load_show(demo_show)
    assert (show.new_feed_url, show.block, show.complete, show.txt, show.license,
            show.locations, show.podroll, show.websub, show.subscribe) == (
        None, False, False, (), None, (), (), (), {})


@pytest.mark.parametrize(("yaml_text", "field", "words"), [
    ("new_feed_url: feeds.example.org/x.xml", "new_feed_url", "not an http(s) URL"),
    ("block: Yes please", "block", "true or false"),
    ("complete: 1", "complete", "true or false"),
    ("txt:\n  - {value: abc, purpose: " + "p" * 129 + "}", "txt[0].purpose", "129 characters"),
    ("txt:\n  - {purpose: verify}", "txt[0].value", "missing required key"),
    ("txt:\n  - {value: abc, porpose: verify}", "txt[0].porpose", "unknown key"),
    ("license: my-own-licence", "license.identifier", "needs the url"),
    ("license: {identifier: CC BY, url: 'https://example.org/l'}", "license.identifier",
     "not a licence identifier"),
    ("location: {name: Monaco, geo: '43.7,7.4'}", "location.geo", "not a geo URI"),
    ("location: {name: Monaco, geo: 'geo:143.7,7.4'}", "location.geo", "not a geo URI"),
    ("location: {name: Monaco, osm: '1124039'}", "location.osm", "OpenStreetMap"),
    ("location: {name: Monaco, country: Monaco}", "location.country", "ISO 3166-1"),
    ("location: {name: Monaco, rel: about}", "location.rel", "subject or creator"),
    ("location:\n  - Monaco\n  - {name: Nice, rel: here}", "location[1].rel",
     "subject or creator"),
    ("podroll:\n  - {title: Podnews}", "podroll[0].url", "url or its guid"),
    ("podroll:\n  - {guid: ''}", "podroll[0].url", "url or its guid"),
    ("podroll:\n  - {url: 'https://podnews.net/rss', guid: podnews}", "podroll[0].guid",
     "not a UUID"),
    ("podroll:\n  - ftp://podnews.net/rss", "podroll[0].url", "not an http(s) URL"),
    ("websub: hub.example.org", "websub[0]", "not an http(s) URL"),
    ("subscribe:\n  - https://podcasts.apple.com/x", "subscribe", "expected a mapping"),
    ("subscribe:\n  Spotify: open.spotify.com/show/abc", "subscribe.Spotify",
     "not an http(s) URL"),
    ("subscribe:\n  Spotify:", "subscribe.Spotify", "missing required key"),
])
def test_a_bad_value_names_the_file_the_key_and_the_fix(demo_show: Path, yaml_text: str,
                                                        field: str, words: str):
    with demo_show.open("a", encoding="utf-8") as stream:
        stream.write("\n" + yaml_text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_show(demo_show)
    assert caught.value.field == field
    assert str(demo_show.resolve()) in str(caught.value)
    assert words in caught.value.message


@pytest.mark.parametrize(("soundbites", "field", "words"), [
    ("  - {start: soon, duration: 30}", "soundbites[0].start", "not a time"),
    ("  - {start: 10, duration: 0}", "soundbites[0].duration", "longer than 0"),
    ("  - {start: 10}", "soundbites[0].duration", "missing required key"),
    ("  - {start: 10, duration: 30, tilte: x}", "soundbites[0].tilte", "unknown key"),
    ("  - {start: 10, duration: 30, title: '" + "x" * 129 + "'}", "soundbites[0].title",
     "129 characters"),
])
def test_a_bad_soundbite_names_the_episode_and_the_key(demo_show: Path, soundbites: str,
                                                       field: str, words: str):
    episode = demo_show.parent / "episodes" / "001-sonia-mamin" / "episode.md"
    edit(episode, "chapters:", f"soundbites:\n{soundbites}\nchapters:")
    with pytest.raises(ConfigError) as caught:
        load_episodes(load_show(demo_show))
    assert caught.value.field == field
    assert "001-sonia-mamin/episode.md" in str(caught.value)
    assert words in str(caught.value)


# --------------------------------------------------------------------------- the feed


def test_the_channel_says_where_the_feed_moved_and_that_it_is_blocked_and_complete(
        lifecycle: Published):
    ch = channel(lifecycle)
    assert ch.findtext("itunes:new-feed-url", namespaces=NS) == \
        "https://feeds.example.org/salons.xml"
    assert ch.findtext("itunes:block", namespaces=NS) == "Yes"
    assert ch.findtext("itunes:complete", namespaces=NS) == "Yes"
    links = [(a.get("rel"), a.get("href")) for a in ch.findall("atom:link", NS)]
    assert links == [("self", "http://127.0.0.1:8000/feed.xml"),
                     ("hub", "https://hub.example.org/")]


def test_the_channel_carries_txt_license_location_and_podroll(lifecycle: Published):
    ch = channel(lifecycle)
    assert [(t.get("purpose"), t.text) for t in ch.findall("podcast:txt", NS)] == [
        ("verify", "S6lpp-7ZCn8-dZfGc-OoyaG"), (None, "naj3eEZaWVVY9a38uhX8FekACyhtqP4JN")]
    license_ = ch.find("podcast:license", NS)
    assert (license_.text, license_.attrib) == ("CC-BY-4.0", {})
    location = ch.find("podcast:location", NS)
    assert (location.text, dict(location.attrib)) == ("Monaco", {
        "rel": "creator", "geo": "geo:43.7384,7.4246", "osm": "R1124039", "country": "MC"})
    remote = [dict(r.attrib) for r in ch.findall("podcast:podroll/podcast:remoteItem", NS)]
    assert remote == [
        {"feedGuid": "917393e3-1b1e-5cef-ace4-edaa54e1f810",
         "feedUrl": "https://feeds.podcastindex.org/pc20.xml", "title": "Podcasting 2.0"},
        {"feedGuid": "9b024349-ccf0-5f69-a609-6b82873eab3c",
         "feedUrl": "https://podnews.net/rss"}]


def test_a_season_trailer_is_also_the_channels_podcast_trailer(lifecycle: Published):
    trailer_item = item(lifecycle, "000-bande-annonce")
    assert trailer_item.findtext("itunes:episodeType", namespaces=NS) == "trailer"
    assert trailer_item.find("itunes:episode", NS) is None  # Apple: a season trailer
    enclosure = trailer_item.find("enclosure")
    trailers = channel(lifecycle).findall("podcast:trailer", NS)
    assert len(trailers) == 1
    trailer = trailers[0]
    assert trailer.text == "Bande-annonce de la saison 1"
    assert (trailer.get("url"), trailer.get("length"), trailer.get("type")) == (
        enclosure.get("url"), enclosure.get("length"), "audio/mpeg")
    assert parsedate_to_datetime(trailer.get("pubdate")) == \
        parsedate_to_datetime(trailer_item.findtext("pubDate"))
    assert trailer.get("season") == "1"


def test_a_trailer_with_a_number_teases_one_episode_and_is_no_podcast_trailer(
        demo_show: Path, mp3_cache: Path):
    add_lifecycle(demo_show)
    edit(demo_show.parent / "episodes" / "000-bande-annonce" / "episode.md",
         "season: 1", "season: 1\nnumber: 1")
    pub = publish_demo(demo_show, mp3_cache)
    pub.write_feed()
    assert channel(pub).findall("podcast:trailer", NS) == []


def test_soundbites_are_on_their_episode(lifecycle: Published):
    bites = item(lifecycle, "001-sonia-mamin").findall("podcast:soundbite", NS)
    assert [(b.get("startTime"), b.get("duration"), b.text) for b in bites] == [
        ("1.0", "1.5", "Le salon devient phygital"), ("2.0", "0.75", None)]


def test_the_feed_with_every_key_passes_validate(lifecycle: Published):
    findings = validate(str(lifecycle.feed_path))
    assert [str(f) for f in findings] == []


def test_feedparser_and_podcastparser_still_read_it(lifecycle: Published):
    parsed = feedparser.parse(lifecycle.feed_path.read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert len(parsed.entries) == 3
    assert parsed.feed.itunes_block == 1 and parsed.feed.itunes_complete == "Yes"
    with lifecycle.feed_path.open("rb") as stream:
        gpodder = podcastparser.parse(str(lifecycle.feed_path), stream)
    assert gpodder["new_url"] == "https://feeds.example.org/salons.xml"
    assert [e["guid"] for e in gpodder["episodes"]] == [
        e.guid for e in sorted(lifecycle.episodes, key=lambda e: e.published, reverse=True)
        if e.is_live(NOW)]


# --------------------------------------------------------------------------- podcast-partytime


def partytime(feed: Path) -> dict:
    """The feed as the Podcast Index's parser reads it (tests/js, `npm ci --prefix tests/js`)."""
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "podcast-partytime").is_dir():
        pytest.skip("needs Node and `npm ci --prefix tests/js` (podcast-partytime)")
    done = subprocess.run([node, str(JS / "partytime.js"), str(feed)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_podcast_partytime_reads_every_new_tag_with_its_value(lifecycle: Published):
    feed = partytime(lifecycle.feed_path)

    assert feed["itunesNewFeedUrl"] == "https://feeds.example.org/salons.xml"
    assert (feed["itunesBlock"], feed["itunesComplete"]) == (True, True)
    assert feed["pubsub"] == {"hub": "https://hub.example.org/",
                              "self": "http://127.0.0.1:8000/feed.xml"}
    assert feed["podcastTxt"] == [
        {"value": "S6lpp-7ZCn8-dZfGc-OoyaG", "purpose": "verify"},
        {"value": "naj3eEZaWVVY9a38uhX8FekACyhtqP4JN"}]
    assert feed["license"]["identifier"] == "CC-BY-4.0"
    assert feed["podcastLocation"] == {"name": "Monaco", "geo": "geo:43.7384,7.4246",
                                       "osm": "R1124039"}
    assert feed["podroll"] == [
        {"feedGuid": "917393e3-1b1e-5cef-ace4-edaa54e1f810",
         "feedUrl": "https://feeds.podcastindex.org/pc20.xml", "title": "Podcasting 2.0"},
        {"feedGuid": "9b024349-ccf0-5f69-a609-6b82873eab3c",
         "feedUrl": "https://podnews.net/rss"}]
    trailer_item = item(lifecycle, "000-bande-annonce")
    enclosure = trailer_item.find("enclosure")
    [trailer] = feed["trailers"]
    assert trailer["title"] == "Bande-annonce de la saison 1"
    assert (trailer["url"], trailer["length"], trailer["type"], trailer["season"]) == (
        enclosure.get("url"), int(enclosure.get("length")), "audio/mpeg", 1)
    by_guid = {entry["guid"]: entry for entry in feed["items"]}
    first = next(e for e in lifecycle.episodes if e.slug == "001-sonia-mamin")
    bites = by_guid[first.guid]["podcastSoundbites"]
    assert [(b["startTime"], b["duration"]) for b in bites] == [(1, 1.5), (2, 0.75)]
    # An untitled soundbite is left blank for apps to fill: partytime uses the show's title.
    assert [b["title"] for b in bites] == ["Le salon devient phygital", "Salons & Rencontres"]


# --------------------------------------------------------------------------- validate


def _set(path: str, text: str | None = None, **attrs: str):
    def mutate(root) -> None:
        element = root.xpath(path, namespaces=NS)[0]
        if text is not None:
            element.text = text
        for key, value in attrs.items():
            element.set(key, value)
    return mutate


def _drop_attribute(path: str, name: str):
    def mutate(root) -> None:
        del root.xpath(path, namespaces=NS)[0].attrib[name]
    return mutate


@pytest.mark.parametrize(("mutate", "level", "rule", "words"), [
    (_set("channel/itunes:block", "yes"), "warning", "lifecycle", "only acts on Yes"),
    (_set("channel/itunes:complete", "No"), "warning", "lifecycle", "only acts on Yes"),
    (_drop_attribute("channel/podcast:trailer", "pubdate"), "error", "podcast-tags",
     "RFC 2822 pubdate"),
    (_drop_attribute("channel/podcast:podroll/podcast:remoteItem[1]", "feedGuid"), "error",
     "podcast-tags", "feedGuid"),
    (_set("channel/podcast:license", "my-licence"), "error", "podcast-tags", "needs the url"),
    (_set("channel/item/podcast:soundbite", startTime="-1"), "error", "podcast-tags",
     "startTime and duration"),
    (_set("channel/item/podcast:soundbite", duration="60"), "error", "podcast-tags",
     "ends after the episode"),
])
def test_validate_checks_the_new_tags(lifecycle: Published, mutate, level, rule, words):
    root = etree.fromstring(lifecycle.feed_path.read_bytes())
    mutate(root)
    lifecycle.feed_path.write_bytes(etree.tostring(root, xml_declaration=True,
                                                   encoding="UTF-8"))
    findings = validate(str(lifecycle.feed_path))
    assert [(f.level, f.rule) for f in findings] == [(level, rule)], findings
    assert words in findings[0].message


def test_before_an_upload_what_the_feed_names_is_read_from_the_store(published_demo):
    """`publish` checks the feed against the store: a missing object is an error there."""
    from podcast.storage import FileStore
    from podcast.validate import validate_feed

    pub = published_demo
    feed = pub.feed_path.read_bytes()
    store = FileStore(pub.public)
    assert validate_feed(feed, store) == []
    media = pub.catalog.media["002-marc-olivier"]
    (pub.public / media.transcript_key).write_text("00:00.000 --> 00:01.000\nBonjour\n")
    (pub.public / media.key).unlink()
    findings = [(f.level, f.rule) for f in validate_feed(feed, store)]
    assert findings == [("error", "enclosure-reachable"), ("error", "transcript")]


@pytest.fixture
def published_demo(demo_show: Path, mp3_cache: Path) -> Published:
    pub = publish_demo(demo_show, mp3_cache)
    pub.write_feed()
    return pub
