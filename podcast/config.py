"""Read and validate podcast.yaml and the episode folders into Show and Episode.

Every problem is a ConfigError naming the file, the key, what is wrong and the fix.
YAML is always loaded with ``yaml.safe_load``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from .categories import category_problem
from .errors import ConfigError
from .files import atomic_write
from .model import (
    AudioSettings,
    Chapter,
    Episode,
    Funding,
    Person,
    Show,
    Target,
    podcast_guid,
)

DEFAULT_CONFIG = "podcast.yaml"
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
BITRATE_RE = re.compile(r"^\d{2,3}k$")

SHOW_KEYS = {
    "title", "description", "author", "email", "language", "link", "image", "categories",
    "explicit", "type", "copyright", "funding", "locked", "hosts", "base_url", "storage",
    "audio", "targets", "feed_url", "guid",
}
REQUIRED_SHOW_KEYS = ("title", "description", "author", "email", "language", "link", "image",
                      "categories", "explicit", "base_url")
AUDIO_KEYS = {"loudness", "true_peak", "channels", "bitrate", "sample_rate", "intro", "outro",
              "highpass", "hum", "max_pause", "denoise"}
#: ``audio.hum`` values; YAML reads a bare ``off`` as false and ``50`` as a number.
HUM_CHOICES = ("auto", "50", "60", "off")
PERSON_KEYS = {"name", "role", "group", "title", "href", "img"}
TARGET_KEYS = {"name", "metric", "goal", "by", "episodes"}
CHAPTER_KEYS = {"start", "title", "url", "img"}
EPISODE_KEYS = {
    "title", "published", "audio", "season", "number", "type", "explicit", "guests",
    "chapters", "transcript", "guid", "image", "summary",
}
TRANSCRIPT_SUFFIXES = {".vtt", ".srt", ".json", ".html", ".txt"}


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
                close = [a for a in sorted(allowed) if a.lower() == str(name).lower()]
                fix = f"did you mean `{close[0]}`?" if close else (
                    "allowed keys: " + ", ".join(sorted(allowed)))
                raise self.error(str(name), "unknown key", fix)
        for name in required:
            if self.data.get(name) in (None, ""):
                raise self.error(name, "missing required key", f"add `{name}:` to the file")

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str | None:
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
        return text

    def bool(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {value!r}",
                             f"write `{name}: true` or `{name}: false`")
        return value

    def int(self, name: str, default: int | None = None, *,
            minimum: int | None = None) -> int | None:
        value = self.data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"expected a whole number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(name, f"must be at least {minimum}, got {value}")
        return value

    def number(self, name: str, default: float) -> float:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(name, f"expected a number, got {value!r}")
        return float(value)

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.data.get(name, default)
        if value not in choices:
            raise self.error(name, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def url(self, name: str, *, required: bool = False) -> str | None:
        value = self.str(name, required=required)
        if value is None:
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise self.error(name, f"{value!r} is not an http(s) URL",
                             "write a full URL such as https://example.com/show")
        return value

    def list(self, name: str) -> list[Any]:
        value = self.data.get(name) or []
        if not isinstance(value, list):
            raise self.error(name, f"expected a list, got {type(value).__name__}",
                             "write one `- item` line per entry")
        return value

    def path(self, name: str, base: Path, *, required: bool = False,
             inside: Path | None = None) -> Path | None:
        """A file path relative to ``base`` that exists (and stays inside ``inside``)."""
        text = self.str(name, required=required)
        if text is None:
            return None
        return resolve_file(text, base, file=self.file, field=self.key(name), inside=inside)


def resolve_file(text: str, base: Path, *, file: Path, field: str,
                 inside: Path | None = None) -> Path:
    """Resolve ``text`` against ``base``; it must exist and, if asked, stay inside a folder."""
    candidate = Path(text)
    path = candidate if candidate.is_absolute() else base / candidate
    resolved = path.resolve()
    if inside is not None:
        root = inside.resolve()
        if resolved != root and root not in resolved.parents:
            raise ConfigError(f"{text!r} leaves the folder {inside}", file=file, field=field,
                              fix="keep the file inside the episode folder and name it "
                                  "relative to it")
    if not resolved.is_file():
        raise ConfigError(f"file {text!r} does not exist (looked at {path})", file=file,
                          field=field, fix="check the name, or add the file")
    return resolved


def parse_timestamp(value: Any, *, file: Path, field: str) -> float:
    """``"1:02:03"``, ``"2:30"``, ``"75.5"`` or a number -> seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{value!r} is not a time", file=file, field=field)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip()
        if not re.fullmatch(r"\d+(?::[0-5]?\d){0,2}(?:\.\d+)?", text):
            raise ConfigError(f"{text!r} is not a time", file=file, field=field,
                              fix='write H:MM:SS, M:SS or seconds, e.g. "2:30"')
        seconds = 0.0
        for part in text.split(":"):
            seconds = seconds * 60 + float(part)
    if seconds < 0:
        raise ConfigError("a time cannot be negative", file=file, field=field)
    return seconds


def parse_datetime(value: Any, *, file: Path | None, field: str) -> datetime:
    """An ISO-8601 date-time with a UTC offset (a bare date means midnight UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{value!r} is not a date-time", file=file, field=field,
                              fix="write ISO 8601 with an offset, e.g. 2026-11-24T07:00:00+01:00"
                              ) from None
    if moment.tzinfo is None:
        # A bare date means midnight UTC; a time of day without an offset is ambiguous.
        if isinstance(value, datetime) or "T" in str(value) or " " in str(value).strip():
            raise ConfigError(f"{value!r} has no time zone", file=file, field=field,
                              fix="add an offset such as +01:00 or Z")
        moment = moment.replace(tzinfo=UTC)
    return moment


def _people(items: list[Any], file: Path, key: str, default_role: str) -> tuple[Person, ...]:
    people = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = {"name": item}
        reader = _Reader(item, file, f"{key}[{index}].")
        reader.check_keys(PERSON_KEYS, ("name",))
        people.append(Person(
            name=reader.str("name", required=True),
            role=(reader.str("role") or default_role).lower(),
            group=(reader.str("group") or "cast").lower(),
            title=reader.str("title"),
            href=reader.url("href"),
            img=reader.url("img"),
        ))
    return tuple(people)


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
        title=r.str("title", required=True),
        description=r.str("description", required=True),
        author=r.str("author", required=True),
        email=_email(r),
        language=_language(r),
        link=r.url("link", required=True),
        image=_artwork(r, root),
        categories=_categories(r),
        explicit=r.bool("explicit", False),
        base_url=base_url,
        feed_url=feed_url,
        guid=_guid(r, feed_url),
        type=r.choice("type", ("episodic", "serial"), "episodic"),
        copyright=r.str("copyright"),
        funding=_funding(r.data.get("funding"), file),
        locked=r.bool("locked", False),
        hosts=_people(r.list("hosts"), file, "hosts", "host"),
        storage=_storage(r),
        audio=_audio(r.data.get("audio") or {}, file, root),
        targets=_targets(r.list("targets"), file),
    )


def _read_yaml(file: Path) -> Any:
    if not file.is_file():
        raise ConfigError("config file not found", file=file,
                          fix="run `podcast init` to create one, or pass --config PATH")
    text = file.read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text) or {}
    # PyYAML raises ValueError for impossible dates such as 2026-13-45.
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"not valid YAML: {exc}", file=file,
                          fix="check indentation and quote values containing ':'") from None


def _language(r: _Reader) -> str:
    language = r.str("language", required=True)
    if not LANGUAGE_RE.match(language):
        raise r.error("language", f"{language!r} is not an ISO 639 language code",
                      "write e.g. fr, en or en-US")
    return language


def _email(r: _Reader) -> str:
    email = r.str("email", required=True)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise r.error("email", f"{email!r} is not an e-mail address")
    return email


def _artwork(r: _Reader, root: Path) -> Path:
    image = r.path("image", root, required=True)
    if image.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        raise r.error("image", f"{image.name!r} is not a .jpg or .png file",
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
        problem = category_problem(str(category))
        if problem:
            raise r.error(f"categories[{index}]", problem,
                          "use a name from Apple's category list (see README)")
    return tuple(str(c) for c in categories)


def _guid(r: _Reader, feed_url: str) -> str:
    guid = r.str("guid") or podcast_guid(feed_url)
    try:
        uuid.UUID(guid)
    except ValueError:
        raise r.error("guid", f"{guid!r} is not a UUID",
                      "remove the key; `podcast publish` writes the right value") from None
    return guid


def _storage(r: _Reader) -> str:
    storage = r.str("storage") or "file://public"
    if not re.match(r"^(file://.+|s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?)$", storage):
        raise r.error("storage", f"{storage!r} is not a storage URL",
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
        result.append(Funding(url=r.url("url", required=True), text=r.str("text") or "Support us"))
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
        raise r.error("bitrate", f"{bitrate!r} is not an MP3 bitrate",
                      "write e.g. 96k (mono speech) or 128k (stereo)")
    sample_rate = r.int("sample_rate", 44100)
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
    )


def _denoise(r: _Reader) -> str:
    """``audio.denoise``: ``off`` (default), ``light`` or ``strong``; YAML's false is off."""
    value = r.data.get("denoise", "off")
    text = "off" if value is False else str(value).strip().lower()
    if isinstance(value, (dict, list)) or text not in ("off", "light", "strong"):
        raise r.error("denoise", f"{value!r} is not one of off, light, strong",
                      "write `denoise: light` (room noise 12 dB down), `denoise: strong` "
                      "(15 dB) or `denoise: off`")
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
        raise r.error(name, f"expected a number, got {value!r}", fix)
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
        raise r.error("hum", f"{value!r} is not one of {', '.join(HUM_CHOICES)}",
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
                raise r.error("by", f"{by!r} is not a date", "write YYYY-MM-DD") from None
        episodes = r.list("episodes")
        targets.append(Target(
            name=r.str("name", required=True),
            metric=r.choice("metric", ("downloads", "listeners"), "downloads"),
            goal=r.int("goal", minimum=1),
            by=by,
            episodes=tuple(str(e) for e in episodes),
        ))
    return tuple(targets)


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
    try:
        data = yaml.safe_load(match.group(1)) or {}
    # PyYAML raises ValueError for impossible dates such as 2026-13-45.
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"front matter is not valid YAML: {exc}", file=file,
                          fix="quote titles that contain ':' or '#'") from None
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
        raise ConfigError(f"folder name {slug!r} is not a valid slug", file=folder,
                          fix="use lowercase ASCII letters, digits and hyphens, "
                              "e.g. 012-sonia-mamin")
    if not file.is_file():
        raise ConfigError("episode.md is missing", file=file,
                          fix=f"run `podcast new` or add {file}")
    data, notes = split_front_matter(file.read_text(encoding="utf-8"), file)
    r = _Reader(data, file)
    r.check_keys(EPISODE_KEYS, ("title", "published", "audio"))
    title = r.str("title", required=True)
    if any(ord(c) < 32 and c not in "\t" for c in title):
        raise r.error("title", "contains control characters")
    published = parse_datetime(data["published"], file=file, field="published")
    audio = r.path("audio", folder, required=True, inside=folder)

    chapters = []
    for index, item in enumerate(r.list("chapters")):
        cr = _Reader(item, file, f"chapters[{index}].")
        cr.check_keys(CHAPTER_KEYS, ("start", "title"))
        chapters.append(Chapter(
            start=parse_timestamp(item["start"], file=file, field=cr.key("start")),
            title=cr.str("title", required=True),
            url=cr.url("url"),
            img=cr.url("img"),
        ))
    for index in range(1, len(chapters)):
        if chapters[index].start <= chapters[index - 1].start:
            raise ConfigError(
                f"chapter {chapters[index].title!r} starts at {chapters[index].start:g}s, "
                f"not after the previous one ({chapters[index - 1].start:g}s)",
                file=file, field=f"chapters[{index}].start",
                fix="list chapters in playing order with increasing start times")

    guid = r.str("guid") or episode_guid(show, slug)
    return Episode(
        slug=slug,
        folder=folder.resolve(),
        title=title,
        published=published,
        audio=audio,
        notes=notes,
        guid=guid,
        type=r.choice("type", ("full", "trailer", "bonus"), "full"),
        season=r.int("season", minimum=1),
        number=r.int("number", minimum=1),
        explicit=r.bool("explicit", show.explicit),
        guests=_people(r.list("guests"), file, "guests", "guest"),
        chapters=tuple(chapters),
        transcript=_transcript(r, folder),
        image=_episode_image(r, folder),
        summary=r.str("summary"),
    )


def _transcript(r: _Reader, folder: Path) -> Path | None:
    path = r.path("transcript", folder, inside=folder)
    if path is not None and path.suffix.lower() not in TRANSCRIPT_SUFFIXES:
        raise r.error("transcript", f"{path.name!r} is not a transcript format",
                      "use .vtt, .srt, .json, .html or .txt")
    return path


def _episode_image(r: _Reader, folder: Path) -> Path | None:
    path = r.path("image", folder, inside=folder)
    if path is not None and path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
        raise r.error("image", f"{path.name!r} is not a .jpg or .png file")
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
            raise ConfigError(f"GUID {episode.guid!r} is also used by {other.slug!r}",
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
        raise ConfigError(f"no episode {str(name)!r}", file=show.episodes_dir,
                          fix="give a slug (folder name under episodes/) or a folder path")
    return load_episode(show, candidate)
