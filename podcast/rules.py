"""The feed rules that config validation, the feed builder and ``validate`` share.

Each rule lives here once, as a table or a pure function returning the problem (or None), so
``podcast.yaml`` and ``episode.md`` are refused for the same reason ``validate`` flags the
feed, and the builder never writes what either would refuse.

Sources:

* Apple, "A Podcaster's Guide to RSS" (archived in the podcast-namespace repository as
  ``itunes_reference.md``): ``itunes:type`` serial needs ``itunes:episode`` numbers; the
  trailer/bonus table under ``itunes:episodeType``; "tag values are limited to 255
  characters unless otherwise specified"; ``itunes:block``/``itunes:complete`` only ``Yes``.
* Podcastindex-org/podcast-namespace ``docs/tags/*.md`` (128-character node values,
  ``podcast:txt`` 4000) and ``taxonomy.json`` (``podcast:person`` roles and groups).
* W3C WebVTT: a file starts with an optional BOM, then ``WEBVTT`` followed by a space, a
  tab, a line break or the end of the file.
"""

from __future__ import annotations

import re

SHOW_TYPES = ("episodic", "serial")
EPISODE_TYPES = ("full", "trailer", "bonus")

#: Apple: "Tag values are limited to 255 characters unless otherwise specified" (titles).
TITLE_MAX_CHARS = 255
#: podcast-namespace: person, soundbite, trailer, license, location and txt purpose values.
P20_SHORT_MAX_CHARS = 128
#: podcast-namespace txt.md: the node value of podcast:txt.
TXT_MAX_CHARS = 4000


# --------------------------------------------------------------------------- Apple's table


def episode_kind(episode_type: str, season: int | None, number: int | None) -> str:
    """What Apple makes of an item, from its type and numbers (the ``itunes:episodeType`` table).

    ``full`` -> "episode"; a trailer or bonus with no numbers belongs to the show, with a
    season and no number to that season, with a number (season optional) to that episode.
    """
    if episode_type == "full":
        return "episode"
    if number is not None:
        return f"episode {episode_type}"
    if season is not None:
        return f"season {episode_type}"
    return f"show {episode_type}"


def number_required(show_type: str, episode_type: str) -> bool:
    """Whether ``itunes:episode`` is required: on every full episode of a serial show only.

    Apple lists a serial show by episode number; trailers and bonus episodes take their
    place from the table above and need none.
    """
    return show_type == "serial" and episode_type == "full"


def numbering_problem(show_type: str, episode_type: str, number: int | None) -> str | None:
    """Why an episode's numbering breaks Apple's rules (None when it does not)."""
    if number is None and number_required(show_type, episode_type):
        return ("a full episode of a serial show needs an episode number: Apple lists "
                "serial shows in itunes:episode order")
    return None


def title_problem(title: str) -> str | None:
    """Why a title is too long for Apple (None when it fits)."""
    if len(title) > TITLE_MAX_CHARS:
        return (f"is {len(title)} characters; Apple limits tag values to "
                f"{TITLE_MAX_CHARS}")
    return None


# --------------------------------------------------------------------------- transcripts


_VTT_HEADER = re.compile(rb"\A(?:\xef\xbb\xbf)?WEBVTT(?:[ \t\r\n]|\Z)")


def vtt_problem(data: bytes) -> str | None:
    """Why ``data`` is not a WebVTT file (None when its header is right)."""
    if not _VTT_HEADER.match(data):
        return ("does not start with the line WEBVTT, which players need to read it as "
                "WebVTT captions")
    return None


# --------------------------------------------------------------------------- people


#: The Podcast Taxonomy (podcast-namespace taxonomy.json, 2024-09-07, commit f593c5d):
#: group -> roles, lower-cased (the person tag's role and group are case-insensitive).
PERSON_TAXONOMY: dict[str, tuple[str, ...]] = {
    "creative direction": ("director", "assistant director", "executive producer",
                           "senior producer", "producer", "associate producer",
                           "development producer", "creative director"),
    "cast": ("host", "co-host", "guest host", "guest", "voice actor", "narrator", "announcer",
             "reporter"),
    "writing": ("author", "editorial director", "co-writer", "writer", "songwriter",
                "guest writer", "story editor", "managing editor", "script editor",
                "script coordinator", "researcher", "editor", "fact checker", "translator",
                "transcriber", "logger"),
    "audio production": ("studio coordinator", "technical director", "technical manager",
                         "audio engineer", "remote recording engineer",
                         "post production engineer"),
    "audio post-production": ("audio editor", "sound designer", "foley artist", "composer",
                              "theme music", "music production", "music contributor"),
    "administration": ("production coordinator", "booking coordinator",
                       "production assistant", "content manager", "marketing manager",
                       "sales representative", "sales manager"),
    "visuals": ("graphic designer", "cover art designer"),
    "community": ("social media manager",),
    "misc.": ("consultant", "intern"),
    "video production": ("camera operator", "lighting designer", "camera grip",
                         "assistant camera"),
    "video post-production": ("editor", "assistant editor"),
}
PERSON_ROLES = frozenset(role for roles in PERSON_TAXONOMY.values() for role in roles)


def person_problem(role: str | None, group: str | None) -> str | None:
    """Why a ``podcast:person`` role or group is outside the Podcast Taxonomy (or None).

    Absent values are the namespace's defaults (``host``, ``cast``).
    """
    role = (role or "host").strip().lower()
    group = (group or "cast").strip().lower()
    if role not in PERSON_ROLES:
        return (f"role {role!r} is not in the Podcast Taxonomy (e.g. host, co-host, guest, "
                "producer, editor; see podcasttaxonomy.com)")
    if group not in PERSON_TAXONOMY:
        return (f"group {group!r} is not in the Podcast Taxonomy (e.g. cast, writing, "
                "creative direction)")
    if role not in PERSON_TAXONOMY[group]:
        return f"role {role!r} is not in the group {group!r} of the Podcast Taxonomy"
    return None


# --------------------------------------------------------------------------- licences


#: Licences a ``podcast:license`` may name without a url: the podcast-namespace list
#: (docs/examples/license/licenses.json) and the Creative Commons SPDX identifiers.
KNOWN_LICENSES = frozenset(name.lower() for name in (
    "ARR", "CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-NC-ND-4.0", "POD-V4V-1.0",
    "CC0-1.0", "CC-BY-SA-4.0", "CC-BY-ND-4.0", "CC-BY-NC-SA-4.0",
    "CC-BY-3.0", "CC-BY-SA-3.0", "CC-BY-NC-3.0", "CC-BY-NC-SA-3.0", "CC-BY-ND-3.0",
    "CC-BY-NC-ND-3.0",
))
_LICENSE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+\-]*")


def license_problem(identifier: str, url: str | None) -> str | None:
    """Why a licence cannot be written as ``podcast:license`` (None when it can)."""
    if not _LICENSE_ID.fullmatch(identifier) or len(identifier) > P20_SHORT_MAX_CHARS:
        return (f"{identifier!r} is not a licence identifier (letters, digits, '.', '+', "
                f"'-'; at most {P20_SHORT_MAX_CHARS} characters)")
    if url is None and identifier.lower() not in KNOWN_LICENSES:
        return (f"{identifier!r} is not a well-known licence, so it needs the url of its "
                "full text")
    return None


def length_problem(text: str, limit: int) -> str | None:
    """Why ``text`` is longer than a namespace limit (None when it fits)."""
    if len(text) > limit:
        return f"is {len(text)} characters; apps may cut it after {limit}"
    return None
