"""Site stage: the show's web pages (a show page and one page per episode) from the templates.

The pages follow the feed's rules: only live episodes with published media appear, newest
first.  They link to the stored objects with relative URLs (``media/…``, ``../art/…``), so
they work from the storage folder opened in a browser as well as from ``base_url``.  Output
is deterministic: no clock, no random ids.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path

import jinja2
from markupsafe import Markup

from .feed import (
    NotesRenderer,
    clock,
    episode_page_key,
    labels,
    live_items,
)
from .model import Catalog, Episode, Media, Show

_CUE_TIME = re.compile(r"^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->")
_VOICE = re.compile(r"^<v(?:\.[^\s>]*)?\s+([^>]+)>")
_TAG = re.compile(r"<[^>]*>")


#: The package the templates ship in (``feed_templates/`` in the checkout, see setup.cfg).
TEMPLATE_PACKAGE = "podcast.feed_templates"


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
    return env


def _read_template(name: str) -> str | None:
    resource = files(TEMPLATE_PACKAGE).joinpath(name)
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


@dataclass(frozen=True)
class Cue:
    """One line of a timed transcript, as shown on the episode page."""

    start: float
    speaker: str | None
    text: str


@dataclass(frozen=True)
class PageEpisode:
    """What the templates need to know about one episode."""

    episode: Episode
    media: Media
    notes: Markup
    page: str  # path of the episode page, relative to the site root
    transcript_url: str | None
    cues: tuple[Cue, ...]
    transcript_text: str | None


def render_site(show: Show, episodes: list[Episode], catalog: Catalog, *,
                now: datetime, renderer: NotesRenderer | None = None) -> dict[str, bytes]:
    """The show's pages as ``{storage key: UTF-8 HTML}``.

    Keys: ``index.html`` (the show page) and ``episodes/<slug>.html`` for every episode that
    is live at ``now`` and has published media.  ``renderer``: see
    :func:`podcast.feed.build_feed` (share one to render the notes once).
    """
    env = template_environment()
    renderer = renderer or NotesRenderer(show)
    entries = [_page_episode(episode, media, renderer)
               for episode, media in live_items(episodes, catalog, now)]
    common = {"show": show, "catalog": catalog, "t": labels(show)}

    pages = {"index.html": env.get_template("site_index.html.j2").render(
        episodes=entries, root="", **common)}
    episode_template = env.get_template("site_episode.html.j2")
    for entry in entries:
        pages[entry.page] = episode_template.render(item=entry, root="../", **common)
    return {key: page.encode("utf-8") for key, page in pages.items()}


def parse_timed_transcript(text: str) -> tuple[Cue, ...]:
    """Cues of a WebVTT or SRT transcript (start time, ``<v Speaker>`` voice, plain text)."""
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = block.strip().split("\n")
        for index, line in enumerate(lines):
            match = _CUE_TIME.match(line)
            if not match:
                continue
            body = " ".join(part.strip() for part in lines[index + 1:]).strip()
            voice = _VOICE.match(body)
            speaker = voice.group(1).strip() if voice else None
            plain = html.unescape(_TAG.sub("", body)).strip()
            if plain:
                cues.append(Cue(_seconds(match.group(1)), speaker, plain))
            break
    return tuple(cues)


def parse_json_transcript(text: str) -> tuple[Cue, ...]:
    """Cues of a Podcasting 2.0 JSON transcript (``segments`` with startTime/speaker/body).

    Consecutive segments of one speaker are joined into one line, as people read them.
    """
    try:
        segments = json.loads(text).get("segments") or []
    except (ValueError, AttributeError):
        return ()  # not a transcript we can show; the page still links to the file
    cues: list[Cue] = []
    for segment in segments:
        if not isinstance(segment, dict) or not str(segment.get("body", "")).strip():
            continue
        speaker = segment.get("speaker") or None
        body = str(segment["body"]).strip()
        if cues and cues[-1].speaker == speaker:
            cues[-1] = Cue(cues[-1].start, speaker, f"{cues[-1].text} {body}")
        else:
            start = segment.get("startTime", 0)
            cues.append(Cue(float(start) if isinstance(start, (int, float)) else 0.0,
                            speaker, body))
    return tuple(cues)


def _page_episode(episode: Episode, media: Media, renderer: NotesRenderer) -> PageEpisode:
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
    return PageEpisode(
        episode=episode,
        media=media,
        notes=renderer.notes_html(episode.notes),
        page=episode_page_key(episode),
        transcript_url=media.transcript_key,
        cues=cues,
        transcript_text=plain,
    )


def _seconds(stamp: str) -> float:
    total = 0.0
    for part in stamp.replace(",", ".").split(":"):
        total = total * 60 + float(part)
    return total
