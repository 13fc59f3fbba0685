"""``podcast stats ingest``: access logs in, listener-days and rejections out.

The pipeline, per batch of files of one format:

1. **read** (SQL, :mod:`podcast.stats.logs`): DuckDB's CSV reader turns every line into
   the normalised request columns, the line-level rules of :mod:`podcast.stats.counting`
   give each line a reason, and lines are grouped by (day, path, requester), a requester
   being the (address, agent) pair, with bytes summed and lines counted per reason —
   millions of lines become about one row per listener-day;
2. **values** (Python): the distinct paths, days, agents and addresses of the batch go
   through the value-level rules (media match, /64 cut, bot and app detection, GeoIP);
   listener hashes and addresses already worked out in the run are reused;
3. **write** (SQL, one transaction): listener-days, rejections and the "ingested" mark of
   every file of the batch are committed together, so a crash never counts a file twice
   or half.

Raw addresses exist only in memory (temporary tables, with spilling to disk disabled).
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import blake3

from podcast.errors import PodcastError
from podcast.model import Catalog, Show
from podcast.stats import agents, counting, logs, store

#: Files are read this many (uncompressed) bytes at a time, in one transaction each.  Larger
#: batches are faster but DuckDB's grouping holds about 1 GiB per 2 GiB of busy S3 logs
#: (spilling is off): 768 MiB keeps a large backlog's ingest near 640 MiB peak RSS.
BATCH_BYTES = 768 * 1024 * 1024
_GZIP_RATIO = 8  # rough size of a decompressed .gz log relative to the file
_SNIFF_BYTES = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Source:
    """One log file to read: a local path, or an S3 object (bucket, key)."""

    name: str  # what the user sees and what the database remembers
    size: int
    stamp: str  # local: mtime in ns; S3: ETag — same name, size and stamp = unchanged
    path: Path | None = None
    s3: tuple[str, str] | None = None


@dataclass
class IngestReport:
    """What one ingest did; :meth:`summary` is what the CLI prints."""

    files_read: int = 0
    files_unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    truncated: list[str] = field(default_factory=list)
    lines: int = 0
    downloads_added: int = 0
    rejected: Counter = field(default_factory=Counter)

    @property
    def exit_code(self) -> int:
        """The status ``podcast stats ingest`` ends with: 1 when a file was skipped."""
        return 1 if self.skipped else 0

    def summary(self) -> str:
        """A few lines for a person: files, lines, downloads, rejections by reason."""
        out = [f"files: {self.files_read} read, {self.files_unchanged} already ingested, "
               f"{len(self.skipped)} skipped",
               f"lines: {self.lines}",
               f"downloads: {self.downloads_added} added",
               "rejected lines: " + ", ".join(f"{reason} {self.rejected.get(reason, 0)}"
                                              for reason in counting.REASONS)]
        out += [f"  skipped {name}: {why}" for name, why in self.skipped]
        out += [f"  truncated (read up to the damage): {name}" for name in self.truncated]
        return "\n".join(out)


# --- sources ---------------------------------------------------------------------------


def expand_sources(sources: list[str]) -> list[Source]:
    """Every log file named by ``sources``: files, folders (recursively) and s3:// URLs."""
    found: list[Source] = []
    for text in sources:
        if text.startswith("s3://"):
            found.extend(_s3_sources(text))
            continue
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            files = [path]
        else:
            raise PodcastError("no such log file or folder", file=text,
                               fix="give files, folders or s3://BUCKET/PREFIX")
        for item in files:
            stat = item.stat()
            found.append(Source(str(item.resolve()), stat.st_size, str(stat.st_mtime_ns),
                                path=item))
    return found


def _s3_sources(url: str) -> list[Source]:
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise PodcastError("no bucket in the S3 URL", file=url, fix="write s3://BUCKET/PREFIX")
    from podcast.storage import s3_client, s3_errors, storage_error

    try:
        pages = s3_client().get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix)
        return [Source(f"s3://{bucket}/{item['Key']}", item["Size"],
                       item.get("ETag", "").strip('"'), s3=(bucket, item["Key"]))
                for page in pages for item in page.get("Contents", [])]
    except s3_errors() as exc:
        raise storage_error("list logs in", url, exc) from exc


def _read_bytes(source: Source, client=None) -> bytes:
    if source.path is not None:
        return source.path.read_bytes()
    from podcast.storage import read_object, s3_client, s3_errors, storage_error

    bucket, key = source.s3
    try:
        # A log cut off in mid-body is fetched again (botocore retries only failed requests).
        return read_object(client or s3_client(), bucket, key)
    except s3_errors() as exc:
        raise storage_error("read log", source.name, exc) from exc


def _file_hash(path: Path, prefix_size: int | None = None) -> tuple[str, str | None]:
    """BLAKE3 of a file, and of its first ``prefix_size`` bytes (to spot appended logs).

    BLAKE3 rather than SHA-256: every byte of the logs is hashed besides being read, and
    BLAKE3 costs a third of SHA-256's CPU time for the same security.
    """
    digest, prefix = blake3.blake3(max_threads=blake3.blake3.AUTO), None
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size:  # an empty file cannot be mapped
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                data = memoryview(mapped)
                if prefix_size is not None:
                    digest.update(data[:prefix_size])
                    prefix = digest.copy().hexdigest()
                    digest.update(data[prefix_size:])
                else:
                    digest.update(data)
                data.release()
    return digest.hexdigest(), prefix


def gunzip_tolerant(data: bytes) -> tuple[bytes, bool]:
    """Decompress gzip ``data`` as far as it goes; True when it was cut short or damaged.

    A truncated transfer must not lose the lines before the damage nor crash the ingest:
    the incomplete last line is dropped (and counted as malformed by the caller).
    """
    out, damaged = io.BytesIO(), False
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out.write(inflater.decompress(data))
        except zlib.error:
            damaged = True
            break
        if not inflater.eof:
            damaged = True
            break
        data = inflater.unused_data  # concatenated gzip members
        if data[:2] != _GZIP_MAGIC:
            break
    text = out.getvalue()
    if damaged and text and not text.endswith(b"\n"):
        text = text[: text.rfind(b"\n") + 1] + b"\x00truncated\n"
    return text, damaged


def _head(data: bytes) -> bytes:
    """The first decompressed bytes of a file's first bytes, for format detection."""
    if data[:2] == _GZIP_MAGIC:
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[:_SNIFF_BYTES],
                                                                      _SNIFF_BYTES)
        except zlib.error:
            return b""
    return data[:_SNIFF_BYTES]


# --- the work ----------------------------------------------------------------------------


@dataclass
class _Item:
    """A file ready to read: where DuckDB finds it, and what the database records."""

    source: Source
    digest: str  # BLAKE3 of the content: the same content is never read twice
    sniffed: logs.Sniffed
    location: str  # a local path or memory:// URL
    compression: str = "auto"
    size: int = 0  # uncompressed estimate, for batching


class _Memory:
    """An in-memory file system that DuckDB reads (so downloaded logs never touch disk)."""

    def __init__(self, con) -> None:
        from fsspec.implementations.memory import MemoryFileSystem

        self.fs = MemoryFileSystem()
        self.con = con
        self.names: list[str] = []
        con.register_filesystem(self.fs)

    def put(self, name: str, data: bytes) -> str:
        path = f"/podcast-stats/{os.getpid()}/{len(self.names)}/{Path(name).name or 'log'}"
        with self.fs.open(path, "wb") as handle:
            handle.write(data)
        self.names.append(path)
        return "memory://" + path

    def clear(self) -> None:
        for path in self.names:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(path)
        self.names.clear()


def ingest(show: Show, sources: list[str], *, geoip: Path | None = None,
           agent_lists: list[Path] = (), echo: Callable[[str], None] | None = None,
           progress: bool = False) -> IngestReport:
    """``podcast stats ingest``: read the logs into the show's stats database.

    ``agent_lists``: OPAWG user-agents-v2 files or folders (``--agents``).
    """
    from podcast.storage import load_catalog

    extra = agents.load_opawg(list(agent_lists))  # a bad list fails before any work
    found = expand_sources(sources)
    catalog = load_catalog(show)
    if not catalog.all_media() and echo is not None:
        echo(f"warning: nothing is published in {show.storage} yet, so no request can be "
             "an episode download (run `podcast publish` first)")
    return ingest_sources(show, catalog, found, geoip=geoip, agent_rules=extra, echo=echo,
                          progress=progress)


def ingest_sources(show: Show, catalog: Catalog, found: list[Source], *,
                   geoip: Path | None = None,
                   agent_rules: agents.ExtraRules = agents.NO_EXTRA_RULES,
                   echo: Callable[[str], None] | None = None,
                   progress: bool = False, robust: bool = False) -> IngestReport:
    """Read ``found`` into the database, counting against ``catalog``'s media.

    ``robust`` reads every file with the line-safe reader at once (the fast reader falls
    back to it by itself when a file needs it; tests use this to check both readers).
    """
    report = IngestReport()
    reader = _GeoIP(geoip) if geoip else None  # a bad --geoip fails before any work
    con = store.connect(show)
    memory = None
    try:
        known = {(name, size, stamp) for name, size, stamp in
                 con.execute("SELECT name, size, stamp FROM files").fetchall()}
        new = [s for s in found if (s.name, s.size, s.stamp) not in known]
        report.files_unchanged = len(found) - len(new)
        if not new:
            return report  # the common nightly case: answer at once
        if echo is not None:
            echo(f"reading {len(new)} new log file(s), "
                 f"{sum(s.size for s in new) / 2**20:.1f} MiB")
        _save_media(con, catalog)
        (fresh,) = con.execute("SELECT count(*) = 0 FROM listener_bytes").fetchone()
        memory = _Memory(con)
        values = _Values(show, catalog, reader, agent_rules)
        for name, columns in _RUN_TABLES.items():
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({columns})")
        with _progress_bar(sum(s.size for s in new), progress) as bar:
            for batch in _batches(con, new, memory, report, bar):
                _ingest_batch(con, batch, memory, values, report, robust=robust)
                memory.clear()
                if bar is not None:
                    bar.update(sum(item.source.size for item in batch))
        added, below = _run_outcome(con, fresh=fresh)
        report.downloads_added = added
        report.rejected["below_threshold"] += below
        for name in _RUN_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {name}")
    finally:
        if memory is not None:
            memory.clear()
        con.close()
    return report


#: Temporary tables that live for the whole run, across batches: what the run added (for
#: :func:`_run_outcome`), and the requesters and listener hashes already worked out (a
#: log spread over many batches holds the same listeners in each).
_RUN_TABLES = {
    "run_groups": "day DATE, key VARCHAR, listener UHUGEINT, bytes BIGINT, lines BIGINT",
    "run_ids": "period VARCHAR, h UBIGINT, h2 UBIGINT, listener UHUGEINT, app VARCHAR, "
               "device VARCHAR, country VARCHAR",
    "run_who": "h UBIGINT, h2 UBIGINT, ua VARCHAR, address VARCHAR, app VARCHAR, "
               "device VARCHAR, bot BOOLEAN, country VARCHAR",
}


@contextlib.contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator:
    if not enabled:
        yield None
        return
    import click

    with click.progressbar(length=total, label="ingesting logs", file=sys.stderr) as bar:
        yield bar


def _save_media(con, catalog: Catalog) -> None:
    media = catalog.all_media()
    if not media:
        return
    con.execute("INSERT OR REPLACE INTO media SELECT unnest(?), unnest(?), unnest(?)",
                [[m.key for m in media], [m.slug for m in media],
                 [counting.threshold(m) for m in media]])


def _run_outcome(con, *, fresh: bool = False) -> tuple[int, int]:
    """Downloads this run added, and its lines left below the threshold.

    Only the listener-days this run touched can change, so only they are summed (a nightly
    run stays fast however large the database): a listener-day is added when its total
    now reaches the threshold and its total without this run's bytes did not.  ``fresh``:
    the database held no bytes before this run, so the run's own sums are the totals (the
    first ingest of a large backlog skips reading them back).
    """
    totals = ("(SELECT *, bytes AS total FROM run) run" if fresh else
              """run JOIN (SELECT day, key, listener, sum(bytes) AS total
                           FROM listener_bytes SEMI JOIN run USING (day, key, listener)
                           GROUP BY ALL) now USING (day, key, listener)""")
    (added, below) = con.execute(f"""
        WITH run AS (SELECT day, key, listener, sum(bytes) AS bytes, sum(lines) AS lines
                     FROM run_groups GROUP BY ALL),
        -- One row per (day, episode, listener): several keys may hold the same episode.
        days AS (SELECT bool_or(total >= threshold) AS counted_now,
                        bool_or(total - run.bytes >= threshold) AS counted_before,
                        sum(CASE WHEN total < threshold THEN run.lines END) AS below
                 FROM {totals} JOIN media USING (key)
                 GROUP BY run.day, slug, run.listener)
        SELECT count(*) FILTER (WHERE counted_now) - count(*) FILTER (WHERE counted_before),
               coalesce(sum(below), 0)
        FROM days""").fetchone()
    return int(added), int(below)


def _batches(con, new: list[Source], memory: _Memory, report: IngestReport,
             bar) -> Iterator[list[_Item]]:
    """Hash, deduplicate and sniff the new files, and group them into batches."""
    previous, seen = {}, set()
    for name, size, content in con.execute("SELECT name, size, digest FROM files").fetchall():
        seen.add(content)
        if size > previous.get(name, (0, ""))[0]:
            previous[name] = (size, content)
    pending: dict[tuple, list[_Item]] = {}
    pending_size: dict[tuple, int] = {}
    # Local files are hashed by one background thread, running ahead of the batches:
    # hashing (C code, without the GIL) overlaps with DuckDB reading the previous batch.
    hasher = ThreadPoolExecutor(max_workers=1)
    try:
        digests = {}
        for source in new:
            if source.path is not None:
                old = previous.get(source.name)
                grown = old is not None and source.size > old[0]
                digests[source.name] = hasher.submit(_file_hash, source.path,
                                                     old[0] if grown else None)
        for source, body in _fetched(new):
            item = _prepare(source, body, digests.get(source.name),
                            previous.get(source.name), seen, memory, report)
            if item is None:
                if bar is not None:
                    bar.update(source.size)
                continue
            seen.add(item.digest)
            group = (item.sniffed, item.compression, item.location.startswith("memory://"))
            pending.setdefault(group, []).append(item)
            pending_size[group] = pending_size.get(group, 0) + item.size
            if pending_size[group] >= BATCH_BYTES:
                yield pending.pop(group)
                pending_size.pop(group)
        yield from pending.values()
    finally:
        hasher.shutdown(wait=True, cancel_futures=True)


def _fetched(sources: list[Source], ahead: int = 32) -> Iterator[tuple[Source, bytes | None]]:
    """The sources in order, with S3 objects downloaded a few dozen at a time in parallel.

    S3 writes many small log files; fetching them one by one would wait on the network
    for each.  Local files are read later, by DuckDB (their body here is None).
    """
    remote = [s for s in sources if s.s3 is not None]
    if not remote:
        yield from ((s, None) for s in sources)
        return
    from podcast.storage import s3_client

    client = s3_client()  # boto3 clients are thread-safe; one connection pool for all
    with ThreadPoolExecutor(max_workers=8) as pool:
        for start in range(0, len(sources), ahead):
            chunk = sources[start:start + ahead]
            bodies = pool.map(lambda s: _read_bytes(s, client) if s.s3 else None, chunk)
            yield from zip(chunk, bodies, strict=True)


def _prepare(source: Source, body: bytes | None, digest: Future | None,
             previous: tuple[int, str] | None, seen: set[str], memory: _Memory,
             report: IngestReport) -> _Item | None:
    """One source as a readable item, or None (already ingested, or skipped and why).

    ``digest`` is the pending :func:`_file_hash` of a local file; ``body`` the downloaded
    bytes of an S3 object.
    """
    try:
        if source.path is not None:
            grown = previous is not None and source.size > previous[0]
            content, prefix = digest.result()
            if content in seen:
                report.files_unchanged += 1
                return None
            if grown and prefix == previous[1]:
                # An appended log (``podcast serve`` writes one): read only the new lines.
                with source.path.open("rb") as handle:
                    handle.seek(previous[0])
                    data = handle.read()
                return _from_bytes(source, content, data, memory, report)
            with source.path.open("rb") as handle:
                first = handle.read(_SNIFF_BYTES)
            sniffed = logs.sniff(_head(first))
            if sniffed is None:
                report.skipped.append((source.name, "not an access log in a known format"))
                return None
            gz = first[:2] == _GZIP_MAGIC
            return _Item(source, content, sniffed, str(source.path),
                         compression="gzip" if gz else "none",
                         size=source.size * (_GZIP_RATIO if gz else 1))
        data = body if body is not None else _read_bytes(source)
        content = blake3.blake3(data).hexdigest()
        if content in seen:
            report.files_unchanged += 1
            return None
        return _from_bytes(source, content, data, memory, report)
    except OSError as exc:
        report.skipped.append((source.name, f"cannot read: {exc.strerror or exc}"))
        return None


def _from_bytes(source: Source, content: str, data: bytes, memory: _Memory,
                report: IngestReport) -> _Item | None:
    """An item read from memory (S3 objects, appended tails, damaged gzip files)."""
    damaged = False
    if data[:2] == _GZIP_MAGIC:
        data, damaged = gunzip_tolerant(data)
    sniffed = logs.sniff(data[:_SNIFF_BYTES])
    if sniffed is None:
        if data.strip():
            report.skipped.append((source.name, "not an access log in a known format"))
        else:
            # Nothing new in an appended log, or an empty file: remember it as read.
            sniffed = logs.Sniffed(logs.COMBINED)
    if sniffed is None:
        return None
    if damaged:
        report.truncated.append(source.name)
    return _Item(source, content, sniffed, memory.put(source.name, data), compression="none",
                 size=len(data))


# --- one batch ------------------------------------------------------------------------------


# One row per (day, path, requester) with its lines counted by line-level reason: millions
# of lines become about one row per listener-day.  The requester is the (address, agent)
# pair as two 64-bit hashes, which DuckDB groups and later joins faster than the two
# strings (10-20 % of the read; benchmarks/README.md).  Both hashes are built from
# DuckDB's 64-bit hash of each value, so two pairs are taken for one only when two
# addresses (or two agents) of one ingest share that hash: odds of about 1 in 10 million for
# an ingest of 2 million distinct addresses, and the cost is two listeners counted as one.
# ``encoding`` keeps apart the same bytes meaning two agents: CloudFront's URL-encoded
# ``A%20B`` is ``A B``, while ``A%20B`` in another log is what the app sent.
_GROUP_SQL = """
CREATE OR REPLACE TEMP TABLE line_groups AS
SELECT day_text, path, hash(ip, ua, '{encoding}') AS h, hash(ua, ip, '{encoding}') AS h2,
       any_value(ip) AS ip, any_value(ua) AS ua,
       coalesce(sum(sent) FILTER (reason = 'ok'), 0) AS bytes,
       count(*) FILTER (reason = 'ok') AS ok,
       count(*) FILTER (reason = 'probe') AS probe,
       count(*) FILTER (reason = 'malformed') AS malformed,
       count(*) FILTER (reason = 'not_get') AS not_get,
       count(*) FILTER (reason = 'bad_status') AS bad_status
FROM (SELECT *, {reason} AS reason FROM ({normalised}))
GROUP BY ALL
"""

# Requesters whose GETs answered 200/206, new to this run: the value-level rules run once
# per requester and run.
_REQUESTERS_SQL = """
CREATE OR REPLACE TEMP TABLE requesters AS
SELECT h, h2, any_value(ip) AS ip, any_value({ua}) AS ua
FROM line_groups ANTI JOIN run_who USING (h, h2)
WHERE ok + probe > 0
GROUP BY h, h2
"""


def _ingest_batch(con, batch: list[_Item], memory: _Memory, values: _Values,
                  report: IngestReport, *, robust: bool = False) -> None:
    """Read one batch and write it.

    When DuckDB cannot read the batch, each file is tried alone, then with the line-safe
    reader, then (a damaged .gz) decompressed as far as it goes; a file that still fails
    is reported as skipped.  Nothing of a failed read reaches the database.
    """
    import duckdb

    try:
        _read_groups(con, batch, robust)
    except duckdb.Error as exc:  # the base of every DuckDB error about unreadable input
        if len(batch) > 1:
            for item in batch:
                _ingest_batch(con, [item], memory, values, report, robust=robust)
        elif not robust:
            _ingest_batch(con, batch, memory, values, report, robust=True)
        elif not batch[0].location.startswith("memory://"):
            item = batch[0]
            retry = _from_bytes(item.source, item.digest, _read_bytes(item.source), memory,
                                report)
            if retry is not None:
                _ingest_batch(con, [retry], memory, values, report, robust=True)
        else:
            report.skipped.append((batch[0].source.name,
                                   f"unreadable: {str(exc).splitlines()[0]}"))
        return
    _write_batch(con, batch, values, report)


def _read_groups(con, batch: list[_Item], robust: bool) -> None:
    # A failed attempt may have left rejected lines behind: count only this attempt's.
    for name in ("rejects", "rejects_scan"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    sniffed = batch[0].sniffed
    source = logs.read_csv_sql([item.location for item in batch], sniffed,
                               compression=batch[0].compression, rejects_table="rejects",
                               robust=robust)
    # CloudFront writes agents URL-encoded; the other formats as they were sent.
    encoded = sniffed.format == logs.CLOUDFRONT
    con.execute(_GROUP_SQL.format(reason=counting.LINE_REASON_SQL,
                                  encoding="url" if encoded else "plain",
                                  normalised=logs.normalised_sql(source, sniffed,
                                                                 robust=robust)))
    con.execute(_REQUESTERS_SQL.format(ua="url_decode(ua)" if encoded else "ua"))


@dataclass
class _Values:
    """The value-level rules, applied to the distinct values of a batch."""

    show: Show
    catalog: Catalog
    geoip: _GeoIP | None
    agent_rules: agents.ExtraRules = agents.NO_EXTRA_RULES
    agent_cache: dict[str, agents.Agent] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = counting.media_by_name(self.catalog.all_media())

    def load(self, con, day_format: str) -> None:
        """Fill the temporary tables ``days`` and ``paths``, and add the batch's new
        requesters to ``run_who`` (listener address, app, device, bot, country)."""
        con.execute(f"""CREATE OR REPLACE TEMP TABLE days AS
            SELECT day_text, day, strftime(day, '%Y-%m') AS period
            FROM (SELECT day_text, try_strptime(day_text, '{day_format}')::DATE AS day
                  FROM (SELECT DISTINCT day_text FROM line_groups))""")
        paths = [p for (p,) in con.execute(
            "SELECT DISTINCT path FROM line_groups WHERE ok + probe > 0").fetchall()]
        keys = [getattr(counting.match_media(p, self.index), "key", None) for p in paths]
        _table(con, "paths", ["path", "key"], ["VARCHAR", "VARCHAR"], [paths, keys])

        uas = [u for (u,) in con.execute(
            "SELECT DISTINCT ua FROM requesters WHERE ua IS NOT NULL").fetchall()]
        found = []
        for ua in uas:
            if ua not in self.agent_cache:
                self.agent_cache[ua] = agents.classify(ua, self.agent_rules)
            found.append(self.agent_cache[ua])
        _table(con, "agents", ["ua", "app", "device", "bot"],
               ["VARCHAR", "VARCHAR", "VARCHAR", "BOOLEAN"],
               [uas, [a.app for a in found], [a.device for a in found],
                [a.bot for a in found]])

        # Plain IPv4 addresses are their own listener address (checked in SQL: they are
        # most of the distinct values); the rest go through counting.listener_address.
        con.execute(f"""CREATE OR REPLACE TEMP TABLE distinct_ips AS
            SELECT ip, {counting.ipv4_sql('ip')} AS ipv4
            FROM (SELECT DISTINCT ip FROM requesters WHERE ip IS NOT NULL)""")
        other = [i for (i,) in con.execute(
            "SELECT ip FROM distinct_ips WHERE NOT ipv4").fetchall()]
        _table(con, "other_addresses", ["ip", "address"], ["VARCHAR", "VARCHAR"],
               [other, [counting.listener_address(ip) for ip in other]])
        located = [i for (i,) in con.execute("SELECT ip FROM distinct_ips").fetchall()
                   ] if self.geoip is not None else []
        _table(con, "countries", ["ip", "country"], ["VARCHAR", "VARCHAR"],
               [located, [self.geoip.country(ip) for ip in located]])
        con.execute("""INSERT INTO run_who
            SELECT r.h, r.h2, r.ua, CASE WHEN d.ipv4 THEN d.ip ELSE o.address END, u.app,
                   u.device, coalesce(u.bot, true), c.country
            FROM requesters r
            LEFT JOIN agents u USING (ua)
            LEFT JOIN distinct_ips d USING (ip)
            LEFT JOIN other_addresses o USING (ip)
            LEFT JOIN countries c USING (ip)""")

    def load_keys(self, con) -> None:
        """Fill ``period_keys``: the HMAC pads of each month the batch counts listeners in."""
        periods = {p for (p,) in con.execute(
            "SELECT DISTINCT period FROM classified WHERE verdict = 'listener'").fetchall()}
        keys = store.period_keys(self.show, periods, con)
        pads = [counting.hmac_pads(keys[p]) for p in sorted(periods)]
        _table(con, "period_keys", ["period", "ipad", "opad"], ["VARCHAR", "BLOB", "BLOB"],
               [sorted(periods), [p[0] for p in pads], [p[1] for p in pads]])


def _table(con, name: str, columns: list[str], types: list[str], data: list[list]) -> None:
    """A temporary table from column lists (one round trip, not a row at a time)."""
    spec = ", ".join(f"{c} {t}" for c, t in zip(columns, types, strict=True))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({spec})")
    if data and data[0]:
        select = ", ".join(f"unnest(?::{t}[])" for t in types)
        con.execute(f"INSERT INTO {name} SELECT {select}", data)


# The value-level rules, in REASONS order, for the lines that passed the line-level ones.
# An agent missing from ``agents`` is NULL (no User-Agent at all): a bot.
_CLASSIFY_SQL = """
CREATE OR REPLACE TEMP TABLE classified AS
SELECT d.day, d.period, p.key, g.h, g.h2, g.bytes, g.ok, g.probe, g.malformed, g.not_get,
       g.bad_status,
       CASE WHEN g.ok + g.probe = 0 THEN 'none'
            WHEN d.day IS NULL OR w.address IS NULL THEN 'malformed'
            WHEN p.key IS NULL THEN 'unknown_object'
            WHEN w.bot THEN 'bots'
            ELSE 'listener' END AS verdict
FROM line_groups g
LEFT JOIN days d USING (day_text)
LEFT JOIN paths p USING (path)
LEFT JOIN run_who w USING (h, h2)
"""

_REJECTED_SQL = """
SELECT day,
       sum(malformed + CASE WHEN verdict = 'malformed' THEN ok + probe ELSE 0 END),
       sum(not_get), sum(bad_status),
       sum(CASE WHEN verdict = 'unknown_object' THEN ok + probe ELSE 0 END),
       sum(CASE WHEN verdict = 'bots' THEN ok + probe ELSE 0 END),
       sum(CASE WHEN verdict = 'listener' THEN probe ELSE 0 END)
FROM classified GROUP BY day
"""

# Each listener is hashed once per run and month (two SHA-256 per listener, not per line):
# ``run_ids`` keeps the hashes of the batches before.
_HASH_SQL = """
INSERT INTO run_ids
SELECT c.period, c.h, c.h2, {listener} AS listener, w.app, w.device, w.country
FROM (SELECT DISTINCT period, h, h2 FROM classified
      WHERE verdict = 'listener' AND ok > 0) c
ANTI JOIN run_ids USING (period, h, h2)
JOIN run_who w USING (h, h2)
JOIN period_keys k USING (period)
"""

# One row per (day, path, requester): the rows of one listener-day (two paths to one
# media key, two addresses of one /64) are summed when read, as for rows of two files.
_BATCH_LISTENER_DAYS_SQL = """
CREATE OR REPLACE TEMP TABLE listener_days AS
SELECT c.day, c.key, i.listener, c.period, i.app, i.device, i.country,
       '{source}' AS source, c.bytes, c.ok AS lines
FROM classified c JOIN run_ids i USING (period, h, h2)
WHERE c.verdict = 'listener' AND c.ok > 0
"""

_TEMPORARY = ("line_groups", "requesters", "classified", "days", "paths", "agents",
              "distinct_ips", "other_addresses", "countries", "period_keys", "listener_days",
              "rejects", "rejects_scan")


def _write_batch(con, batch: list[_Item], values: _Values, report: IngestReport) -> None:
    """Classify the batch's groups and commit them with the files' ingested marks."""
    values.load(con, logs.DAY_FORMATS[batch[0].sniffed.format])
    con.execute(_CLASSIFY_SQL)
    values.load_keys(con)
    con.execute(_HASH_SQL.format(
        listener=counting.listener_sql("k.ipad", "k.opad", "w.address", "w.ua")))
    con.execute(_BATCH_LISTENER_DAYS_SQL.format(source=batch[0].sniffed.format))
    (unreadable,) = con.execute("SELECT count(DISTINCT (scan_id, file_id, line)) "
                                "FROM rejects").fetchone()
    rejected = [(day, reason, int(lines))
                for day, *counts in con.execute(_REJECTED_SQL).fetchall()
                for reason, lines in zip(counting.REASONS, counts, strict=True) if lines]
    (ok_lines,) = con.execute("SELECT coalesce(sum(lines), 0) FROM listener_days").fetchone()
    if unreadable:
        rejected.append((None, "malformed", unreadable))
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("INSERT INTO listener_bytes SELECT * FROM listener_days")
        if rejected:
            con.execute("INSERT INTO rejections SELECT unnest(?::DATE[]), unnest(?), "
                        "unnest(?::BIGINT[])", [[r[0] for r in rejected],
                                                [r[1] for r in rejected],
                                                [int(r[2]) for r in rejected]])
        con.execute("INSERT OR REPLACE INTO files (digest, name, size, stamp, format) "
                    "SELECT unnest(?), unnest(?), unnest(?), unnest(?), unnest(?)",
                    [[i.digest for i in batch], [i.source.name for i in batch],
                     [i.source.size for i in batch], [i.source.stamp for i in batch],
                     [i.sniffed.format for i in batch]])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("INSERT INTO run_groups SELECT day, key, listener, bytes, lines "
                "FROM listener_days")
    for _day, reason, lines in rejected:
        report.rejected[reason] += int(lines)
    report.lines += int(ok_lines) + sum(int(r[2]) for r in rejected)
    report.files_read += len(batch)
    for name in _TEMPORARY:
        con.execute(f"DROP TABLE IF EXISTS {name}")


class _GeoIP:
    """Country of an address from a MaxMind database (looked up before any hashing)."""

    def __init__(self, path: Path) -> None:
        import maxminddb
        from maxminddb.errors import InvalidDatabaseError

        try:
            self.reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, InvalidDatabaseError) as exc:
            raise PodcastError(f"cannot read the GeoIP database: {exc}", file=path,
                               field="--geoip", fix="give a MaxMind .mmdb file "
                               "(e.g. GeoLite2-Country.mmdb)") from None

    def country(self, ip: str) -> str | None:
        try:
            record = self.reader.get(ip.strip("[]"))
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        country = record.get("country") or record.get("registered_country") or {}
        return country.get("iso_code") if isinstance(country, dict) else None

