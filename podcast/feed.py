"""Feed stage: the show's RSS 2.0 feed (itunes + Podcasting 2.0) from episodes and the catalog.

feedgen writes the RSS skeleton and the itunes tags it knows.  Two small extensions here add
what it cannot write (feedgen 1.0.0):

* :class:`AppleExtension` writes ``itunes:explicit`` as ``true``/``false`` (feedgen only
  knows yes/no/clean) and the channel ``itunes:image`` for any URL (feedgen silently drops
  URLs that do not end in ``.jpg``/``.png``);
* :class:`PodcastIndexExtension` writes the ``podcast:`` namespace (guid, locked, block,
  funding, medium, updateFrequency, person, trailer, license, location, txt, podroll; on
  items alternateEnclosure, transcript (one per file), chapters, season with its name,
  episode, soundbite, location).

The show description is HTML in CDATA, rendered like the notes: apps read it as HTML.

The lifecycle tags (``itunes:new-feed-url``, ``block``, ``complete``) and the WebSub hubs
(``atom:link rel="hub"``) come from podcast.yaml.  What Apple requires of an episode's
numbering is :mod:`podcast.rules`, shared with config validation and ``validate``: the builder
refuses an episode those rules refuse, so it never writes a feed ``validate`` would fail for it.

Show notes are CommonMark, rendered by :mod:`podcast.notes` (the one parser for them, also
used by the pages and the ID3 text).

The build is a pure function of its inputs: same show, episodes, catalog and ``now`` give the
same bytes, so a nightly rebuild of an unchanged show changes nothing.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from html.parser import HTMLParser
from importlib.metadata import PackageNotFoundError, version

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from lxml.etree import CDATA
from markupsafe import Markup

from . import rules
from .categories import split_category
from .errors import PodcastError
from .model import (
    Catalog,
    Episode,
    Location,
    Media,
    Person,
    RemoteFeed,
    Rendition,
    Schedule,
    Show,
    Soundbite,
    Txt,
)
from .notes import safe_markdown, xml_text
from .text import clock

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"

#: Apple cuts channel and item descriptions at 4000 bytes (support page 823).
DESCRIPTION_MAX_BYTES = 4000
CHAPTERS_TYPE = "application/json+chapters"
#: ``podcast:alternateEnclosure`` titles by codec (the namespace asks for 32 characters).
RENDITION_TITLES = {"opus": "Opus", "mp4a": "AAC"}

#: Words in generated HTML, by show language (anything else falls back to English).
LABELS = {
    "en": {"guests": "Guests", "chapters": "Chapters", "transcript": "Transcript",
           "episodes": "Episodes", "more": "Read the full show notes", "feed": "RSS feed",
           "season": "Season", "episode": "Episode", "listen": "Listen",
           "back": "All episodes", "download": "Download the MP3"},
    "fr": {"guests": "Invités", "chapters": "Chapitres", "transcript": "Transcription",
           "episodes": "Épisodes", "more": "Lire toutes les notes de l'épisode",
           "feed": "Flux RSS", "season": "Saison", "episode": "Épisode", "listen": "Écouter",
           "back": "Tous les épisodes", "download": "Télécharger le MP3"},
}


# --------------------------------------------------------------------------- public API


def build_feed(show: Show, episodes: list[Episode], catalog: Catalog, *, now: datetime,
               renderer: NotesRenderer | None = None) -> bytes:
    """The RSS 2.0 feed of ``show`` as UTF-8 bytes.

    Only episodes that are live at ``now`` and have published media in ``catalog`` are in
    it, newest first.  The output depends on nothing else (no clock): identical inputs give
    byte-identical output, also on another day as long as no new episode went live.
    ``lastBuildDate`` and ``pubDate`` are the newest live episode's publication time.
    Raises PodcastError when the show artwork has not been published (Apple refuses a feed
    without ``itunes:image``), or when a live episode breaks :mod:`podcast.rules` (e.g. a
    full episode of a serial show without a number).

    Rendering Markdown is most of the cost: pass the same ``renderer`` to
    :func:`podcast.site.render_site` to render each episode's notes only once.
    """
    now = _aware(now, "now")
    art_url = show_art_url(show, catalog)
    show, episodes = _pictured(show, list(episodes))
    items = live_items(episodes, catalog, now)
    for episode, _ in items:
        check_episode(show, episode)
    renderer = renderer or NotesRenderer(show)

    fg = FeedGenerator()
    fg.load_extension("podcast")  # feedgen's itunes extension
    fg.register_extension("apple", AppleExtension, AppleEntryExtension)
    fg.register_extension("podcastindex", PodcastIndexExtension, PodcastIndexEntryExtension)

    fg.title(xml_text(show.title))
    # feedgen writes the last link added as the RSS <link>: the show's web page.
    fg.link(href=show.feed_url, rel="self", type="application/rss+xml")
    fg.link(href=show.link, rel="alternate")
    # HTML in CDATA, like the items: apps read the description as HTML, so plain text with
    # a literal "<word>" in it would lose the word.
    fg.description(CDATA(_cdata_safe(renderer.show_description())))
    fg.language(show.language)
    fg.image(url=art_url, title=xml_text(show.title), link=show.link)
    if show.copyright:
        fg.copyright(xml_text(show.copyright))
    fg.generator(generator_name())
    # RSS 2.0: lastBuildDate is "the last time the content of the channel changed", here the
    # newest live episode.  Not the clock: a nightly rebuild of an unchanged show must give
    # the same bytes (and upload nothing).  feedgen would write "now"; an empty feed has none.
    if items:
        fg.lastBuildDate(_utc(items[0][0].published))
        fg.pubDate(_utc(items[0][0].published))
    else:  # no entry will ever be added, so no entry extension is needed
        fg.register_extension("nodate", _NoLastBuildDate, None)

    fg.podcast.itunes_author(xml_text(show.author))
    fg.podcast.itunes_owner(name=xml_text(show.author), email=show.email)
    fg.podcast.itunes_type(show.type)
    fg.podcast.itunes_category([_category(text) for text in show.categories])
    fg.apple.image = art_url
    fg.apple.explicit = show.explicit
    fg.apple.new_feed_url = show.new_feed_url
    fg.apple.block = show.block
    fg.apple.complete = show.complete
    fg.apple.hubs = list(show.websub)

    p20 = fg.podcastindex
    p20.guid = show.guid
    p20.locked = (show.locked, show.email)
    p20.block = (show.block and not show.blocked, show.blocked)
    p20.schedule = show.schedule
    p20.complete = show.complete
    p20.funding = [(f.url, xml_text(f.text)) for f in show.funding]
    p20.persons = list(show.hosts)
    p20.trailers = [trailer(show, episode, media) for episode, media in items
                    if is_show_trailer(episode)]
    p20.license = show.license and (show.license.identifier, show.license.url)
    p20.locations = list(show.locations)
    p20.txt = list(show.txt)
    p20.podroll = list(show.podroll)

    for episode, media in items:
        _add_item(fg, show, episode, media, renderer, art_url)

    return fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)


def _pictured(show: Show, episodes: list[Episode]) -> tuple[Show, list[Episode]]:
    """The show and episodes with each local photo's ``img`` set to the URL the pages
    store it at (:func:`podcast.site.people_photos`), so apps show the same picture."""
    people = [*show.hosts, *(guest for episode in episodes for guest in episode.guests)]
    if not any(person.photo for person in people):
        return show, episodes
    from .site import people_photos

    urls = {path: media_url(show, key) for path, (key, _data)
            in people_photos(show, episodes).items()}

    def pictured(group: Iterable[Person]) -> tuple[Person, ...]:
        return tuple(replace(person, img=urls[person.photo])
                     if person.photo in urls and not person.img else person
                     for person in group)

    return (replace(show, hosts=pictured(show.hosts)),
            [replace(episode, guests=pictured(episode.guests)) for episode in episodes])


def check_episode(show: Show, episode: Episode) -> None:
    """PodcastError if ``episode`` breaks a feed rule (the rules config validation applies)."""
    problem = rules.numbering_problem(show.type, episode.type, episode.number)
    if problem:
        raise PodcastError(problem, file=episode.source, field="number",
                           fix="add `number: N`, or make it `type: trailer` or `type: bonus`")
    problem = rules.title_problem(episode.title)
    if problem:
        raise PodcastError(problem, file=episode.source, field="title",
                           fix=f"shorten it to {rules.TITLE_MAX_CHARS} characters")


def is_show_trailer(episode: Episode) -> bool:
    """Whether the episode is the show's or a season's trailer (Apple's table): those are
    ``podcast:trailer`` too.  A trailer with a number teases that one episode only."""
    return rules.episode_kind(episode.type, episode.season, episode.number) in (
        "show trailer", "season trailer")


def trailer(show: Show, episode: Episode, media: Media) -> dict[str, str]:
    """``podcast:trailer`` for a show or season trailer, as Castopod writes it: the item's
    audio, date and title, with its season when it is a season trailer."""
    attrs = {"url": media_url(show, media.key), "pubdate": format_datetime(
        _utc(episode.published)), "length": str(media.bytes), "type": "audio/mpeg"}
    if episode.season:
        attrs["season"] = str(episode.season)
    title = episode.title
    if len(title) > rules.P20_SHORT_MAX_CHARS:  # the namespace's limit for its text
        title = title[:rules.P20_SHORT_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return {"title": title, **attrs}


def live_items(episodes: Iterable[Episode], catalog: Catalog,
               now: datetime) -> list[tuple[Episode, Media]]:
    """Episodes live at ``now`` that have published media, newest first, with their media.

    Ties on the publication time are broken by slug so the order never depends on input order.
    """
    items = [(e, catalog.media[e.slug]) for e in episodes
             if e.is_live(now) and e.slug in catalog.media]
    items.sort(key=lambda pair: (pair[0].published, pair[0].slug), reverse=True)
    return items


def show_art_url(show: Show, catalog: Catalog) -> str:
    """Public URL of the show artwork; PodcastError if it has not been published yet."""
    if not catalog.image_key:
        raise PodcastError("the show artwork has not been published yet",
                           file=show.config_path, field="image",
                           fix="run `podcast publish`, which uploads the artwork first")
    return media_url(show, catalog.image_key)


def media_url(show: Show, key: str) -> str:
    """Public URL of a stored object."""
    return f"{show.base_url.rstrip('/')}/{key}"


def episode_page_key(episode: Episode) -> str:
    """Storage key (and path under base_url) of an episode's HTML page."""
    return f"episodes/{episode.slug}.html"


def generator_name() -> str:
    """The ``generator`` text: this package and its version (fixed for a given install)."""
    try:
        return f"podcast {version('podcast')} (python-feedgen)"
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "podcast (python-feedgen)"


def labels(show: Show) -> dict[str, str]:
    """UI words for generated HTML in the show's language (English when unknown)."""
    return LABELS.get(show.language.split("-")[0].lower(), LABELS["en"])


class NotesRenderer:
    """Show notes Markdown -> HTML, and the item description around them.

    Notes are CommonMark, rendered by :func:`safe_markdown` (pulldown-cmark; a pure-Python
    renderer would take most of a feed build).  Raw HTML in the notes is shown as text and
    links other than http(s)/mailto are dropped: the same HTML goes into every podcast app and
    onto the show's web pages.  Each distinct text is rendered once per renderer (the feed and
    the pages share it).
    """

    def __init__(self, show: Show) -> None:
        self.show = show
        self.labels = labels(show)
        self._notes: dict[str, Markup] = {}

    def notes_html(self, text: str) -> Markup:
        """The notes as HTML (safe to insert in a page unescaped)."""
        html = self._notes.get(text)
        if html is None:
            html = self._notes[text] = Markup(safe_markdown(text))
        return html

    def show_description(self) -> str:
        """The show description as HTML (Markdown, like the notes), cut to Apple's 4000
        bytes."""
        return truncate_html(str(self.notes_html(self.show.description)).strip(),
                             DESCRIPTION_MAX_BYTES)

    def description(self, episode: Episode, *, page_url: str | None = None) -> tuple[str, str]:
        """``(description, content)``: the item HTML, cut to Apple's 4000 bytes, and in full.

        The cut keeps whole words and closes open tags; a link to the episode page (when
        given) says where the rest is.
        """
        full = item_html(self.notes_html(episode.notes), episode, self.labels)
        if len(full.encode("utf-8")) <= DESCRIPTION_MAX_BYTES:
            return full, full
        more = ""
        if page_url:
            more = f'<p><a href="{escape(page_url)}">{escape(self.labels["more"])}</a></p>'
        budget = DESCRIPTION_MAX_BYTES - len(more.encode("utf-8"))
        return truncate_html(full, budget) + more, full


def item_html(notes_html: str, episode: Episode, t: dict[str, str]) -> str:
    """An item's full description: the notes (already HTML), then guests and chapters.

    Plain HTML that podcast apps render: no CSS, no script; every text but the notes is
    escaped.  Built with f-strings, not a template: a jinja2 render per item cost as much
    as feedgen writing the item.
    """
    parts = [notes_html.strip()]
    if episode.guests:
        parts.append(f"<p><strong>{escape(t['guests'])}</strong></p>\n<ul>")
        for guest in episode.guests:
            name = escape(guest.name)
            if guest.href:
                name = f'<a href="{escape(guest.href)}">{name}</a>'
            title = f", {escape(guest.title)}" if guest.title else ""
            parts.append(f"<li>{name}{title}</li>")
        parts.append("</ul>")
    if episode.chapters:
        parts.append(f"<p><strong>{escape(t['chapters'])}</strong></p>\n<ul>")
        parts.extend(f"<li>{clock(chapter.start)} {escape(chapter.title)}</li>"
                     for chapter in episode.chapters)
        parts.append("</ul>")
    return "\n".join(parts).strip()


def truncate_html(html: str, limit: int) -> str:
    """``html`` cut to at most ``limit`` UTF-8 bytes at a word boundary, tags kept balanced.

    An ellipsis marks the cut.  Input is HTML as Markdown and our templates produce it.
    """
    if len(html.encode("utf-8")) <= limit:
        return html
    cutter = _Truncator(limit)
    # Parsed piece by piece until the budget is spent: what follows cannot change the
    # result (every handler ignores it once done), and 20 MB of notes cut to 4000 bytes
    # would otherwise all go through the parser.
    for piece in _html_pieces(html, max(limit, 1)):
        cutter.feed(piece)
        if cutter.done:
            return cutter.result()
    cutter.close()
    return cutter.result()


def _html_pieces(html: str, size: int) -> Iterator[str]:
    """``html`` in consecutive pieces, the first about ``size`` characters, each twice the
    previous one (an unfinished tag or comment the parser waits on is re-read per piece:
    doubling bounds that to twice the text), each piece but the last ending just before
    a ``<``.  HTMLParser makes the same calls for the pieces as for the whole: a run of text
    ends at a ``<`` either way, and a construct cut in two waits for the rest."""
    start = 0
    while start < len(html):
        cut = html.find("<", start + size)
        if cut < 0:
            yield html[start:]
            return
        yield html[start:cut]
        start, size = cut, size * 2


# --------------------------------------------------------------------------- items


def _add_item(fg: FeedGenerator, show: Show, episode: Episode, media: Media,
              renderer: NotesRenderer, art_url: str) -> None:
    page_url = media_url(show, episode_page_key(episode))
    description, content = renderer.description(episode, page_url=page_url)

    fe = fg.add_entry(order="append")  # items arrive newest first already
    fe.title(xml_text(episode.title))
    fe.link(href=page_url)
    fe.guid(episode.guid, permalink=False)
    fe.pubDate(_utc(episode.published))
    fe.enclosure(media_url(show, media.key), str(media.bytes), "audio/mpeg")
    # feedgen writes the description as escaped text; apps expect HTML in CDATA.  Most
    # descriptions fit in 4000 bytes and are the content itself: made safe once.
    safe_content = _cdata_safe(content)
    fe.description(CDATA(safe_content if description is content else _cdata_safe(description)))
    fe.content(safe_content, type="CDATA")

    fe.podcast.itunes_title(xml_text(episode.title))
    fe.podcast.itunes_duration(str(round(media.duration)))
    fe.podcast.itunes_episode_type(episode.type)
    if episode.season:
        fe.podcast.itunes_season(episode.season)
    if episode.number:
        fe.podcast.itunes_episode(episode.number)
    fe.podcast.itunes_author(xml_text(show.author))
    fe.apple.image = media_url(show, media.image_key) if media.image_key else art_url
    fe.apple.explicit = episode.explicit

    p20 = fe.podcastindex
    p20.persons = list(show.hosts) + list(episode.guests)
    if media.transcript_key and media.transcript_type:
        p20.transcript = (media_url(show, media.transcript_key), media.transcript_type,
                          show.language)
    # A generated transcript's SRT and JSON beside its WebVTT: one tag each.
    p20.more_transcripts = [(media_url(show, key), kind, show.language)
                            for key, kind in media.more_transcripts]
    if media.chapters_key:
        p20.chapters = media_url(show, media.chapters_key)
    p20.season = episode.season
    p20.season_name = show.seasons.get(episode.season) if episode.season else None
    p20.locations = list(episode.locations)
    p20.renditions = [(media_url(show, r.key), r) for r in media.renditions]
    p20.episode = episode.number
    p20.soundbites = list(episode.soundbites)


# --------------------------------------------------------------------------- extensions


class AppleExtension(BaseExtension):
    """Channel itunes tags feedgen gets wrong: ``explicit`` true/false, ``image`` any URL;
    the lifecycle tags (``block`` and ``complete`` only ever ``Yes``, as Apple reads them)
    and the WebSub hubs, next to the ``atom:link rel="self"``."""

    def __init__(self) -> None:
        self.image: str | None = None
        self.explicit: bool | None = None
        self.new_feed_url: str | None = None
        self.block = False
        self.complete = False
        self.hubs: list[str] = []

    def extend_ns(self) -> dict[str, str]:
        return {"itunes": ITUNES_NS}

    def extend_rss(self, feed):
        channel = feed[0]
        _apple_tags(channel, self.image, self.explicit)
        if self.new_feed_url:
            xml_elem(f"{{{ITUNES_NS}}}new-feed-url", channel).text = self.new_feed_url
        if self.block:
            xml_elem(f"{{{ITUNES_NS}}}block", channel).text = "Yes"
        if self.complete:
            xml_elem(f"{{{ITUNES_NS}}}complete", channel).text = "Yes"
        self_link = channel.find(f"{{{ATOM_NS}}}link")
        for hub in reversed(self.hubs):
            link = xml_elem(f"{{{ATOM_NS}}}link", channel, href=hub, rel="hub")
            if self_link is not None:  # move it up, by the self link
                self_link.addnext(link)
        return feed


class AppleEntryExtension(BaseEntryExtension):
    """Item itunes tags feedgen gets wrong (see :class:`AppleExtension`)."""

    def __init__(self) -> None:
        self.image: str | None = None
        self.explicit: bool | None = None

    def extend_rss(self, entry):
        _apple_tags(entry, self.image, self.explicit)
        return entry


def _apple_tags(parent, image: str | None, explicit: bool | None) -> None:
    if image:
        # Replace feedgen's element (if any) so exactly one itunes:image remains.
        for old in parent.findall(f"{{{ITUNES_NS}}}image"):
            parent.remove(old)
        xml_elem(f"{{{ITUNES_NS}}}image", parent, href=image)
    if explicit is not None:
        xml_elem(f"{{{ITUNES_NS}}}explicit", parent).text = "true" if explicit else "false"


class _NoLastBuildDate(BaseExtension):
    """Removes the ``lastBuildDate`` feedgen always writes (its default is the clock)."""

    def extend_rss(self, feed):
        for element in feed[0].findall("lastBuildDate"):
            feed[0].remove(element)
        return feed


class PodcastIndexExtension(BaseExtension):
    """Channel tags of the Podcasting 2.0 ``podcast:`` namespace."""

    def __init__(self) -> None:
        self.guid: str | None = None
        self.locked: tuple[bool, str] | None = None  # (locked, owner e-mail)
        # (blocked everywhere, the platforms blocked one by one)
        self.block: tuple[bool, tuple[str, ...]] = (False, ())
        self.schedule: Schedule | None = None
        self.complete = False
        self.funding: list[tuple[str, str]] = []  # (url, label)
        self.medium = "podcast"
        self.persons: list[Person] = []
        self.trailers: list[dict[str, str]] = []  # title and attributes (see trailer())
        self.license: tuple[str, str | None] | None = None  # (identifier, url)
        self.locations: list[Location] = []
        self.txt: list[Txt] = []
        self.podroll: list[RemoteFeed] = []

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NS}

    def extend_rss(self, feed):
        channel = feed[0]
        if self.guid:
            _p20(channel, "guid", self.guid)
        if self.locked is not None:
            locked, owner = self.locked
            _p20(channel, "locked", "yes" if locked else "no", owner=owner)
        for url, label in self.funding:
            _p20(channel, "funding", label, url=url)
        if self.block[0]:
            _p20(channel, "block", "yes")
        for platform in self.block[1]:
            _p20(channel, "block", "yes", id=platform)
        _p20(channel, "medium", self.medium)
        if self.schedule is not None:
            self._update_frequency(channel, self.schedule)
        _persons(channel, self.persons)
        self._discovery(channel)
        return feed

    def _update_frequency(self, channel, schedule: Schedule) -> None:
        """The schedule as an RFC 5545 rule; a complete show says so instead (no rule: no
        episode is coming)."""
        if self.complete:
            _p20(channel, "updateFrequency", schedule.text, complete="true")
            return
        _p20(channel, "updateFrequency", schedule.text, rrule=schedule.rrule,
             dtstart=schedule.start.isoformat() if schedule.start else None)

    def _discovery(self, channel) -> None:
        """Trailers, licence, locations, txt records and the podroll."""
        for attrs in self.trailers:
            _p20(channel, "trailer", attrs["title"],
                 **{k: v for k, v in attrs.items() if k != "title"})
        if self.license:
            identifier, url = self.license
            _p20(channel, "license", identifier, url=url)
        _locations(channel, self.locations)
        for record in self.txt:
            _p20(channel, "txt", record.value, purpose=record.purpose)
        if self.podroll:
            podroll = _p20(channel, "podroll", None)
            for remote in self.podroll:
                _p20(podroll, "remoteItem", None, feedGuid=remote.guid, feedUrl=remote.url,
                     title=remote.title)


class PodcastIndexEntryExtension(BaseEntryExtension):
    """Item tags of the ``podcast:`` namespace."""

    def __init__(self) -> None:
        self.persons: list[Person] = []
        self.transcript: tuple[str, str, str] | None = None  # (url, type, language)
        self.more_transcripts: list[tuple[str, str, str]] = []
        self.chapters: str | None = None
        self.season: int | None = None
        self.season_name: str | None = None
        self.episode: int | None = None
        self.locations: list[Location] = []
        self.renditions: list[tuple[str, Rendition]] = []  # (url, rendition)
        self.soundbites: list[Soundbite] = []

    def extend_rss(self, entry):
        _persons(entry, self.persons)
        for url, rendition in self.renditions:
            _alternate_enclosure(entry, url, rendition)
        for url, kind, language in ([self.transcript] if self.transcript else []) \
                + self.more_transcripts:
            attrs = {"url": url, "type": kind, "language": language}
            if kind in ("text/vtt", "application/x-subrip"):
                attrs["rel"] = "captions"  # timed text: apps can show it as captions
            _p20(entry, "transcript", None, **attrs)
        if self.chapters:
            _p20(entry, "chapters", None, url=self.chapters, type=CHAPTERS_TYPE)
        if self.season:
            _p20(entry, "season", str(self.season), name=self.season_name)
        if self.episode:
            _p20(entry, "episode", str(self.episode))
        for bite in self.soundbites:
            _p20(entry, "soundbite", bite.title, startTime=_seconds(bite.start),
                 duration=_seconds(bite.duration))
        _locations(entry, self.locations)
        return entry


def _p20(parent, tag: str, text: str | None, /, **attrs: str | None):
    # positional-only, and attributes set one by one: ``name`` is an attribute of some tags
    # (podcast:season) and xml_elem's own first parameter.
    element = xml_elem(f"{{{PODCAST_NS}}}{tag}", parent)
    for key, value in attrs.items():
        if value:
            element.set(key, xml_text(value))
    if text is not None:
        element.text = xml_text(text)
    return element


def _alternate_enclosure(parent, url: str, rendition: Rendition) -> None:
    """The rendition beside the MP3 (no ``rel``: the same programme, another encoding),
    with the SRI hash of its bytes."""
    codec = rendition.codecs.split(".")[0]
    alternate = _p20(parent, "alternateEnclosure", None, type=rendition.type,
                     length=str(rendition.bytes), bitrate=str(rendition.bitrate),
                     codecs=rendition.codecs, title=RENDITION_TITLES.get(codec, codec))
    _p20(alternate, "source", None, uri=url)
    digest = base64.b64encode(bytes.fromhex(rendition.sha256)).decode("ascii")
    _p20(alternate, "integrity", None, type="sri", value=f"sha256-{digest}")


def _locations(parent, places: Iterable[Location]) -> None:
    for place in places:
        _p20(parent, "location", place.name, rel=place.rel, geo=place.geo, osm=place.osm,
             country=place.country)


def _persons(parent, people: Iterable[Person]) -> None:
    for person in people:
        attrs = {"role": person.role, "group": person.group}
        if person.img:
            attrs["img"] = person.img
        if person.href:
            attrs["href"] = person.href
        _p20(parent, "person", person.name, **attrs)


# --------------------------------------------------------------------------- helpers


def _seconds(value: float) -> str:
    """Seconds as the namespace writes them: ``73.0``, ``1234.5``."""
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _cdata_safe(html: str) -> str:
    """HTML that can sit in a CDATA section: ``]]>`` would end it early."""
    return xml_text(html).replace("]]>", "]]&gt;")


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise PodcastError(f"{name} has no time zone", field=name,
                           fix="pass a timezone-aware datetime, e.g. with tzinfo=UTC")
    return moment


def _utc(moment: datetime) -> datetime:
    """Dates in the feed are written in UTC (``+0000``), whatever offset the notes used."""
    return moment.astimezone(UTC)


def _category(text: str) -> dict[str, str]:
    top, sub = split_category(text)
    return {"cat": top, "sub": sub} if sub else {"cat": top}


class _Truncator(HTMLParser):
    """Re-emits HTML until a byte budget is spent, then closes what is open (truncate_html)."""

    VOID = {"br", "img", "hr", "input", "meta", "link", "source", "wbr"}
    ELLIPSIS = "…"

    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=True)
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.open: list[str] = []
        self.done = False

    def _closing(self, extra: Iterable[str] = ()) -> str:
        return "".join(f"</{tag}>" for tag in reversed(self.open + list(extra)))

    def _fits(self, piece: str, extra: Iterable[str] = ()) -> bool:
        size = len(piece.encode("utf-8")) + len(self._closing(extra).encode("utf-8"))
        return self.size + size + len(self.ELLIPSIS.encode("utf-8")) <= self.limit

    def _emit(self, piece: str) -> None:
        self.parts.append(piece)
        self.size += len(piece.encode("utf-8"))

    def handle_starttag(self, tag, attrs):
        if self.done:
            return
        raw = self.get_starttag_text() or f"<{tag}>"
        void = tag in self.VOID
        if not self._fits(raw, () if void else (tag,)):
            self._stop()
            return
        self._emit(raw)
        if not void:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        if self.done:
            return
        raw = self.get_starttag_text() or f"<{tag}/>"
        if not self._fits(raw):
            self._stop()
            return
        self._emit(raw)

    def handle_endtag(self, tag):
        if self.done or tag not in self.open:
            return
        while self.open:
            top = self.open.pop()
            self._emit(f"</{top}>")
            if top == tag:
                break

    def handle_data(self, data):
        if self.done:
            return
        # Only the first limit + 1 characters can matter (each is at least a byte): a word
        # cut there does not fit whole or cut.  Spares splitting megabytes into words.
        data = data[:self.limit + 1]
        text = escape(data, quote=False)
        if self._fits(text):
            self._emit(text)
            return
        words = re.split(r"(\s+)", data)
        kept = ""
        for word in words:
            candidate = escape(kept + word, quote=False)
            if not self._fits(candidate):
                break
            kept += word
        self._emit(escape(kept.rstrip(), quote=False))
        self._stop()

    def _stop(self) -> None:
        if not self.done:
            self._emit(self.ELLIPSIS)
            self.done = True

    def result(self) -> str:
        return "".join(self.parts) + self._closing()
