"""What the best hosts put in a feed (issue 24), read back by the apps' own parsers.

The demo show gets season names, a release schedule, per-platform blocks, an episode
location, all four transcript formats on one episode, an Opus rendition made by ffmpeg from
the episode's MP3, and a description with a literal ``<bracket>``.  The feed is read by the
Podcast Index's parser (podcast-partytime), feedparser, podcastparser and lxml, each tag
checked against its podcast-namespace docs/tags/*.md; ``validate`` catches a wrong weekday,
a future date and a garbage lastBuildDate, and takes Apple's copyright example.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import feedparser
import numpy as np
import podcastparser
import pytest
from feed_fixtures import NOW, Published, channel, item, publish_demo
from lxml import etree
from PIL import Image
from test_lifecycle import partytime

from podcast.audio.renditions import KINDS, encode_rendition
from podcast.binaries import ffmpeg
from podcast.config import load_episodes, load_show
from podcast.errors import ConfigError
from podcast.feed import ITUNES_NS, PODCAST_NS, build_feed
from podcast.model import Rendition
from podcast.tags import COVER_MAX_BYTES, COVER_MAX_PX, cover_jpeg
from podcast.validate import validate

NS = {"itunes": ITUNES_NS, "podcast": PODCAST_NS}

HOSTS = """
seasons:
  1: "Les salons après la crise"
schedule: {every: biweekly, days: monday, start: 2026-11-09}
block: [spotify, amazon]
"""
LOCATION = """location: {name: "Monaco", rel: subject, geo: "geo:43.7384,7.4246", osm: R1124039,
           country: MC}
"""
DESCRIPTION = ("Les coulisses des salons. Le mot <stand> est écrit tel quel, "
               "et **le gras** est du Markdown.")
TRANSCRIPTS = {
    "vtt": ("text/vtt", b"WEBVTT\n\n00:00.000 --> 00:02.000\nBonjour.\n"),
    "srt": ("application/x-subrip", b"1\n00:00:00,000 --> 00:00:02,000\nBonjour.\n"),
    "json": ("application/json",
             b'{"version": "1.0.0", "segments": [{"startTime": 0, "endTime": 2, '
             b'"body": "Bonjour."}]}'),
    "html": ("text/html", b"<p>Bonjour.</p>"),
}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture drifted: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def hosts(demo_show: Path, mp3_cache: Path) -> Published:
    """The demo with every new key, published with four transcripts and an Opus rendition
    on its first episode."""
    with demo_show.open("a", encoding="utf-8") as stream:
        stream.write(HOSTS)
    edit(demo_show, "description: >-\n  Chaque semaine, une rencontre avec celles et ceux qui "
         "font les salons, congrès et\n  événements professionnels : ce qui change, ce qui "
         "marche, ce qu'ils en retiennent.", f"description: \"{DESCRIPTION}\"")
    edit(demo_show.parent / "episodes" / "001-sonia-mamin" / "episode.md",
         "chapters:", LOCATION + "chapters:")
    pub = publish_demo(demo_show, mp3_cache)
    first = pub.catalog.media["001-sonia-mamin"]
    more = []
    for suffix, (kind, data) in TRANSCRIPTS.items():
        key = f"media/001-sonia-mamin-{hashlib.sha256(data).hexdigest()[:12]}.{suffix}"
        (pub.public / key).write_bytes(data)
        more.append((key, kind))
    made = encode_rendition(pub.public / first.key, "opus",
                            pub.public / "media" / "rendition.opus")
    key = f"media/001-sonia-mamin-{made.sha256[:12]}.opus"
    made.path.rename(pub.public / key)
    rendition = Rendition(key=key, type="audio/ogg", codecs="opus", bytes=made.bytes,
                          sha256=made.sha256, bitrate=KINDS["opus"].bitrate,
                          source=first.sha256)
    media = dict(pub.catalog.media)
    media["001-sonia-mamin"] = replace(first, transcript_key=None, transcript_type=None,
                                       more_transcripts=tuple(more), renditions=(rendition,))
    pub = replace(pub, catalog=replace(pub.catalog, media=media))
    pub.write_feed()
    return pub


def guid_of(pub: Published, slug: str) -> str:
    return next(e.guid for e in pub.episodes if e.slug == slug)


# --------------------------------------------------------------------------- exact tags


def test_each_tag_has_the_shape_its_namespace_doc_gives(hosts: Published):
    ch = channel(hosts)
    # block.md: channel, multiple, yes|no, id from serviceslugs.txt
    assert [(b.get("id"), b.text) for b in ch.findall("podcast:block", NS)] == [
        ("spotify", "yes"), ("amazon", "yes")]
    assert ch.find("itunes:block", NS) is None  # apple is not in the list
    # update-frequency.md: channel, single, rrule per RFC 5545, dtstart ISO 8601
    [frequency] = ch.findall("podcast:updateFrequency", NS)
    assert frequency.get("rrule") == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"
    assert frequency.get("dtstart") == "2026-11-09"
    assert frequency.text == "Every 2 weeks on Monday"
    assert frequency.get("complete") is None
    first = item(hosts, "001-sonia-mamin")
    # season.md: item, the number as text, name optional
    season = first.find("podcast:season", NS)
    assert (season.text, season.get("name")) == ("1", "Les salons après la crise")
    # location.md: item or channel, multiple
    [place] = first.findall("podcast:location", NS)
    assert (place.text, place.get("rel"), place.get("geo"), place.get("osm"),
            place.get("country")) == ("Monaco", "subject", "geo:43.7384,7.4246", "R1124039",
                                      "MC")
    assert item(hosts, "002-marc-olivier").find("podcast:location", NS) is None
    # transcript.md: one tag per file
    listed = [(t.get("type"), t.get("url").rsplit(".", 1)[1], t.get("rel"))
              for t in first.findall("podcast:transcript", NS)]
    assert listed == [("text/vtt", "vtt", "captions"), ("application/x-subrip", "srt",
                                                        "captions"),
                      ("application/json", "json", None), ("text/html", "html", None)]


def test_the_rendition_is_an_alternate_enclosure_with_its_sri_hash(hosts: Published):
    first = item(hosts, "001-sonia-mamin")
    [alternate] = first.findall("podcast:alternateEnclosure", NS)
    [source] = alternate.findall("podcast:source", NS)
    [integrity] = alternate.findall("podcast:integrity", NS)
    url = source.get("uri")
    path = hosts.public / url.removeprefix(hosts.show.base_url + "/")
    data = path.read_bytes()
    assert alternate.get("type") == "audio/ogg" and alternate.get("codecs") == "opus"
    assert alternate.get("length") == str(len(data))
    # SRI (W3C): the algorithm, a dash, the base64 of the raw digest
    assert integrity.get("type") == "sri"
    assert integrity.get("value") == "sha256-" + base64.b64encode(
        hashlib.sha256(data).digest()).decode()
    # ffprobe (not our code) says it is Opus audio as long as the MP3
    probe = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True,
                           text=True, check=False).stderr
    assert "Audio: opus" in probe
    enclosure = first.find("enclosure")
    assert alternate.get("bitrate") == "48000" and enclosure.get("type") == "audio/mpeg"


def test_the_show_description_is_html_in_cdata_and_keeps_its_brackets(hosts: Published):
    raw = hosts.feed_path.read_bytes()
    assert b"<description><![CDATA[<p>Les coulisses" in raw
    parsed = feedparser.parse(raw)
    assert "<stand>" in parsed.feed.description or "&lt;stand&gt;" in parsed.feed.description
    # feedparser sanitises HTML: an unknown tag <stand> would vanish; the text survives.
    text = etree.fromstring(raw).findtext("channel/description")
    html = etree.HTML(text)
    assert "Le mot <stand> est écrit" in "".join(html.itertext())
    assert html.find(".//strong").text == "le gras"


def test_the_brackets_are_text_for_feedparser(hosts: Published):
    parsed = feedparser.parse(hosts.feed_path.read_bytes())
    assert not parsed.bozo, parsed.bozo_exception
    # feedparser hands the description back as (sanitised) HTML: the bracket is escaped
    # text in it, so an app shows "<stand>", not an empty element.
    shown = "".join(etree.HTML(parsed.feed.description).itertext())
    assert "Le mot <stand> est écrit tel quel" in shown


# --------------------------------------------------------------------------- the parsers


def test_partytime_reads_every_new_tag(hosts: Published):
    feed = partytime(hosts.feed_path)
    assert feed["podcastBlockedPlatforms"] == {"spotify": True, "amazon": True}
    by_guid = {entry["guid"]: entry for entry in feed["items"]}
    first = by_guid[guid_of(hosts, "001-sonia-mamin")]
    assert first["podcastSeason"] == {"number": 1, "name": "Les salons après la crise"}
    [alternate] = first["alternativeEnclosures"]
    assert alternate["type"] == "audio/ogg" and alternate["codecs"] == "opus"
    assert alternate["source"][0]["uri"].endswith(".opus")
    assert alternate["integrity"]["type"] == "sri"
    assert alternate["integrity"]["value"].startswith("sha256-")
    # partytime reads application/x-subrip (the namespace's SRT type) as application/srt
    assert sorted(t["type"] for t in first["podcastTranscripts"]) == sorted(
        kind.replace("x-subrip", "srt") for kind, _ in TRANSCRIPTS.values())
    # podcast-partytime 5.0.0 reads no podcast:updateFrequency: lxml and feedparser do.


def test_feedparser_reads_the_new_tags(hosts: Published):
    # feedparser keeps an unknown namespaced element with attributes as its attributes.
    parsed = feedparser.parse(hosts.feed_path.read_bytes())
    assert parsed.feed["podcast_updatefrequency"] == {
        "rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "dtstart": "2026-11-09"}
    first = next(e for e in parsed.entries if e.id == guid_of(hosts, "001-sonia-mamin"))
    assert first["podcast_location"] == {"rel": "subject", "geo": "geo:43.7384,7.4246",
                                         "osm": "R1124039", "country": "MC"}
    assert first["podcast_season"] == {"name": "Les salons après la crise"}
    assert first["podcast_integrity"]["type"] == "sri"
    assert first["podcast_source"]["uri"].endswith(".opus")


def test_podcastparser_reads_the_episodes_and_transcripts(hosts: Published, monkeypatch):
    # podcastparser 0.6.11 only knows the podcast namespace by its old GitHub URL.
    from podcast.feed import PODCAST_NS as current
    monkeypatch.setitem(podcastparser.Namespace.NAMESPACES, current, "podcast")
    with hosts.feed_path.open("rb") as stream:
        parsed = podcastparser.parse(str(hosts.feed_path), stream)
    assert "Les coulisses des salons" in parsed["description"]
    first = next(e for e in parsed["episodes"] if e["guid"] == guid_of(hosts,
                                                                       "001-sonia-mamin"))
    assert first["enclosures"][0]["mime_type"] == "audio/mpeg"  # the MP3 stays first
    assert len(parsed["episodes"]) == 2


def test_a_rebuild_gives_the_same_bytes(hosts: Published):
    before = hosts.feed_path.read_bytes()
    assert build_feed(hosts.show, hosts.episodes, hosts.catalog, now=NOW) == before


def test_the_feed_passes_validate_with_every_new_tag(hosts: Published):
    findings = validate(str(hosts.feed_path))
    assert not [f for f in findings if f.level == "error"], findings
    assert not [f for f in findings if f.rule == "podcast-tags"], findings


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(("yaml_text", "field", "words"), [
    ("block: [spotfy]\n", "block[0]", "service list"),
    ("schedule: fortnightly\n", "schedule.every", "not a schedule"),
    ("schedule: {every: weekly, days: lundi}\n", "schedule.days[0]", "day of the week"),
    ("schedule: {every: weekly, start: soon}\n", "schedule.start", "not a date"),
])
def test_bad_new_keys_name_the_field(demo_show: Path, yaml_text: str, field: str, words: str):
    with demo_show.open("a", encoding="utf-8") as stream:
        stream.write(yaml_text)
    with pytest.raises(ConfigError) as caught:
        load_show(demo_show)
    assert caught.value.field == field and words in caught.value.message
    assert caught.value.fix


def test_block_with_apple_is_itunes_block_too_and_true_blocks_everywhere(
        demo_show: Path, mp3_cache: Path):
    with demo_show.open("a", encoding="utf-8") as stream:
        stream.write("block: [apple, youtube]\nschedule: weekly\ncomplete: true\n")
    pub = publish_demo(demo_show, mp3_cache)
    ch = etree.fromstring(pub.write_feed().read_bytes()).find("channel")
    assert ch.findtext("itunes:block", namespaces=NS) == "Yes"
    assert [b.get("id") for b in ch.findall("podcast:block", NS)] == ["apple", "youtube"]
    # A complete show has no rule: no episode is coming (update-frequency.md).
    frequency = ch.find("podcast:updateFrequency", NS)
    assert (frequency.get("complete"), frequency.get("rrule"), frequency.text) == (
        "true", None, "Weekly")
    edit(demo_show, "block: [apple, youtube]", "block: true")
    show = load_show(demo_show)
    ch = etree.fromstring(build_feed(show, load_episodes(show), pub.catalog, now=NOW))[0]
    assert [(b.get("id"), b.text) for b in ch.findall("podcast:block", NS)] == [(None, "yes")]
    assert show.schedule is not None and show.schedule.start is None
    assert load_show(demo_show).schedule.rrule == "FREQ=WEEKLY"
    assert date(2026, 11, 9).weekday() == 0  # the fixture's start is a Monday


# --------------------------------------------------------------------------- validate


def _broken(pub: Published, mutate) -> list:
    root = etree.fromstring(pub.feed_path.read_bytes())
    mutate(root)
    path = pub.public / "broken.xml"
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return validate(str(path))


def _set_text(xpath: str, text: str):
    def mutate(root) -> None:
        root.xpath(xpath, namespaces=NS)[0].text = text
    return mutate


@pytest.mark.parametrize(("what", "mutate", "words"), [
    # 16 Nov 2026 is a Monday
    ("wrong weekday", _set_text("channel/item[1]/pubDate", "Tue, 16 Nov 2026 06:00:00 +0000"),
     "says Tue, but that day is a Mon"),
    ("in the future", _set_text("channel/item[1]/pubDate", "Mon, 16 Nov 2099 06:00:00 +0000"),
     "is in the future"),
    ("garbage lastBuildDate", _set_text("channel/lastBuildDate", "yesterday-ish"),
     "<lastBuildDate> 'yesterday-ish' is not an RFC 2822 date"),
    ("wrong weekday in lastBuildDate", _set_text("channel/lastBuildDate",
                                                 "Sun, 16 Nov 2026 06:00:00 +0000"),
     "says Sun"),
])
def test_validate_catches_the_three_misses(published: Published, what: str, mutate,
                                           words: str):
    published.write_feed()
    clean = [f for f in validate(str(published.feed_path)) if f.rule == "pubdate"]
    assert clean == []
    findings = [f for f in _broken(published, mutate) if f.rule == "pubdate"]
    assert [f.level for f in findings] == ["error"], findings
    assert words in findings[0].message
    if "weekday" in what:  # the fix: the same moment with its own weekday
        assert "write Mon, 16 Nov 2026 06:00:00 +0000" in findings[0].message


@pytest.mark.parametrize(("text", "warned"), [
    ("℗ & © 2021 Apple Inc.", False),  # Apple's own example
    ("© 2026 Studio Rencontres", False),
    ("Copyright 2026 Studio Rencontres. All rights reserved.", False),
    ("Studio Rencontres", False),
    ("© 2026", True),
    ("Copyright", True),
])
def test_copyright_follows_apples_example(published: Published, text: str, warned: bool):
    published.write_feed()
    findings = [f for f in _broken(published, _set_text("channel/copyright", text))
                if f.rule == "copyright"]
    assert bool(findings) == warned, findings


def test_validate_checks_the_new_tags_rules(hosts: Published):
    def mutate(root) -> None:
        ch = root.find("channel")
        ch.find("podcast:block", NS).set("id", "spotfy")
        ch.find("podcast:updateFrequency", NS).set("rrule", "every monday")
        alternate = ch.find("item/podcast:alternateEnclosure", NS)
        alternate.remove(alternate.find("podcast:source", NS))
    messages = [f.message for f in _broken(hosts, mutate) if f.rule == "podcast-tags"]
    assert any("<podcast:block> spotfy" in m for m in messages), messages
    assert any("updateFrequency" in m for m in messages), messages
    assert any("alternateEnclosure" in m for m in messages), messages


# --------------------------------------------------------------------------- the cover


def test_the_embedded_cover_is_bounded_in_pixels_and_bytes(tmp_path: Path):
    # Noise does not compress: a 3000 px noisy photo is megabytes even as a JPEG.
    noisy = np.random.default_rng(7).integers(0, 256, (3000, 3000, 3), dtype=np.uint8)
    source = tmp_path / "photo.png"
    Image.fromarray(noisy).save(source)
    plain = io.BytesIO()
    Image.fromarray(noisy).resize((1400, 1400)).save(plain, "JPEG", quality=85)
    assert len(plain.getvalue()) > 4 * COVER_MAX_BYTES  # what it weighed before
    data = cover_jpeg(source, tmp_path / "podcast.yaml")
    image = Image.open(io.BytesIO(data))
    assert len(data) <= COVER_MAX_BYTES
    assert image.format == "JPEG" and max(image.size) <= COVER_MAX_PX
    assert image.size[0] == image.size[1]


def test_a_simple_cover_keeps_1400_px(tmp_path: Path):
    from feed_fixtures import make_image
    data = cover_jpeg(make_image(tmp_path / "cover.jpg", (3000, 3000)), tmp_path / "x.yaml")
    assert Image.open(io.BytesIO(data)).size == (1400, 1400)
    assert len(data) <= COVER_MAX_BYTES


def test_the_rendition_is_the_same_bytes_each_time(published: Published, tmp_path: Path):
    master = next(published.public.glob("media/*.mp3"))
    one = encode_rendition(master, "aac", tmp_path / "one.m4a")
    two = encode_rendition(master, "aac", tmp_path / "two.m4a")
    assert one.sha256 == two.sha256 and one.bytes == (tmp_path / "one.m4a").stat().st_size
    shutil.rmtree(tmp_path / "unused", ignore_errors=True)
