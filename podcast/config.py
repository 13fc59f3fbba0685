"""Read and validate podcast.yaml and the episode folders into Show and Episode.

Every problem is a ConfigError naming the file, the key, what is wrong and the fix.
YAML is loaded by :class:`StrictLoader`, ``yaml.SafeLoader`` without aliases and with a
bound on size and nesting, so no file can hold the machine (an alias bomb, 5,000 nested
lists); values in messages pass through :func:`podcast.text.shown` (cut to a readable
length), and text bound for the feed, the pages or HTTP holds no control character.
"""

from __future__ import annotations

import json
import math
import os
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, overload

import yaml

from . import rules
from .categories import category_problem
from .errors import ConfigError
from .files import atomic_write
from .model import (
    LIBRARY_BOT_POLICIES,
    TRACK_ROLES,
    AudioSettings,
    Chapter,
    Episode,
    Funding,
    License,
    Location,
    Person,
    RemoteFeed,
    Schedule,
    Show,
    Soundbite,
    StatsSettings,
    Target,
    Track,
    TranscriptionSettings,
    Txt,
    podcast_guid,
)
from .text import control_problem, safe_url, shown

DEFAULT_CONFIG = "podcast.yaml"
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
BITRATE_RE = re.compile(r"^\d{2,3}k$")

SHOW_KEYS = {
    "title", "description", "author", "email", "language", "link", "image", "categories",
    "explicit", "type", "copyright", "funding", "locked", "hosts", "base_url", "storage",
    "audio", "targets", "feed_url", "guid",
    # feed lifecycle and discovery
    "new_feed_url", "block", "complete", "txt", "license", "location", "podroll", "websub",
    "subscribe", "seasons", "schedule",
    # measurement
    "aliases", "stats",
    # speech recognition (podcast transcribe)
    "transcription",
}
#: Keys of ``transcription:`` and the values faster-whisper (CTranslate2) takes.
TRANSCRIPTION_KEYS = {"model", "device", "compute_type"}
ASR_DEVICES = ("cpu", "cuda", "auto")
ASR_COMPUTE_TYPES = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                     "float16", "bfloat16", "float32", "default", "auto")
#: Keys of ``stats:`` (counting choices that must stay the same every night).
STATS_KEYS = {"library_bots"}
REQUIRED_SHOW_KEYS = ("title", "description", "author", "email", "language", "link", "image",
                      "categories", "explicit", "base_url")
AUDIO_KEYS = {"loudness", "true_peak", "channels", "bitrate", "sample_rate", "intro", "outro",
              "highpass", "hum", "max_pause", "denoise", "rendition"}
#: ``audio.rendition`` values (podcast.audio.renditions.KINDS).
RENDITIONS = ("opus", "aac")
#: ``audio.hum`` values; YAML reads a bare ``off`` as false and ``50`` as a number.
HUM_CHOICES = ("auto", "50", "60", "off")
PERSON_KEYS = {"name", "role", "group", "title", "href", "img"}
TARGET_KEYS = {"name", "metric", "goal", "by", "episodes"}
CHAPTER_KEYS = {"start", "title", "url", "img"}
SOUNDBITE_KEYS = {"start", "duration", "title"}
TXT_KEYS = {"value", "purpose"}
LICENSE_KEYS = {"identifier", "url"}
LOCATION_KEYS = {"name", "rel", "geo", "osm", "country"}
PODROLL_KEYS = {"url", "guid", "title"}
EPISODE_KEYS = {
    "title", "published", "audio", "season", "number", "type", "explicit", "guests",
    "chapters", "transcript", "guid", "image", "summary", "soundbites", "location",
}
#: Keys of one track of a multitrack ``audio:`` list.
TRACK_KEYS = {"file", "role", "name", "offset", "gain", "pan"}
#: Most tracks in a multitrack ``audio:`` list: a round table has a handful; each track
#: is decoded by its own inputs (several open files and pipes each) at once.
MAX_TRACKS = 32
TRANSCRIPT_SUFFIXES = {".vtt", ".srt", ".json", ".html", ".txt"}
#: Largest podcast.yaml, and largest front matter of an episode.md: a real one is a few
#: kB, and a bound keeps a mistake (or a hostile file) from holding the machine.
YAML_MAX_BYTES = 256 * 1024
#: Deepest nesting of mappings and lists in them (a real config goes 4 deep).
YAML_MAX_DEPTH = 32
#: Largest episode.md (front matter and show notes): notes this long are a mistake.
EPISODE_MAX_BYTES = 32 * 1024 * 1024
#: Largest JSON transcript (about 60 times a three-hour interview's).
TRANSCRIPT_MAX_BYTES = 64 * 1024 * 1024
#: Latest time in a JSON transcript: a week of audio.
TRANSCRIPT_MAX_SECONDS = 7 * 24 * 3600
#: Show keys whose text may span lines (tab and newline allowed, other controls not).
MULTI_LINE_KEYS = {"description", "summary"}


def config_path(explicit: str | Path | None = None) -> Path:
    """The config file: ``--config``, else ``$PODCAST_CONFIG``, else ``./podcast.yaml``."""
    return Path(explicit or os.environ.get("PODCAST_CONFIG") or DEFAULT_CONFIG)


# --- small validators, each raising a ConfigError that names file and key -------------


class _Reader:
    """Typed access to one YAML mapping, with errors that name the file and key path."""

    def __init__(self, data: Any, file: Path, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise ConfigError(
                f"expected a mapping of keys, got {type(data).__name__}",
                file=file, field=prefix or None,
                fix="write `key: value` lines (see the README for the keys)",
            )
        self.data, self.file, self.prefix = data, file, prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def error(self, name: str, message: str, fix: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.file, field=self.key(name), fix=fix)

    def check_keys(self, allowed: set[str], required: Iterable[str] = ()) -> None:
        for name in self.data:
            if name not in allowed:
                close = closest_key(str(name), allowed)
                fix = f"did you mean `{close}`?" if close else (
                    "allowed keys: " + ", ".join(sorted(allowed)))
                # A key as typed, unless it is long or odd: then as a cut repr.
                plain = re.fullmatch(r"[\w .\-\[\]]{1,60}", str(name))
                raise self.error(str(name) if plain else shown(name), "unknown key", fix)
        for name in required:
            if self.data.get(name) in (None, ""):
                raise self.error(name, "missing required key", f"add `{name}:` to the file")

    @overload
    def text(self, name: str, default: str | None = None, *,
             required: Literal[True]) -> str: ...
    @overload
    def text(self, name: str, default: str | None = None, *,
             required: bool = False) -> str | None: ...

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.data.get(name, default)
        if value is None:
            if required:
                raise self.error(name, "missing required key", f"add `{name}:` to the file")
            return None
        if isinstance(value, (dict, list, bool)):
            raise self.error(name, f"expected text, got {type(value).__name__}")
        text = str(value).strip()
        if required and not text:
            raise self.error(name, "must not be empty")
        self.check_text(name, text)
        return text

    def check_text(self, name: str, text: str) -> None:
        """Refuse a control character: XML 1.0 and HTTP headers cannot carry it."""
        problem = control_problem(text, multi_line=name in MULTI_LINE_KEYS)
        if problem:
            raise self.error(name, f"{shown(text)} {problem}",
                             "delete it (text pasted from elsewhere can carry invisible "
                             "characters); only `description` and `summary` may span lines")

    def flag(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {shown(value)}",
                             f"write `{name}: true` or `{name}: false`")
        return value

    @overload
    def integer(self, name: str, default: int | None = None, *, minimum: int | None = None,
                required: Literal[True]) -> int: ...
    @overload
    def integer(self, name: str, default: int | None = None, *, minimum: int | None = None,
                required: bool = False) -> int | None: ...

    def integer(self, name: str, default: int | None = None, *,
                minimum: int | None = None, required: bool = False) -> int | None:
        value = self.data.get(name, default)
        if value is None:
            if required:
                raise self.error(name, "missing required key", f"add `{name}:` to the file")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"expected a whole number, got {shown(value)}")
        if minimum is not None and value < minimum:
            raise self.error(name, f"must be at least {minimum}, got {value}")
        return value

    def number(self, name: str, default: float) -> float:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(name, f"expected a number, got {shown(value)}")
        return float(value)

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.data.get(name, default)
        if isinstance(value, (dict, list)) or value not in choices:
            raise self.error(name, f"{shown(value)} is not one of {', '.join(choices)}")
        return value

    @overload
    def url(self, name: str, *, required: Literal[True]) -> str: ...
    @overload
    def url(self, name: str, *, required: bool = False) -> str | None: ...

    def url(self, name: str, *, required: bool = False) -> str | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            # (a URL's password or token is never echoed: safe_url drops them)
            raise self.error(name, f"{shown(safe_url(value))} is not an http(s) URL",
                             "write a full URL such as https://example.com/show")
        if re.search(r"\s", value):  # (a tab or a space would be sent as is)
            raise self.error(name, f"{shown(safe_url(value))} contains whitespace",
                             "write a space in a URL as %20")
        return value

    def items(self, name: str) -> list[Any]:
        value = self.data.get(name) or []
        if not isinstance(value, list):
            raise self.error(name, f"expected a list, got {type(value).__name__}",
                             "write one `- item` line per entry")
        return value

    @overload
    def path(self, name: str, base: Path, *, required: Literal[True],
             inside: Path | None = None) -> Path: ...
    @overload
    def path(self, name: str, base: Path, *, required: bool = False,
             inside: Path | None = None) -> Path | None: ...

    def path(self, name: str, base: Path, *, required: bool = False,
             inside: Path | None = None) -> Path | None:
        """A file path relative to ``base`` that exists (and stays inside ``inside``)."""
        text = self.text(name, required=required)
        if text is None:
            return None
        return resolve_file(text, base, file=self.file, field=self.key(name), inside=inside)


#: Longest unknown key compared with the allowed ones (a longer one is no typo).
TYPO_MAX_CHARS = 64


def closest_key(name: str, allowed: Iterable[str]) -> str | None:
    """The allowed key ``name`` was probably meant to be, or None: the same but for case,
    else the nearest within a Damerau-Levenshtein distance of 2 (1 for keys of up to 4
    letters, where 2 edits reach unrelated words: ``url`` -> ``img``)."""
    lowered = name.lower()
    keys = sorted(allowed)
    for key in keys:
        if key.lower() == lowered:
            return key
    if len(name) > TYPO_MAX_CHARS:
        return None
    limit = 1 if len(name) <= 4 else 2
    distance, key = min(((edit_distance(lowered, key.lower()), key) for key in keys),
                        default=(limit + 1, ""))
    return key if distance <= limit else None


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): the fewest insertions,
    deletions, substitutions and swaps of two neighbours that turn ``a`` into ``b``."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1,
                         previous[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[len(b)]


def resolve_file(text: str, base: Path, *, file: Path, field: str,
                 inside: Path | None = None) -> Path:
    """Resolve ``text`` against ``base``; it must exist and, if asked, stay inside a folder."""
    candidate = Path(text)
    path = candidate if candidate.is_absolute() else base / candidate
    resolved = path.resolve()
    if inside is not None:
        root = inside.resolve()
        if resolved != root and root not in resolved.parents:
            raise ConfigError(f"{shown(text)} leaves the folder {inside}", file=file, field=field,
                              fix="keep the file inside the episode folder and name it "
                                  "relative to it")
    if not resolved.is_file():
        raise ConfigError(f"file {shown(text)} does not exist (looked at {path})", file=file,
                          field=field, fix="check the name, or add the file")
    return resolved


def parse_timestamp(value: Any, *, file: Path, field: str) -> float:
    """``"1:02:03"``, ``"2:30"``, ``"75.5"`` or a number -> seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{shown(value)} is not a time", file=file, field=field)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip()
        if not re.fullmatch(r"\d+(?::[0-5]?\d){0,2}(?:\.\d+)?", text):
            raise ConfigError(f"{shown(text)} is not a time", file=file, field=field,
                              fix='write H:MM:SS, M:SS or seconds, e.g. "2:30"')
        seconds = 0.0
        for part in text.split(":"):
            seconds = seconds * 60 + float(part)
    if seconds < 0:
        raise ConfigError("a time cannot be negative", file=file, field=field)
    return seconds


def top_key_line(text: str, key: str) -> int | None:
    """The line (from 1) of ``text`` where the top-level ``key:`` is, for messages about
    a value YAML read as text (a date-time it did not recognise); None if not found."""
    match = re.search(rf"^{re.escape(key)}[ \t]*:", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else None


def parse_datetime(value: Any, *, file: Path | None, field: str,
                   line: int | None = None) -> datetime:
    """An ISO-8601 date-time with a UTC offset (a bare date means midnight UTC); ``line``
    is where the value is in ``file`` (a value YAML read as a date-time knows its own)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{shown(value)} is not a date-time", file=file, field=field,
                              line=line, fix="write ISO 8601 with an offset, e.g. "
                              "2026-11-24T07:00:00+01:00") from None
    if moment.tzinfo is None:
        # A bare date means midnight UTC; a time of day without an offset is ambiguous.
        if isinstance(value, datetime) or "T" in str(value) or " " in str(value).strip():
            raise _no_offset(value, file=file, field=field, line=line)
        moment = moment.replace(tzinfo=UTC)
    return moment


def _no_offset(value: Any, *, file: Path | None, field: str,
               line: int | None) -> ConfigError:
    """The error for a time of day without an offset, quoting it as the user wrote it."""
    if isinstance(value, WrittenTime):
        written, line = value.written, value.line
    else:
        written = value.isoformat() if isinstance(value, datetime) else str(value).strip()
    key = field.rsplit(".", 1)[-1]
    example = f"{key}: {written}+00:00" if file is not None else f"{field} {written}+00:00"
    return ConfigError(f"{written} has no time zone, so the moment is ambiguous",
                       file=file, field=field, line=line,
                       fix=f"add its offset from UTC, e.g. `{example}` (UTC; `Z` works too), "
                           "or +01:00 for Paris in winter")


def _people(items: list[Any], file: Path, key: str, default_role: str) -> tuple[Person, ...]:
    people = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = {"name": item}
        reader = _Reader(item, file, f"{key}[{index}].")
        reader.check_keys(PERSON_KEYS, ("name",))
        role = (reader.text("role") or default_role).lower()
        group = (reader.text("group") or "cast").lower()
        problem = rules.person_problem(role, group)
        if problem:
            raise reader.error("group" if role in rules.PERSON_ROLES else "role", problem,
                               "use a role and group of the Podcast Taxonomy "
                               "(podcast-namespace taxonomy.json), e.g. `role: co-host`")
        people.append(Person(
            name=_short(reader, "name", required=True),
            role=role,
            group=group,
            title=reader.text("title"),
            href=reader.url("href"),
            **_person_image(reader, file.parent),
        ))
    return tuple(people)


def _person_image(reader: _Reader, base: Path) -> dict[str, Any]:
    """``img``: a photo's URL (``img``), or a JPEG/PNG file next to the config (``photo``),
    which the pages show resized from the store rather than from another host."""
    value = reader.data.get("img")
    if not isinstance(value, str) or re.match(r"^https?://", value.strip()):
        return {"img": reader.url("img")}
    path = reader.path("img", base, required=True)
    if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        raise reader.error("img", f"{shown(path.name)} is not a .jpg or .png file",
                           "give a JPEG or PNG photo, or its https:// URL")
    return {"photo": path}


# --- the show ------------------------------------------------------------------------


def load_show(path: str | Path | None = None) -> Show:
    """Read and validate podcast.yaml."""
    file = config_path(path)
    r = _Reader(_read_yaml(file), file.resolve())
    r.check_keys(SHOW_KEYS, REQUIRED_SHOW_KEYS)
    file, root = r.file, r.file.parent
    base_url = r.url("base_url", required=True).rstrip("/")
    feed_url = r.url("feed_url") or f"{base_url}/feed.xml"
    return Show(
        config_path=file,
        title=r.text("title", required=True),
        description=r.text("description", required=True),
        author=r.text("author", required=True),
        email=_email(r),
        language=_language(r),
        link=r.url("link", required=True),
        image=_artwork(r, root),
        categories=_categories(r),
        explicit=r.flag("explicit", False),
        base_url=base_url,
        feed_url=feed_url,
        guid=_guid(r, feed_url),
        type=r.choice("type", rules.SHOW_TYPES, "episodic"),
        copyright=r.text("copyright"),
        funding=_funding(r.data.get("funding"), file),
        locked=r.flag("locked", False),
        hosts=_people(r.items("hosts"), file, "hosts", "host"),
        storage=_storage(r),
        audio=_audio(r.data.get("audio") or {}, file, root),
        targets=_targets(r.items("targets"), file),
        new_feed_url=r.url("new_feed_url"),
        **_block(r),
        schedule=_schedule(r),
        complete=r.flag("complete", False),
        txt=_txt(r),
        license=_license(r),
        locations=_locations(r),
        podroll=_podroll(r),
        websub=_websub(r),
        subscribe=_subscribe(r),
        seasons=_seasons(r),
        aliases=_aliases(r),
        stats=_stats(r),
        transcription=_transcription(r, root),
    )


def _read_yaml(file: Path) -> Any:
    if not file.is_file():
        raise ConfigError("config file not found", file=file,
                          fix="run `podcast init` to create one, or pass --config PATH")
    text = read_text(file, YAML_MAX_BYTES)
    return load_yaml(text, file, fix="check indentation and quote values containing ':'") or {}


class _Refused(yaml.YAMLError):
    """YAML that :class:`StrictLoader` does not read, at a place in the text."""

    def __init__(self, problem: str, mark: yaml.Mark, fix: str,
                 field: str | None = None) -> None:
        super().__init__(problem)
        self.problem, self.mark, self.fix, self.field = problem, mark, fix, field


class WrittenTime(datetime):
    """A date-time without an offset as read from YAML, with the text as written and its
    line in the file: the message refusing it quotes them (not ``datetime.datetime(…)``)."""

    written: str
    line: int


TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
#: Correct examples for a message about a wrong date or date-time.
DATE_EXAMPLE, DATETIME_EXAMPLE = "2026-12-31", "2026-12-31T07:00:00+00:00"


def _path_step(index: Any) -> str:
    """The part of a key path (``targets[0].by``) a node adds under its parent."""
    if isinstance(index, yaml.ScalarNode):
        return f".{index.value}"
    return f"[{index}]" if isinstance(index, int) else ""


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without aliases, and nesting at most :data:`YAML_MAX_DEPTH` deep.

    A safe loader shares an aliased node instead of copying it, but a value made of
    aliases of aliases is exponentially long when walked or printed (~250 bytes can stand
    for 10^9 items: an "alias bomb"); a config needs neither.  The composer recurses once
    per level, so the depth bound also keeps 5,000 nested lists from a RecursionError.
    """

    _depth = 0
    first_line = 1  # the file's line where the text starts (front matter: 2)

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._path: list[str] = []  # key path of the node being composed
        self._fields: dict[yaml.Node, str] = {}  # key path of each date, for messages

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused("a YAML alias (*name) is not allowed", event.start_mark,
                           "write the value out in full: podcast.yaml and front matter "
                           "take no anchors (&name) or aliases (*name)")
        self._depth += 1
        self._path.append(_path_step(index))
        try:
            if self._depth > YAML_MAX_DEPTH:
                raise _Refused(f"values nest more than {YAML_MAX_DEPTH} levels deep",
                               self.peek_event().start_mark,
                               "write plain keys, lists and texts (the README lists them)")
            node = super().compose_node(parent, index)
            if node is not None and node.tag == TIMESTAMP_TAG:
                self._fields[node] = "".join(self._path).lstrip(".")
            return node
        finally:
            self._depth -= 1
            self._path.pop()

    def construct_timestamp(self, node: yaml.ScalarNode) -> date | datetime:
        """A date or date-time; one that does not exist (2026-12-32) refused with its key
        and line, one without an offset kept as written (:class:`WrittenTime`)."""
        try:
            value = self.construct_yaml_timestamp(node)
        except ValueError as exc:  # datetime's "day is out of range for month"…
            field = self._fields.get(node) or None
            timed = re.search(r"[Tt ]", node.value.strip()) is not None
            example = DATETIME_EXAMPLE if timed else DATE_EXAMPLE
            shape = "YYYY-MM-DDTHH:MM:SS with an offset" if timed else "YYYY-MM-DD"
            key = (field or ("published" if timed else "by")).rsplit(".", 1)[-1]
            raise _Refused(f"{node.value} is not a real date ({exc})", node.start_mark,
                           f"write a day that exists as {shape}, e.g. `{key}: {example}` "
                           "(or quote it if it is text, not a date)",
                           field) from None
        if isinstance(value, datetime) and value.tzinfo is None:
            written = WrittenTime.fromisoformat(value.isoformat())
            written.written = node.value
            written.line = node.start_mark.line + self.first_line
            return written
        return value


StrictLoader.add_constructor(TIMESTAMP_TAG, StrictLoader.construct_timestamp)


def load_yaml(text: str, file: Path, *, fix: str, first_line: int = 1) -> Any:
    """The one YAML document in ``text``, read by :class:`StrictLoader`.

    Errors name ``file`` and the line (counted from ``first_line``, where ``text`` starts
    in the file).
    """
    loader = StrictLoader(text)  # (yaml.load would do the same three steps)
    loader.first_line = first_line
    try:
        return loader.get_single_data()
    except _Refused as exc:
        raise ConfigError(exc.problem, file=file, field=exc.field,
                          line=exc.mark.line + first_line, fix=exc.fix) from None
    # PyYAML raises ValueError for impossible dates such as 2026-13-45, and for integers of
    # more than 4,300 digits.
    except (yaml.YAMLError, ValueError) as exc:
        where = _yaml_line(exc, first_line)
        raise ConfigError(f"{where}not valid YAML: {_yaml_problem(exc)}", file=file,
                          fix=fix) from None
    finally:
        loader.dispose()


def _yaml_line(exc: Exception, first_line: int) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + first_line}: " if mark is not None else ""


def _yaml_problem(exc: Exception) -> str:
    """PyYAML's message without its excerpt of the file (the line is named instead), cut
    (it can quote a tag of any length)."""
    text = str(exc).split("; use sys.set_int_max_str_digits")[0]  # (advice for programmers)
    if isinstance(exc, yaml.MarkedYAMLError):
        text = ", ".join(part for part in (exc.context, exc.problem) if part) or "cannot be read"
    return text if len(text) <= 200 else text[:200] + "…"


def read_text(file: Path, limit: int) -> str:
    """``file`` as UTF-8 text, refused (before reading it) when larger than ``limit`` bytes.

    Line endings become ``\\n``: a lone ``\\r`` (old Mac editors) ends a line as in Markdown.
    """
    size = file.stat().st_size
    if size > limit:
        raise ConfigError(f"the file is {size:,} bytes, more than the {limit:,} allowed",
                          file=file, fix="this is not a file podcast writes or expects: check "
                          "that the name points at the right file")
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"byte {exc.start + 1} is not UTF-8 text", file=file,
                          fix="save the file as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _language(r: _Reader) -> str:
    language = r.text("language", required=True)
    if not LANGUAGE_RE.match(language):
        raise r.error("language", f"{shown(language)} is not an ISO 639 language code",
                      "write e.g. fr, en or en-US")
    return language


def _email(r: _Reader) -> str:
    email = r.text("email", required=True)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise r.error("email", f"{shown(email)} is not an e-mail address")
    return email


def _artwork(r: _Reader, root: Path) -> Path:
    image = r.path("image", root, required=True)
    if image.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        raise r.error("image", f"{shown(image.name)} is not a .jpg or .png file",
                      "Apple accepts JPEG or PNG artwork, 1400-3000 px square")
    return image


def _categories(r: _Reader) -> tuple[str, ...]:
    categories = r.data.get("categories")
    if isinstance(categories, str):
        categories = [categories]
    if not isinstance(categories, list) or not categories:
        raise r.error("categories", "expected a list of Apple categories",
                      'write e.g. `categories: ["Business/Marketing"]`')
    for index, category in enumerate(categories):
        if not isinstance(category, str):
            raise r.error(f"categories[{index}]", f"expected text, got {shown(category)}",
                          'write e.g. `categories: ["Business/Marketing"]`')
        problem = category_problem(category)
        if problem:
            raise r.error(f"categories[{index}]", problem,
                          "use a name from Apple's category list (see README)")
    return tuple(str(c) for c in categories)


def _guid(r: _Reader, feed_url: str) -> str:
    guid = r.text("guid") or podcast_guid(feed_url)
    try:
        uuid.UUID(guid)
    except ValueError:
        raise r.error("guid", f"{shown(guid)} is not a UUID",
                      "remove the key; `podcast publish` writes the right value") from None
    return guid


def _storage(r: _Reader) -> str:
    storage = r.text("storage") or "file://public"
    if not re.match(r"^(file://.+|s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?)$", storage):
        raise r.error("storage", f"{shown(storage)} is not a storage URL",
                      "write file://FOLDER or s3://BUCKET/PREFIX")
    return storage


def _funding(value: Any, file: Path) -> tuple[Funding, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    result = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = {"url": item}
        r = _Reader(item, file, f"funding[{index}].")
        r.check_keys({"url", "text"}, ("url",))
        result.append(Funding(url=r.url("url", required=True), text=r.text("text") or "Support us"))
    return tuple(result)


def _audio(data: Any, file: Path, root: Path) -> AudioSettings:
    r = _Reader(data, file, "audio.")
    r.check_keys(AUDIO_KEYS)
    loudness = r.number("loudness", -16.0)
    if not -30.0 <= loudness <= -10.0:
        raise r.error("loudness", f"{loudness} LUFS is outside -30..-10",
                      "podcasts use -16 (Apple) or -14 (Spotify)")
    true_peak = r.number("true_peak", -1.0)
    if not -9.0 <= true_peak <= 0.0:
        raise r.error("true_peak", f"{true_peak} dBTP is outside -9..0", "use -1.0")
    bitrate = str(r.data.get("bitrate", "96k")).lower()
    if not BITRATE_RE.match(bitrate) or not 32 <= int(bitrate[:-1]) <= 320:
        raise r.error("bitrate", f"{shown(bitrate)} is not an MP3 bitrate",
                      "write e.g. 96k (mono speech) or 128k (stereo)")
    sample_rate = r.integer("sample_rate", 44100)
    if sample_rate not in (22050, 32000, 44100, 48000):
        raise r.error("sample_rate", f"{sample_rate} Hz is not an MP3 sample rate",
                      "use 44100 (recommended) or 48000")
    return AudioSettings(
        loudness=loudness,
        true_peak=true_peak,
        channels=r.choice("channels", ("mono", "stereo"), "mono"),
        bitrate=bitrate,
        sample_rate=sample_rate,
        intro=r.path("intro", root),
        outro=r.path("outro", root),
        highpass=_highpass(r),
        hum=_hum(r),
        max_pause=_max_pause(r),
        denoise=_denoise(r),
        rendition=_rendition(r),
    )


def _rendition(r: _Reader) -> str | None:
    """``audio.rendition``: ``opus`` or ``aac``, a second file made from each master and
    listed in the feed as ``podcast:alternateEnclosure`` (absent or ``off``: none)."""
    value = r.data.get("rendition")
    if value in (None, False, "off"):
        return None
    return r.choice("rendition", RENDITIONS, "opus")


def _denoise(r: _Reader) -> str:
    """``audio.denoise``: ``off`` (default), ``light``, ``strong`` (ffmpeg's afftdn) or
    ``deep`` (the DeepFilterNet model, an optional extra); YAML's false is off."""
    value = r.data.get("denoise", "off")
    text = "off" if value is False else str(value).strip().lower()
    if isinstance(value, (dict, list)) or text not in ("off", "light", "strong", "deep"):
        raise r.error("denoise", f"{shown(value)} is not one of off, light, strong, deep",
                      "write `denoise: light` (room noise 12 dB down), `denoise: strong` "
                      "(15 dB), `denoise: deep` (20 dB and more; `pip install "
                      "'podcast[denoise]'`) or `denoise: off`")
    return text


def _max_pause(r: _Reader) -> float | None:
    """``audio.max_pause``: seconds (0.5-60) longer pauses are cut to; absent/off: none."""
    value = r.data.get("max_pause")
    if value is None or value is False or value == "off":
        return None
    seconds = _seconds_or_hertz(r, "max_pause", 0.0,
                                "write seconds, e.g. `max_pause: 1.5`, or `max_pause: off`")
    if not 0.5 <= seconds <= 60.0:
        raise r.error("max_pause", f"{seconds:g} s is outside 0.5..60",
                      "write e.g. `max_pause: 1.5`, or `max_pause: off` to keep every pause")
    return seconds


def _seconds_or_hertz(r: _Reader, name: str, default: float, fix: str) -> float:
    """A number for ``name``, or a ConfigError with ``fix``."""
    value = r.data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise r.error(name, f"expected a number, got {shown(value)}", fix)
    return float(value)


def _highpass(r: _Reader) -> float:
    """``audio.highpass``: the voice high-pass in Hz (0 = off), 20-300."""
    value = _seconds_or_hertz(r, "highpass", 80.0,
                              "write a frequency in Hz, e.g. `highpass: 80`, or 0 for none")
    if value != 0 and not 20.0 <= value <= 300.0:
        raise r.error("highpass", f"{value:g} Hz is outside 20..300",
                      "use 80 (voices), 100-120 (a boomy room), or 0 to turn it off")
    return value


def _hum(r: _Reader) -> str:
    """``audio.hum``: ``auto``, ``50``, ``60`` or ``off`` (YAML's false counts as off)."""
    value = r.data.get("hum", "auto")
    text = "off" if value is False else str(value).strip().lower()
    if isinstance(value, (dict, list)) or text not in HUM_CHOICES:
        raise r.error("hum", f"{shown(value)} is not one of {', '.join(HUM_CHOICES)}",
                      "write `hum: auto` (found and notched), `hum: 50` (Europe), "
                      "`hum: 60` (the Americas) or `hum: off`")
    return text


def _targets(items: list[Any], file: Path) -> tuple[Target, ...]:
    targets = []
    for index, item in enumerate(items):
        r = _Reader(item, file, f"targets[{index}].")
        r.check_keys(TARGET_KEYS, ("name", "goal", "by"))
        by = r.data.get("by")
        if isinstance(by, datetime):
            by = by.date()
        if not isinstance(by, date):
            try:
                by = date.fromisoformat(str(by))
            except ValueError:
                raise r.error("by", f"{shown(by)} is not a date", "write YYYY-MM-DD") from None
        episodes = r.items("episodes")
        targets.append(Target(
            name=r.text("name", required=True),
            metric=r.choice("metric", ("downloads", "listeners", "listens"), "downloads"),
            goal=r.integer("goal", minimum=1, required=True),
            by=by,
            episodes=tuple(str(e) for e in episodes),
        ))
    return tuple(targets)


# --- feed lifecycle and discovery ----------------------------------------------------


@overload
def _short(r: _Reader, name: str, *, required: Literal[True],
           limit: int = rules.P20_SHORT_MAX_CHARS) -> str: ...
@overload
def _short(r: _Reader, name: str, *, required: bool = False,
           limit: int = rules.P20_SHORT_MAX_CHARS) -> str | None: ...


def _short(r: _Reader, name: str, *, required: bool = False,
           limit: int = rules.P20_SHORT_MAX_CHARS) -> str | None:
    """Text for a Podcasting 2.0 tag, within the namespace's length limit."""
    text = r.text(name, required=required)
    problem = rules.length_problem(text, limit) if text else None
    if problem:
        raise r.error(name, problem, f"shorten it to {limit} characters or fewer")
    return text


def _entries(r: _Reader, name: str) -> list[Any]:
    """A key that takes one entry or a list of them, as a list."""
    value = r.data.get(name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _txt(r: _Reader) -> tuple[Txt, ...]:
    """``txt``: a list of ``{value, purpose?}`` (or plain values) -> ``podcast:txt``."""
    result = []
    for index, item in enumerate(_entries(r, "txt")):
        if isinstance(item, (str, int)) and not isinstance(item, bool):
            item = {"value": str(item)}
        tr = _Reader(item, r.file, r.key(f"txt[{index}]."))
        tr.check_keys(TXT_KEYS, ("value",))
        result.append(Txt(value=_short(tr, "value", required=True, limit=rules.TXT_MAX_CHARS),
                          purpose=_short(tr, "purpose")))
    return tuple(result)


def _license(r: _Reader) -> License | None:
    """``license``: an identifier (``CC-BY-4.0``) or ``{identifier, url}``."""
    value = r.data.get("license")
    if value is None:
        return None
    lr = _Reader({"identifier": value} if isinstance(value, str) else value, r.file,
                 r.key("license."))
    lr.check_keys(LICENSE_KEYS, ("identifier",))
    identifier, url = lr.text("identifier", required=True), lr.url("url")
    problem = rules.license_problem(identifier, url)
    if problem:
        raise lr.error("identifier", problem,
                       "write a known identifier such as CC-BY-4.0, or "
                       "`license: {identifier: my-licence, url: https://…}`")
    return License(identifier=identifier, url=url)


GEO_RE = re.compile(r"geo:(-?\d{1,2}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)(?:,-?\d+(?:\.\d+)?)?")


def _locations(r: _Reader) -> tuple[Location, ...]:
    """``location``: a place name, ``{name, rel?, geo?, osm?, country?}``, or a list."""
    result = []
    entries = _entries(r, "location")
    for index, item in enumerate(entries):
        prefix = r.key(f"location[{index}]." if len(entries) > 1 else "location.")
        lr = _Reader({"name": item} if isinstance(item, str) else item, r.file, prefix)
        lr.check_keys(LOCATION_KEYS, ("name",))
        geo, osm, country = lr.text("geo"), lr.text("osm"), lr.text("country")
        match = GEO_RE.fullmatch(geo) if geo else None
        if geo and (not match or abs(float(match.group(1))) > 90
                    or abs(float(match.group(2))) > 180):
            raise lr.error("geo", f"{shown(geo)} is not a geo URI", "write geo:LATITUDE,LONGITUDE, "
                           "e.g. geo:43.7384,7.4246 (RFC 5870)")
        if osm and not re.fullmatch(r"[NWR]\d+", osm):
            raise lr.error("osm", f"{shown(osm)} is not an OpenStreetMap id",
                           "write the type letter (N, W or R) and the id, e.g. R1124039")
        if country and not re.fullmatch(r"[A-Z]{2}", country):
            raise lr.error("country", f"{shown(country)} is not an ISO 3166-1 country code",
                           "write two capital letters, e.g. FR or MC")
        rel = lr.text("rel")
        if rel not in (None, "subject", "creator"):
            raise lr.error("rel", f"{shown(rel)} is not subject or creator",
                           "write `rel: subject` (what the show is about) or `rel: creator` "
                           "(where it is made)")
        result.append(Location(name=_short(lr, "name", required=True), rel=rel, geo=geo,
                               osm=osm, country=country))
    return tuple(result)


def _podroll(r: _Reader) -> tuple[RemoteFeed, ...]:
    """``podroll``: feeds the show recommends, each a feed URL or ``{url?, guid?, title?}``.

    Without ``guid`` the feed's ``podcast:guid`` is taken to be the one derived from its
    URL (how a feed that follows the guid tag gets it).
    """
    result = []
    for index, item in enumerate(r.items("podroll")):
        pr = _Reader({"url": item} if isinstance(item, str) else item, r.file,
                     r.key(f"podroll[{index}]."))
        pr.check_keys(PODROLL_KEYS)
        url, guid = pr.url("url"), pr.text("guid")
        if not guid:
            if url is None:
                raise pr.error("url", "a recommended show needs its feed url or its guid",
                               "write `- {url: https://…/feed.xml, guid: …, title: …}`")
            guid = podcast_guid(url)
        try:
            uuid.UUID(guid)
        except ValueError:
            raise pr.error("guid", f"{shown(guid)} is not a UUID",
                           "copy the show's podcast:guid (podcastindex.org shows it)") from None
        result.append(RemoteFeed(guid=guid, url=url, title=_short(pr, "title")))
    return tuple(result)


def _websub(r: _Reader) -> tuple[str, ...]:
    """``websub``: one hub URL or a list of them."""
    hubs = []
    for index, item in enumerate(_entries(r, "websub")):
        name = f"websub[{index}]"
        hubs.append(_Reader({name: item}, r.file, r.prefix).url(name, required=True))
    return tuple(dict.fromkeys(hubs))


#: ``podcast:block id`` values: podcast-namespace serviceslugs.txt.
SERVICE_SLUGS = (
    "acast", "amazon", "anchor", "apple", "audible", "audioboom", "backtracks", "bitcoin",
    "blubrry", "buzzsprout", "captivate", "castos", "castopod", "facebook", "fireside", "fyyd",
    "google", "gpodder", "hypercatcher", "kasts", "libsyn", "mastodon", "megafono",
    "megaphone", "omnystudio", "overcast", "paypal", "pinecast", "podbean", "podcastaddict",
    "podcastguru", "podcastindex", "podcasts", "podchaser", "podcloud", "podfriend",
    "podiant", "podigee", "podnews", "podomatic", "podserve", "podverse", "redcircle", "relay",
    "resonaterecordings", "rss", "shoutengine", "simplecast", "slack", "soundcloud", "spotify",
    "spreaker", "tiktok", "transistor", "twitter", "whooshkaa", "youtube", "zencast")


def _block(r: _Reader) -> dict[str, Any]:
    """``block``: true (hidden everywhere) or a list of platforms (service slugs) that
    must not list the show; ``apple`` in the list is also ``itunes:block``."""
    value = r.data.get("block")
    if not isinstance(value, list):
        return {"block": r.flag("block", False)}
    slugs = []
    for index, item in enumerate(value):
        slug = str(item).strip().lower()
        if slug not in SERVICE_SLUGS:
            raise r.error(f"block[{index}]", f"{shown(item)} is not a platform of the "
                          "podcast namespace's service list",
                          "use names from it such as spotify, amazon, google, apple, youtube")
        slugs.append(slug)
    return {"block": "apple" in slugs, "blocked": tuple(dict.fromkeys(slugs))}


SCHEDULE_KEYS = {"every", "interval", "days", "text", "start"}
SCHEDULE_WORDS = {"daily": ("daily", 1), "weekly": ("weekly", 1), "biweekly": ("weekly", 2),
                  "monthly": ("monthly", 1), "bimonthly": ("monthly", 2),
                  "yearly": ("yearly", 1)}
WEEKDAYS = {"monday": "MO", "tuesday": "TU", "wednesday": "WE", "thursday": "TH",
            "friday": "FR", "saturday": "SA", "sunday": "SU"}
_UNITS = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year"}


def _schedule(r: _Reader) -> Schedule | None:
    """``schedule``: ``weekly`` (daily, biweekly, monthly, bimonthly, yearly) or
    ``{every, interval?, days?, text?, start?}`` -> ``podcast:updateFrequency``.  Not
    ``on:``: YAML reads a bare ``on`` as true."""
    value = r.data.get("schedule")
    if value is None:
        return None
    if isinstance(value, str):
        value = {"every": value}
    sr = _Reader(value, r.file, r.key("schedule."))
    sr.check_keys(SCHEDULE_KEYS, ("every",))
    word = sr.text("every", required=True).strip().lower()
    if word not in SCHEDULE_WORDS:
        raise sr.error("every", f"{shown(word)} is not a schedule",
                       "write one of " + ", ".join(SCHEDULE_WORDS))
    every, interval = SCHEDULE_WORDS[word]
    interval *= sr.integer("interval", minimum=1) or 1
    days = tuple(_weekday(sr, index, day) for index, day in enumerate(_entries(sr, "days")))
    start = sr.data.get("start")
    if start is not None and not isinstance(start, date):
        raise sr.error("start", f"{shown(start)} is not a date",
                       "write the first release day as YYYY-MM-DD, e.g. 2026-01-05")
    text = _short(sr, "text") or _schedule_text(every, interval, days)
    return Schedule(every=every, text=text, interval=interval, days=days,
                    start=start if isinstance(start, date) else None)


def _weekday(sr: _Reader, index: int, day: Any) -> str:
    name = str(day).strip().lower()
    for full, code in WEEKDAYS.items():
        if name in (full, full[:3], code.lower()):
            return code
    raise sr.error(f"days[{index}]", f"{shown(day)} is not a day of the week",
                   "write days in English, e.g. `days: [monday, thursday]`")


def _schedule_text(every: str, interval: int, days: tuple[str, ...]) -> str:
    """What apps show beside the rule: ``Weekly``, ``Every 2 weeks on Monday``."""
    unit = _UNITS[every]
    text = every.capitalize() if interval == 1 else f"Every {interval} {unit}s"
    if days:
        names = {code: full.capitalize() for full, code in WEEKDAYS.items()}
        text += " on " + ", ".join(names[code] for code in days)
    return text


def _seasons(r: _Reader) -> dict[int, str]:
    """``seasons``: season number -> its name (page headings, ``podcast:season name``)."""
    value = r.data.get("seasons") or {}
    if not isinstance(value, dict):
        raise r.error("seasons", f"expected a mapping, got {type(value).__name__}",
                      'write one `NUMBER: Name` line per season, e.g. `1: "Les débuts"`')
    names = {}
    for number, name in value.items():
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise r.error("seasons", f"{shown(number)} is not a season number",
                          'number seasons from 1, e.g. `1: "Les débuts"`')
        sr = _Reader({str(number): name}, r.file, r.key("seasons."))
        names[number] = _short(sr, str(number), required=True)
    return names


def _subscribe(r: _Reader) -> dict[str, str]:
    """``subscribe``: app name -> the show's page in that app (http(s) URLs), in order."""
    value = r.data.get("subscribe") or {}
    if not isinstance(value, dict):
        raise r.error("subscribe", f"expected a mapping, got {type(value).__name__}",
                      'write one `App name: https://…` line per app, e.g. '
                      '`Apple Podcasts: https://podcasts.apple.com/…`')
    links = {}
    for name, url in value.items():
        label = str(name).strip()
        sr = _Reader({label: url}, r.file, r.key("subscribe."))
        if not label:
            raise sr.error(label, "an app name must not be empty")
        sr.check_text(label, label)
        links[label] = sr.url(label, required=True)
    return links


_BUCKET_URL = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/\S*)?$")


def _aliases(r: _Reader) -> tuple[str, ...]:
    """``aliases``: other base URLs (http(s)) and buckets (``s3://BUCKET[/PREFIX]``) the
    show's media is served under; one entry or a list of them."""
    found = []
    for index, item in enumerate(_entries(r, "aliases")):
        name = f"aliases[{index}]"
        if isinstance(item, str) and item.strip().startswith("s3://"):
            text = item.strip()
            if not _BUCKET_URL.match(text):
                raise r.error(name, f"{shown(text)} is not an S3 bucket URL",
                              "write s3://BUCKET or s3://BUCKET/PREFIX (a bucket name: 3 to "
                              "63 lowercase letters, digits, dots and hyphens)")
            found.append(text.rstrip("/"))
            continue
        if not isinstance(item, str):
            raise r.error(name, f"expected a URL, got {type(item).__name__}",
                          "write one `- https://cdn.example.com/show` or `- s3://BUCKET` "
                          "line per alias")
        url = _Reader({name: item}, r.file, r.prefix).url(name, required=True)
        if not re.match(r"^https?://[A-Za-z0-9.\-\[\]:]+(/|$)", url):
            raise r.error(name, f"{shown(safe_url(url))} has no plain host name",
                          "write the address the media is served under, such as "
                          "https://cdn.example.com/show")
        found.append(url.rstrip("/"))
    return tuple(dict.fromkeys(found))


def _stats(r: _Reader) -> StatsSettings:
    """``stats``: counting choices (``library_bots: drop|count``)."""
    value = r.data.get("stats")
    if value is None:
        return StatsSettings()
    sr = _Reader(value, r.file, r.key("stats."))
    sr.check_keys(STATS_KEYS)
    policy = sr.data.get("library_bots", "drop")
    if policy not in LIBRARY_BOT_POLICIES:
        raise sr.error("library_bots", f"{shown(policy)} is not one of "
                       + ", ".join(LIBRARY_BOT_POLICIES),
                       "write `library_bots: drop` (the default: libraries OPAWG marks as "
                       "bots, such as bare okhttp, are not counted) or `library_bots: count`")
    return StatsSettings(library_bots=policy)


def _transcription(r: _Reader, root: Path) -> TranscriptionSettings:
    """``transcription``: the speech recognition model (a folder, relative to podcast.yaml,
    or a model name faster-whisper knows) and where it runs."""
    value = r.data.get("transcription")
    if value is None:
        return TranscriptionSettings()
    tr = _Reader(value, r.file, r.key("transcription."))
    tr.check_keys(TRANSCRIPTION_KEYS)
    model = tr.text("model")
    if model is not None and (root / Path(model).expanduser()).is_dir():
        model = str((root / Path(model).expanduser()).resolve())
    choices = {"device": ASR_DEVICES, "compute_type": ASR_COMPUTE_TYPES}
    defaults, chosen = TranscriptionSettings(), {}
    for name, allowed in choices.items():
        value = tr.text(name, getattr(defaults, name))
        if value is None or value not in allowed:
            raise tr.error(name, f"{shown(value)} is not one of " + ", ".join(allowed),
                           f"write one of: {', '.join(allowed)}")
        chosen[name] = value
    return TranscriptionSettings(model=model, **chosen)


def freeze_guid(show: Show) -> bool:
    """Write ``guid:`` into podcast.yaml if absent, so it survives a move of the feed URL.

    Appends one line, keeping the user's comments and layout. Returns True if written.
    """
    text = show.config_path.read_text(encoding="utf-8")
    if re.search(r"^guid\s*:", text, re.MULTILINE):
        return False
    addition = ("" if text.endswith("\n") else "\n") + (
        f"# podcast:guid, computed once from the feed URL; keep it even if the URL moves\n"
        f"guid: {show.guid}\n")
    atomic_write(show.config_path, (text + addition).encode("utf-8"))
    return True


# --- episodes ------------------------------------------------------------------------

FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.DOTALL)


def split_front_matter(text: str, file: Path) -> tuple[dict[str, Any], str]:
    """Split ``---`` YAML front matter from the Markdown body."""
    match = FRONT_MATTER_RE.match(text.lstrip("\ufeff"))
    if not match:
        raise ConfigError("no YAML front matter", file=file,
                          fix="start the file with a `---` line, the keys, then `---`")
    size = len(match.group(1).encode("utf-8"))
    if size > YAML_MAX_BYTES:
        raise ConfigError(f"the front matter is {size:,} bytes, more than the "
                          f"{YAML_MAX_BYTES:,} allowed", file=file,
                          fix="put long text in the show notes, after the closing `---`")
    data = load_yaml(match.group(1), file, first_line=2,
                     fix="quote titles that contain ':' or '#'") or {}
    if not isinstance(data, dict):
        raise ConfigError("front matter must be a mapping of keys", file=file)
    return data, match.group(2).strip()


def episode_guid(show: Show, slug: str) -> str:
    """The default item GUID: stable for the life of the show (podcast:guid + slug)."""
    return str(uuid.uuid5(uuid.UUID(show.guid), slug))


def load_episode(show: Show, folder: Path) -> Episode:
    """Read and validate ``folder/episode.md``."""
    slug = folder.name
    file = folder / "episode.md"
    if not SLUG_RE.match(slug):
        raise ConfigError(f"folder name {shown(slug)} is not a valid slug", file=folder,
                          fix="use lowercase ASCII letters, digits and hyphens, "
                              "e.g. 012-sonia-mamin")
    if not file.is_file():
        raise ConfigError("episode.md is missing", file=file,
                          fix=f"run `podcast new` or add {file}")
    text = read_text(file, EPISODE_MAX_BYTES)
    data, notes = split_front_matter(text, file)
    r = _Reader(data, file)
    r.check_keys(EPISODE_KEYS, ("title", "published", "audio"))
    title = r.text("title", required=True)
    title_problem = rules.title_problem(title)
    if title_problem:
        raise r.error("title", title_problem,
                      f"shorten it to {rules.TITLE_MAX_CHARS} characters; put the detail in "
                      "the show notes")
    published = parse_datetime(data["published"], file=file, field="published",
                               line=top_key_line(text, "published"))
    guests = _people(r.items("guests"), file, "guests", "guest")
    audio, tracks = _episode_audio(r, folder, show, guests)

    chapters = []
    for index, item in enumerate(r.items("chapters")):
        cr = _Reader(item, file, f"chapters[{index}].")
        cr.check_keys(CHAPTER_KEYS, ("start", "title"))
        chapters.append(Chapter(
            start=parse_timestamp(item["start"], file=file, field=cr.key("start")),
            title=cr.text("title", required=True),
            url=cr.url("url"),
            img=cr.url("img"),
        ))
    for index in range(1, len(chapters)):
        if chapters[index].start <= chapters[index - 1].start:
            raise ConfigError(
                f"chapter {shown(chapters[index].title)} starts at {chapters[index].start:g}s, "
                f"not after the previous one ({chapters[index - 1].start:g}s)",
                file=file, field=f"chapters[{index}].start",
                fix="list chapters in playing order with increasing start times")

    guid = r.text("guid") or episode_guid(show, slug)
    kind = r.choice("type", rules.EPISODE_TYPES, "full")
    number = r.integer("number", minimum=1)
    problem = rules.numbering_problem(show.type, kind, number)
    if problem:
        raise r.error("number", problem, "add `number: N` (trailers and bonus episodes may "
                      "go without), or make it `type: trailer` or `type: bonus`")
    transcript, more_transcripts = _transcripts(r, folder)
    return Episode(
        slug=slug,
        folder=folder.resolve(),
        title=title,
        published=published,
        audio=audio,
        notes=notes,
        guid=guid,
        type=kind,
        season=r.integer("season", minimum=1),
        number=number,
        explicit=r.flag("explicit", show.explicit),
        guests=guests,
        chapters=tuple(chapters),
        transcript=transcript,
        more_transcripts=more_transcripts,
        transcript_auto=_auto_transcript(r),
        image=_episode_image(r, folder),
        summary=r.text("summary"),
        soundbites=_soundbites(r),
        locations=_locations(r),
        tracks=tracks,
    )


def _episode_audio(r: _Reader, folder: Path, show: Show,
                   guests: tuple[Person, ...]) -> tuple[Path, tuple[Track, ...]]:
    """``audio``: one file, or a list of tracks ``{file, role, name?, offset?, gain?,
    pan?}`` (one per speaker, and music beds).  Returns the episode's ``audio`` (the file,
    or the first speaker's track) and the tracks (empty for one file)."""
    value = r.data.get("audio")
    if not isinstance(value, list):
        return r.path("audio", folder, required=True, inside=folder), ()
    if not value:
        raise r.error("audio", "the list of tracks is empty",
                      "list one `- {file: host.wav, role: host}` line per recording, or "
                      "write `audio: interview.wav` for one file")
    if len(value) > MAX_TRACKS:
        raise r.error("audio", f"{len(value)} tracks: at most {MAX_TRACKS} can be mixed",
                      f"mix some recordings beforehand (e.g. the music beds, or guests "
                      f"sharing a room) to list at most {MAX_TRACKS} tracks")
    tracks = tuple(_track(item, r.file, f"audio[{index}].", folder, show, guests)
                   for index, item in enumerate(value))
    seen: dict[Path, int] = {}
    for index, track in enumerate(tracks):
        if track.file in seen:
            raise ConfigError(f"{track.file.name!r} is also track {seen[track.file]}",
                              file=r.file, field=f"audio[{index}].file",
                              fix="list each recording once")
        seen[track.file] = index
    speakers = [track for track in tracks if track.is_speech]
    if not speakers:
        raise r.error("audio", "no track is a speaker's (every track is `role: music`)",
                      "give each microphone's recording `role: host` or `role: guest`")
    return speakers[0].file, tracks


def _track(item: Any, file: Path, prefix: str, folder: Path, show: Show,
           guests: tuple[Person, ...]) -> Track:
    """One track of a multitrack ``audio:`` list, validated."""
    r = _Reader(item, file, prefix)
    r.check_keys(TRACK_KEYS, ("file", "role"))
    role = str(r.data["role"]).strip().lower()
    if role not in TRACK_ROLES:
        raise r.error("role", f"{r.data['role']!r} is not one of {', '.join(TRACK_ROLES)}",
                      "write `role: host` or `role: guest` for a speaker's microphone, "
                      "`role: music` for a music bed")
    name = _short(r, "name")
    people = {"host": show.hosts, "guest": guests}.get(role, ())
    if name is not None and people and name not in {person.name for person in people}:
        where = "`hosts:` in podcast.yaml" if role == "host" else "`guests:` of the episode"
        raise r.error("name", f"{name!r} is not a {role} of the episode",
                      f"write the name as it is under {where} "
                      f"({', '.join(person.name for person in people)})")
    return Track(file=r.path("file", folder, required=True, inside=folder), role=role,
                 name=name, offset=_bounded(r, "offset", 0.0, -3600.0, 3600.0,
                                            "seconds the track starts late, e.g. 0.25"),
                 gain=_bounded(r, "gain", 0.0, -40.0, 40.0, "dB, e.g. -3"),
                 pan=_bounded(r, "pan", 0.0, -1.0, 1.0,
                              "-1 (left) to 1 (right), 0 in the middle"))


def _bounded(r: _Reader, name: str, default: float, low: float, high: float,
             what: str) -> float:
    """A number within ``low..high`` for ``name``, or a ConfigError saying ``what``."""
    value = _seconds_or_hertz(r, name, default, f"write {what}")
    if not low <= value <= high:
        raise r.error(name, f"{value:g} is outside {low:g}..{high:g}", f"write {what}")
    return value


def _auto_transcript(r: _Reader) -> bool:
    """``transcript: auto``: made by speech recognition at publish (podcast.transcripts)."""
    return r.data.get("transcript") == "auto"


def _transcripts(r: _Reader, folder: Path) -> tuple[Path | None, tuple[Path, ...]]:
    """``transcript``: one file, or a list of files of different formats (the first is
    the main one: the pages show it), or ``auto`` (none here); as (main, the others)."""
    value = r.data.get("transcript")
    if value == "auto" or value is None:
        return None, ()
    if not isinstance(value, list):
        return _transcript(r, folder), ()
    if not value:
        raise r.error("transcript", "the list of transcripts is empty",
                      "name at least one file, or remove `transcript:`")
    items = _Reader({f"transcript[{index}]": item for index, item in enumerate(value)},
                    r.file, r.prefix)
    paths = tuple(_listed_transcript(items, folder, f"transcript[{index}]")
                  for index in range(len(value)))
    suffixes = [path.suffix.lower() for path in paths]
    for index, suffix in enumerate(suffixes):
        if suffix in suffixes[:index]:
            raise r.error(f"transcript[{index}]", f"a second {suffix} transcript",
                          "list one file per format (.vtt, .srt, .json, .html, .txt)")
    return paths[0], paths[1:]


def _listed_transcript(items: _Reader, folder: Path, name: str) -> Path:
    """One entry of a ``transcript:`` list: it must name a file."""
    path = _transcript(items, folder, name)
    if path is None:
        raise items.error(name, "an empty entry in the list of transcripts",
                          "name a file on each `- ` line, or delete the line")
    return path


def _transcript(r: _Reader, folder: Path, name: str = "transcript") -> Path | None:
    path = r.path(name, folder, inside=folder)
    if path is not None and path.suffix.lower() not in TRANSCRIPT_SUFFIXES:
        raise r.error(name, f"{shown(path.name)} is not a transcript format",
                      "use .vtt, .srt, .json, .html or .txt")
    if path is not None and path.suffix.lower() == ".vtt":
        with path.open("rb") as stream:
            problem = rules.vtt_problem(stream.read(16))
        if problem:
            raise r.error(name, f"{path.name} {problem}",
                          "make `WEBVTT` the file's first line, then a blank line, then the "
                          "cues")
    if path is not None and path.suffix.lower() == ".json":
        problem = json_transcript_problem(path)
        if problem:
            raise r.error(name, f"{path.name}: {problem}",
                          'write Podcasting 2.0 JSON: {"version": "1.0.0", "segments": '
                          '[{"speaker": "…", "startTime": 0.5, "endTime": 2.1, "body": "…"}]} '
                          "with times in seconds")
    return path


def json_transcript_problem(path: Path) -> str | None:
    """What keeps the JSON transcript at ``path`` from being published, or None.

    Checked when the episode is loaded, so a publish never starts (nor uploads anything)
    with a transcript the pages and the retiming of cut pauses cannot read: strict JSON
    (no NaN, Infinity or 1e999), an object with a list of ``segments``, each with finite
    ``startTime`` <= ``endTime`` >= 0 and a text ``body`` (``speaker`` text if given).
    """
    size = path.stat().st_size
    if size > TRANSCRIPT_MAX_BYTES:
        return f"{size:,} bytes, more than the {TRANSCRIPT_MAX_BYTES:,} allowed"
    try:
        document = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant,
                              parse_float=_finite_float)
    except UnicodeDecodeError as exc:
        return f"byte {exc.start + 1} is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    except ValueError as exc:  # a constant or a number refused below, a 4,300-digit integer
        return f"not valid JSON: {str(exc).split('; use sys.')[0]}"
    except RecursionError:
        return "not valid JSON: arrays or objects nest too deep"
    if not isinstance(document, dict) or not isinstance(document.get("segments"), list):
        return 'expected an object with a list of "segments"'
    for index, segment in enumerate(document["segments"]):
        problem = _segment_problem(segment)
        if problem:
            return f"segments[{index}]{problem}"
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{shown(text)} is too large a number")
    return value


def _segment_problem(segment: Any) -> str | None:
    """What is wrong with one transcript segment (``.key: problem``), or None."""
    if not isinstance(segment, dict):
        return f": expected an object, got {shown(segment)}"
    times = []
    for key in ("startTime", "endTime"):
        value = segment.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f".{key}: expected a number of seconds, got {shown(value)}"
        if not 0 <= value <= TRANSCRIPT_MAX_SECONDS:
            return f".{key}: {shown(value)} is not between 0 and {TRANSCRIPT_MAX_SECONDS:,} s"
        times.append(value)
    if times[1] < times[0]:
        return f".endTime: {times[1]:g} is before the startTime {times[0]:g}"
    if not isinstance(segment.get("body"), str):
        return f".body: expected text, got {shown(segment.get('body'))}"
    if segment.get("speaker") is not None and not isinstance(segment["speaker"], str):
        return f".speaker: expected text, got {shown(segment['speaker'])}"
    return None


def _soundbites(r: _Reader) -> tuple[Soundbite, ...]:
    """``soundbites``: ``{start, duration, title?}`` highlights -> ``podcast:soundbite``."""
    result = []
    for index, item in enumerate(r.items("soundbites")):
        sr = _Reader(item, r.file, f"soundbites[{index}].")
        sr.check_keys(SOUNDBITE_KEYS, ("start", "duration"))
        start = parse_timestamp(item["start"], file=r.file, field=sr.key("start"))
        duration = parse_timestamp(item["duration"], file=r.file, field=sr.key("duration"))
        if duration <= 0:
            raise sr.error("duration", "must be longer than 0 seconds",
                           "write the length in seconds (15 to 120 is usual), e.g. 45")
        result.append(Soundbite(start=start, duration=duration, title=_short(sr, "title")))
    return tuple(result)


def _episode_image(r: _Reader, folder: Path) -> Path | None:
    path = r.path("image", folder, inside=folder)
    if path is not None and path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        raise r.error("image", f"{shown(path.name)} is not a .jpg or .png file")
    return path


def load_episodes(show: Show, *, on_error: Callable[[Exception], None] | None = None
                  ) -> list[Episode]:
    """Every episode under ``episodes/``, oldest first; slugs and GUIDs must be unique."""
    folder = show.episodes_dir
    if not folder.is_dir():
        return []
    episodes: list[Episode] = []
    for child in sorted(folder.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        try:
            episodes.append(load_episode(show, child))
        except ConfigError as exc:
            if on_error is None:
                raise
            on_error(exc)
    seen: dict[str, Episode] = {}
    for episode in episodes:
        other = seen.get(episode.guid)
        if other is not None:
            raise ConfigError(f"GUID {shown(episode.guid)} is also used by {shown(other.slug)}",
                              file=episode.source, field="guid",
                              fix="every episode needs its own guid; remove the line to use "
                                  "the default")
        seen[episode.guid] = episode
    episodes.sort(key=lambda e: (e.published, e.slug))
    return episodes


def find_episode(show: Show, name: str | Path) -> Episode:
    """An episode by slug, folder or episode.md path."""
    candidate = Path(name)
    if candidate.name == "episode.md":
        candidate = candidate.parent
    if not candidate.is_dir():
        candidate = show.episodes_dir / str(name)
    if not candidate.is_dir():
        raise ConfigError(f"no episode {shown(str(name))}", file=show.episodes_dir,
                          fix="give a slug (folder name under episodes/) or a folder path")
    return load_episode(show, candidate)
