"""Access-log formats: detect which one a file is, and read it with DuckDB's CSV reader.

Three formats reach us (AWS's S3 and CloudFront log references, Apache's combined format):

* **S3 server access log** — space-separated, ``[dd/Mon/yyyy:HH:MM:SS +0000]`` time,
  quoted request-URI, referer and user agent, more fields appended over the years.
* **CloudFront standard log** — tab-separated, ``#Version`` / ``#Fields`` headers that name
  the columns (we map columns by that header, never by position).
* **Combined log** (Apache/nginx, and ``podcast serve``) —
  ``ip - user [time] "METHOD path HTTP/x" status bytes "referer" "ua"``; also Apache's
  ``vhost_combined``, the same after the virtual host and port (``%v:%p``), which names
  the host a request was for (plain combined lines name none).

Detection is pure Python on the first lines of a file.  Reading is SQL: every format is
turned into the same *normalised request* columns by :func:`normalised_sql`, so the
counting rules (``podcast.stats.counting``) are written once, against those columns:

``day_text, ip, ua, method, path, status, sent, complete, via, via_ref, site``

``day_text`` is the UTC day as text in :data:`DAY_FORMATS` [fmt] (converted after
grouping, which is far cheaper than parsing every line's time stamp); ``sent`` is the
body bytes delivered (for CloudFront, whose ``sc-bytes`` includes headers, the smaller
of ``sc-bytes`` and the logged byte range); ``path`` is raw (URL-encoded, may carry a
query string).  ``via`` is the share-link code (``podcast share``) of the request's own
query string (S3: the request-URI; CloudFront: ``cs-uri-query``; combined: the request
line), ``via_ref`` the one of its referer when that is an episode page opened through a
share link (a player on the page whose audio request does not carry the code itself);
both NULL when absent or not a valid code (:data:`VIA_PATTERN`).

Why split S3 and combined lines on the double quote rather than on spaces: a user agent
or a request line holds spaces, and DuckDB's quote handling lets a single stray quote
swallow the following lines.  With ``"`` as the delimiter and no quoting at all, every
physical line stays one row whatever it contains, and the unquoted parts are split on
spaces with ``split_part``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from podcast.stats.counting import Scope

S3 = "s3"
CLOUDFRONT = "cloudfront"
COMBINED = "combined"
FORMATS = (S3, CLOUDFRONT, COMBINED)

#: strptime format of ``day_text`` per format.
DAY_FORMATS = {S3: "%d/%b/%Y", COMBINED: "%d/%b/%Y", CLOUDFRONT: "%Y-%m-%d"}

_STAMP = r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]"
_S3_LINE = re.compile(rb"^\S+ \S+ " + _STAMP.encode() + rb" \S+ \S+ \S+ [A-Z_]+\.[A-Z_.]+ \S+ \"")
_COMBINED_LINE = re.compile(rb"^\S+ \S+ \S+ " + _STAMP.encode() + rb" \"")
_VHOST_LINE = re.compile(rb"^\S+:\d+ \S+ \S+ \S+ " + _STAMP.encode() + rb" \"")

#: CloudFront fields we read; any other field in ``#Fields`` is ignored.
CLOUDFRONT_NEEDED = ("date", "c-ip", "cs-method", "cs-uri-stem", "sc-status", "sc-bytes",
                     "cs(User-Agent)")
_CLOUDFRONT_OPTIONAL = ("sc-range-start", "sc-range-end")
_CLOUDFRONT_HOSTS = ("cs(Host)", "x-host-header")
_EVERYWHERE = Scope()  # no bucket or host checked

# Columns read from S3 and combined lines (fast reader: space-separated fields; robust
# reader: parts between double quotes).  Fields appended to either format over the years
# land in the later columns and are ignored.
#: The longest line DuckDB reads; a longer one is a rejected (malformed) line.
MAX_LINE = 1024 * 1024
_SPACED_PARTS = 40
_QUOTED_PARTS = 16


@dataclass(frozen=True)
class Sniffed:
    """What a file's first lines say about it."""

    format: str
    fields: tuple[str, ...] = ()  # CloudFront: the ``#Fields`` header, in order
    vhost: bool = False  # combined: Apache's vhost_combined (``host:port`` first)


def sniff(head: bytes) -> Sniffed | None:
    """The log format of a file from its first bytes (decompressed), or None if unknown.

    A CloudFront header wins at once; otherwise the first line that looks like an S3 or a
    combined log line decides, so a few garbage lines at the top do not hide the format.
    """
    fields: tuple[str, ...] = ()
    for raw in head.splitlines()[:50]:
        line = raw.strip(b"\r")
        if line.startswith(b"#Fields:"):
            fields = tuple(line[len(b"#Fields:"):].decode("ascii", "replace").split())
            if all(name in fields for name in CLOUDFRONT_NEEDED):
                return Sniffed(CLOUDFRONT, fields)
            return None
        if line.startswith(b"#"):
            continue
        if _S3_LINE.match(line):
            return Sniffed(S3)
        if _COMBINED_LINE.match(line):
            return Sniffed(COMBINED)
        if _VHOST_LINE.match(line):
            return Sniffed(COMBINED, vhost=True)
    return None


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def read_csv_sql(paths: list[str], sniffed: Sniffed, *, compression: str = "auto",
                 rejects_table: str | None = None, robust: bool = False) -> str:
    """A ``read_csv(...)`` call that yields one row per line of ``paths``.

    The fast reader splits S3 and combined lines on spaces with ``"`` quoting (as cheap as
    reading gets); a stray quote can make DuckDB fail on such a file, which is then read
    again ``robust``: split on ``"`` without any quoting, so every physical line stays one
    row whatever it holds.  Lines DuckDB cannot read at all (invalid UTF-8, binary
    garbage) are skipped and, with ``rejects_table``, listed there to be counted.
    """
    files = "[" + ", ".join(_sql_text(p) for p in paths) + "]"
    if sniffed.format == CLOUDFRONT:
        count, layout = len(sniffed.fields), "delim='\\t', comment='#', quote='', escape=''"
    elif robust:
        count, layout = _QUOTED_PARTS, "delim='\"', quote='', escape=''"
    else:
        count, layout = _SPACED_PARTS, "delim=' ', quote='\"', escape='\\'"
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(count)) + "}"
    rejects = (f", store_rejects=true, rejects_table={_sql_text(rejects_table)}, "
               f"rejects_scan={_sql_text(rejects_table + '_scan')}") if rejects_table else ""
    return (f"read_csv({files}, {layout}, header=false, "
            f"columns={columns}, auto_detect=false, null_padding=true, strict_mode=false, "
            f"ignore_errors=true, compression={_sql_text(compression)}, "
            f"max_line_size={MAX_LINE}{rejects})")


def _utc_day(stamp: str, zone: str) -> str:
    """SQL: the UTC day (``dd/Mon/yyyy``) of ``[dd/Mon/yyyy:HH:MM:SS`` + ``+hhmm]``.

    Most logs are in UTC already and the day is a plain substring; a local-time combined
    log is shifted by its offset (parsing every line's time would cost more than the rest
    of the read together).
    """
    local = f"try_strptime(substr({stamp}, 2), '%d/%b/%Y:%H:%M:%S')"
    offset = (f"(CASE WHEN substr({zone}, 1, 1) = '-' THEN -1 ELSE 1 END) * "
              f"(try_cast(substr({zone}, 2, 2) AS INTEGER) * 60 "
              f"+ try_cast(substr({zone}, 4, 2) AS INTEGER))")
    return (f"CASE WHEN {zone} = '+0000]' THEN substr({stamp}, 2, 11) "
            f"ELSE strftime({local} - {offset} * INTERVAL 1 MINUTE, '%d/%b/%Y') END")


def _sent(text: str) -> str:
    # '-' is how both formats write "no body".
    return f"CASE WHEN {text} = '-' THEN 0 ELSE try_cast({text} AS BIGINT) END"


def normalised_sql(source: str, sniffed: Sniffed, *, robust: bool = False,
                   scope: Scope = _EVERYWHERE) -> str:
    """SQL selecting the normalised request columns from ``source`` (a read_csv call).

    ``robust`` must match the :func:`read_csv_sql` that made ``source``.  A request for
    another bucket (S3) or host (CloudFront) than ``scope`` names gets a NULL ``path``,
    which no media matches: ``unknown_object``, like any other site's object; its
    ``site`` column then names that bucket or host as an alias would (``s3://BUCKET``,
    ``https://HOST``), so that the ingest can say which ones it left out and why.
    """
    columns = _columns(sniffed, robust)
    columns["site"] = "NULL::VARCHAR"
    site = _site_check(sniffed, robust, scope)
    if site is not None:
        check, name = site
        columns["path"] = f"CASE WHEN {check} THEN {columns['path']} END"
        columns["site"] = f"CASE WHEN NOT coalesce({check}, false) THEN {name} END"
    select = ",\n               ".join(f"{columns[name]} AS {name}" for name in COLUMNS)
    return f"""
        SELECT {select}
        FROM {source}"""


#: The normalised request columns, in order.
COLUMNS = ("day_text", "ip", "ua", "method", "path", "status", "sent", "complete", "via",
           "via_ref", "site")

#: A share-link code, as ``podcast share`` writes it (``podcast.share.VIA_CODE``).
VIA_PATTERN = "[a-z0-9][a-z0-9-]{0,39}"


def _via(text: str | None, referer: bool = False, encoded: bool = False) -> str:
    """SQL: the ``via`` code of a query string or request line (``referer``: of an episode
    page's URL; ``encoded``: URL-encoded as CloudFront writes referers, decoded twice);
    NULL without one.  ``contains`` first: nearly no line has one, and it costs far less
    than decoding or a regular expression."""
    if text is None:
        return "NULL::VARCHAR"
    if referer:
        pattern = (r"/episodes/[a-z0-9-]+\.html\?(?:[^#]*?&)?"
                   f"via=({VIA_PATTERN})(?:[&#]|$)")
    else:
        pattern = f"(?:^|[?&])via=({VIA_PATTERN})(?:[&# ]|$)"
    value = f"url_decode(url_decode({text}))" if encoded else text
    return (f"CASE WHEN contains({text}, 'via') THEN "
            f"nullif(regexp_extract({value}, {_sql_text(pattern)}, 1), '') END")


def _columns(sniffed: Sniffed, robust: bool) -> dict[str, str]:
    """The SQL expression of each normalised column for this format and reader."""
    if sniffed.format == CLOUDFRONT:
        return _cloudfront_columns(sniffed)
    if sniffed.format not in (S3, COMBINED):
        raise ValueError(f"unknown log format {sniffed.format!r}")
    if robust:
        return _quoted_columns(sniffed)
    return _s3_columns() if sniffed.format == S3 else _combined_columns(sniffed)


def _s3_columns() -> dict[str, str]:
    """S3 lines, fast reader (space-separated fields, ``"`` quoting)."""
    # owner bucket [time +0000] ip requester request-id operation key "request-uri"
    # status error bytes-sent object-size total-ms turnaround-ms "referer" "agent" ...
    return {
        "day_text": _utc_day("c2", "c3"),
        "ip": "c4",
        "ua": "c17",
        # Nearly every line is a GET: one comparison instead of a split.
        "method": "CASE WHEN c7 = 'REST.GET.OBJECT' THEN 'GET' "
                  "ELSE split_part(c7, '.', 2) END",
        "path": "c8",
        "status": "try_cast(c10 AS INTEGER)",
        "sent": _sent("c12"),
        "complete": "c17 IS NOT NULL",
        "via": _via("c9"),
        "via_ref": _via("c16", referer=True),
    }


def _combined_columns(sniffed: Sniffed) -> dict[str, str]:
    """Combined and vhost_combined lines, fast reader (space-separated, ``"`` quoting)."""
    # ip ident user [time +0000] "request" status bytes "referer" "agent" [extras]
    # Anything after the agent (e.g. an X-Forwarded-For field) is never read.
    # vhost_combined: the same fields one column later (c0 is host:port).
    c = [f"c{i + sniffed.vhost}" for i in range(10)]
    return {
        "day_text": _utc_day(c[3], c[4]),
        "ip": c[0],
        "ua": c[9],
        "method": f"split_part({c[5]}, ' ', 1)",
        "path": f"split_part({c[5]}, ' ', 2)",
        "status": f"try_cast({c[6]} AS INTEGER)",
        "sent": _sent(c[7]),
        "complete": f"{c[9]} IS NOT NULL",
        "via": _via(c[5]),
        "via_ref": _via(c[8], referer=True),
    }


def _quoted_columns(sniffed: Sniffed) -> dict[str, str]:
    """S3 and combined lines, robust reader (parts between double quotes)."""
    # Split on '"': c0 is the unquoted head of the line, space-separated.
    # S3: c0 owner bucket [time +0000] ip requester request-id operation key;
    #     c2 status error bytes-sent object-size total-ms turnaround-ms; c5 agent.
    # Combined: c0 ip ident user [time +0000]; c1 request line; c2 status bytes;
    #     c5 agent (anything after it, e.g. an X-Forwarded-For field, is never read).
    s3 = sniffed.format == S3
    head = "split_part(c0, ' ', {})".format
    # vhost_combined: c0 starts with host:port, one more field.
    time, zone, ip, last = (3, 4, 5, 9) if s3 else (
        4 + sniffed.vhost, 5 + sniffed.vhost, 1 + sniffed.vhost, 5 + sniffed.vhost)
    return {
        "day_text": _utc_day(head(time), head(zone)),
        "ip": head(ip),
        "ua": "c5",
        "method": f"split_part({head(8)}, '.', 2)" if s3 else "split_part(c1, ' ', 1)",
        "path": head(9) if s3 else "split_part(c1, ' ', 2)",
        "status": "try_cast(split_part(c2, ' ', 2) AS INTEGER)",
        "sent": _sent(f"split_part(c2, ' ', {4 if s3 else 3})"),
        "complete": f"{_s3_like_complete('c0', last)} AND c5 IS NOT NULL",
        # S3: c1 is the request-URI; combined: the request line.  c3: the referer.
        "via": _via("c1"),
        "via_ref": _via("c3", referer=True),
    }


def _cloudfront_columns(sniffed: Sniffed) -> dict[str, str]:
    """CloudFront lines, tab-separated, columns found by the ``#Fields`` header."""
    col = {name: f"c{i}" for i, name in enumerate(sniffed.fields)}
    sent = f"try_cast({col['sc-bytes']} AS BIGINT)"
    if all(name in col for name in _CLOUDFRONT_OPTIONAL):
        start = f"try_cast({col['sc-range-start']} AS BIGINT)"
        end = f"try_cast({col['sc-range-end']} AS BIGINT)"
        # sc-bytes counts headers too; the logged range is what the body held.
        sent = f"least({sent}, {end} - {start} + 1)"
    return {
        "day_text": col["date"],
        "ip": col["c-ip"],
        "ua": col["cs(User-Agent)"],
        "method": col["cs-method"],
        "path": col["cs-uri-stem"],
        "status": f"try_cast({col['sc-status']} AS INTEGER)",
        "sent": sent,
        "complete": f"{col['cs(User-Agent)']} IS NOT NULL",
        "via": _via(col.get("cs-uri-query")),
        "via_ref": _via(col.get("cs(Referer)"), referer=True, encoded=True),
    }


def _site_check(sniffed: Sniffed, robust: bool, scope: Scope) -> tuple[str, str] | None:
    """SQL: the line was logged for this show's bucket or host, and the name of the
    bucket or host it was logged for (as an alias is written); None when not checked.

    Plain combined logs name no host (Apache's ``%v`` is not in the combined format):
    never checked; ``vhost_combined`` lines are, on their virtual host.
    """
    if sniffed.format == S3 and scope.buckets:
        bucket = "split_part(c0, ' ', 2)" if robust else "c1"
        names = ", ".join(_sql_text(b) for b in sorted(scope.buckets))
        return f"{bucket} IN ({names})", f"'s3://' || {bucket}"
    if sniffed.format == CLOUDFRONT and scope.hosts and "x-host-header" in sniffed.fields:
        # cs(Host) is the distribution's own name, x-host-header the name the app asked
        # for (an alternate domain): either may be the one base_url names.  A log without
        # x-host-header cannot tell an alternate domain's requests apart: not checked.
        col = {name: f"c{i}" for i, name in enumerate(sniffed.fields)}
        names = ", ".join(_sql_text(host) for host in sorted(scope.hosts))
        check = " OR ".join(f"lower({col[name]}) IN ({names})"
                            for name in _CLOUDFRONT_HOSTS if name in col)
        # The viewer's host names the site; the distribution's when the viewer's is empty.
        viewer = f"nullif(nullif(lower({col['x-host-header']}), '-'), '')"
        host = f"coalesce({viewer}, lower({col['cs(Host)']}))" if "cs(Host)" in col else viewer
        return f"({check})", f"'https://' || {host}"
    if sniffed.format == COMBINED and sniffed.vhost and scope.hosts:
        first = "split_part(c0, ' ', 1)" if robust else "c0"
        host = f"lower(regexp_replace({first}, ':[0-9]+$', ''))"
        names = ", ".join(_sql_text(name) for name in sorted(scope.hosts))
        return f"({host} IN ({names}))", f"'https://' || {host}"
    return None


def _s3_like_complete(column: str, parts: int) -> str:
    """SQL: the unquoted head of the line has at least ``parts`` space-separated fields."""
    return f"split_part({column}, ' ', {parts}) <> ''"
