"""`podcast validate`: the good feed passes, and every rule catches its own kind of breakage.

Each broken feed is the good feed with exactly one thing changed, written next to it in the
``public/`` folder so the artwork and audio checks can look at the files, as they would for
a feed in ``file://`` storage.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from feed_fixtures import NOW, Published, make_image, publish_demo
from lxml import etree

from podcast import cli
from podcast.errors import PodcastError
from podcast.feed import ITUNES_NS, PODCAST_NS, build_feed
from podcast.serve import serving
from podcast.validate import RULES, Finding, default_source, validate

NS = {"itunes": ITUNES_NS, "podcast": PODCAST_NS, "atom": "http://www.w3.org/2005/Atom"}


@pytest.fixture(scope="session")
def mp3_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mp3")


@pytest.fixture
def published(demo_show: Path, mp3_cache: Path) -> Published:
    pub = publish_demo(demo_show, mp3_cache)
    pub.write_feed()
    return pub


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == "error"]


# --------------------------------------------------------------------------- the good feed


def test_the_built_feed_has_no_finding_at_all(published: Published):
    assert validate(str(published.feed_path)) == []


def test_a_finding_reads_as_level_rule_and_message():
    finding = Finding("error", "guid", "item 2 has no <guid>")
    assert str(finding) == "error: [guid] item 2 has no <guid>"


def test_default_source_is_the_feed_in_the_storage_folder(published: Published,
                                                          demo_show: Path):
    assert default_source(demo_show) == str(published.feed_path.resolve())


def test_default_source_for_s3_storage_is_the_public_feed_url(demo_show: Path):
    text = demo_show.read_text().replace("storage: file://public", "storage: s3://bucket/show")
    demo_show.write_text(text)
    assert default_source(demo_show) == "http://127.0.0.1:8000/feed.xml"


def test_missing_feed_is_a_clear_error(tmp_path: Path):
    with pytest.raises(PodcastError, match="feed file not found") as caught:
        validate(str(tmp_path / "feed.xml"))
    assert "podcast feed" in caught.value.fix


# --------------------------------------------------------------------------- one rule each


def xpath_set(path: str, text: str | None = None, **attrs: str) -> Callable:
    def mutate(root, public: Path) -> None:
        element = root.xpath(path, namespaces=NS)[0]
        if text is not None:
            element.text = text
        for key, value in attrs.items():
            element.set(key, value)
    return mutate


def xpath_remove(path: str) -> Callable:
    def mutate(root, public: Path) -> None:
        for element in root.xpath(path, namespaces=NS):
            element.getparent().remove(element)
    return mutate


def art(name: str, **image: object) -> Callable:
    """Point the channel artwork at a new image file made with Pillow."""
    def mutate(root, public: Path) -> None:
        make_image(public / "art" / name, **image)
        element = root.find("channel/itunes:image", NS)
        element.set("href", "http://127.0.0.1:8000/art/" + name)
    return mutate


def misspell_category(root, public: Path) -> None:
    root.find("channel/itunes:category/itunes:category", NS).set("text", "Marketting")


def misspell_category_case(root, public: Path) -> None:
    root.find("channel/itunes:category", NS).set("text", "business")


def garbage_art(root, public: Path) -> None:
    (public / "art" / "garbage.jpg").write_bytes(b"not a picture at all")
    root.find("channel/itunes:image", NS).set("href", "http://127.0.0.1:8000/art/garbage.jpg")


def chapters_file(content: bytes) -> Callable:
    """Point the newest item at a chapters file holding ``content``."""
    def mutate(root, public: Path) -> None:
        (public / "media" / "bad.chapters.json").write_bytes(content)
        root.find("channel/item/podcast:chapters", NS).set(
            "url", "http://127.0.0.1:8000/media/bad.chapters.json")
    return mutate


def make_serial_without_numbers(root, public: Path) -> None:
    root.find("channel/itunes:type", NS).text = "serial"
    xpath_remove("channel/item[1]/itunes:episode")(root, public)


def duplicate_guid(root, public: Path) -> None:
    first, second = root.findall("channel/item")
    second.find("guid").text = first.find("guid").text


def vtt_without_header(root, public: Path) -> None:
    (public / "media" / "bare.vtt").write_text("00:00:00.500 --> 00:00:05.000\nBonjour\n")
    root.find("channel/item/podcast:transcript", NS).set(
        "url", "http://127.0.0.1:8000/media/bare.vtt")


def enclosure_of_the_other_item(root, public: Path) -> None:
    first, second = root.findall("channel/item")
    first.find("enclosure").attrib.update(second.find("enclosure").attrib)


def new_feed_url_without_scheme(root, public: Path) -> None:
    element = etree.SubElement(root.find("channel"), f"{{{ITUNES_NS}}}new-feed-url")
    element.text = "feeds.example.com/salons.xml"


def enclosure_longer_than_file(root, public: Path) -> None:
    enclosure = root.find("channel/item/enclosure")
    enclosure.set("length", str(int(enclosure.get("length")) + 1))


BROKEN = {
    # rule: [(what breaks, mutation), ...]
    "namespaces": [
        ("itunes URI in the wrong case", b"http://www.itunes.com/DTDs/Podcast-1.0.dtd"),
        ("podcast URI with a trailing slash", b"https://podcastindex.org/namespace/1.0/"),
    ],
    "channel-required": [
        ("no language", xpath_remove("channel/language")),
        ("no atom:link rel=self", xpath_remove("channel/atom:link")),
        ("no title", xpath_remove("channel/title")),
    ],
    "image": [
        ("no itunes:image", xpath_remove("channel/itunes:image")),
        ("too small", art("small.jpg", size=(1000, 1000))),
        ("too big", art("huge.jpg", size=(3200, 3200))),
        ("not square", art("wide.jpg", size=(1600, 1400))),
        ("CMYK", art("cmyk.jpg", mode="CMYK")),
        ("PNG named .jpg", art("fake.jpg", fmt="PNG")),
        ("GIF", art("cover.gif", fmt="GIF")),
        ("not an image", garbage_art),
    ],
    "category": [
        ("misspelt subcategory", misspell_category),
        ("wrong case", misspell_category_case),
        ("no category", xpath_remove("channel/itunes:category")),
    ],
    "explicit": [
        ("channel yes", xpath_set("channel/itunes:explicit", "yes")),
        ("item clean", xpath_set("channel/item/itunes:explicit", "clean")),
        ("channel missing", xpath_remove("channel/itunes:explicit")),
    ],
    "description-length": [
        ("long channel description", xpath_set("channel/description", "é" * 2001)),
        ("long item description", xpath_set("channel/item/description", "x" * 4001)),
    ],
    "owner": [("no owner", xpath_remove("channel/itunes:owner"))],
    "lifecycle": [("new-feed-url without scheme", new_feed_url_without_scheme)],
    "person-role": [
        ("role outside the taxonomy", xpath_set("channel/podcast:person", role="sidekick")),
        ("group outside the taxonomy", xpath_set("channel/item/podcast:person[2]",
                                                 group="guests")),
    ],
    "title-length": [("325 characters", xpath_set("channel/item/title", "Salon " * 54 + "x"))],
    "enclosure-duplicate": [("same audio URL twice", enclosure_of_the_other_item)],
    "transcript": [("VTT without the WEBVTT line", vtt_without_header)],
    "show-type": [
        ("serial without numbers", make_serial_without_numbers),
        ("unknown type", xpath_set("channel/itunes:type", "seasonal")),
    ],
    "copyright": [("no holder", xpath_set("channel/copyright", "© 2026")),
                  ("only the word", xpath_set("channel/copyright", "Copyright"))],
    "podcast-guid": [("not a UUID", xpath_set("channel/podcast:guid", "salons-rencontres"))],
    "podcast-tags": [
        ("locked maybe", xpath_set("channel/podcast:locked", "maybe")),
        ("chapters type", xpath_set("channel/item/podcast:chapters", type="application/json")),
    ],
    "item-title": [("empty title", xpath_set("channel/item/title", " "))],
    "title-style": [
        ("show name", xpath_set("channel/item/title", "Salons & Rencontres : Marc Olivier")),
        ("number first", xpath_set("channel/item/title", "Épisode 2 : Marc Olivier")),
        ("hash number", xpath_set("channel/item/title", "#2 Marc Olivier")),
    ],
    "chapters": [
        ("not JSON", chapters_file(b"<chapters/>")),
        ("no version", chapters_file(b'{"chapters": []}')),
        ("backwards", chapters_file(
            b'{"version": "1.2", "chapters": [{"startTime": 9, "title": "b"},'
            b' {"startTime": 3, "title": "a"}]}')),
        ("time as text", chapters_file(
            b'{"version": "1.2", "chapters": [{"startTime": "0:00", "title": "a"}]}')),
    ],
    "enclosure": [
        ("no enclosure", xpath_remove("channel/item[1]/enclosure")),
        ("length in MB", xpath_set("channel/item/enclosure", length="0.05MB")),
        ("MP3 as audio/mp3", xpath_set("channel/item/enclosure", type="audio/mp3")),
        ("non-ASCII URL", xpath_set("channel/item/enclosure",
                                    url="http://127.0.0.1:8000/media/épisode.mp3")),
    ],
    "guid": [
        ("duplicate guid", duplicate_guid),
        ("no guid", xpath_remove("channel/item[2]/guid")),
    ],
    "pubdate": [
        ("ISO date", xpath_set("channel/item/pubDate", "2026-11-16T07:00:00+01:00")),
        ("no time zone", xpath_set("channel/item/pubDate", "Mon, 16 Nov 2026 06:00:00")),
    ],
    "duration": [("fraction", xpath_set("channel/item/itunes:duration", "4.5"))],
    "episode-number": [
        ("season zero", xpath_set("channel/item/itunes:season", "0")),
        ("episode text", xpath_set("channel/item/itunes:episode", "two")),
    ],
    "episode-type": [("teaser", xpath_set("channel/item/itunes:episodeType", "teaser"))],
    "enclosure-reachable": [
        ("length off by one", enclosure_longer_than_file),
    ],
}
LEVEL = {"owner": "warning", "copyright": "warning", "title-style": "warning"}
CASES = [pytest.param(rule, mutate, id=f"{rule}: {name}")
         for rule, cases in BROKEN.items() for name, mutate in cases]


@pytest.mark.parametrize(("rule", "mutate"), CASES)
def test_each_rule_catches_its_breakage(published: Published, rule: str, mutate):
    data = published.feed_path.read_bytes()
    if isinstance(mutate, bytes):
        data = data.replace(
            b"http://www.itunes.com/dtds/podcast-1.0.dtd" if b"itunes" in mutate
            else b"https://podcastindex.org/namespace/1.0", mutate)
    else:
        root = etree.fromstring(data)
        mutate(root, published.public)
        data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    broken = published.public / "broken.xml"
    broken.write_bytes(data)

    findings = validate(str(broken))

    matching = [f for f in findings if f.rule == rule]
    assert matching, f"no {rule} finding in {[str(f) for f in findings]}"
    assert {f.level for f in matching} == {LEVEL.get(rule, "error")}, matching


def test_every_rule_has_a_breakage_test():
    tested = set(BROKEN) | {"xml", "guid-stability"}  # both tested below
    assert tested == set(RULES)


@pytest.mark.parametrize("data", [b"<rss><channel><title>x</title>", b"<feed/>",
                                  b'<rss version="0.91"><channel/></rss>'])
def test_not_an_rss_document(tmp_path: Path, data: bytes):
    path = tmp_path / "feed.xml"
    path.write_bytes(data)
    assert [f.rule for f in validate(str(path))] == ["xml"]


def test_external_entities_are_never_expanded(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    path = tmp_path / "feed.xml"
    path.write_text(f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
                    '<rss version="2.0"><channel><title>&x;</title></channel></rss>')
    assert "TOPSECRET" not in " ".join(str(f) for f in validate(str(path)))


# --------------------------------------------------------------------------- GUID stability


def test_a_changed_guid_is_an_error_and_a_vanished_one_a_warning(published: Published):
    previous = published.public / "previous.xml"
    previous.write_bytes(published.feed_path.read_bytes())
    episodes = [dataclasses.replace(published.episodes[0], guid="new-guid-for-sonia"),
                published.episodes[2]]  # Marc Olivier's episode is gone; Claire is not live
    published.feed_path.write_bytes(build_feed(published.show, episodes, published.catalog,
                                               now=NOW))

    findings = [f for f in validate(str(published.feed_path), previous=previous)
                if f.rule == "guid-stability"]

    assert [(f.level, "Sonia" in f.message, "Marc" in f.message) for f in findings] == [
        ("warning", False, True), ("error", True, False)]
    assert "new-guid-for-sonia" in findings[1].message


def test_an_unchanged_feed_is_stable(published: Published):
    assert validate(str(published.feed_path), previous=published.feed_path) == []


# --------------------------------------------------------------------------- over HTTP


def served_feed(published: Published, port: int) -> str:
    """Rebuild the feed for a server on ``port`` and return its URL."""
    base = f"http://127.0.0.1:{port}"
    published.show = dataclasses.replace(published.show, base_url=base,
                                         feed_url=f"{base}/feed.xml")
    published.write_feed()
    return f"{base}/feed.xml"


def test_a_served_feed_passes_head_and_range_checks(published: Published, tmp_path: Path):
    with serving(published.public, log_path=tmp_path / "access.log") as server:
        url = served_feed(published, server.server_address[1])
        assert validate(url) == []
    log = (tmp_path / "access.log").read_text()
    assert log.count('"HEAD /media/') == 2
    assert log.count('.mp3 HTTP/1.1" 206 2 ') == 2  # the bytes=0-1 probes
    assert log.count('.chapters.json HTTP/1.1" 200 ') == 2


def test_a_server_without_byte_ranges_fails(published: Published):
    # Python's plain file server answers every Range request with the whole file (200).
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(published.public))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        findings = validate(served_feed(published, server.server_address[1]))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    reachable = [f for f in errors(findings) if f.rule == "enclosure-reachable"]
    assert len(reachable) == 2
    assert all("got HTTP 200" in f.message for f in reachable)


def test_a_feed_url_that_does_not_answer_is_a_clear_error(published: Published):
    with serving(published.public, log_path=published.public.parent / "log") as server:
        port = server.server_address[1]
    with pytest.raises(PodcastError, match="cannot fetch the feed"):
        validate(f"http://127.0.0.1:{port}/feed.xml")


# --------------------------------------------------------------------------- the command


def test_command_exits_0_on_the_good_feed_and_1_on_a_broken_one(published: Published,
                                                                 demo_show: Path):
    runner = CliRunner()
    good = runner.invoke(cli.main, ["--config", str(demo_show), "validate"])
    assert good.exit_code == 0, good.output
    # The demo's podcast.yaml is checked too: its example.com addresses and loopback base_url
    # are warnings (tests/test_first_messages.py has their texts), the feed has none.
    assert [line.split(" ")[1] for line in good.output.splitlines()
            if line.startswith("warning")] == ["[placeholder]"] * 2 + [
        "[loopback]"]
    assert good.output.strip().endswith("0 error(s), 3 warning(s)")

    data = published.feed_path.read_bytes().replace(b"<itunes:explicit>false</itunes:explicit>",
                                                    b"<itunes:explicit>no</itunes:explicit>")
    published.feed_path.write_bytes(data)
    bad = runner.invoke(cli.main, ["--config", str(demo_show), "validate"])
    assert bad.exit_code == 1
    assert "error: [explicit] channel <itunes:explicit> is 'no'; write true or false" in \
        bad.output
