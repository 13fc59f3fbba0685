"""The RSS feed: what podcast apps read, checked with the parsers apps are built on.

The demo show is laid out as if published (real MP3s, real artwork), then its feed is read
back by feedparser and podcastparser (gPodder's parser) and by lxml for exact tags.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import podcastparser
import psutil
import pytest
from feed_fixtures import NOW, THIRD_LIVE, Published
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from podcast.errors import PodcastError
from podcast.feed import (
    DESCRIPTION_MAX_BYTES,
    ITUNES_NS,
    PODCAST_NS,
    NotesRenderer,
    build_feed,
    truncate_html,
)
from podcast.model import Chapter, Person, Show
from podcast.notes import safe_markdown

NS = {"itunes": ITUNES_NS, "podcast": PODCAST_NS, "content":
      "http://purl.org/rss/1.0/modules/content/", "atom": "http://www.w3.org/2005/Atom"}



def build(pub: Published, now=NOW, episodes=None) -> bytes:
    return build_feed(pub.show, pub.episodes if episodes is None else episodes,
                      pub.catalog, now=now)


def items(xml: bytes) -> list[etree._Element]:
    return etree.fromstring(xml).findall("channel/item")


# --------------------------------------------------------------------------- parsers


def test_feedparser_reads_the_feed_without_complaint(published: Published):
    parsed = feedparser.parse(build(published))

    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.feed.title == "Salons & Rencontres"
    assert parsed.feed.podcast_guid == published.show.guid
    assert parsed.feed.itunes_type == "episodic"
    # Two live episodes, newest first; the third is scheduled for 30 November.
    assert [e.title for e in parsed.entries] == [
        "Marc Olivier : organiser un congrès quand tout bouge",
        "Sonia Mamin : le salon devient phygital",
    ]
    newest = parsed.entries[0]
    media = published.catalog.media["002-marc-olivier"]
    enclosure = next(link for link in newest.links if link.rel == "enclosure")
    assert enclosure.href == f"http://127.0.0.1:8000/{media.key}"
    assert int(enclosure.length) == media.bytes == (published.public / media.key).stat().st_size
    assert enclosure.type == "audio/mpeg"
    assert newest.itunes_duration == str(round(media.duration))
    assert (newest.itunes_season, newest.itunes_episode) == ("1", "2")
    assert newest.itunes_episodetype == "full"
    assert newest.podcast_chapters["url"] == f"http://127.0.0.1:8000/{media.chapters_key}"
    assert newest.podcast_chapters["type"] == "application/json+chapters"
    assert newest.podcast_transcript["type"] == "text/vtt"
    # feedparser keeps only the last podcast:person of an item: the guest.
    assert newest.podcast_person["role"] == "guest"
    assert newest.id == published.episodes[1].guid


def test_podcastparser_reads_episodes_enclosures_durations_and_numbers(published: Published):
    feed = published.write_feed()
    with feed.open("rb") as stream:
        parsed = podcastparser.parse(str(feed), stream)

    assert parsed["title"] == "Salons & Rencontres"
    assert parsed["type"] == "episodic"
    episodes = parsed["episodes"]
    # podcastparser sorts by date, newest first, like the feed itself.
    assert [e["guid"] for e in episodes] == [published.episodes[1].guid,
                                            published.episodes[0].guid]
    for episode, source in zip(episodes, [published.episodes[1], published.episodes[0]],
                               strict=True):
        media = published.catalog.media[source.slug]
        assert episode["enclosures"] == [{
            "url": f"http://127.0.0.1:8000/{media.key}", "file_size": media.bytes,
            "mime_type": "audio/mpeg"}]
        assert episode["total_time"] == round(media.duration)
        assert (episode["season"], episode["number"]) == (source.season, source.number)
        assert episode["explicit"] is False
        assert episode["published"] == int(source.published.timestamp())


def test_podcastparser_sees_chapters_and_people_once_it_knows_the_namespace(
        published: Published, monkeypatch: pytest.MonkeyPatch):
    # podcastparser 0.6.11 only knows the podcast namespace by its old GitHub URL; the
    # namespace document says both URIs are the same namespace, so teach it the official one.
    monkeypatch.setitem(podcastparser.Namespace.NAMESPACES, PODCAST_NS, "podcast")
    feed = published.write_feed()
    with feed.open("rb") as stream:
        newest = podcastparser.parse(str(feed), stream)["episodes"][0]

    media = published.catalog.media["002-marc-olivier"]
    assert newest["chapters_json_url"] == f"http://127.0.0.1:8000/{media.chapters_key}"
    assert newest["transcript_url"] == f"http://127.0.0.1:8000/{media.transcript_key}"
    assert [(p["name"], p["role"]) for p in newest["persons"]] == [
        ("Julien Morel", "host"), ("Marc Olivier", "guest")]


# --------------------------------------------------------------------------- exact tags


def test_channel_carries_apple_and_podcasting20_tags(published: Published):
    channel = etree.fromstring(build(published)).find("channel")

    assert channel.findtext("link") == "https://podcast.example.com"
    assert channel.find("atom:link", NS).attrib == {
        "href": "http://127.0.0.1:8000/feed.xml", "rel": "self", "type": "application/rss+xml"}
    art = f"http://127.0.0.1:8000/{published.catalog.image_key}"
    assert [i.get("href") for i in channel.findall("itunes:image", NS)] == [art]
    assert channel.findtext("itunes:explicit", namespaces=NS) == "false"
    assert channel.findtext("itunes:author", namespaces=NS) == "Studio Rencontres"
    assert channel.findtext("itunes:owner/itunes:email", namespaces=NS) == "studio@example.com"
    category = channel.find("itunes:category", NS)
    assert category.get("text") == "Business"
    assert [c.get("text") for c in category.findall("itunes:category", NS)] == [
        "Marketing", "Entrepreneurship"]
    locked = channel.find("podcast:locked", NS)
    assert (locked.text, locked.get("owner")) == ("no", "studio@example.com")
    funding = channel.find("podcast:funding", NS)
    assert (funding.text, funding.get("url")) == ("Soutenir le podcast",
                                                  "https://podcast.example.com/soutenir")
    assert channel.findtext("podcast:medium", namespaces=NS) == "podcast"
    assert [p.text for p in channel.findall("podcast:person", NS)] == ["Julien Morel"]
    assert channel.findtext("copyright") == "Studio Rencontres"
    # The content last changed when the newest live episode came out, not when we built it.
    assert channel.findtext("lastBuildDate") == "Mon, 16 Nov 2026 06:00:00 +0000"
    assert channel.findtext("pubDate") == "Mon, 16 Nov 2026 06:00:00 +0000"


def test_art_urls_that_feedgen_would_drop_are_kept(published: Published):
    """feedgen silently drops itunes:image URLs not ending in .jpg/.png (e.g. .jpeg)."""
    catalog = dataclasses.replace(published.catalog, image_key="art/cover-1.jpeg")
    xml = build_feed(published.show, published.episodes, catalog, now=NOW)
    channel = etree.fromstring(xml).find("channel")
    assert channel.find("itunes:image", NS).get("href") == \
        "http://127.0.0.1:8000/art/cover-1.jpeg"


def test_each_item_has_guid_dates_explicit_persons_and_numbers(published: Published):
    newest = items(build(published))[0]
    episode = published.episodes[1]

    guid = newest.find("guid")
    assert (guid.text, guid.get("isPermaLink")) == (episode.guid, "false")
    assert parsedate_to_datetime(newest.findtext("pubDate")) == episode.published
    assert newest.findtext("itunes:explicit", namespaces=NS) == "false"
    assert newest.findtext("itunes:title", namespaces=NS) == episode.title
    persons = [(p.text, p.get("role")) for p in newest.findall("podcast:person", NS)]
    assert persons == [("Julien Morel", "host"), ("Marc Olivier", "guest")]
    assert newest.findtext("podcast:season", namespaces=NS) == "1"
    assert newest.findtext("podcast:episode", namespaces=NS) == "2"
    transcript = newest.find("podcast:transcript", NS)
    assert (transcript.get("type"), transcript.get("rel")) == ("text/vtt", "captions")


def test_explicit_episode_says_true(published: Published):
    episodes = [dataclasses.replace(published.episodes[0], explicit=True)]
    item = items(build(published, episodes=episodes))[0]
    assert item.findtext("itunes:explicit", namespaces=NS) == "true"


def test_description_is_the_notes_as_html_with_guests_and_chapters(published: Published):
    newest = items(build(published))[0]
    description = newest.findtext("description")

    assert "<p>Marc Olivier organise des congrès médicaux" in description
    assert "<em>écoutez vos participants" in description
    assert "<li>Marc Olivier, Organisateur de congrès médicaux</li>" in description
    assert "<li>0:10 Des réservations plus tardives</li>" in description
    assert newest.findtext("content:encoded", namespaces=NS) == description
    # Both are CDATA sections in the file, as Apple asks for HTML.
    xml = build(published).decode()
    assert "<description><![CDATA[<p>Marc Olivier" in xml
    assert "<content:encoded><![CDATA[<p>Marc Olivier" in xml


def test_long_notes_are_cut_to_4000_bytes_in_description_but_kept_in_content(
        published: Published):
    paragraph = "Une phrase assez longue sur les salons éco-responsables et leurs défis. "
    notes = "\n\n".join(f"**Partie {n}.** " + paragraph * 5 for n in range(40))
    episode = dataclasses.replace(published.episodes[0], notes=notes)
    item = items(build(published, episodes=[episode]))[0]

    description = item.findtext("description")
    content = item.findtext("content:encoded", namespaces=NS)
    assert len(description.encode("utf-8")) <= DESCRIPTION_MAX_BYTES
    assert "Partie 39" in content and "Partie 39" not in description
    assert "…" in description
    assert 'href="http://127.0.0.1:8000/episodes/001-sonia-mamin.html"' in description
    # The cut keeps the HTML well formed: it parses as XML once wrapped.
    etree.fromstring(f"<div>{description}</div>".encode())


def test_truncate_html_closes_open_tags_and_cuts_between_words():
    html = "<p>Bonjour <strong>tout le monde, voici un texte</strong> suite</p><p>fin</p>"
    cut = truncate_html(html, 40)
    assert len(cut.encode()) <= 40
    assert cut == "<p>Bonjour <strong>tout…</strong></p>"
    assert truncate_html(html, 1000) == html


def test_hostile_text_comes_back_exactly(published: Published):
    title = 'Ventes <b>& "marges"</b> ]]> en 2026 🎙️\x07'
    guest = Person(name="Zoé <script>alert(1)</script> & Cie", role="guest",
                   title="CEO ]]> <i>", href="https://example.com/?a=1&b=2")
    notes = "Raw <script>alert('x')</script> and [a link](javascript:alert(1)) ]]> done."
    episode = dataclasses.replace(
        published.episodes[0], title=title, guests=(guest,), notes=notes,
        chapters=(Chapter(0, "Début <intro> & ]]>"),))
    xml = build(published, episodes=[episode])

    parsed = feedparser.parse(xml)
    assert parsed.bozo == 0
    item = items(xml)[0]
    assert item.findtext("title") == title[:-1]  # the control character is dropped
    assert item.findtext("itunes:title", namespaces=NS) == title[:-1]
    names = [p.text for p in item.findall("podcast:person", NS)]
    assert names == ["Julien Morel", guest.name]
    description = item.findtext("description")
    assert "<script>" not in description
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in description or \
        "&lt;script&gt;alert('x')&lt;/script&gt;" in description
    assert "javascript:" not in description
    assert "]]&gt; done." in description
    assert "Zoé &lt;script&gt;alert(1)&lt;/script&gt; &amp; Cie" in description
    assert 'href="https://example.com/?a=1&amp;b=2"' in description


# --------------------------------------------------------------------------- notes Markdown


def notes_html(text: str) -> str:
    return str(NotesRenderer(SHOW_FOR_NOTES).notes_html(text))


def test_notes_are_commonmark_with_links_and_code_but_raw_html_is_shown_as_text():
    html = notes_html(
        "A `a < b` span, <https://example.com/?a=1&b=2>, <team@example.com> and "
        "[the site](https://example.com \"Home\").\n\n"
        '<div onclick="steal()">block</div>\n\n- one\n- two\n\n---\n\n1. first\n\n'
        "Escaped the Markdown way: \\<b>.\n")

    assert "<code>a &lt; b</code>" in html  # a < in code is text, like everywhere else
    assert '<a href="https://example.com/?a=1&amp;b=2">' in html
    assert '<a href="mailto:team@example.com">team@example.com</a>' in html
    assert '<a href="https://example.com" title="Home">the site</a>' in html
    # (a quote in text needs no escaping: pulldown-cmark writes it as it is)
    assert '<p>&lt;div onclick="steal()"&gt;block&lt;/div&gt;</p>' in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert "<hr>" in html and "/>" not in html  # HTML void tags, as in the rest of the item
    assert "<ol>\n<li>first</li>\n</ol>" in html
    assert "<p>Escaped the Markdown way: &lt;b&gt;.</p>" in html


@pytest.mark.parametrize("notes", [
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    "[x][r]\n\n[r]: vbscript:msgbox(1)",
    "[x](data:text/html,<script>alert(1)</script>)",
    "![x](data:image/svg+xml,<svg onload=alert(1)>)",
    "[x](file:///etc/passwd)",
    "[x](ftp://example.com/a)",
])
def test_notes_links_other_than_http_and_mailto_lose_their_target(notes: str):
    html = notes_html(notes)
    assert "href=" not in html and "src=" not in html
    assert "<script" not in html and "<svg" not in html


@pytest.mark.parametrize("notes", [
    'a src="[x](javascript:alert(1))',
    'a href="x" [x](javascript:alert(1)) "',
    '![y](javascript:alert(1)) src="[x](data:text/html,x)',
])
def test_attribute_lookalikes_in_text_do_not_shield_a_link(notes: str):
    # Quotes in text stay as they are, so text such as ``src="`` must not be taken for the
    # start of a real attribute (and the next link's target left unchecked).
    html = notes_html(notes)
    parsed = _Elements()
    parsed.feed(html)
    parsed.close()
    assert [(name, value) for name, value in parsed.attrs if name in {"href", "src"}] == []
    assert "<a>x</a>" in html  # the link's text stays, without its target


@pytest.mark.parametrize(("notes", "url"), [
    ("[x](https://example.com/a?b=1)", "https://example.com/a?b=1"),
    ("[x](http://example.com)", "http://example.com"),
    ("[x](mailto:studio@example.com)", "mailto:studio@example.com"),
    ("[x](../episodes/001.html)", "../episodes/001.html"),
    ("[x](<https://example.com/a>)", "https://example.com/a"),
])
def test_notes_links_to_the_web_mail_and_our_pages_are_kept(notes: str, url: str):
    assert f'href="{url}"' in notes_html(notes)


def test_rendering_notes_gives_its_memory_back():
    # Nothing is kept per call (cmarkgfm's public wrapper leaked every HTML buffer it made).
    notes = "Show notes with *emphasis* and a [link](https://example.com/a).\n\n" * 200
    process = psutil.Process()
    for _ in range(50):
        safe_markdown(notes)
    before = process.memory_info().rss
    for _ in range(3000):
        safe_markdown(notes)
    grown = process.memory_info().rss - before
    assert grown < 10_000_000, f"{grown / 1e6:.0f} MB kept by 3,000 renders of 13 kB notes"


class _Elements(HTMLParser):
    """Every tag and attribute of a piece of HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.extend(attrs)


MARKDOWN_TAGS = {"p", "em", "strong", "a", "code", "pre", "ul", "ol", "li", "blockquote",
                 "h1", "h2", "h3", "h4", "h5", "h6", "hr", "br", "img"}


@settings(max_examples=300, deadline=None)
@given(notes=st.lists(st.sampled_from(
    ["<", ">", "/", "a", " ", "\n", "\n\n", "`", "\\", "*", "- ", "> ", "[x](", ")", "]", "![",
     '<img src=x onerror="alert(1)">', "<script>", "</script>", "<a href='javascript:x'>",
     "javascript:", "[x](ftp://e.org)", "data:", "http://e.org", "<https://e.org>", "<a@b.org>",
     "<!--", "&", "&lt;", "\t", "\uffff", '"', "'", ' src="', ' href="']),
    max_size=30).map("".join))
def test_any_notes_give_only_markdown_tags_and_safe_links(notes: str):
    parsed = _Elements()
    parsed.feed(notes_html(notes))
    parsed.close()

    assert parsed.tags <= MARKDOWN_TAGS
    for name, value in parsed.attrs:
        assert name in {"href", "src", "alt", "title", "class"}
        if name in {"href", "src"}:
            # A scheme is what a browser reads as one (WHATWG URL: leading and trailing
            # controls and spaces dropped, tabs and newlines removed, then a letter and
            # letters, digits, + - . up to ':'); anything else, e.g.
            # "%5Bx%5D(ftp://e.org)", is a relative link.
            url = re.sub(r"[\t\n\r]", "", value.strip("".join(map(chr, range(0x21)))))
            scheme = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", url)
            assert value and (scheme is None
                              or scheme.group(1).lower() in {"http", "https", "mailto"})


# --------------------------------------------------------------------------- scheduling


def test_scheduled_episode_appears_only_once_its_time_has_come(published: Published):
    third = published.episodes[2]
    assert third.slug == "003-claire-dubois"

    def guids(now):
        return [i.findtext("guid") for i in items(build(published, now=now))]

    assert third.guid not in guids(THIRD_LIVE - timedelta(seconds=1))
    assert guids(THIRD_LIVE)[0] == third.guid
    assert len(guids(THIRD_LIVE)) == 3


def test_episode_without_published_media_stays_out(published: Published):
    catalog = dataclasses.replace(published.catalog, media={
        k: v for k, v in published.catalog.media.items() if k != "002-marc-olivier"})
    xml = build_feed(published.show, published.episodes, catalog, now=THIRD_LIVE)
    assert [i.findtext("itunes:episode", namespaces=NS) for i in items(xml)] == ["3", "1"]


def test_same_inputs_and_clock_give_identical_bytes(published: Published):
    first = build(published)
    again = build_feed(published.show, list(reversed(published.episodes)), published.catalog,
                       now=NOW)
    assert first == again


def test_nightly_rebuild_of_an_unchanged_show_gives_identical_bytes(published: Published):
    tonight = build(published, now=NOW)
    assert build(published, now=NOW + timedelta(days=1)) == tonight
    later = build(published, now=THIRD_LIVE)  # a scheduled episode went live: it changes
    assert later != tonight
    assert etree.fromstring(later).findtext("channel/lastBuildDate") == \
        "Mon, 30 Nov 2026 06:00:00 +0000"


def test_a_show_with_nothing_live_yet_has_an_empty_but_valid_feed(published: Published):
    xml = build(published, now=NOW - timedelta(days=365))
    assert feedparser.parse(xml).bozo == 0
    channel = etree.fromstring(xml).find("channel")
    assert channel.findall("item") == []
    assert channel.find("lastBuildDate") is None  # feedgen would have written the clock
    assert build(published, now=NOW - timedelta(days=300)) == xml


def test_feed_without_published_artwork_is_refused(published: Published):
    catalog = dataclasses.replace(published.catalog, image_key=None)
    with pytest.raises(PodcastError, match="artwork has not been published"):
        build_feed(published.show, published.episodes, catalog, now=NOW)


def test_naive_clock_is_refused(published: Published):
    with pytest.raises(PodcastError, match="no time zone"):
        build_feed(published.show, published.episodes, published.catalog,
                   now=NOW.replace(tzinfo=None))


# --------------------------------------------------------------------------- any text


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(min_size=1, max_size=80), notes=st.text(max_size=300),
       guest=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1,
                     max_size=40))
def test_any_text_survives_the_feed(published: Published, title: str, notes: str, guest: str):
    """Whatever producers type, the feed stays well-formed and says what they typed.

    Only characters XML 1.0 cannot carry at all (most control characters) are dropped.
    """
    episode = dataclasses.replace(published.episodes[0], title=title, notes=notes,
                                  guests=(Person(guest, role="guest"),))
    xml = build(published, episodes=[episode])

    assert feedparser.parse(xml).bozo == 0
    item = items(xml)[0]
    assert (item.findtext("title") or "") == _xml_chars(title)
    assert (item.find("podcast:person[@role='guest']", NS).text or "") == _xml_chars(guest)
    assert len(item.findtext("description").encode("utf-8")) <= DESCRIPTION_MAX_BYTES


def _xml_chars(text: str) -> str:
    return "".join(c for c in text if c in "\t\n\r" or (
        "\x20" <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"))


class _Balance(HTMLParser):
    """Fails on a closing tag that does not close the innermost open element."""

    VOID = {"br", "img", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, (tag, self.stack)


@settings(max_examples=200, deadline=None)
@given(notes=st.lists(st.sampled_from(list("ab é*_-#>`[]()&<\n") + ["\n\n", "- ", "**"]),
                     max_size=200).map("".join),
       limit=st.integers(min_value=12, max_value=400))
def test_any_cut_fits_the_budget_and_keeps_tags_balanced(notes: str, limit: int):
    html = str(NotesRenderer(SHOW_FOR_NOTES).notes_html(notes))
    cut = truncate_html(html, limit)

    assert len(cut.encode("utf-8")) <= limit
    checker = _Balance()
    checker.feed(cut)
    checker.close()
    assert checker.stack == []


SHOW_FOR_NOTES = Show(
    config_path=Path("podcast.yaml"), title="t", description="d", author="a",
    email="a@example.com", language="fr", link="https://example.com", image=Path("c.jpg"),
    categories=("Business",), explicit=False, base_url="https://example.com",
    feed_url="https://example.com/feed.xml", guid="83592e4d-9d26-5dd7-bc60-9d742a8bfb85")
