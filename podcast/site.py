"""Site stage: the show's web pages (a show page and one page per episode) from the templates.

The pages follow the feed's rules: only live episodes with published media appear; a serial
show lists them in story order (season, then number), any other show newest first.  They
link to the stored objects with relative URLs (``media/…``, ``../art/…``), so they work from
the storage folder opened in a browser as well as from ``base_url``.  A little inline
JavaScript (``feed_templates/site_player.js``, no framework, no external URL) makes chapters
and transcript lines seek the player and follow playback, copies the feed URL, and passes a
share code (``?via=``) on to the audio request.  No player fetches audio before the listener
presses play (``preload="none"``: a page view is no download), so each episode's duration is
shown as text from the manifest.  Output is deterministic: no clock, no random ids.
"""

from __future__ import annotations

import hashlib
import io
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
from .model import Catalog, Episode, Media, Show
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
           "link_to": "Link to"},
    "fr": {"subscribe": "S'abonner", "feed_url": "Adresse du flux", "copy_feed": "Copier",
           "copied": "Copié", "trailer": "Bande-annonce", "bonus": "Bonus",
           "hosts": "Animation", "play_from": "Écouter à partir de", "player": "Lecteur",
           "duration": "Durée", "search": "Rechercher dans la transcription",
           "no_match": "Aucune ligne ne contient ces mots", "link_to": "Lien vers"},
}


def template_environment() -> jinja2.Environment:
    """The jinja2 environment over the shipped templates (autoescape on for every one).

    Templates are read through importlib.resources, so an installed wheel finds them as
    well as a checkout does.
    """
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_read_template),
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


def render_site(show: Show, episodes: list[Episode], catalog: Catalog, *,
                now: datetime, renderer: NotesRenderer | None = None) -> dict[str, bytes]:
    """The show's pages as ``{storage key: bytes}``.

    Keys: ``index.html`` (the show page), ``episodes/<slug>.html`` for every episode that
    is live at ``now`` and has published media, and once the artwork is published, the
    favicons ``art/icon-<px>-<sha12>.png`` made from it.  ``renderer``: see
    :func:`podcast.feed.build_feed` (share one to render the notes once).
    """
    env = template_environment()
    renderer = renderer or NotesRenderer(show)
    items = order_for_show(show, live_items(episodes, catalog, now))
    entries = [_page_episode(episode, media, renderer) for episode, media in items]
    icons = favicons(show) if catalog.image_key else {}
    common = {"show": show, "catalog": catalog, "t": site_labels(show),
              "icons": [(size, key) for key, (size, _data) in icons.items()],
              "script": Markup(files(TEMPLATE_PACKAGE).joinpath(SCRIPT).read_text("utf-8")),
              "subscribe": _subscribe_links(show)}

    pages = {"index.html": env.get_template("site_index.html.j2").render(
        episodes=entries, root="", share_image=_share_image(show, catalog.image_key),
        **common)}
    episode_template = env.get_template("site_episode.html.j2")
    for entry in entries:
        pages[entry.page] = episode_template.render(
            item=entry, root="../",
            share_image=_share_image(show, entry.media.image_key or catalog.image_key),
            **common)
    return {**{key: page.encode("utf-8") for key, page in pages.items()},
            **{key: data for key, (_size, data) in icons.items()}}


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


def _page_episode(episode: Episode, media: Media, renderer: NotesRenderer) -> PageEpisode:
    """What an episode page shows; chapter and cue times on the master's timeline (intro,
    cut pauses), as the player plays it."""
    cues: tuple[Cue, ...] = ()
    plain: str | None = None
    source = episode.transcript
    if source is not None and Path(source).is_file():
        text = Path(source).read_text(encoding="utf-8", errors="replace")
        suffix = Path(source).suffix.lower()
        if suffix in (".vtt", ".srt"):
            cues = parse_timed_transcript(text)
        elif suffix == ".json":
            cues = parse_json_transcript(text)
        elif suffix == ".txt":
            plain = text.strip()
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
        cues=tuple(Cue(media.timeline(cue.start), cue.speaker, cue.text) for cue in cues),
        transcript_text=plain,
        chapter_starts=tuple(media.timeline(chapter.start) for chapter in episode.chapters),
    )


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
