"""``podcast stats ingest``: access logs in, listener-days and rejections out.

Before the pipeline, each new file (:mod:`podcast.stats.sources`) is **scanned** once
(:mod:`podcast.stats.scan`): BLAKE3 of its content (the decompressed content of gzip,
streamed with a bound), which prefix of it an earlier run ingested (whatever the file was
called then), its format, and where DuckDB reads exactly the scanned bytes (the file
itself, or the new part in memory).

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
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path

from podcast.errors import PodcastError
from podcast.model import Catalog, Show
from podcast.stats import agents, counting, logs, scan, store
from podcast.stats.geoip import GeoIP
from podcast.stats.scan import Content, TooLarge, ahead, content_bytes, regzip
from podcast.stats.sources import Source, expand_sources

#: How the caller hears how far an ingest is: called with the bytes of the new files done
#: and the bytes of them all, first with none done and last with all of them (the CLI
#: draws a progress bar with it).
Progress = Callable[[int, int], None]

#: Files are read this many (uncompressed) bytes at a time, in one transaction each.  Larger
#: batches are faster but DuckDB's grouping holds about 1 GiB per 2 GiB of busy S3 logs
#: (spilling is off): 768 MiB keeps a large backlog's ingest near 640 MiB peak RSS.
BATCH_BYTES = 768 * 1024 * 1024
#: Content held in memory (S3 objects, new parts of files) is batched by less: it is held
#: twice while read (each file's part, and the batch's one memory file).
MEMORY_BATCH_BYTES = 128 * 1024 * 1024
#: The ingest names other hosts and buckets when their lines are more than this share of
#: the lines read (a shared log holding a few other sites' lines is no mistake), the
#: :data:`FOREIGN_TOP` largest of them.
FOREIGN_SHARE = 0.05
FOREIGN_TOP = 5


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
    #: ``unknown_object`` lines logged for another bucket or host, by that bucket or host
    #: written as an alias (``s3://BUCKET``, ``https://HOST``).
    foreign: Counter = field(default_factory=Counter)

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
        out += self.foreign_warning()
        return "\n".join(out)

    def foreign_warning(self) -> list[str]:
        """Lines saying which other hosts or buckets the logs were mostly for, and the
        ``aliases:`` lines that count them; none when they are under
        :data:`FOREIGN_SHARE` of the lines (a shared log holds a few other sites')."""
        total = sum(self.foreign.values())
        if not self.lines or total <= FOREIGN_SHARE * self.lines:
            return []
        top = sorted(self.foreign.items(), key=lambda item: (-item[1], item[0]))[:FOREIGN_TOP]
        return [f"warning: {total:,} of {self.lines:,} lines ({100 * total / self.lines:.0f} %) "
                "were logged for another host or bucket than base_url, storage and aliases "
                "name, so none of them counted (unknown_object):",
                *(f"  {site}: {lines:,} lines" for site, lines in top),
                "fix: if they serve this show's media (a CDN domain, an old domain or "
                "bucket), add to podcast.yaml:",
                "aliases:",
                *(f"  - {site}" for site, _ in top),
                "then count these logs again: they are recorded as read, so ingest them "
                "into a fresh database (move .podcast/stats.duckdb away first) with every "
                "log you still have"]


# --- the work ----------------------------------------------------------------------------


@dataclass
class _Item:
    """A file ready to read: where DuckDB finds it, and what the database records."""

    source: Source
    content: Content  # what the database records: digest, length, raw size, stamp
    sniffed: logs.Sniffed
    location: str  # a local path or memory:// URL; "" when in ``data``
    compression: str = "none"
    size: int = 0  # decompressed bytes, for batching
    body: bytes | None = None  # a downloaded S3 object, until placed
    data: bytes | None = None  # plain content read from memory, with the batch's others

    @property
    def in_memory(self) -> bool:
        """Read from memory (never again from a local file)."""
        return self.data is not None or self.location.startswith("memory://")


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

    def drop(self, locations: list[str]) -> None:
        """Free the files of a batch once read (files of batches still pending stay)."""
        for location in locations:
            if location.startswith("memory://"):
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm(location[len("memory://"):])

    def clear(self) -> None:
        for path in self.names:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(path)
        self.names.clear()


def ingest(show: Show, sources: list[str], *, geoip: Path | None = None,
           agent_lists: Sequence[Path] = (), echo: Callable[[str], None] | None = None,
           progress: Progress | None = None) -> IngestReport:
    """``podcast stats ingest``: read the logs into the show's stats database.

    ``agent_lists``: OPAWG user-agents-v2 files or folders (``--agents``); ``progress``:
    told how far the ingest is (:data:`Progress`).
    """
    from podcast.storage import load_catalog

    extra = agents.load_opawg(list(agent_lists))  # a bad list fails before any work
    found = expand_sources(sources)
    catalog = load_catalog(show)
    if not catalog.downloadable() and echo is not None:
        echo(f"warning: nothing is published in {show.storage} yet, so no request can be "
             "an episode download (run `podcast publish` first)")
    return ingest_sources(show, catalog, found, geoip=geoip, agent_rules=extra, echo=echo,
                          progress=progress)


def ingest_sources(show: Show, catalog: Catalog, found: list[Source], *,
                   geoip: Path | None = None,
                   agent_rules: agents.ExtraRules = agents.NO_EXTRA_RULES,
                   echo: Callable[[str], None] | None = None,
                   progress: Progress | None = None, robust: bool = False) -> IngestReport:
    """Read ``found`` into the database, counting against ``catalog``'s media.

    ``robust`` reads every file with the line-safe reader at once (the fast reader falls
    back to it by itself when a file needs it; tests use this to check both readers).
    A write that fails for want of space (a full disk, a file size limit) is a
    PodcastError; the batch being written is rolled back, so the database holds whole
    files only and the same command run again continues where it stopped.
    """
    with _written(store.db_path(show)):
        return _ingest_sources(show, catalog, found, geoip=geoip, agent_rules=agent_rules,
                               echo=echo, progress=progress, robust=robust)


@contextlib.contextmanager
def _written(path: Path) -> Iterator[None]:
    """DuckDB's errors writing the database (IOException: ENOSPC, EFBIG; a COMMIT that
    failed for them; FatalException: the database it invalidated after one) as a
    PodcastError with the fix."""
    import duckdb

    try:
        yield
    except (duckdb.IOException, duckdb.FatalException, duckdb.TransactionException) as exc:
        if isinstance(exc, duckdb.TransactionException) and "to commit" not in str(exc):
            raise
        raise PodcastError(f"cannot write the stats database: {exc}", file=path,
                           fix=store.disk_fix(path)) from None


def _ingest_sources(show: Show, catalog: Catalog, found: list[Source], *,
                    geoip: Path | None, agent_rules: agents.ExtraRules,
                    echo: Callable[[str], None] | None, progress: Progress | None,
                    robust: bool) -> IngestReport:
    report = IngestReport()
    reader = GeoIP(geoip) if geoip else None  # a bad --geoip fails before any work
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
        done = _Done(sum(s.size for s in new), progress)
        for batch in _batches(con, new, memory, report, done):
            _ingest_batch(con, batch, memory, values, report, robust=robust)
            memory.drop([item.location for item in batch])
            done.add(sum(item.source.size for item in batch))
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


class _Done:
    """The bytes of the new files done so far, told to ``progress`` (when given) as they
    grow: at once (none done), then after each file skipped and each batch written."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.bytes, self.progress = total, 0, progress
        self.add(0)

    def add(self, size: int) -> None:
        self.bytes += size
        if self.progress is not None:
            self.progress(self.bytes, self.total)


def _save_media(con, catalog: Catalog) -> None:
    media = catalog.downloadable()
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
                        sum(CASE WHEN {counting.DAY_RULE.when} THEN run.lines END)
                            AS below
                 FROM {totals} JOIN media USING (key)
                 GROUP BY run.day, slug, run.listener)
        SELECT count(*) FILTER (WHERE counted_now) - count(*) FILTER (WHERE counted_before),
               coalesce(sum(below), 0)
        FROM days""").fetchone()
    return int(added), int(below)


def _batches(con, new: list[Source], memory: _Memory, report: IngestReport,
             done: _Done) -> Iterator[list[_Item]]:
    """Scan the new files (content hash, already-ingested prefix, format) and group the
    readable ones into batches."""
    seen = {digest for (digest,) in con.execute("SELECT digest FROM files").fetchall()}
    marks = store.ingested_prefixes(con)
    pending: dict[tuple, list[_Item]] = {}
    pending_size: dict[tuple, int] = {}
    for source, scanned in ahead(new, marks):
        item = _prepare(source, scanned, seen, memory, report)
        if item is None:
            done.add(source.size)
            continue
        seen.add(item.content.digest)
        group = (item.sniffed, item.compression, item.in_memory)
        pending.setdefault(group, []).append(item)
        pending_size[group] = pending_size.get(group, 0) + item.size
        if pending_size[group] >= (MEMORY_BATCH_BYTES if item.in_memory else BATCH_BYTES):
            yield pending.pop(group)
            pending_size.pop(group)
    yield from pending.values()





def _prepare(source: Source, scanned: Future, seen: set[str], memory: _Memory,
             report: IngestReport) -> _Item | None:
    """One source as a readable item, or None (nothing new in it, or skipped and why)."""
    try:
        if source.path is not None:
            content, body = scanned.result(), None
        else:
            content, body = scanned.result()
    except TooLarge:
        report.skipped.append((source.name, f"expands past {scan.MAX_EXPANDED // 2**20} MiB "
                               "when decompressed: a damaged file or a decompression bomb"))
        return None
    except OSError as exc:
        report.skipped.append((source.name, f"cannot read: {exc.strerror or exc}"))
        return None
    if content.digest in seen or (content.ingested and content.ingested >= content.length):
        report.files_unchanged += 1  # the same content, under this name or another
        return None
    sniffed = logs.sniff(content.head)
    if sniffed is None:
        report.skipped.append((source.name, "not an access log in a known format"))
        return None
    if content.damaged:
        report.truncated.append(source.name)
    item = _Item(source, content, sniffed, "", body=body)
    try:
        return _place(item, memory)
    except OSError as exc:
        report.skipped.append((source.name, f"cannot read: {exc.strerror or exc}"))
        return None


def _place(item: _Item, memory: _Memory) -> _Item:
    """Where DuckDB reads the item: the file itself when all of it is new and exactly what
    was hashed; the raw gzip object in memory when whole; else the new part, in memory."""
    content, source, body = item.content, item.source, item.body
    item.body = None  # from here on, only what DuckDB reads is kept
    whole = not (content.ingested or content.damaged or content.long_lines)
    if whole and source.path is not None and _unchanged(item):
        item.location = str(source.path)
        item.compression = "gzip" if content.gzip else "none"
        item.size = content.length
    elif whole and content.gzip and body is not None:
        item.location = memory.put(source.name + ".gz", body)
        item.compression, item.size = "gzip", content.length
    elif content.gzip and not content.long_lines:  # damaged, or partly ingested
        item.location = memory.put(source.name + ".gz", regzip(source, body, content))
        item.compression, item.size = "gzip", content.length - content.ingested
    else:
        # Plain content waits in the item: a batch of many small S3 objects is read as
        # one memory file (fsspec's memory file system slows down with every file in it).
        item.data = content_bytes(source, body, content)
        item.compression, item.size = "none", len(item.data)
    return item


def _unchanged(item: _Item) -> bool:
    """The local file still holds exactly the bytes scanned (DuckDB reads to its end)."""
    try:
        assert item.source.path is not None  # only a local file is checked again
        stat = item.source.path.stat()
    except OSError:
        return False  # renamed or deleted: its content is read from memory, if still there
    return ((stat.st_dev, stat.st_ino) == item.content.inode
            and stat.st_size == item.content.raw)


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
SELECT day_text, path, site, hash(ip, ua, '{encoding}') AS h, hash(ua, ip, '{encoding}') AS h2,
       any_value(ip) AS ip, any_value(ua) AS ua,
       coalesce(sum(sent) FILTER (reason = 'ok'), 0) AS bytes,
       count(*) FILTER (reason = 'ok') AS ok,
       count(*) FILTER (reason = 'probe') AS probe,
       count(*) FILTER (reason = 'malformed') AS malformed,
       count(*) FILTER (reason = 'not_get') AS not_get,
       count(*) FILTER (reason = 'bad_status') AS bad_status,
       min(via) FILTER (reason = 'ok') AS via,
       min(via_ref) FILTER (reason = 'ok') AS via_ref
FROM (SELECT *, {reason} AS reason FROM ({normalised}))
GROUP BY ALL
"""

# Requesters whose GETs answered 200/206, new to this run: the value-level rules run once
# per requester and run.
_REQUESTERS_SQL = """
CREATE OR REPLACE TEMP TABLE requesters AS
SELECT h, h2, any_value(ip) AS ip, any_value(ua) AS ua
FROM line_groups ANTI JOIN run_who USING (h, h2)
WHERE ok + probe > 0
GROUP BY h, h2
"""


def _ingest_batch(con, batch: list[_Item], memory: _Memory, values: _Values,
                  report: IngestReport, *, robust: bool = False) -> None:
    """Read one batch and write it.

    When DuckDB cannot read the batch, each file is tried alone, then with the line-safe
    reader, then from memory with exactly its scanned content; a file that still fails is
    reported as skipped.  A local file that changed while DuckDB read it (a log being
    written) is read again from memory, exactly the bytes hashed.  Nothing of a failed
    read reaches the database.
    """
    import duckdb

    try:
        _read_groups(con, batch, robust, values.scope, memory)
    except duckdb.Error as exc:  # the base of every DuckDB error about unreadable input
        if len(batch) > 1:
            for item in batch:
                _ingest_batch(con, [item], memory, values, report, robust=robust)
        elif not robust:
            _ingest_batch(con, batch, memory, values, report, robust=True)
        elif not batch[0].in_memory:
            _ingest_from_memory(con, batch[0], memory, values, report)
        else:
            report.skipped.append((batch[0].source.name,
                                   f"unreadable: {str(exc).splitlines()[0]}"))
        return
    moved = [item for item in batch
             if not item.in_memory and not _unchanged(item)]
    if moved:
        rest = [item for item in batch if item not in moved]
        if rest:
            _ingest_batch(con, rest, memory, values, report, robust=robust)
        for item in moved:
            _ingest_from_memory(con, item, memory, values, report)
        return
    _write_batch(con, batch, values, report)


def _ingest_from_memory(con, item: _Item, memory: _Memory, values: _Values,
                        report: IngestReport) -> None:
    """Read a local file's scanned content from memory (line-safe reader)."""
    try:
        data = content_bytes(item.source, None, item.content)
    except OSError as exc:
        report.skipped.append((item.source.name, f"cannot read: {exc.strerror or exc}"))
        return
    retry = replace(item, location="", data=data, compression="none", size=len(data))
    _ingest_batch(con, [retry], memory, values, report, robust=True)


def _read_groups(con, batch: list[_Item], robust: bool, scope: counting.Scope,
                 memory: _Memory) -> None:
    """Group the batch's lines into ``line_groups`` and its new requesters."""
    # A failed attempt may have left rejected lines behind: count only this attempt's.
    for name in ("rejects", "rejects_scan"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    locations = [item.location for item in batch if item.data is None]
    held = [item.data for item in batch if item.data is not None]
    if held:  # one file for all: each part ends its last line, so no two lines merge
        locations.append(memory.put("batch", b"".join(
            data if data.endswith(b"\n") or not data else data + b"\n" for data in held)))
    try:
        _group_lines(con, batch[0].sniffed, locations, batch[0].compression, robust, scope)
    finally:
        if held:
            memory.drop(locations[-1:])


def _group_lines(con, sniffed: logs.Sniffed, locations: list[str], compression: str,
                 robust: bool, scope: counting.Scope) -> None:
    """Run the reading SQL over ``locations`` (all of one format and compression)."""
    source = logs.read_csv_sql(locations, sniffed, compression=compression,
                               rejects_table="rejects", robust=robust)
    # CloudFront writes agents URL-encoded (decoded by _Values.load); the other formats
    # as they were sent.
    encoded = sniffed.format == logs.CLOUDFRONT
    con.execute(_GROUP_SQL.format(reason=counting.LINE_REASON_SQL,
                                  encoding="url" if encoded else "plain",
                                  normalised=logs.normalised_sql(source, sniffed,
                                                                 robust=robust,
                                                                 scope=scope)))
    con.execute(_REQUESTERS_SQL)


@dataclass
class _Values:
    """The value-level rules, applied to the distinct values of a batch."""

    show: Show
    catalog: Catalog
    geoip: GeoIP | None
    agent_rules: agents.ExtraRules = agents.NO_EXTRA_RULES
    agent_cache: dict[str, agents.Agent] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = counting.media_by_name(self.catalog.downloadable())
        self.slugs = frozenset(m.slug for m in self.catalog.downloadable())
        self.scope = counting.scope(self.show.storage, self.show.base_url,
                                    self.show.aliases)
        self.library_bots = self.show.stats.library_bots

    def load(self, con, day_format: str, encoded: bool = False) -> None:
        """Fill the temporary tables ``days`` and ``paths``, and add the batch's new
        requesters to ``run_who`` (listener address, app, device, bot, country).

        ``encoded``: the agents are URL-encoded (CloudFront), decoded until stable.  The
        decoded agent is both what the rules see and what the listener is hashed with, so
        one app at one address is one listener whatever log it came through.
        """
        con.execute(f"""CREATE OR REPLACE TEMP TABLE days AS
            SELECT day_text, day, strftime(day, '%Y-%m') AS period
            FROM (SELECT day_text, try_strptime(day_text, '{day_format}')::DATE AS day
                  FROM (SELECT DISTINCT day_text FROM line_groups))""")
        paths = [p for (p,) in con.execute(
            "SELECT DISTINCT path FROM line_groups WHERE ok + probe > 0").fetchall()]
        keys = [getattr(counting.match_media(p, self.index), "key", None) for p in paths]
        pages = [counting.match_page(p, self.slugs) for p in paths]
        _table(con, "paths", ["path", "key", "page"], ["VARCHAR", "VARCHAR", "VARCHAR"],
               [paths, keys, pages])

        uas = [u for (u,) in con.execute(
            "SELECT DISTINCT ua FROM requesters WHERE ua IS NOT NULL").fetchall()]
        names = [agents.decode(ua) if encoded else ua for ua in uas]
        found = []
        for name in names:
            if name not in self.agent_cache:
                self.agent_cache[name] = agents.with_policy(
                    agents.classify(name, self.agent_rules), self.library_bots)
            found.append(self.agent_cache[name])
        # A bot's "app" is the name its requests are listed under (``--by bot``).
        apps = [agents.bot_name(name, a) if a.bot else a.app
                for name, a in zip(names, found, strict=True)]
        _table(con, "agents", ["ua", "agent", "app", "device", "bot"],
               ["VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "BOOLEAN"],
               [uas, names, apps, [a.device for a in found], [a.bot for a in found]])

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
               [located, [self.geoip.country(ip) for ip in located]
                         if self.geoip is not None else []])
        con.execute("""INSERT INTO run_who
            SELECT r.h, r.h2, u.agent, CASE WHEN d.ipv4 THEN d.ip ELSE o.address END, u.app,
                   u.device, coalesce(u.bot, true), c.country
            FROM requesters r
            LEFT JOIN agents u USING (ua)
            LEFT JOIN distinct_ips d USING (ip)
            LEFT JOIN other_addresses o USING (ip)
            LEFT JOIN countries c USING (ip)""")

    def load_keys(self, con) -> None:
        """Fill ``period_keys``: the HMAC pads of each month the batch hashes requesters in
        (listeners, and bots for the not-counted requester-days)."""
        periods = {p for (p,) in con.execute(
            f"SELECT DISTINCT period FROM classified WHERE {_HASHED}").fetchall()}
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


# The requester-level rules (counting.GROUP_RULES), in REASONS order, for the lines that
# passed the line-level ones.  An agent missing from ``agents`` is NULL (no User-Agent at
# all): a bot.  ``visit``: a person opened an episode page through a share link (its lines
# stay ``unknown_object``: a page is no download).
_CLASSIFY_SQL = f"""
CREATE OR REPLACE TEMP TABLE classified AS
SELECT *, verdict = 'unknown_object' AND page IS NOT NULL AND via IS NOT NULL AND ok > 0
          AND NOT bot AS visit
FROM (
SELECT d.day, d.period, p.key, p.page, g.site, g.h, g.h2, g.bytes, g.ok, g.probe,
       g.malformed, g.not_get, g.bad_status, g.via, g.via_ref, coalesce(w.bot, true) AS bot,
       {counting.GROUP_VERDICT_SQL} AS verdict
FROM line_groups g
LEFT JOIN days d USING (day_text)
LEFT JOIN paths p USING (path)
LEFT JOIN run_who w USING (h, h2))
"""

# Lines left out because they were logged for another bucket or host (``site``, as an
# alias is written): the ingest names them, with the fix, when they are many.
_FOREIGN_SQL = """
SELECT site, sum(ok + probe) FROM classified
WHERE verdict = 'unknown_object' AND site IS NOT NULL GROUP BY site
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

#: The classified groups whose requester is hashed: listeners (those who only probed too,
#: for the not-counted listener-days), bots (named with their requester-days) and the
#: visitors of an episode page opened through a share link.
_HASHED = "(verdict IN ('listener', 'bots') OR visit)"

# Each requester is hashed once per run and month (two SHA-256 per requester, not per
# line): ``run_ids`` keeps the hashes of the batches before.
_HASH_SQL = f"""
INSERT INTO run_ids
SELECT c.period, c.h, c.h2, {{listener}} AS listener, w.app, w.device, w.country
FROM (SELECT DISTINCT period, h, h2 FROM classified WHERE {_HASHED}) c
ANTI JOIN run_ids USING (period, h, h2)
JOIN run_who w USING (h, h2)
JOIN period_keys k USING (period)
"""

# One row per (day, path, requester): the rows of one listener-day (two paths to one
# media key, two addresses of one /64) are summed when read, as for rows of two files.
_BATCH_LISTENER_DAYS_SQL = """
CREATE OR REPLACE TEMP TABLE listener_days AS
SELECT c.day, c.key, i.listener, c.period AS key_period, i.app, i.device, i.country,
       '{source}' AS source, c.bytes, c.ok AS lines, coalesce(c.via, c.via_ref) AS via
FROM classified c JOIN run_ids i USING (period, h, h2)
WHERE c.verdict = 'listener' AND c.ok > 0
"""

# Requester-days that made no download, for the report's "not counted": bots' requests of
# episodes (named), and listeners' 2-byte range probes.
_BATCH_NOT_COUNTED_SQL = """
CREATE OR REPLACE TEMP TABLE not_counted_days AS
SELECT c.day, c.key, i.listener AS requester, c.period AS key_period,
       CASE WHEN c.verdict = 'bots' THEN 'bots' ELSE 'probes' END AS reason,
       i.app AS name,
       CASE WHEN c.verdict = 'bots' THEN c.ok + c.probe ELSE c.probe END AS lines
FROM classified c JOIN run_ids i USING (period, h, h2)
WHERE c.verdict = 'bots' OR (c.verdict = 'listener' AND c.probe > 0)
"""

# Episode pages opened through a share link: the code of the page's own query string only
# (a referer tells where the visitor came from, not which link was shared).
_BATCH_PAGE_VISITS_SQL = """
CREATE OR REPLACE TEMP TABLE page_visit_days AS
SELECT c.day, c.page AS slug, c.via, i.listener AS visitor, c.period AS key_period,
       c.ok AS lines
FROM classified c JOIN run_ids i USING (period, h, h2)
WHERE c.visit
"""

_TEMPORARY = ("line_groups", "requesters", "classified", "days", "paths", "agents",
              "distinct_ips", "other_addresses", "countries", "period_keys", "listener_days",
              "not_counted_days", "page_visit_days", "rejects", "rejects_scan")


def _write_batch(con, batch: list[_Item], values: _Values, report: IngestReport) -> None:
    """Classify the batch's groups and commit them with the files' ingested marks."""
    values.load(con, logs.DAY_FORMATS[batch[0].sniffed.format],
                encoded=batch[0].sniffed.format == logs.CLOUDFRONT)
    con.execute(_CLASSIFY_SQL)
    values.load_keys(con)
    con.execute(_HASH_SQL.format(
        # A bot may send no agent at all: hashed with an empty one.
        listener=counting.listener_sql("k.ipad", "k.opad", "w.address",
                                       "coalesce(w.ua, '')")))
    con.execute(_BATCH_LISTENER_DAYS_SQL.format(source=batch[0].sniffed.format))
    con.execute(_BATCH_NOT_COUNTED_SQL)
    con.execute(_BATCH_PAGE_VISITS_SQL)
    (unreadable,) = con.execute("SELECT count(DISTINCT (scan_id, file_id, line)) "
                                "FROM rejects").fetchone()
    rejected = [(day, reason, int(lines))
                for day, *counts in con.execute(_REJECTED_SQL).fetchall()
                for reason, lines in zip(counting.REASONS, counts, strict=True) if lines]
    (ok_lines,) = con.execute("SELECT coalesce(sum(lines), 0) FROM listener_days").fetchone()
    foreign = con.execute(_FOREIGN_SQL).fetchall()
    if unreadable:
        rejected.append((None, "malformed", unreadable))
    con.execute("BEGIN TRANSACTION")
    try:
        # By name: columns added to a table over time come last in older databases.
        con.execute("INSERT INTO listener_bytes BY NAME SELECT * FROM listener_days")
        con.execute("INSERT INTO not_counted BY NAME SELECT * FROM not_counted_days")
        con.execute("INSERT INTO page_visits BY NAME SELECT * FROM page_visit_days")
        if rejected:
            con.execute("INSERT INTO rejections SELECT unnest(?::DATE[]), unnest(?), "
                        "unnest(?::BIGINT[])", [[r[0] for r in rejected],
                                                [r[1] for r in rejected],
                                                [int(r[2]) for r in rejected]])
        con.execute("INSERT OR REPLACE INTO files (digest, name, size, stamp, format, "
                    "length) SELECT unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), "
                    "unnest(?)",
                    [[i.content.digest for i in batch], [i.source.name for i in batch],
                     [i.content.raw for i in batch], [i.content.stamp for i in batch],
                     [i.sniffed.format for i in batch], [i.content.length for i in batch]])
        con.execute("COMMIT")
    except BaseException:
        import duckdb

        # A COMMIT that failed (a full disk) was rolled back by DuckDB already.
        with contextlib.suppress(duckdb.TransactionException):
            con.execute("ROLLBACK")
        raise
    con.execute("INSERT INTO run_groups SELECT day, key, listener, bytes, lines "
                "FROM listener_days")
    for _day, reason, lines in rejected:
        report.rejected[reason] += int(lines)
    for site, lines in foreign:
        report.foreign[site] += int(lines)
    report.lines += int(ok_lines) + sum(int(r[2]) for r in rejected)
    report.files_read += len(batch)
    for name in _TEMPORARY:
        con.execute(f"DROP TABLE IF EXISTS {name}")
