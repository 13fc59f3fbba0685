"""Hand-built listener traffic, written as S3, CloudFront and combined access logs.

One list of :class:`Request` describes what happened; the writers render the SAME requests
in each log format, so a test can check that every format gives the same counts.
``SCENARIO`` covers each counting rule; ``EXPECTED`` says what it must count.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from podcast.model import Catalog, Media, Show

LONG = Media(slug="ep-long", key="media/ep-long-0123456789ab.mp3", bytes=30_000_000,
             sha256="0" * 64, duration=2500.0, tag_size=50_000, bitrate=96_000,
             input_hash="x")
SHORT = Media(slug="ep-short", key="media/ep-short-ba9876543210.mp3", bytes=500_000,
              sha256="1" * 64, duration=40.0, tag_size=20_000, bitrate=96_000, input_hash="y")
# An earlier master of ep-long, still linked from old feeds: its downloads count too.
RETIRED = replace(LONG, key="media/ep-long-aaaaaaaaaaaa.mp3", sha256="2" * 64)
CATALOG = Catalog(media={"ep-long": LONG, "ep-short": SHORT}, retired=(RETIRED,))
THRESHOLD = 50_000 + 96_000 // 8 * 60  # tag + one minute = 770,000 bytes
#: A fresh interpreter running the CLI with its arguments, then printing (last line of
#: stderr, JSON) the plotting modules it loaded: the report cost test and benchmark's probe.
PLOTTING_RUNNER = """
import json, sys
from podcast.cli import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    if stop.code:
        raise
loaded = sorted(name for name in sys.modules
                if name.split(".")[0] in ("matplotlib", "mpl_toolkits"))
print(json.dumps(loaded), file=sys.stderr)
"""

APPLE = "AppleCoreMedia/1.0.0.21A5326a (iPhone; U; CPU OS 17_0 like Mac OS X; en_us)"
PODCASTS = "Podcasts/1650.20 CFNetwork/1408.0.4 Darwin/22.5.0"
OVERCAST = "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"
SPOTIFY = "Spotify/8.8.56 Android/33 (SM-G991B)"
POCKETCASTS = "PocketCasts/1.0 (Pocket Casts - Android v7.45)"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
WATCH_ATC = "atc/1.0 watchOS/9.1 model/Watch6,2 hwp/t8301 build/20S75 (6; dt:275) AMS/1"
WATCH_NULL = "(null)/(null) watchOS/9.1 model/Watch6,2 hwp/t8301 build/20S75 (6; dt:275)"

DAY1 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
DAY3 = datetime(2026, 11, 22, 0, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Request:
    """One HTTP request as the server saw it."""

    when: datetime
    ip: str
    agent: str
    key: str = LONG.key
    method: str = "GET"
    status: int = 200
    sent: int = 0  # body bytes delivered
    range: tuple[int, int] | None = None  # the byte range asked for (206)
    xff: str | None = None  # X-Forwarded-For as the client sent it (never trusted)


def ranged(when: datetime, ip: str, agent: str, start: int, length: int,
           key: str = LONG.key, **extra) -> Request:
    """A 206 answer delivering ``length`` bytes from ``start``."""
    return Request(when, ip, agent, key, status=206, sent=length,
                   range=(start, start + length - 1), **extra)


def whole(when: datetime, ip: str, agent: str, media: Media = LONG, **extra) -> Request:
    """A 200 answer delivering the whole file."""
    return Request(when, ip, agent, media.key, status=200, sent=media.bytes, **extra)


S = timedelta(seconds=1)

SCENARIO: list[Request] = [
    # A. a range probe, then 206s that sum past the threshold: one download.
    ranged(DAY1, "192.0.2.10", APPLE, 0, 2),
    ranged(DAY1 + 1 * S, "192.0.2.10", APPLE, 0, 300_000),
    ranged(DAY1 + 2 * S, "192.0.2.10", APPLE, 300_000, 300_000),
    ranged(DAY1 + 3 * S, "192.0.2.10", APPLE, 600_000, 300_000),
    # B. 206s that stay under the threshold all day: never a download.
    ranged(DAY1, "192.0.2.11", SPOTIFY, 0, 300_000),
    ranged(DAY1 + 60 * S, "192.0.2.11", SPOTIFY, 300_000, 300_000),
    # C. two apps behind one address (a household): two listeners, two downloads.
    whole(DAY1, "203.0.113.7", PODCASTS),
    whole(DAY1 + 5 * S, "203.0.113.7", OVERCAST),
    # D. one listener on two days: two downloads.
    whole(DAY1, "198.51.100.20", POCKETCASTS),
    whole(DAY2, "198.51.100.20", POCKETCASTS),
    # E. HEAD never counts.
    Request(DAY1, "192.0.2.30", APPLE, method="HEAD", status=200),
    # F. 304 and 404 never count.
    Request(DAY1, "192.0.2.31", APPLE, status=304),
    Request(DAY1, "192.0.2.32", APPLE, status=404),
    # G. bots: a crawler, an empty agent, Spotify's cache, Overcast's sync.
    whole(DAY1, "192.0.2.40", GOOGLEBOT),
    whole(DAY1, "192.0.2.41", ""),
    whole(DAY1, "192.0.2.42", "Spotify/1.0"),
    whole(DAY1, "192.0.2.43", "Overcast/1.0 Podcast Sync"),
    # H. Apple Watch duplicates of a phone's download.
    whole(DAY1, "192.0.2.44", WATCH_ATC),
    whole(DAY1, "192.0.2.45", WATCH_NULL),
    # I. two IPv6 addresses of one /64: one listener whose bytes add up.
    ranged(DAY1, "2001:db8:1:2::10", APPLE, 0, 400_000),
    ranged(DAY1 + 9 * S, "2001:db8:1:2:aaaa:bbbb:cccc:20", APPLE, 400_000, 400_000),
    # J. a listener whose first request is at midnight sharp is counted that day.
    whole(DAY3, "192.0.2.50", PODCASTS),
    # K. a client rewriting X-Forwarded-For on every request is still one listener.
    ranged(DAY1, "192.0.2.60", OVERCAST, 0, 400_000, xff="10.9.8.7"),
    ranged(DAY1 + S, "192.0.2.60", OVERCAST, 400_000, 400_000, xff="10.6.5.4"),
    # L. objects that are not episodes: the feed, and a file of another show.
    Request(DAY1, "192.0.2.70", APPLE, key="feed.xml", status=200, sent=12_000),
    Request(DAY1, "192.0.2.71", APPLE, key="media/other-show-ffffffffffff.mp3",
            status=200, sent=9_000_000),
    # M. a file shorter than a minute counts when delivered whole.
    whole(DAY1, "192.0.2.80", APPLE, SHORT),
    # N. the retired master of an episode still counts for that episode.
    whole(DAY2, "192.0.2.90", SPOTIFY, RETIRED),
]

#: What SCENARIO must count.
EXPECTED = {
    "downloads": 10,  # A, C x2, D x2, I, J, K, M, N
    "rejected": {"malformed": 0, "not_get": 1, "bad_status": 2, "unknown_object": 2,
                 "bots": 6, "below_threshold": 3},  # the probe + B's two lines
}

#: B's listener comes back in a file delivered a day late: 200,000 more bytes on DAY1.
LATE = [ranged(DAY1 + 3600 * S, "192.0.2.11", SPOTIFY, 600_000, 200_000)]

ALL_IPS = sorted({r.ip for r in SCENARIO + LATE} | {r.xff for r in SCENARIO if r.xff})


def shuffled(requests: list[Request], seed: int = 7) -> list[Request]:
    """The requests out of time order (logs are written by many servers)."""
    out = list(requests)
    random.Random(seed).shuffle(out)
    return out


# --- S3 server access log -------------------------------------------------------------

OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"


def s3_line(r: Request, bucket: str = "podcast-media", prefix: str = "show/") -> str:
    """One S3 server access log line (all 26 fields of today's format)."""
    stamp = r.when.strftime("[%d/%b/%Y:%H:%M:%S +0000]")
    key = prefix + r.key
    operation = f"REST.{r.method}.OBJECT"
    sent = str(r.sent) if r.sent else "-"
    agent = r.agent or "-"
    return (f"{OWNER} {bucket} {stamp} {r.ip} - 3E57427F3EXAMPLE {operation} "
            f"{quote(key)} \"{r.method} /{quote(key)} HTTP/1.1\" {r.status} - {sent} "
            f"30000000 70 10 \"-\" \"{agent}\" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNk= SigV4 "
            f"ECDHE-RSA-AES128-GCM-SHA256 AuthHeader {bucket}.s3.eu-west-3.amazonaws.com "
            f"TLSv1.2 - -")


def s3_log(requests: list[Request], **kw) -> str:
    """An S3 access log file's text."""
    return "".join(s3_line(r, **kw) + "\n" for r in requests)


# --- CloudFront standard log ------------------------------------------------------------

CLOUDFRONT_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type "
    "x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for "
    "ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status "
    "fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type "
    "sc-content-type sc-content-len sc-range-start sc-range-end").split()


def cloudfront_line(r: Request) -> str:
    """One CloudFront standard log line, in CLOUDFRONT_FIELDS order."""
    values = {
        "date": r.when.strftime("%Y-%m-%d"), "time": r.when.strftime("%H:%M:%S"),
        "x-edge-location": "CDG50-C1", "sc-bytes": str(r.sent), "c-ip": r.ip,
        "cs-method": r.method, "cs(Host)": "d111111abcdef8.cloudfront.net",
        "cs-uri-stem": "/" + quote(r.key), "sc-status": str(r.status), "cs(Referer)": "-",
        "cs(User-Agent)": quote(r.agent, safe="/;:,+()=") if r.agent else "-",
        "cs-uri-query": "-", "cs(Cookie)": "-", "x-edge-result-type": "Hit",
        "x-edge-request-id": "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
        "x-host-header": "podcast.example.org", "cs-protocol": "https", "cs-bytes": "120",
        "time-taken": "0.002", "x-forwarded-for": r.xff or "-", "ssl-protocol": "TLSv1.3",
        "ssl-cipher": "TLS_AES_128_GCM_SHA256", "x-edge-response-result-type": "Hit",
        "cs-protocol-version": "HTTP/2.0", "fle-status": "-", "fle-encrypted-fields": "-",
        "c-port": "11040", "time-to-first-byte": "0.001",
        "x-edge-detailed-result-type": "Hit", "sc-content-type": "audio/mpeg",
        "sc-content-len": str(r.sent),
        "sc-range-start": str(r.range[0]) if r.range else "-",
        "sc-range-end": str(r.range[1]) if r.range else "-",
    }
    return "\t".join(values[name] for name in CLOUDFRONT_FIELDS)


def cloudfront_log(requests: list[Request]) -> str:
    """A CloudFront standard log file's text, with its two header lines."""
    head = "#Version: 1.0\n#Fields: " + " ".join(CLOUDFRONT_FIELDS) + "\n"
    return head + "".join(cloudfront_line(r) + "\n" for r in requests)


# --- combined log (Apache, nginx, podcast serve) ----------------------------------------


def combined_line(r: Request, path_prefix: str = "/show/") -> str:
    """One combined log line; an X-Forwarded-For header is appended as nginx can."""
    stamp = r.when.strftime("[%d/%b/%Y:%H:%M:%S +0000]")
    sent = str(r.sent) if r.sent else "0"
    agent = r.agent or "-"
    line = (f'{r.ip} - - {stamp} "{r.method} {path_prefix}{quote(r.key)}?from=feed '
            f'HTTP/1.1" {r.status} {sent} "-" "{agent}"')
    return line + (f' "{r.xff}"' if r.xff else "")


def combined_log(requests: list[Request], **kw) -> str:
    """A combined log file's text."""
    return "".join(combined_line(r, **kw) + "\n" for r in requests)


WRITERS = {"s3": s3_log, "cloudfront": cloudfront_log, "combined": combined_log}


def write_log(folder: Path, fmt: str, requests: list[Request], name: str = "access",
              *, gz: bool = False, **options) -> Path:
    """Write ``requests`` as a log of format ``fmt`` in ``folder``; returns the file.
    ``options`` go to the format's writer (e.g. ``prefix``, ``path_prefix``)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = WRITERS[fmt](requests, **options).encode()
    path = folder / f"{name}.{fmt}.log{'.gz' if gz else ''}"
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def make_show(root: Path) -> Show:
    """A show rooted at ``root`` (only what the stats stage reads)."""
    return Show(config_path=root / "podcast.yaml", title="Test show", description="d",
                author="a", email="a@example.org", language="fr", link="https://example.org",
                image=root / "art.jpg", categories=("Business",), explicit=False,
                base_url="https://podcast.example.org/show", feed_url="https://x/feed.xml",
                guid="g")


# --- the demo show with stand-in media, for end-to-end report tests ----------------------

DEMO_SLUGS = ("001-sonia-mamin", "002-marc-olivier", "003-claire-dubois", "004-lea-fontaine")
#: Stand-ins for the demo show's MP3s: 10,000-byte ID3 tag, 96 kbit/s, so a download
#: needs 10,000 + 720,000 = 730,000 bytes in a UTC day.
DEMO_MEDIA = {slug: Media(slug=slug, key=f"media/{slug}-0123456789ab.mp3", bytes=2_000_000,
                          sha256=str(n) * 64, duration=160.0, tag_size=10_000,
                          bitrate=96_000, input_hash=str(n))
              for n, slug in enumerate(DEMO_SLUGS, 1)}
DEMO_THRESHOLD = 730_000


def publish_stand_ins(config: Path) -> None:
    """Record DEMO_MEDIA as the demo show's published media (its manifest in storage)."""
    from podcast.config import load_show
    from podcast.storage import open_store, write_catalog

    show = load_show(config)
    write_catalog(open_store(show.storage, show.root), Catalog(media=DEMO_MEDIA))


def podcast_cli(config: Path, *args: str) -> str:
    """Run ``podcast --config CONFIG ARGS…`` as a user does; its output (exit 0 asserted)."""
    from click.testing import CliRunner

    from podcast.cli import main

    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


# --- a CloudFront log for a CDN or alternate domain (tests/test_stats_hosts.py) ------------

CLOUDFRONT_DISTRIBUTION = "d111111abcdef8.cloudfront.net"


def cloudfront_host_log(requests: list[Request], viewer_host: str,
                        distribution: str = CLOUDFRONT_DISTRIBUTION,
                        path_prefix: str = "/") -> str:
    """A CloudFront standard log as a distribution writes it for requests to
    ``viewer_host`` (``x-host-header``; ``cs(Host)`` is the distribution's own name), the
    keys under ``path_prefix``.  Agents are URL-encoded, every other line twice
    (``%2520`` for a space), as CloudFront writes some of them."""
    host_at = CLOUDFRONT_FIELDS.index("x-host-header")
    dist_at = CLOUDFRONT_FIELDS.index("cs(Host)")
    stem_at = CLOUDFRONT_FIELDS.index("cs-uri-stem")
    agent_at = CLOUDFRONT_FIELDS.index("cs(User-Agent)")
    lines = []
    for n, r in enumerate(requests):
        values = cloudfront_line(r).split("\t")
        values[host_at], values[dist_at] = viewer_host, distribution
        values[stem_at] = path_prefix + quote(r.key)
        if r.agent and n % 2:
            values[agent_at] = quote(values[agent_at], safe="/;:,+()=")
        lines.append("\t".join(values) + "\n")
    head = "#Version: 1.0\n#Fields: " + " ".join(CLOUDFRONT_FIELDS) + "\n"
    return head + "".join(lines)


def vhost_combined_log(requests: list[Request], vhost: str, port: int = 443,
                       path_prefix: str = "/show/") -> str:
    """Apache's ``vhost_combined`` log (``%v:%p`` then the combined fields)."""
    return "".join(f"{vhost}:{port} {combined_line(r, path_prefix)}\n" for r in requests)


# --- reading the report's SVG charts ---------------------------------------------------------

SVG_NS = "{http://www.w3.org/2000/svg}"


@dataclass(frozen=True)
class SvgChart:
    """What a test reads off a chart's SVG, parsed as XML (not through the chart's code)."""

    width: float
    height: float
    title: str
    texts: list[tuple[float, float, str]]  # (x, baseline y, text)
    lines: list[list[tuple[float, float]]]  # each polyline's points
    rects: list[dict[str, str]]  # each rect's attributes (the background first)

    @classmethod
    def parse(cls, data: bytes) -> SvgChart:
        import xml.etree.ElementTree as ET

        root = ET.fromstring(data)
        return cls(
            width=float(root.get("width", 0)), height=float(root.get("height", 0)),
            title=root.findtext(f"{SVG_NS}title") or "",
            texts=[(float(t.get("x", 0)), float(t.get("y", 0)), t.text or "")
                   for t in root.iter(f"{SVG_NS}text")],
            lines=[[tuple(map(float, pair.split(","))) for pair in
                    (p.get("points") or "").split()] for p in root.iter(f"{SVG_NS}polyline")],
            rects=[dict(r.attrib) for r in root.iter(f"{SVG_NS}rect")])

    def text_at(self, text: str) -> tuple[float, float]:
        """Where the one label reading ``text`` sits."""
        (found,) = [(x, y) for x, y, t in self.texts if t == text]
        return found
