"""Site stage: the show's web pages (a show page and one page per episode) from the templates.

The pages follow the feed's rules: only live episodes with published media appear; a serial
show lists them in story order (season, then number), any other show newest first.  They
link to the stored objects with relative URLs (``media/…``, ``../art/…``), so they work from
the storage folder opened in a browser as well as from ``base_url``.  A little inline
JavaScript (``feed_templates/site_player.js``, no framework, no external URL) makes chapters
and transcript lines seek the player and follow playback, copies the feed URL, and passes a
share code (``?via=``) on to the audio request.  No player fetches audio before the listener
presses play (``preload="none"``: a page view is no download), so each episode's duration is
shown as text from the manifest.  Host and guest photos given as files are resized into
the store beside the pages; a photo URL on another host is never loaded (no third-party
request).  Output is deterministic: no clock, no random ids.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path

import jinja2
from markupsafe import Markup

from .errors import PodcastError
from .feed import (
    NotesRenderer,
    clock,
    episode_page_key,
    labels,
    live_items,
    media_url,
)
from .model import Catalog, Episode, License, Location, Media, Person, Show
from .transcripts import (  # the readers live with the writers; re-exported here
    Cue,
    parse_json_transcript,
    parse_timed_transcript,
)

_FIRST_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.S)

#: The package the templates ship in (``feed_templates/`` in the checkout, see setup.cfg).
TEMPLATE_PACKAGE = "podcast.feed_templates"
#: The pages' script, inlined in each page (one file to read, no request, works offline).
SCRIPT = "site_player.js"
#: Favicon sizes (px) made from the show artwork: a tab needs 32, a high-density one 64.
ICON_SIZES = (32, 64)
#: Characters of the notes shown as an episode's summary when it has no ``summary:``.
SUMMARY_CHARS = 300

#: Words only the pages use, by show language (the shared ones are podcast.feed.LABELS).
SITE_LABELS = {
    "en": {"subscribe": "Subscribe", "feed_url": "Feed URL", "copy_feed": "Copy",
           "copied": "Copied", "trailer": "Trailer", "bonus": "Bonus", "hosts": "Hosts",
           "play_from": "Play from", "player": "Player", "duration": "Duration",
           "search": "Search the transcript", "no_match": "No line has these words",
           "link_to": "Link to", "support": "Support the show", "share": "Share",
           "page_link": "Link to this episode", "copy_link": "Copy link",
           "copy_at": "Copy link at", "email": "Email", "license": "Licence",
           "location": "Location", "soundbites": "Highlights", "seconds": "s",
           "other_episodes": "Other episodes"},
    "fr": {"subscribe": "S'abonner", "feed_url": "Adresse du flux", "copy_feed": "Copier",
           "copied": "Copié", "trailer": "Bande-annonce", "bonus": "Bonus",
           "hosts": "Animation", "play_from": "Écouter à partir de", "player": "Lecteur",
           "duration": "Durée", "search": "Rechercher dans la transcription",
           "no_match": "Aucune ligne ne contient ces mots", "link_to": "Lien vers",
           "support": "Soutenir l'émission", "share": "Partager",
           "page_link": "Lien vers cet épisode", "copy_link": "Copier le lien",
           "copy_at": "Copier le lien à", "email": "E-mail", "license": "Licence",
           "location": "Lieu", "soundbites": "Extraits", "seconds": "s",
           "other_episodes": "Autres épisodes"},
}


def template_environment() -> jinja2.Environment:
    """The jinja2 environment over the shipped templates (autoescape on for every one).

    Templates are read through importlib.resources, so an installed wheel finds them as
    well as a checkout does.
    """
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_read_template),
        bytecode_cache=_bytecode_cache(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["clock"] = clock
    env.filters["seconds"] = _attribute_seconds
    env.filters["iso_duration"] = iso_duration
    return env


class _QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """jinja2's cache of compiled templates (in a private folder of the temp directory,
    keyed by each template's source): compiling the site's templates cost 0.35 CPU-s of
    every publish.  A cache that cannot be written is skipped, never an error."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return _QuietBytecodeCache()
    except (OSError, RuntimeError):  # no private folder can be made: compile every time
        return None


def _read_template(name: str) -> str | None:
    resource = files(TEMPLATE_PACKAGE).joinpath(name)
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


def site_labels(show: Show) -> dict[str, str]:
    """UI words of the pages in the show's language (English when unknown)."""
    language = show.language.split("-")[0].lower()
    return {**labels(show), **SITE_LABELS.get(language, SITE_LABELS["en"])}


@dataclass(frozen=True)
class PageEpisode:
    """What the templates need to know about one episode."""

    episode: Episode
    media: Media
    notes: Markup
    summary: str  # plain text: the episode's ``summary:`` or the notes' first paragraph
    page: str  # path of the episode page, relative to the site root
    transcript_url: str | None
    captions_url: str | None  # the transcript again when it is WebVTT (for <track>)
    cues: tuple[Cue, ...]
    transcript_text: str | None
    chapter_starts: tuple[float, ...]  # each chapter's start in the published MP3
    # An HTML transcript shown in the page, cleaned as the published file is (text.py)
    transcript_html: Markup | None = None
    soundbites: tuple[PageSoundbite, ...] = ()  # on the published MP3's timeline


@dataclass(frozen=True)
class PageSoundbite:
    """A highlight of an episode as the page links to it (``#t=start`` of the MP3)."""

    start: float
    duration: float
    title: str | None


@dataclass(frozen=True)
class SeasonGroup:
    """Episodes of the show page under one heading (no heading when no episode has a
    season: ``number`` None and ``heading`` empty)."""

    number: int | None
    heading: str
    entries: tuple[PageEpisode, ...]


def render_site(show: Show, episodes: list[Episode], catalog: Catalog, *,
                now: datetime, renderer: NotesRenderer | None = None,
                generated: dict[str, str] | None = None) -> dict[str, bytes]:
    """The show's pages as ``{storage key: bytes}``.

    Keys: ``index.html`` (the show page), ``episodes/<slug>.html`` for every episode that
    is live at ``now`` and has published media, and once the artwork is published, the
    favicons ``art/icon-<px>-<sha12>.png`` made from it, and the people photos given as
    files, ``art/person-<name>-<sha12>.jpg`` (:func:`people_photos`).  ``renderer``: see
    :func:`podcast.feed.build_feed` (share one to render the notes once).  ``generated``:
    the stored text of each ``transcript: auto`` episode's transcript, by slug (already
    on the published timeline).
    """
    env = template_environment()
    renderer = renderer or NotesRenderer(show)
    items = order_for_show(show, live_items(episodes, catalog, now))
    entries = [_page_episode(episode, media, renderer, (generated or {}).get(episode.slug))
               for episode, media in items]
    icons = favicons(show) if catalog.image_key else {}
    photos = people_photos(show, [entry.episode for entry in entries])
    t = site_labels(show)
    common = {"show": show, "catalog": catalog, "t": t,
              "icons": [(size, key) for key, (size, _data) in icons.items()],
              "script": Markup(files(TEMPLATE_PACKAGE).joinpath(SCRIPT).read_text("utf-8")),
              "subscribe": _subscribe_links(show),
              "funding": _funding_links(show),
              "photo": lambda person, root: _photo_src(show, photos, person, root),
              "place_url": location_url, "license_url": license_url}

    pages = {"index.html": env.get_template("site_index.html.j2").render(
        episodes=entries, seasons=season_groups(show, entries, t), root="",
        share_image=_share_image(show, catalog.image_key), **common)}
    episode_template = env.get_template("site_episode.html.j2")
    for entry in entries:
        pages[entry.page] = episode_template.render(
            item=entry, root="../",
            share_image=_share_image(show, entry.media.image_key or catalog.image_key),
            **common)
    return {**{key: page.encode("utf-8") for key, page in pages.items()},
            **{key: data for key, (_size, data) in icons.items()},
            **dict(photos.values())}


def season_groups(show: Show, entries: list[PageEpisode],
                  t: dict[str, str]) -> list[SeasonGroup]:
    """The show page's episodes under season headings: a heading wherever the season
    changes in the page's order (so an episodic show stays newest first, and a serial
    one, sorted by season, gets one per season).  One group without a heading when no
    episode has a season."""
    if not any(entry.episode.season for entry in entries):
        return [SeasonGroup(None, "", tuple(entries))]
    groups = []
    for number, run in itertools.groupby(entries, key=lambda entry: entry.episode.season):
        heading = (f"{t['season']} {number}" + (f" · {show.seasons[number]}"
                                                 if number in show.seasons else "")
                   if number is not None else t["other_episodes"])
        groups.append(SeasonGroup(number, heading, tuple(run)))
    return groups


#: Side (px) of the people photos made for the pages: twice the 48 px they are shown at.
PHOTO_SIZE = 96


def people_photos(show: Show, episodes: list[Episode]) -> dict[Path, tuple[str, bytes]]:
    """The hosts' and the listed episodes' guests' local photos (``img:`` naming a file),
    each cut square and resized to PHOTO_SIZE as a JPEG: ``{file: (key, bytes)}``, keys
    ``art/person-<name>-<sha12>.jpg`` (a new photo, a new URL, like the cover)."""
    from PIL import Image, UnidentifiedImageError

    from .publish import ascii_slug  # (publish imports this module: no cycle at import)

    people = list(show.hosts) + [guest for episode in episodes for guest in episode.guests]
    photos: dict[Path, tuple[str, bytes]] = {}
    for person in people:
        if person.photo is None or person.photo in photos:
            continue
        try:
            with Image.open(person.photo) as image:
                image.draft("RGB", (PHOTO_SIZE * 2, PHOTO_SIZE * 2))  # fast JPEG decode
                square = _square(image.convert("RGB"))
        except (OSError, UnidentifiedImageError) as error:
            raise PodcastError(f"cannot read the photo of {person.name}: {error}",
                               file=person.photo, field="img",
                               fix="point `img:` at a JPEG or PNG file") from None
        buffer = io.BytesIO()
        square.resize((PHOTO_SIZE, PHOTO_SIZE), Image.Resampling.LANCZOS).save(
            buffer, "JPEG", quality=85)
        data = buffer.getvalue()
        stem = ascii_slug(person.name) or "person"
        photos[person.photo] = (f"art/person-{stem}-{hashlib.sha256(data).hexdigest()[:12]}.jpg",
                                data)
    return photos


def _photo_src(show: Show, photos: dict[Path, tuple[str, bytes]], person: Person,
               root: str) -> str | None:
    """Where a page loads a person's photo from: the store's resized copy, or an ``img``
    URL on the show's own site; never another host (the pages make no third-party
    request: the feed still carries such a URL for the apps)."""
    if person.photo is not None and person.photo in photos:
        return root + photos[person.photo][0]
    if person.img and person.img.startswith(show.base_url.rstrip("/") + "/"):
        return person.img
    return None


def _funding_links(show: Show) -> list[tuple[str, str]]:
    """``(text, URL)`` of the support links (``funding:``); http(s) only, as subscribe."""
    return [(item.text, item.url) for item in show.funding
            if item.url.lower().startswith(("https://", "http://"))]


_CC_LICENSE = re.compile(r"CC-(BY(?:-NC)?(?:-SA|-ND)?)-(\d\.\d)", re.I)


def license_url(license: License) -> str | None:
    """Where a listener reads the licence: its ``url``, else a Creative Commons
    identifier's deed (``CC-BY-NC-4.0`` -> creativecommons.org/licenses/by-nc/4.0/)."""
    if license.url:
        return license.url
    if license.identifier.upper() == "CC0-1.0":
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    match = _CC_LICENSE.fullmatch(license.identifier)
    if match:
        return f"https://creativecommons.org/licenses/{match[1].lower()}/{match[2]}/"
    return None  # ARR and the like: nothing to link to


#: OpenStreetMap object types by the letter ``osm:`` starts with.
OSM_TYPES = {"N": "node", "W": "way", "R": "relation"}


def location_url(place: Location) -> str | None:
    """A map link for a place: its OpenStreetMap object, else its ``geo:`` point (a link the
    listener may follow, not a request the page makes)."""
    if place.osm and place.osm[:1].upper() in OSM_TYPES and place.osm[1:].isdigit():
        return f"https://www.openstreetmap.org/{OSM_TYPES[place.osm[:1].upper()]}/{place.osm[1:]}"
    if place.geo:
        lat, _, rest = place.geo.removeprefix("geo:").partition(",")
        lon = rest.split(",")[0].split(";")[0]
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=12/{lat}/{lon}"
    return None


#: What text.safe_transcript_html puts before the cleaned markup to make it a page.
_PAGE_HEAD = '<!DOCTYPE html>\n<meta charset="utf-8">\n'


def transcript_html(episode: Episode) -> Markup | None:
    """The episode's HTML transcript (its first ``.html`` file), cleaned exactly as the
    published copy (scripts, styles, handlers and frames removed), to show in the page."""
    from .text import safe_transcript_html

    sources = ((episode.transcript,) if episode.transcript else ()) + episode.more_transcripts
    for source in sources:
        if Path(source).suffix.lower() in (".html", ".htm") and Path(source).is_file():
            page = safe_transcript_html(Path(source).read_bytes()).decode("utf-8")
            return Markup(page.removeprefix(_PAGE_HEAD).strip())  # cleaned by nh3 above
    return None


def order_for_show(show: Show, items: list[tuple[Episode, Media]]
                   ) -> list[tuple[Episode, Media]]:
    """``items`` (newest first) in the order the show page lists them.

    A serial show is read from the start: by season, then in each season the trailer,
    the numbered episodes by number, then the bonus episodes (Apple's table: trailers and
    bonus episodes need no number), each tie by publication time.  Anything else stays
    newest first.
    """
    if show.type != "serial":
        return list(items)
    rank = {"trailer": 0, "full": 1, "bonus": 2}

    def story(pair: tuple[Episode, Media]) -> tuple:
        episode = pair[0]
        number = episode.number if episode.number is not None else 0
        return (episode.season or 0, rank.get(episode.type, 1), number,
                episode.published, episode.slug)

    return sorted(items, key=story)


def favicons(show: Show) -> dict[str, tuple[int, bytes]]:
    """Small PNG icons of the show artwork: ``{art/icon-<px>-<sha12>.png: (px, bytes)}``.

    The artwork itself (often 1–3 MB at 3000 px) is far too heavy for a browser tab.  Keys
    carry the PNG's hash, like every art object, so a new cover gets new URLs.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(show.image) as image:
            image.draft("RGB", (max(ICON_SIZES) * 2, max(ICON_SIZES) * 2))  # fast JPEG decode
            square = _square(image.convert("RGB"))
    except (OSError, UnidentifiedImageError) as error:
        raise PodcastError(f"cannot read the artwork to make the favicon: {error}",
                           file=show.config_path, field="image",
                           fix="point `image:` at a JPEG or PNG file") from None
    icons = {}
    for size in ICON_SIZES:
        buffer = io.BytesIO()
        square.resize((size, size), Image.Resampling.LANCZOS).save(buffer, "PNG")
        data = buffer.getvalue()
        icons[f"art/icon-{size}-{hashlib.sha256(data).hexdigest()[:12]}.png"] = (size, data)
    return icons


def _square(image):
    """The centre square of ``image`` (artwork should be square; this keeps icons square)."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side))


def _share_image(show: Show, key: str | None) -> str | None:
    """Absolute URL of the picture shown when a page is shared (Open Graph)."""
    return media_url(show, key) if key else None


def _subscribe_links(show: Show) -> list[tuple[str, str]]:
    """``(app, URL)`` pairs from ``subscribe:``, in the config's order; http(s) only, so a
    ``javascript:`` URL can never become a link even if validation missed it."""
    return [(name, url) for name, url in show.subscribe.items()
            if url.lower().startswith(("https://", "http://"))]


def _attribute_seconds(value: float) -> str:
    """Seconds for a ``data-start`` attribute: millisecond precision, no float noise."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def iso_duration(seconds: float) -> str:
    """``312.4`` -> ``"PT5M12S"``: a ``<time datetime>`` duration, to the whole second shown
    by :func:`podcast.feed.clock` next to it."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + f"{secs}S"


def _page_episode(episode: Episode, media: Media, renderer: NotesRenderer,
                  generated: str | None = None) -> PageEpisode:
    """What an episode page shows; chapter and cue times on the master's timeline (intro,
    cut pauses), as the player plays it; an HTML transcript shown only when there is no
    timed or plain one.  ``generated``: the stored text of a ``transcript: auto``
    transcript, whose times are the published ones already."""
    cues: tuple[Cue, ...] = ()
    plain: str | None = None
    source = episode.transcript
    if source is not None and Path(source).is_file():
        text = Path(source).read_text(encoding="utf-8", errors="replace")
        cues, plain = _transcript_lines(text, Path(source).suffix.lower())
        cues = tuple(Cue(media.timeline(cue.start), cue.speaker, cue.text) for cue in cues)
    elif generated is not None and media.transcript_key:
        cues, plain = _transcript_lines(generated, Path(media.transcript_key).suffix.lower())
    notes = renderer.notes_html(episode.notes)
    captions = media.transcript_key if media.transcript_type == "text/vtt" else None
    return PageEpisode(
        episode=episode,
        media=media,
        notes=notes,
        summary=summary_text(notes, episode.summary),
        page=episode_page_key(episode),
        transcript_url=media.transcript_key,
        captions_url=captions,
        cues=cues,
        transcript_text=plain,
        chapter_starts=tuple(media.timeline(chapter.start) for chapter in episode.chapters),
        # Timed lines (which seek the player) or plain text win over the same words in HTML.
        transcript_html=None if cues or plain else transcript_html(episode),
        soundbites=tuple(PageSoundbite(media.timeline(bite.start), bite.duration, bite.title)
                         for bite in episode.soundbites),
    )


def _transcript_lines(text: str, suffix: str) -> tuple[tuple[Cue, ...], str | None]:
    """A transcript's timed cues (WebVTT, SRT, JSON) or its plain text (``.txt``)."""
    if suffix in (".vtt", ".srt"):
        return parse_timed_transcript(text), None
    if suffix == ".json":
        return parse_json_transcript(text), None
    return (), text.strip() if suffix == ".txt" else None


def summary_text(notes_html: str, summary: str | None = None) -> str:
    """An episode's summary as plain text: ``summary`` when given, else the notes' first
    paragraph; cut at a word near SUMMARY_CHARS, with an ellipsis."""
    if summary:
        text = " ".join(summary.split())
    else:
        match = _FIRST_PARAGRAPH.search(notes_html)
        text = " ".join(Markup(match.group(1) if match else notes_html).striptags().split())
    if len(text) <= SUMMARY_CHARS:
        return text
    cut = text[:SUMMARY_CHARS].rsplit(" ", 1)[0] or text[:SUMMARY_CHARS]
    return cut.rstrip(" ,;:.") + "…"
