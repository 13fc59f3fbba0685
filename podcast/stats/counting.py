"""The IAB counting rules, written once (IAB Podcast Measurement Technical Guidelines v2.x;
the README's "Counting rules").

A download is one (episode, listener, UTC day) whose GET requests answered 200 or 206
delivered at least the episode's ID3 tag plus one minute of audio (the whole file when it
is shorter).  Everything else is rejected, and every rejected log line is counted under
exactly one reason, checked in this order:

1. ``malformed``      the line cannot be read (garbage, missing fields, bad date or IP)
2. ``not_get``        HEAD, PUT, ... (only GET delivers an episode)
3. ``bad_status``     any status but 200 and 206 (304, 403, 404, 416, 5xx, ...)
4. ``unknown_object`` not a media file of this show (art, feed, pages), or logged for
                      another S3 bucket or host than ``storage``, ``base_url`` and
                      ``aliases`` name (:class:`Scope`; IAB v2 counts a publisher's own
                      episode files, wherever they are served from)
5. ``bots``           declared bots, crawler lists, empty agents, Apple Watch duplicates
                      (IAB v2: known bots and duplicate devices are filtered out), and
                      by default the bare libraries OPAWG's ``libraries.json`` marks
                      ``category: bot`` (``okhttp``…: no app named, mostly servers; OP3
                      drops them too; ``stats.library_bots: count`` counts them —
                      ``podcast.stats.agents.with_policy``)
6. ``below_threshold`` 2-byte range probes, and every line of a listener-day on an
                      episode whose bytes, summed over the day, stay under the threshold

The rules are lists of named rules (:class:`Rule`: verdict, one SQL condition, and the
reason), assembled into SQL by :func:`case_sql`: :data:`LINE_RULES` (1-3 and the probe
test) over the normalised request columns of ``podcast.stats.logs``, :data:`GROUP_RULES`
(1, 4 and 5) over each requester's lines once the value-level findings are in, and
:data:`DAY_RULE` (6) over a listener-day.  The value-level findings (paths, addresses,
agents) are Python functions applied to the *distinct* values, which are few compared
with the lines: :func:`match_media`, :func:`listener_address`,
:func:`podcast.stats.agents.classify`.

Listener: HMAC-SHA256 (its first 128 bits), keyed by a secret that changes every UTC
month, of the address (IPv6 cut to its /64) and the user agent.  X-Forwarded-For is never
read: any client can write it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from urllib.parse import unquote, urlsplit

from podcast.model import Media

#: Every rejection reason, in the order the rules are checked.
REASONS = ("malformed", "not_get", "bad_status", "unknown_object", "bots", "below_threshold")

#: A 206 that delivered this many bytes or fewer is a range probe (``bytes=0-1``).
PROBE_BYTES = 2


@dataclass(frozen=True)
class Rule:
    """One counting rule: the ``verdict`` a request gets ``when`` (one SQL condition) holds,
    and ``why`` (the guideline it follows)."""

    verdict: str
    when: str
    why: str


#: The line-level rules, over the normalised request columns of ``podcast.stats.logs``, in
#: the order they are checked; a line none of them rejects is ``ok``.
LINE_RULES = (
    Rule("malformed", "NOT coalesce(complete, false)",
         "fields missing (a line cut short): not a request IAB v2 can count"),
    Rule("malformed", "day_text IS NULL OR day_text = ''",
         "no time: IAB v2 counts per UTC day"),
    Rule("malformed", "ip IS NULL OR ip = ''",
         "no address: IAB v2 tells listeners apart by address and user agent"),
    Rule("malformed", "status IS NULL OR sent IS NULL OR sent < 0",
         "no status or byte count: nothing says what was delivered"),
    Rule("malformed", "method IS NULL OR method = ''", "no method: not a request"),
    Rule("not_get", "method <> 'GET'", "IAB v2: only GET delivers an episode (not HEAD)"),
    Rule("bad_status", "status NOT IN (200, 206)",
         "IAB v2: only 200 and 206 answers delivered content (304, 403, 416, 5xx did not)"),
    Rule("probe", f"status = 206 AND sent <= {PROBE_BYTES}",
         "IAB v2: a 2-byte range request (bytes=0-1) is a player probing, not listening"),
)

#: The requester-level rules, over one (day, path, requester) group of lines that the line
#: rules left, joined with the value-level findings of Python (:func:`listener_address`,
#: :func:`match_media`, :func:`podcast.stats.agents.classify`), in the order they are
#: checked; a group none of them rejects is a ``listener``'s.
GROUP_RULES = (
    Rule("none", "g.ok + g.probe = 0", "every line already has its line-level reason"),
    Rule("malformed", "d.day IS NULL", "the day does not parse: IAB v2 counts per UTC day"),
    Rule("malformed", "w.address IS NULL",
         "no IPv4 or IPv6 address (listener_address): no listener to count"),
    Rule("unknown_object", "p.key IS NULL",
         "IAB v2 counts the publisher's own episode files (match_media): not art, feed, "
         "pages, nor another site's objects"),
    Rule("bots", "w.bot",
         "IAB v2 filters known bots and duplicate devices (OPAWG lists, agents.classify; "
         "no user agent at all is a bot)"),
)

#: The listener-day rule (summed over the day, :func:`threshold`): a listener-day below
#: it counts no download, and its lines are rejected ``below_threshold``.
DAY_RULE = Rule("below_threshold", "total < threshold",
                "IAB v2: a download delivered at least the ID3 tag plus one minute of audio")


def case_sql(rules: Iterable[Rule], otherwise: str) -> str:
    """SQL: the verdict of the first of ``rules`` that holds, else ``otherwise``.

    Rules in a row with one verdict are one ``WHEN`` (their conditions or-ed): DuckDB
    then tests them in one pass over the lines, as fast as a single rule.
    """
    whens = ""
    for verdict, group in groupby(rules, key=lambda rule: rule.verdict):
        conditions = [rule.when for rule in group]
        when = conditions[0] if len(conditions) == 1 else " OR ".join(
            f"({condition})" for condition in conditions)
        whens += f"\n  WHEN {when} THEN '{verdict}'"
    return f"\nCASE{whens}\n  ELSE '{otherwise}'\nEND"


#: SQL over normalised request columns: ``ok``, ``probe`` (a 206 that delivered at most
#: :data:`PROBE_BYTES`) or a line-level rejection reason.
LINE_REASON_SQL = case_sql(LINE_RULES, "ok")

#: SQL over a group of lines (``g``) and its day (``d``), path (``p``) and requester
#: (``w``): ``none``, ``malformed``, ``unknown_object``, ``bots`` or ``listener``.
GROUP_VERDICT_SQL = case_sql(GROUP_RULES, "listener")


def threshold(media: Media) -> int:
    """Bytes a listener-day must reach: the ID3 tag plus one minute of CBR audio.

    A file shorter than that counts when it is delivered whole; a file whose size is
    unknown (0) needs the tag plus the minute.
    """
    minute = media.tag_size + media.bitrate // 8 * 60
    return min(minute, media.bytes) if media.bytes > 0 else minute


def listener_address(ip: str) -> str | None:
    """The part of an address that identifies a listener, or None if it is no address.

    IPv4 as it is; IPv6 cut to its /64 (one household or phone, whose low 64 bits change
    for privacy), written as four hextets and ``::/64``; an IPv4-mapped IPv6 address is
    the IPv4 address it maps.
    """
    text = ip.strip("[]")
    if ":" not in text:
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            return None
    try:
        # inet_pton: a C parser, 20x faster than ipaddress for the many IPv6 listeners.
        packed = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):
        return None
    if packed[:12] == _IPV4_MAPPED:
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return "{:x}:{:x}:{:x}:{:x}::/64".format(*struct.unpack(">4H", packed[:8]))


_IPV4_MAPPED = bytes(10) + b"\xff\xff"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"


def ipv4_sql(column: str) -> str:
    """SQL: ``column`` is a dotted-quad IPv4 address exactly as :func:`listener_address`
    accepts it (no leading zeros, octets up to 255), which is then its own address."""
    return f"regexp_full_match({column}, '{_OCTET}(\\.{_OCTET}){{3}}')"


@dataclass(frozen=True)
class Scope:
    """Where this show's media are served: the S3 buckets of its storage and ``aliases``,
    and the host names of its ``base_url`` and ``aliases``.  A request logged for another
    bucket or host is another site's, whatever its key (``unknown_object``); empty: not
    checked (a show with ``file://`` storage and no ``s3://`` alias names no bucket)."""

    buckets: frozenset[str] = frozenset()
    hosts: frozenset[str] = frozenset()


def scope(storage: str, base_url: str, aliases: Iterable[str] = ()) -> Scope:
    """The :class:`Scope` of a show from its ``storage`` URL, ``base_url`` and ``aliases``.

    Each URL gives its own host and any host name in its path, for a prefix service
    (``https://dts.example/redirect.mp3/media.example.org/show``, ``op3.dev/e/…``) that
    forwards requests to the real host; each ``s3://BUCKET[/PREFIX]`` gives its bucket.
    Keys are matched to media whatever prefix comes before them (:func:`match_media`), so
    an alias's path prefix needs no rule of its own.
    """
    buckets: set[str] = set()
    hosts: set[str] = set()
    for url in (storage, base_url, *aliases):
        if url.startswith("s3://"):
            if bucket := url[len("s3://"):].split("/", 1)[0]:
                buckets.add(bucket)
        elif url.startswith(("http://", "https://")):
            hosts |= url_hosts(url)
    return Scope(frozenset(buckets), frozenset(hosts))


def url_hosts(url: str) -> set[str]:
    """The host of an http(s) URL and the host names in its path (lower case)."""
    parts = urlsplit(url)
    hosts = {parts.hostname} if parts.hostname else set()
    return hosts | {part.lower() for part in parts.path.split("/")
                    if _HOST_NAME.fullmatch(part)}


_HOST_NAME = re.compile(r"(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}")


def media_by_name(media: Iterable[Media]) -> dict[str, list[Media]]:
    """Media indexed by the last part of their key (``media/ep-1a2b3c.mp3`` -> ``ep-...``)."""
    index: dict[str, list[Media]] = {}
    for item in media:
        index.setdefault(item.key.rsplit("/", 1)[-1], []).append(item)
    return index


def match_media(path: str | None, index: dict[str, list[Media]]) -> Media | None:
    """The media a logged key or URL path asks for, or None.

    Logs write the object as an S3 key (URL-encoded), a CloudFront URI stem or a request
    path that may carry a query string and the site's path prefix: the decoded path must
    equal the media key or end with ``/`` + the key.
    """
    if not path:
        return None
    path = unquote(path.split("?", 1)[0]).lstrip("/")
    for item in index.get(path.rsplit("/", 1)[-1], ()):
        if path == item.key or path.endswith("/" + item.key):
            return item
    return None


_PAGE = re.compile(r"(?:^|/)episodes/([a-z0-9-]+)\.html$")


def match_page(path: str | None, slugs: frozenset[str]) -> str | None:
    """The slug of the episode page (``episodes/<slug>.html``) a logged path asks for, or
    None; as for media, the path may carry the site's prefix and a query string."""
    if not path:
        return None
    found = _PAGE.search(unquote(path.split("?", 1)[0]))
    return found.group(1) if found and found.group(1) in slugs else None


def listener_id(key: bytes, address: str, agent: str) -> int:
    """The keyed hash of a listener (the reference for :func:`listener_sql`).

    HMAC-SHA256 cut to its first 128 bits (RFC 2104 allows the cut): stored as one
    128-bit integer, which DuckDB groups, joins and writes at half the cost of 64 hex digits.
    """
    digest = hmac.new(key, f"{address}|{agent}".encode(), hashlib.sha256).hexdigest()
    return int(digest[:32], 16)


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer HMAC-SHA256 pads of ``key`` (RFC 2104), for SQL."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def listener_sql(ipad: str, opad: str, address: str, agent: str) -> str:
    """SQL computing :func:`listener_id` from pad columns, address and agent columns.

    Written out as RFC 2104 so that millions of rows are hashed inside DuckDB; a test
    checks it against :func:`listener_id`.
    """
    message = f"encode({address} || '|' || {agent})"
    mac = f"sha256({opad} || from_hex(sha256({ipad} || {message})))"
    return f"('0x' || left({mac}, 32))::UHUGEINT"
