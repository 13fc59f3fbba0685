"""Validate stage: lint a podcast feed against Apple's, PSP-1's and Podcasting 2.0's rules.

:func:`validate` reads a feed (a file or an http(s) URL) and returns :class:`Finding` s:
``error`` for what makes Apple, Spotify or an app refuse or mangle the show, ``warning`` for
what the standards recommend.  Each finding names the rule it comes from (see :data:`RULES`).

Beyond the XML, it looks at what the feed points to:

* the artwork (size, colour mode, format), fetched over HTTP, or, for a feed file in a
  ``file://`` storage folder, read from that folder (``base_url/KEY`` -> ``DIR/KEY``, with
  ``base_url`` taken from the feed's ``atom:link rel="self"``);
* the enclosures: their size on disk in that folder, or over HTTP a HEAD answer with the
  same Content-Length and a 206 answer to ``Range: bytes=0-1`` (what Apple checks);
* chapters files and WebVTT transcripts.

Requests go through :mod:`podcast.outbound` (a deadline per request, capped sizes, redirects
re-checked); a feed on a public address may not send them to loopback, link-local or
private addresses, a feed served from one (a local test) may.

:func:`check_before_upload` runs the same rules on a feed about to be uploaded, reading what
it links to from the store itself (nothing over HTTP): ``publish`` and ``feed --upload``
refuse a feed with errors, so the previous one stays in place.  The rules shared with config
validation and the feed builder (Apple's serial/trailer/bonus table, title length, the
Podcast Taxonomy, WebVTT) are :mod:`podcast.rules`.
"""

from __future__ import annotations

import io
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from lxml import etree
from PIL import Image, UnidentifiedImageError

from . import outbound, rules
from .categories import category_problem
from .config import SERVICE_SLUGS
from .errors import PodcastError, StorageError
from .text import redacted, safe_url

if TYPE_CHECKING:
    from .model import Show
    from .storage import ReadableStore

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
NAMESPACES = {"itunes": ITUNES_NS, "podcast": PODCAST_NS, "atom": ATOM_NS,
              "content": CONTENT_NS}

DESCRIPTION_MAX_BYTES = 4000
ART_MIN_PX, ART_MAX_PX = 1400, 3000
EPISODE_TYPES = rules.EPISODE_TYPES
SHOW_TYPES = rules.SHOW_TYPES
TRANSCRIPT_TYPES = ("text/vtt", "application/x-subrip", "application/json", "text/html",
                    "text/plain", "application/srt")
MAX_IMAGE_BYTES = 50 * 1024 * 1024
#: The namespace's limit for its short texts (season name, updateFrequency text).
P20_TEXT_MAX_CHARS = rules.P20_SHORT_MAX_CHARS
#: An RFC 5545 recurrence rule: NAME=VALUE parts, FREQ among them.
RRULE_RE = re.compile(r"(?=(?:.*;)?FREQ=)[A-Z]+=[^;=]+(?:;[A-Z]+=[^;=]+)*")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # RFC 2822 day names
#: How far ahead of this machine's clock a pubDate may be (clocks drift a little).
FUTURE_SLACK = timedelta(minutes=10)
USER_AGENT = "podcast-validate/1.0"
EPISODE_NUMBER_IN_TITLE = re.compile(r"^\s*(#|n°\s*|(ep|ép)(isode|isodio)?\.?\s*)\d+",
                                     re.IGNORECASE)

#: Every rule the validator applies, with what it checks (``podcast validate`` shows them).
RULES = {
    "xml": "the feed is well-formed XML, an RSS 2.0 document with one <channel>",
    "namespaces": "itunes, podcast, atom and content namespaces have their exact URIs",
    "channel-required": "channel title, link, description, language and atom:link rel=self",
    "image": "itunes:image on the channel: square 1400-3000 px RGB JPEG/PNG, right extension",
    "category": "itunes:category names from Apple's list (exact case)",
    "explicit": "itunes:explicit is true or false (required on the channel)",
    "description-length": "channel and item descriptions are at most 4000 bytes",
    "owner": "itunes:author and itunes:owner/itunes:email (Spotify sends its code there)",
    "show-type": "itunes:type is episodic or serial; a serial show needs itunes:episode on "
                 "every full episode (not on trailers and bonus episodes)",
    "lifecycle": "itunes:new-feed-url is an http(s) URL; itunes:block and itunes:complete "
                 "are Yes (Apple ignores any other value)",
    "copyright": "copyright names who holds it, not only a sign, a year or the word "
                 "(Apple's example: © 2026 Studio Rencontres)",
    "podcast-guid": "podcast:guid is present and a UUID",
    "podcast-tags": "podcast:locked yes|no, person names, transcript and chapters types, "
                    "soundbite times within the episode, trailer url and pubdate, podroll "
                    "feedGuid, licence, location and txt values",
    "person-role": "podcast:person role and group come from the Podcast Taxonomy",
    "item-title": "every item has a title",
    "title-style": "item titles without the show's name or an episode number (Apple)",
    "title-length": f"titles are at most {rules.TITLE_MAX_CHARS} characters (Apple's limit "
                    "for tag values)",
    "chapters": "podcast:chapters files are JSON chapters 1.2 with ascending startTime",
    "transcript": "text/vtt transcripts start with the WEBVTT line",
    "enclosure": "every item has an enclosure with an ASCII URL, a byte length and a type",
    "enclosure-duplicate": "no two items share an enclosure URL (Apple ignores a URL it has "
                           "seen)",
    "guid": "every item has a guid, and no two items share one",
    "pubdate": "every item has an RFC 2822 pubDate with a time zone, the right weekday "
               "and not in the future; the channel's pubDate and lastBuildDate, if any, "
               "are RFC 2822 dates too",
    "duration": "itunes:duration is a whole number of seconds",
    "episode-number": "itunes:episode and itunes:season are non-zero whole numbers",
    "episode-type": "itunes:episodeType is full, trailer or bonus",
    "guid-stability": "an episode keeps its guid from one version of the feed to the next",
    "enclosure-reachable": "the audio is there, with the length the feed says; HEAD and "
                           "byte ranges work over HTTP",
}
#: The rules of podcast.yaml checked with the show's own feed (and by doctor and share):
#: :func:`config_findings`.
CONFIG_RULES = {
    "placeholder": "podcast.yaml keeps none of the values `podcast init` writes for you to "
                   "replace (e-mail, description, web site, host's name)",
    "loopback": "base_url and feed_url are not this computer's own address (127.0.0.1, "
                "localhost), which no app or listener can reach",
}


@dataclass(frozen=True)
class Finding:
    """One problem found in a feed."""

    level: str  # "error" | "warning"
    rule: str  # a key of RULES or CONFIG_RULES
    message: str

    def __post_init__(self) -> None:
        # Messages quote feed, image and enclosure URLs (private feeds carry tokens) and
        # errors that quote them: printed without user info or query.
        object.__setattr__(self, "message", redacted(self.message))

    def __str__(self) -> str:
        return f"{self.level}: [{self.rule}] {self.message}"


# --------------------------------------------------------------------------- public API


def validate(source: str, *, previous: Path | None = None,
             http_checks: int = 20) -> list[Finding]:
    """Lint the feed at ``source`` (a file path or an http(s) URL).

    ``previous`` is an earlier copy of the same feed: GUIDs must not change between them.
    ``http_checks`` limits how many enclosures (newest first) are probed over HTTP.
    Raises PodcastError when the feed itself cannot be read.
    """
    data = _read_source(source)
    folder = None if _is_http(source) else Path(source).resolve().parent
    return _validate_data(data, source=source, folder=folder, http_checks=http_checks,
                          previous=previous)


def validate_feed(data: bytes, store: ReadableStore, *, http_checks: int = 20) -> list[Finding]:
    """Lint feed ``data`` about to be uploaded to ``store``, before it is.

    What the feed links to under its own base URL is read from the store (a ``file://``
    folder or a bucket), nothing over HTTP: an object missing from the store is an error.
    """
    from .storage import FileStore

    folder = store.folder if isinstance(store, FileStore) else None
    return _validate_data(data, source=f"{store.url}/feed.xml", folder=folder,
                          store=None if folder else store, http_checks=http_checks,
                          before_upload=True)


def check_before_upload(data: bytes, store: ReadableStore) -> list[Finding]:
    """The warnings about feed ``data``; PodcastError, naming each error, if it has errors.

    ``publish`` and ``feed --upload`` call it before they put the feed: a feed with errors
    is not uploaded, and the previous one stays in place.
    """
    findings = validate_feed(data, store)
    problems = [str(f) for f in findings if f.level == "error"]
    if problems:
        raise PodcastError(
            f"the new feed has {len(problems)} error(s), so it was not uploaded (the previous "
            "feed stays in place):\n    " + "\n    ".join(problems),
            file=f"{store.url}/feed.xml",
            fix="correct what each error names in podcast.yaml or the episode, then run the "
                "command again")
    return findings


def _validate_data(data: bytes, *, source: str, folder: Path | None, http_checks: int,
                   store: ReadableStore | None = None, previous: Path | None = None,
                   before_upload: bool = False) -> list[Finding]:
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        return [Finding("error", "xml", f"the feed is not well-formed XML: {exc}")]
    channel = root.find("channel")
    if root.tag != "rss" or root.get("version") != "2.0" or channel is None:
        return [Finding("error", "xml", "the document is not an RSS 2.0 feed "
                        "(<rss version=\"2.0\"><channel>…)")]
    feed = _Feed(source=source, root=root, channel=channel, items=channel.findall("item"),
                 http_checks=http_checks, folder=folder, store=store,
                 before_upload=before_upload,
                 now=None if before_upload else datetime.now(UTC))
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(feed))
    if previous is not None:
        findings.extend(_check_guid_stability(feed, Path(previous)))
    return findings


def default_source(config: str | Path) -> str:
    """The built feed of the show in ``config``.

    For ``file://DIR`` storage it is the feed file in that folder (resolved against the
    config's folder); for other storage the public ``feed_url``.
    """
    from .config import load_show
    from .storage import FileStore, open_store

    show = load_show(config)
    if show.storage.startswith("file://"):
        store = open_store(show.storage, show.root)
        assert isinstance(store, FileStore)
        # `podcast publish` and `podcast feed --upload` store the feed under this key.
        return str((store.folder / "feed.xml").resolve())
    return show.feed_url


# ------------------------------------------------------------------------ podcast.yaml

#: Domains kept for examples (RFC 2606): an address or site there is no one's.
EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net")


def config_findings(show: Show) -> list[Finding]:
    """Warnings about the show's podcast.yaml that the feed checks cannot see: values
    ``podcast init`` wrote for the producer to replace, and a loopback base_url.  Each
    names the file, the line, the key, what is wrong and the fix."""
    lines = _key_lines(show.config_path)
    findings = []
    for key, value, what, fix in [*_placeholders(show), *_loopback_urls(show)]:
        rule = "loopback" if key in ("base_url", "feed_url") else "placeholder"
        text = str(PodcastError(f"{value} {what}", file=show.config_path, field=key,
                                line=lines.get(key), fix=fix))
        findings.append(Finding("warning", rule, text))
    return findings


def _placeholders(show: Show) -> Iterator[tuple[str, str, str, str]]:
    """(key, value, what is wrong, fix) for each value left from ``podcast init``."""
    from .scaffold import PLACEHOLDERS

    left = "is the placeholder `podcast init` wrote"
    if show.description.strip() == PLACEHOLDERS["description"]:
        yield ("description", repr(_cut(show.description)), left,
               "write what listeners get from the show and how often (apps show it under "
               "the title; up to 4000 bytes)")
    if show.email == PLACEHOLDERS["email"] or _on_example_domain(show.email.split("@")[-1]):
        yield ("email", show.email, left if show.email == PLACEHOLDERS["email"] else
               "is at an example domain nobody receives mail for",
               "write your own address: Apple and Spotify send the show's ownership codes "
               "there")
    if _on_example_domain(urlsplit(show.link).hostname or ""):
        yield ("link", show.link, left if show.link == PLACEHOLDERS["link"] else
               "is at an example domain, no one's web site",
               "write the show's web site (or the address of its pages: base_url)")
    if _is_placeholder_cover(show.image):
        yield ("image", show.image.name, "is the placeholder cover `podcast init` made",
               "put your cover there (square JPEG or PNG, 1400-3000 px, RGB) or name it "
               "in `image:`")
    for index, host in enumerate(show.hosts):
        if host.name == PLACEHOLDERS["hosts[].name"]:
            yield (f"hosts[{index}].name", repr(host.name), left,
                   "write the host's name as listeners should see it on the pages and in "
                   "the feed")


def _is_placeholder_cover(path: Path) -> bool:
    """Whether ``path`` is the cover ``init`` made (its JPEG comment; only the header is
    read)."""
    from .scaffold import ARTWORK_MARK

    try:
        with Image.open(path) as image:
            return image.info.get("comment") == ARTWORK_MARK
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
        return False  # (the feed checks say what is wrong with the image)


def _loopback_urls(show: Show) -> Iterator[tuple[str, str, str, str]]:
    """(key, value, what is wrong, fix) for base_url (and a feed_url of its own) on this
    computer's own address."""
    urls = [("base_url", show.base_url)]
    if show.feed_url != f"{show.base_url}/feed.xml":
        urls.append(("feed_url", show.feed_url))
    for key, url in urls:
        if is_loopback_url(url):
            yield (key, safe_url(url), "is this computer's own address: podcast apps and "
                   "listeners cannot reach it (links and the feed made from it work only "
                   "here)", "keep it for testing with `podcast serve`; before sharing links "
                   "or submitting the feed, write the public URL the storage is served at, "
                   "e.g. `base_url: https://media.yourshow.com`")


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is this computer (127.0.0.0/8, ::1, 0.0.0.0, localhost),
    without a DNS lookup."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _on_example_domain(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in EXAMPLE_DOMAINS)


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _key_lines(file: Path) -> dict[str, int]:
    """The line (from 1) of each key of podcast.yaml, as key paths: ``hosts[0].name``."""
    from .config import YAML_MAX_BYTES, StrictLoader, read_text

    loader = StrictLoader(read_text(file, YAML_MAX_BYTES))
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    _walk_lines(root, "", lines)
    return lines


def _walk_lines(node: object, path: str, lines: dict[str, int]) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = f"{path}.{key.value}" if path else str(key.value)
            lines[name] = key.start_mark.line + 1
            _walk_lines(value, name, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            name = f"{path}[{index}]"
            lines[name] = item.start_mark.line + 1
            _walk_lines(item, name, lines)


# --------------------------------------------------------------------------- the feed


@dataclass
class _Feed:
    source: str
    root: etree._Element
    channel: etree._Element
    items: list[etree._Element]
    http_checks: int
    folder: Path | None = None  # where base_url/KEY is found (a feed file's folder)
    store: ReadableStore | None = None  # a bucket the feed is about to be uploaded to
    before_upload: bool = False  # read objects from folder/store only; missing is an error
    # pubDates after this are in the future: the clock, as apps read the feed now.  None
    # before an upload: publish checks a feed built for each coming release at its time.
    now: datetime | None = None
    _images: dict[str, list[Finding]] = field(default_factory=dict)
    _local: bool | None = None

    @property
    def is_remote(self) -> bool:
        return _is_http(self.source)

    @property
    def allow_local(self) -> bool:
        """Whether requests may go to loopback or private addresses: the feed itself is
        served from one (its URL, or for a file its atom:link rel=self)."""
        if self._local is None:
            where = self.source if self.is_remote else (_self_link(self.channel) or "")
            self._local = outbound.is_local_url(where)
        return self._local

    def http(self, url: str, method: str, headers: dict[str, str] | None = None, *,
             limit: int = 0) -> tuple[int, dict[str, str], bytes]:
        """:func:`_http` with this feed's address rule."""
        return _http(url, method, headers, limit=limit, allow_local=self.allow_local)

    def key(self, url: str) -> str | None:
        """The storage key ``url`` names under the feed's base URL (None outside it).

        ``base_url`` is where the feed says it lives (atom:link rel=self) minus its name.
        """
        self_link = _self_link(self.channel)
        if not self_link or "/" not in self_link:
            return None
        base = self_link.rsplit("/", 1)[0] + "/"
        return unquote(url[len(base):]) if url.startswith(base) else None

    def local_path(self, url: str) -> Path | None:
        """For a local feed file, the file that ``url`` maps to in the feed's folder."""
        key = self.key(url) if self.folder is not None else None
        if key is None or self.folder is None:
            return None
        candidate = (self.folder / key).resolve()
        if self.folder.resolve() not in candidate.parents:
            return None  # a URL that climbs out of the folder maps to nothing
        return candidate if candidate.is_file() else None

    def stored(self, url: str, limit: int) -> tuple[bytes | None, int | None]:
        """Before an upload: ``(first limit bytes, size)`` of the object ``url`` names,
        ``(None, None)`` when it is missing; MissingObject-free, StorageError passes."""
        from .storage import MissingObject

        if self.folder is not None:
            path = self.local_path(url)
            if path is None:
                return None, None
            return (path.read_bytes()[:limit] if limit else b""), path.stat().st_size
        key = self.key(url)
        # (callers ask only for the show's own objects, and a check has a folder or a store)
        assert key is not None and self.store is not None
        if limit:
            try:
                data = self.store.get_bytes(key)
            except MissingObject:
                return None, None
            return data[:limit], len(data)
        info = self.store.head(key)
        return (b"", info.size) if info is not None else (None, None)

    def item_name(self, index: int, item: etree._Element) -> str:
        title = (item.findtext("title") or "").strip()
        return f"item {index + 1} ({title!r})" if title else f"item {index + 1}"


def _self_link(channel: etree._Element) -> str | None:
    for link in channel.findall(f"{{{ATOM_NS}}}link"):
        if link.get("rel") == "self" and link.get("href"):
            return link.get("href")
    return None


# --------------------------------------------------------------------------- channel rules


def _check_namespaces(feed: _Feed) -> Iterator[Finding]:
    for prefix, expected in NAMESPACES.items():
        bound = feed.root.nsmap.get(prefix)
        if bound is not None and bound != expected:
            yield Finding("error", "namespaces",
                          f"prefix {prefix!r} is bound to {bound!r}; it must be exactly "
                          f"{expected!r} (apps compare it character by character)")
    used = {etree.QName(el).namespace for el in feed.root.iter() if isinstance(el.tag, str)}
    for uri in sorted(u for u in used if u and u not in NAMESPACES.values()):
        for prefix, expected in NAMESPACES.items():
            if _loose(uri) == _loose(expected):
                yield Finding("error", "namespaces",
                              f"namespace {uri!r} looks like {prefix} but is not exactly "
                              f"{expected!r}: its tags are ignored")
    if ITUNES_NS not in used:
        yield Finding("error", "namespaces",
                      f"no itunes tags in the namespace {ITUNES_NS!r}: Apple requires them")


def _loose(uri: str) -> str:
    return re.sub(r"^https?://", "", uri.lower()).rstrip("/")


def _check_channel(feed: _Feed) -> Iterator[Finding]:
    channel = feed.channel
    for tag in ("title", "link", "description", "language"):
        if not (channel.findtext(tag) or "").strip():
            yield Finding("error", "channel-required", f"the channel has no <{tag}>")
    language = (channel.findtext("language") or "").strip()
    if language and not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", language):
        yield Finding("error", "channel-required",
                      f"<language> {language!r} is not an ISO 639 code such as fr or en-US")
    if _self_link(channel) is None:
        yield Finding("error", "channel-required",
                      'the channel has no <atom:link rel="self" href="…"> (PSP-1)')
    description = channel.findtext("description") or ""
    if len(description.encode("utf-8")) > DESCRIPTION_MAX_BYTES:
        yield Finding("error", "description-length",
                      f"the channel description is {len(description.encode('utf-8'))} bytes; "
                      f"Apple allows {DESCRIPTION_MAX_BYTES}")


def _check_image(feed: _Feed) -> Iterator[Finding]:
    images = feed.channel.findall(f"{{{ITUNES_NS}}}image")
    hrefs = [i.get("href") for i in images if i.get("href")]
    if not hrefs:
        yield Finding("error", "image", 'the channel has no <itunes:image href="…">')
        return
    yield from _image_findings(feed, hrefs[0], "the show artwork")
    for index, item in enumerate(feed.items):
        element = item.find(f"{{{ITUNES_NS}}}image")
        if element is not None and element.get("href") and element.get("href") != hrefs[0]:
            yield from _image_findings(feed, element.get("href"),
                                       f"the image of {feed.item_name(index, item)}")


def _image_findings(feed: _Feed, url: str, what: str) -> list[Finding]:
    """Findings about one artwork URL (cached: episodes usually share the show's art)."""
    if url not in feed._images:
        feed._images[url] = list(_inspect_image(feed, url, what))
    return feed._images[url]


def _inspect_image(feed: _Feed, url: str, what: str) -> Iterator[Finding]:
    data, problem = _fetch(feed, url, "image", what, MAX_IMAGE_BYTES)
    if data is None:
        yield from problem
        return
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height), mode = image.format, image.size, image.mode
    except (UnidentifiedImageError, OSError):
        yield Finding("error", "image", f"{what} {url} is not a readable image")
        return
    if kind not in ("JPEG", "PNG"):
        yield Finding("error", "image", f"{what} is {kind}; Apple accepts JPEG or PNG")
    extension = Path(urlsplit(url).path).suffix.lower()
    expected = {"JPEG": (".jpg", ".jpeg"), "PNG": (".png",)}.get(kind or "", ())
    if expected and extension not in expected:
        yield Finding("error", "image", f"{what} is a {kind} file but its name ends in "
                      f"{extension or '(nothing)'}; use {expected[0]}")
    if width != height:
        yield Finding("error", "image", f"{what} is {width}x{height} px; it must be square")
    if not ART_MIN_PX <= min(width, height) or max(width, height) > ART_MAX_PX:
        yield Finding("error", "image", f"{what} is {width}x{height} px; Apple wants "
                      f"{ART_MIN_PX} to {ART_MAX_PX} px")
    if mode != "RGB":
        yield Finding("error", "image", f"{what} uses the colour mode {mode}; Apple wants RGB")


def _fetch(feed: _Feed, url: str, rule: str, what: str,
           limit: int) -> tuple[bytes | None, list[Finding]]:
    """The bytes behind ``url`` (from the feed's folder, else over HTTP), or the findings.

    An unreachable URL is an error for a served feed and a warning for a feed file (it may be
    checked before its server runs).  Before an upload, only the store is read.
    """
    if feed.before_upload:
        return _fetch_stored(feed, url, rule, what, limit)
    path = feed.local_path(url)
    try:
        if path is not None:
            return path.read_bytes()[:limit], []
        if not _is_http(url):
            return None, [Finding("warning", rule, f"{what} {url} was not checked: not an "
                                  "http(s) URL and not in the feed's folder")]
        status, _, data = feed.http(url, "GET", limit=limit)
    except OSError as exc:
        level = "error" if feed.is_remote else "warning"
        return None, [Finding(level, rule, f"{what} {url} could not be fetched: {exc}")]
    if status != 200:
        return None, [Finding("error", rule, f"{what} {url} answers HTTP {status}")]
    return data, []


def _fetch_stored(feed: _Feed, url: str, rule: str, what: str,
                  limit: int) -> tuple[bytes | None, list[Finding]]:
    """:func:`_fetch` before an upload: the object from the store, nothing over HTTP."""
    if feed.key(url) is None:
        return None, []  # not one of the show's objects: checked once it is served
    try:
        data, _ = feed.stored(url, limit)
    except StorageError as exc:
        return None, [Finding("warning", rule, f"{what} {url} could not be read from the "
                              f"store: {exc.message}")]
    if data is None:
        return None, [Finding("error", rule, f"{what} {url} is not in the store "
                              f"({feed.key(url)})")]
    return data, []


def _check_category(feed: _Feed) -> Iterator[Finding]:
    categories = feed.channel.findall(f"{{{ITUNES_NS}}}category")
    if not categories:
        yield Finding("error", "category", 'the channel has no <itunes:category text="…">')
    for element in categories:
        top = element.get("text") or ""
        subs = [s.get("text") or "" for s in element.findall(f"{{{ITUNES_NS}}}category")]
        for name in [top] + [f"{top}/{sub}" for sub in subs]:
            problem = category_problem(name)
            if problem:
                yield Finding("error", "category", problem)


def _check_explicit(feed: _Feed) -> Iterator[Finding]:
    value = feed.channel.findtext(f"{{{ITUNES_NS}}}explicit")
    if value is None:
        yield Finding("error", "explicit", "the channel has no <itunes:explicit>")
    elif value.strip() not in ("true", "false"):
        yield Finding("error", "explicit",
                      f"channel <itunes:explicit> is {value!r}; write true or false")
    for index, item in enumerate(feed.items):
        value = item.findtext(f"{{{ITUNES_NS}}}explicit")
        if value is not None and value.strip() not in ("true", "false"):
            yield Finding("error", "explicit", f"{feed.item_name(index, item)}: "
                          f"<itunes:explicit> is {value!r}; write true or false")


def _check_owner(feed: _Feed) -> Iterator[Finding]:
    if not (feed.channel.findtext(f"{{{ITUNES_NS}}}author") or "").strip():
        yield Finding("warning", "owner", "the channel has no <itunes:author>")
    email = feed.channel.findtext(f"{{{ITUNES_NS}}}owner/{{{ITUNES_NS}}}email") or ""
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email.strip()):
        yield Finding("warning", "owner", "the channel has no <itunes:owner> with an "
                      "<itunes:email> (directories send ownership codes there)")


def _check_show_type(feed: _Feed) -> Iterator[Finding]:
    value = feed.channel.findtext(f"{{{ITUNES_NS}}}type")
    if value is None:
        return
    if value.strip() not in SHOW_TYPES:
        yield Finding("error", "show-type", f"<itunes:type> is {value!r}; write episodic "
                      "or serial")
    elif value.strip() == "serial":
        for index, item in enumerate(feed.items):
            kind = (item.findtext(f"{{{ITUNES_NS}}}episodeType") or "full").strip()
            has_number = item.find(f"{{{ITUNES_NS}}}episode") is not None
            problem = rules.numbering_problem("serial", kind, 1 if has_number else None)
            if problem:
                yield Finding("error", "show-type", f"{feed.item_name(index, item)} has no "
                              f"<itunes:episode>: {problem}")


def _check_lifecycle(feed: _Feed) -> Iterator[Finding]:
    new_url = feed.channel.findtext(f"{{{ITUNES_NS}}}new-feed-url")
    if new_url is not None and not _is_http(new_url.strip()):
        yield Finding("error", "lifecycle", f"<itunes:new-feed-url> {new_url!r} is not an "
                      "http(s) URL")
    places = [("the channel", feed.channel)] + [
        (feed.item_name(i, item), item) for i, item in enumerate(feed.items)]
    for name, element in places:
        for tag in ("block", "complete"):
            value = element.findtext(f"{{{ITUNES_NS}}}{tag}")
            if value is not None and value.strip() != "Yes":
                yield Finding("warning", "lifecycle", f"{name}: <itunes:{tag}> is {value!r}; "
                              "Apple only acts on Yes (leave the tag out otherwise)")


def _check_copyright(feed: _Feed) -> Iterator[Finding]:
    text = (feed.channel.findtext("copyright") or "").strip()
    if not text:
        return
    # Apple's own example is "℗ & © 2021 Apple Inc.": signs and a year are fine, as long
    # as a holder is named.
    holder = re.sub(r"(?i)\b(copyright|all rights reserved)\b|[©℗®&,.()\-–\d\s]", "", text)
    if not holder:
        yield Finding("warning", "copyright", f"<copyright> {text!r} names no holder; write "
                      "who holds the rights, e.g. © 2026 Studio Rencontres")


def _check_podcast_guid(feed: _Feed) -> Iterator[Finding]:
    value = feed.channel.findtext(f"{{{PODCAST_NS}}}guid")
    if value is None:
        yield Finding("warning", "podcast-guid", "the channel has no <podcast:guid>")
        return
    try:
        uuid.UUID(value.strip())
    except ValueError:
        yield Finding("error", "podcast-guid", f"<podcast:guid> {value!r} is not a UUID")


def _check_podcast_tags(feed: _Feed) -> Iterator[Finding]:
    locked = feed.channel.find(f"{{{PODCAST_NS}}}locked")
    if locked is not None and (locked.text or "").strip() not in ("yes", "no"):
        yield Finding("error", "podcast-tags", f"<podcast:locked> is {locked.text!r}; "
                      "write yes or no")
    places = [("the channel", feed.channel)] + [
        (feed.item_name(i, item), item) for i, item in enumerate(feed.items)]
    for name, element in places:
        for person in element.findall(f"{{{PODCAST_NS}}}person"):
            if not (person.text or "").strip():
                yield Finding("error", "podcast-tags", f"{name}: <podcast:person> has no name")
        for transcript in element.findall(f"{{{PODCAST_NS}}}transcript"):
            if not transcript.get("url") or transcript.get("type") not in TRANSCRIPT_TYPES:
                yield Finding("error", "podcast-tags", f"{name}: <podcast:transcript> needs a "
                              f"url and a type among {', '.join(TRANSCRIPT_TYPES)}")
        for chapters in element.findall(f"{{{PODCAST_NS}}}chapters"):
            if not chapters.get("url") or \
                    chapters.get("type") != "application/json+chapters":
                yield Finding("error", "podcast-tags", f"{name}: <podcast:chapters> needs a "
                              'url and type="application/json+chapters"')
        for bite in element.findall(f"{{{PODCAST_NS}}}soundbite"):
            yield from _soundbite_findings(name, element, bite)
        for alternate in element.findall(f"{{{PODCAST_NS}}}alternateEnclosure"):
            yield from _alternate_findings(name, alternate)
        season = element.find(f"{{{PODCAST_NS}}}season")
        if season is not None and len(season.get("name") or "") > P20_TEXT_MAX_CHARS:
            yield Finding("error", "podcast-tags", f"{name}: the <podcast:season> name is "
                          f"longer than {P20_TEXT_MAX_CHARS} characters")
    yield from _channel_p20_findings(feed.channel)
    yield from _schedule_findings(feed)


def _alternate_findings(name: str, alternate: etree._Element) -> Iterator[Finding]:
    """podcast-namespace alternate-enclosure.md: a type, at least one source uri; at most
    one integrity, of type sri or pgp-signature, with a value."""
    sources = [s.get("uri") for s in alternate.findall(f"{{{PODCAST_NS}}}source")]
    if not alternate.get("type") or not sources or not all(sources):
        yield Finding("error", "podcast-tags", f"{name}: <podcast:alternateEnclosure> needs "
                      "a type and at least one <podcast:source uri=…>")
    integrity = alternate.findall(f"{{{PODCAST_NS}}}integrity")
    if len(integrity) > 1 or any(i.get("type") not in ("sri", "pgp-signature")
                                 or not i.get("value") for i in integrity):
        yield Finding("error", "podcast-tags", f"{name}: <podcast:integrity> must be one "
                      'element with type="sri" (or "pgp-signature") and a value')


def _schedule_findings(feed: _Feed) -> Iterator[Finding]:
    """podcast:updateFrequency (one, on the channel, RFC 5545 rule) and podcast:block
    (yes or no, an id from the namespace's service list)."""
    tag = f"{{{PODCAST_NS}}}updateFrequency"
    frequencies = feed.channel.findall(tag)
    if len(frequencies) > 1 or any(item.find(tag) is not None for item in feed.items):
        yield Finding("error", "podcast-tags", "<podcast:updateFrequency> must appear once, "
                      "on the channel")
    for frequency in frequencies:
        rule, text = frequency.get("rrule"), (frequency.text or "").strip()
        bad_rule = rule is not None and (not RRULE_RE.fullmatch(rule) or (
            "COUNT=" in rule and not frequency.get("dtstart")))
        if not text or len(text) > P20_TEXT_MAX_CHARS or bad_rule:
            yield Finding("error", "podcast-tags", "<podcast:updateFrequency> needs a text "
                          f"of at most {P20_TEXT_MAX_CHARS} characters and an RFC 5545 rrule "
                          "with FREQ (and a dtstart when it has COUNT)")
    for block in feed.channel.findall(f"{{{PODCAST_NS}}}block"):
        platform = block.get("id")
        if (block.text or "").strip() not in ("yes", "no") or (
                platform is not None and platform not in SERVICE_SLUGS):
            yield Finding("error", "podcast-tags", f"<podcast:block> {platform or ''} must "
                          "say yes or no, and its id name a platform of the namespace's "
                          "service list (serviceslugs.txt)")


def _soundbite_findings(name: str, item: etree._Element,
                        bite: etree._Element) -> Iterator[Finding]:
    start, duration = _number(bite.get("startTime")), _number(bite.get("duration"))
    if start is None or start < 0 or duration is None or duration <= 0:
        yield Finding("error", "podcast-tags", f"{name}: <podcast:soundbite> needs startTime "
                      "and duration in seconds (e.g. startTime=\"73.0\" duration=\"60.0\")")
        return
    length = _number(item.findtext(f"{{{ITUNES_NS}}}duration"))
    # The duration is rounded to whole seconds: half a second of slack.
    if length is not None and start + duration > length + 0.5:
        yield Finding("error", "podcast-tags", f"{name}: the soundbite at {start:g} s "
                      f"lasting {duration:g} s ends after the episode ({length:g} s)")


def _channel_p20_findings(channel: etree._Element) -> Iterator[Finding]:
    for trailer in channel.findall(f"{{{PODCAST_NS}}}trailer"):
        date = _rfc2822(trailer.get("pubdate") or "")
        if not _is_http(trailer.get("url") or "") or date is None or \
                not (trailer.text or "").strip():
            yield Finding("error", "podcast-tags", "<podcast:trailer> needs an http(s) url, an "
                          "RFC 2822 pubdate with a time zone and a title")
    for remote in channel.iterfind(f"{{{PODCAST_NS}}}podroll/{{{PODCAST_NS}}}remoteItem"):
        try:
            uuid.UUID(remote.get("feedGuid") or "")
        except ValueError:
            yield Finding("error", "podcast-tags", "<podcast:remoteItem> in the podroll needs "
                          "the feedGuid (a UUID) of the show it recommends")
    for tag in ("license", "location", "txt"):
        for element in channel.findall(f"{{{PODCAST_NS}}}{tag}"):
            if not (element.text or "").strip():
                yield Finding("error", "podcast-tags", f"<podcast:{tag}> has no value")
    license_ = channel.find(f"{{{PODCAST_NS}}}license")
    if license_ is not None and (license_.text or "").strip():
        problem = rules.license_problem(license_.text.strip(), license_.get("url"))
        if problem:
            yield Finding("error", "podcast-tags", f"<podcast:license> {problem}")


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _rfc2822(text: str):
    """The aware datetime of an RFC 2822 date, or None."""
    try:
        moment = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError):
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _check_people(feed: _Feed) -> Iterator[Finding]:
    places = [("the channel", feed.channel)] + [
        (feed.item_name(i, item), item) for i, item in enumerate(feed.items)]
    for name, element in places:
        for person in element.findall(f"{{{PODCAST_NS}}}person"):
            problem = rules.person_problem(person.get("role"), person.get("group"))
            if problem:
                yield Finding("error", "person-role", f"{name}: <podcast:person> "
                              f"{(person.text or '').strip()!r}: {problem}")


# --------------------------------------------------------------------------- item rules


def _check_items(feed: _Feed) -> Iterator[Finding]:
    seen: dict[str, str] = {}
    enclosures: dict[str, str] = {}
    show_title = (feed.channel.findtext("title") or "").strip()
    yield from _title_length("the channel", feed.channel)
    for index, item in enumerate(feed.items):
        name = feed.item_name(index, item)
        title = (item.findtext("title") or "").strip()
        yield from _title_length(name, item)
        url = (item.find("enclosure").get("url") or "") if item.find("enclosure") is not None \
            else ""
        if url and url in enclosures:
            yield Finding("error", "enclosure-duplicate", f"{name} has the same enclosure URL "
                          f"as {enclosures[url]}; Apple ignores an enclosure URL it has seen")
        enclosures.setdefault(url, name)
        if not title:
            yield Finding("error", "item-title", f"{name} has no <title>")
        elif show_title and show_title.lower() in title.lower():
            yield Finding("warning", "title-style", f"{name}: the title repeats the show's "
                          "name; Apple shows it already")
        elif EPISODE_NUMBER_IN_TITLE.match(title):
            yield Finding("warning", "title-style", f"{name}: the title starts with an "
                          "episode number; put it in <itunes:episode> instead")
        yield from _item_enclosure(name, item)
        guid = (item.findtext("guid") or "").strip()
        if not guid:
            yield Finding("error", "guid", f"{name} has no <guid>")
        elif guid in seen:
            yield Finding("error", "guid", f"{name} has the same guid {guid!r} as "
                          f"{seen[guid]}; Apple silently drops duplicates")
        else:
            seen[guid] = name
        yield from _item_dates(name, item, feed.now)
        description = item.findtext("description") or ""
        if len(description.encode("utf-8")) > DESCRIPTION_MAX_BYTES:
            yield Finding("error", "description-length", f"{name}: the description is "
                          f"{len(description.encode('utf-8'))} bytes; Apple allows "
                          f"{DESCRIPTION_MAX_BYTES}")
        yield from _item_numbers(name, item)


def _title_length(name: str, element: etree._Element) -> Iterator[Finding]:
    for tag in ("title", f"{{{ITUNES_NS}}}title"):
        problem = rules.title_problem((element.findtext(tag) or "").strip())
        if problem:
            label = "<title>" if tag == "title" else "<itunes:title>"
            yield Finding("error", "title-length", f"{name}: {label} {problem}")


def _item_enclosure(name: str, item: etree._Element) -> Iterator[Finding]:
    enclosure = item.find("enclosure")
    if enclosure is None:
        yield Finding("error", "enclosure", f"{name} has no <enclosure>")
        return
    url, length, kind = (enclosure.get(a) or "" for a in ("url", "length", "type"))
    if not _is_http(url) or not url.isascii() or " " in url:
        yield Finding("error", "enclosure", f"{name}: enclosure url {url!r} is not an "
                      "ASCII http(s) URL")
    if not length.isdigit() or int(length) <= 0:
        yield Finding("error", "enclosure", f"{name}: enclosure length {length!r} is not "
                      "the file size in bytes")
    if not re.fullmatch(r"(audio|video)/[\w.+-]+", kind):
        yield Finding("error", "enclosure", f"{name}: enclosure type {kind!r} is not an "
                      "audio or video type")
    elif urlsplit(url).path.lower().endswith(".mp3") and kind != "audio/mpeg":
        yield Finding("error", "enclosure", f"{name}: an MP3 enclosure must have type "
                      f"audio/mpeg, not {kind!r}")


def _check_channel_dates(feed: _Feed) -> Iterator[Finding]:
    for tag in ("pubDate", "lastBuildDate"):
        text = feed.channel.findtext(tag)
        if text is not None:
            yield from _date_findings(f"the channel's <{tag}>", text.strip())


def _date_findings(what: str, text: str) -> Iterator[Finding]:
    """An RFC 2822 date with a time zone, whose weekday (if given) is the date's own."""
    moment = _rfc2822(text)
    if moment is None:
        yield Finding("error", "pubdate", f"{what} {text!r} is not an RFC 2822 date with a "
                      "time zone, e.g. Mon, 09 Nov 2026 06:00:00 +0000")
        return
    # parsedate ignores the weekday; strict readers (and the W3C validator) do not.
    day = re.match(r"\s*([A-Za-z]{3}),", text)
    actual = WEEKDAYS[moment.weekday()]
    if day and day.group(1).capitalize() != actual:
        yield Finding("error", "pubdate", f"{what} {text!r} says {day.group(1)}, but that "
                      f"day is a {actual}: write {format_datetime(moment)}")


def _item_dates(name: str, item: etree._Element, now: datetime | None
                ) -> Iterator[Finding]:
    text = (item.findtext("pubDate") or "").strip()
    if not text:
        yield Finding("error", "pubdate", f"{name} has no <pubDate>")
    else:
        yield from _date_findings(f"{name}: <pubDate>", text)
        moment = _rfc2822(text)
        if moment is not None and now is not None and moment > now + FUTURE_SLACK:
            yield Finding("error", "pubdate", f"{name}: <pubDate> {text!r} is in the future; "
                          "apps list it at once, dated days to come. Leave a scheduled "
                          "episode out of the feed until its time (podcast publish does)")
    duration = item.findtext(f"{{{ITUNES_NS}}}duration")
    if duration is None:
        yield Finding("warning", "duration", f"{name} has no <itunes:duration>")
    elif re.fullmatch(r"\d+(:[0-5]\d){1,2}", duration.strip()):
        yield Finding("warning", "duration", f"{name}: <itunes:duration> {duration!r} should "
                      "be whole seconds")
    elif not duration.strip().isdigit():
        yield Finding("error", "duration", f"{name}: <itunes:duration> {duration!r} is not a "
                      "whole number of seconds")


def _item_numbers(name: str, item: etree._Element) -> Iterator[Finding]:
    for tag in ("episode", "season"):
        value = item.findtext(f"{{{ITUNES_NS}}}{tag}")
        if value is not None and not re.fullmatch(r"[1-9]\d*", value.strip()):
            yield Finding("error", "episode-number", f"{name}: <itunes:{tag}> {value!r} is not "
                          "a non-zero whole number")
    kind = item.findtext(f"{{{ITUNES_NS}}}episodeType")
    if kind is not None and kind.strip() not in EPISODE_TYPES:
        yield Finding("error", "episode-type", f"{name}: <itunes:episodeType> {kind!r} is not "
                      "full, trailer or bonus")


def _check_enclosures_reachable(feed: _Feed) -> Iterator[Finding]:
    probed = 0
    for index, item in enumerate(feed.items):
        enclosure = item.find("enclosure")
        if enclosure is None or not (enclosure.get("length") or "").isdigit():
            continue  # already an "enclosure" error
        url, length = enclosure.get("url") or "", int(enclosure.get("length"))
        name = feed.item_name(index, item)
        if feed.before_upload:
            if feed.key(url) is not None and probed < feed.http_checks:
                probed += 1
                yield from _stored_enclosure(feed, name, url, length)
            continue
        path = feed.local_path(url)
        if path is not None:
            size = path.stat().st_size
            if size != length:
                yield Finding("error", "enclosure-reachable", f"{name}: the feed says "
                              f"{length} bytes but {path.name} has {size}")
            continue
        if not _is_http(url) or probed >= feed.http_checks:
            continue
        probed += 1
        yield from _probe_enclosure(feed, name, url, length)


def _stored_enclosure(feed: _Feed, name: str, url: str, length: int) -> Iterator[Finding]:
    try:
        _, size = feed.stored(url, 0)
    except StorageError as exc:
        yield Finding("warning", "enclosure-reachable", f"{name}: {url} could not be read "
                      f"from the store: {exc.message}")
        return
    if size is None:
        yield Finding("error", "enclosure-reachable", f"{name}: {url} is not in the store "
                      f"({feed.key(url)})")
    elif size != length:
        yield Finding("error", "enclosure-reachable", f"{name}: the feed says {length} bytes "
                      f"but the store has {size}")


def _probe_enclosure(feed: _Feed, name: str, url: str, length: int) -> Iterator[Finding]:
    try:
        status, headers, _ = feed.http(url, "HEAD")
        if status != 200:
            yield Finding("error", "enclosure-reachable", f"{name}: HEAD {url} answers "
                          f"HTTP {status}")
            return
        size = headers.get("content-length")
        if size != str(length):
            yield Finding("error", "enclosure-reachable", f"{name}: HEAD says Content-Length "
                          f"{size}, the feed says length {length}")
        status, headers, body = feed.http(url, "GET", {"Range": "bytes=0-1"}, limit=1024)
        if status != 206 or len(body) != 2:
            yield Finding("error", "enclosure-reachable", f"{name}: a request for bytes=0-1 "
                          f"got HTTP {status} with {len(body)} bytes; the server must answer "
                          "206 with 2 bytes (Apple requires byte ranges)")
    except OSError as exc:
        # A feed file checked before its server runs is not broken; a served feed is.
        level = "error" if feed.is_remote else "warning"
        yield Finding(level, "enclosure-reachable", f"{name}: {url} could not be reached: "
                      f"{exc}")


def _check_chapters(feed: _Feed) -> Iterator[Finding]:
    """The newest items' chapters files parse as Podcasting 2.0 JSON chapters."""
    for index, item in enumerate(feed.items[:feed.http_checks]):
        element = item.find(f"{{{PODCAST_NS}}}chapters")
        if element is None or not element.get("url"):
            continue
        what = f"{feed.item_name(index, item)}: the chapters file"
        data, problems = _fetch(feed, element.get("url"), "chapters", what, 5 * 1024 * 1024)
        if data is None:
            yield from problems
            continue
        problem = chapters_problem(data)
        if problem:
            yield Finding("error", "chapters", f"{what} {element.get('url')}: {problem}")


def _check_transcripts(feed: _Feed) -> Iterator[Finding]:
    """The newest items' WebVTT transcripts start with the WEBVTT line."""
    for index, item in enumerate(feed.items[:feed.http_checks]):
        for element in item.findall(f"{{{PODCAST_NS}}}transcript"):
            if element.get("type") != "text/vtt" or not element.get("url"):
                continue
            what = f"{feed.item_name(index, item)}: the transcript"
            data, problems = _fetch(feed, element.get("url"), "transcript", what, 64)
            if data is None:
                yield from problems
                continue
            problem = rules.vtt_problem(data)
            if problem:
                yield Finding("error", "transcript", f"{what} {element.get('url')} {problem}")


def chapters_problem(data: bytes) -> str | None:
    """Why ``data`` is not a JSON chapters file (``None`` when it is one)."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"not JSON ({exc})"
    if not isinstance(document, dict) or not isinstance(document.get("version"), str):
        return 'no "version" text (write "1.2")'
    chapters = document.get("chapters")
    if not isinstance(chapters, list):
        return 'no "chapters" list'
    previous = -1.0
    for number, chapter in enumerate(chapters, 1):
        start = chapter.get("startTime") if isinstance(chapter, dict) else None
        if isinstance(start, bool) or not isinstance(start, (int, float)) or start < 0:
            return f"chapter {number} has no startTime in seconds"
        if start < previous:
            return f"chapter {number} starts before the one above it"
        previous = start
    return None


# --------------------------------------------------------------------------- GUID stability


def _check_guid_stability(feed: _Feed, previous: Path) -> Iterator[Finding]:
    try:
        old_root = etree.fromstring(previous.read_bytes(), parser=_parser())
    except (OSError, etree.XMLSyntaxError) as exc:
        raise PodcastError(f"cannot read the previous feed: {exc}", file=previous,
                           fix="pass an earlier copy of the feed file") from None
    current = [_item_keys(item) for item in feed.items]
    guids = {guid for guid, _, _ in current}
    for item in old_root.iterfind("channel/item"):
        guid, url, title = _item_keys(item)
        if not guid or guid in guids:
            continue
        match = next((c for c in current if (url and c[1] == url) or (title and c[2] == title)),
                     None)
        if match is not None:
            yield Finding("error", "guid-stability", f"episode {title!r} changed its guid from "
                          f"{guid!r} to {match[0]!r}: every app will list it twice")
        else:
            yield Finding("warning", "guid-stability", f"episode {title!r} (guid {guid!r}) is "
                          "gone from the feed; apps will remove it")


def _item_keys(item: etree._Element) -> tuple[str, str, str]:
    enclosure = item.find("enclosure")
    return ((item.findtext("guid") or "").strip(),
            (enclosure.get("url") or "") if enclosure is not None else "",
            (item.findtext("title") or "").strip())


CHECKS: tuple[Callable[[_Feed], Iterator[Finding]], ...] = (
    _check_namespaces, _check_channel, _check_image, _check_category, _check_explicit,
    _check_owner, _check_show_type, _check_lifecycle, _check_copyright, _check_podcast_guid,
    _check_channel_dates,
    _check_podcast_tags, _check_people, _check_items, _check_enclosures_reachable,
    _check_chapters, _check_transcripts,
)


# --------------------------------------------------------------------------- I/O


def _parser() -> etree.XMLParser:
    # Never fetch DTDs or expand external entities from a feed we do not trust.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _is_http(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https")


def _read_source(source: str) -> bytes:
    if _is_http(source):
        try:
            # The URL the user asked for: a local one is allowed (it is the show's).
            status, _, data = _http(source, "GET", limit=200 * 1024 * 1024,
                                    allow_local=outbound.is_local_url(source))
        except OSError as exc:
            raise PodcastError(f"cannot fetch the feed: {redacted(str(exc))}",
                               file=safe_url(source),
                               fix="check the URL and that the server is running") from None
        if status != 200:
            raise PodcastError(f"the feed answers HTTP {status}", file=safe_url(source),
                               fix="check the URL; publish the feed first") from None
        return data
    path = Path(source)
    if not path.is_file():
        raise PodcastError("feed file not found", file=source,
                           fix="run `podcast feed` (or `podcast publish`) first, or pass the "
                               "feed's path or URL")
    return path.read_bytes()


def _http(url: str, method: str, headers: dict[str, str] | None = None, *,
          limit: int = 0, allow_local: bool) -> tuple[int, dict[str, str], bytes]:
    """``(status, lower-cased headers, first limit bytes of the body)``, following up to 5
    redirects, within :mod:`podcast.outbound`'s deadline; OSError when nothing answers.

    http.client, not urllib: urllib turns a redirected HEAD into a GET of the whole file.
    """
    answer = outbound.request(url, method, headers=headers, limit=limit, redirects=5,
                              allow_local=allow_local, user_agent=USER_AGENT)
    return answer.status, answer.headers, answer.body
