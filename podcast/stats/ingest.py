"""``podcast stats ingest``: access logs in, listener-days and rejections out.

Before the pipeline, each new file is **scanned** once: BLAKE3 of its content (the
decompressed content of gzip, streamed with a bound), which prefix of it an earlier run
ingested (whatever the file was called then), its format, and where DuckDB reads exactly
the scanned bytes (the file itself, or the new part in memory).

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
import os
import sys
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import blake3

from podcast.errors import PodcastError
from podcast.model import Catalog, Show
from podcast.stats import agents, counting, logs, store

#: Files are read this many (uncompressed) bytes at a time, in one transaction each.  Larger
#: batches are faster but DuckDB's grouping holds about 1 GiB per 2 GiB of busy S3 logs
#: (spilling is off): 768 MiB keeps a large backlog's ingest near 640 MiB peak RSS.
BATCH_BYTES = 768 * 1024 * 1024
#: Content held in memory (S3 objects, new parts of files) is batched by less: it is held
#: twice while read (each file's part, and the batch's one memory file).
MEMORY_BATCH_BYTES = 128 * 1024 * 1024
_SNIFF_BYTES = 64 * 1024
#: The ingest names other hosts and buckets when their lines are more than this share of
#: the lines read (a shared log holding a few other sites' lines is no mistake), the
#: :data:`FOREIGN_TOP` largest of them.
FOREIGN_SHARE = 0.05
FOREIGN_TOP = 5
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
    from podcast.storage import parse_s3_url, s3_client, s3_errors, storage_error

    bucket, prefix = parse_s3_url(url, field="log source")

    try:
        pages = s3_client().get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix)
        return [Source(f"s3://{bucket}/{item['Key']}", item["Size"],
                       item.get("ETag", "").strip('"'), s3=(bucket, item["Key"]))
                for page in pages for item in page.get("Contents", [])]
    except s3_errors() as exc:
        raise storage_error("list logs in", url, exc) from exc


def _read_bytes(source: Source, client=None) -> bytes:
    """The bytes of an S3 object (a log cut off in mid-body is fetched again: botocore
    retries only failed requests)."""
    from podcast.storage import read_object, s3_client, s3_errors, storage_error

    bucket, key = source.s3
    try:
        return read_object(client or s3_client(), bucket, key)
    except s3_errors() as exc:
        raise storage_error("read log", source.name, exc) from exc


# --- content: what a file holds, and which of it is new -------------------------------------
#
# A file is known by its content, never by its name: BLAKE3 of its first ``length`` bytes
# (decompressed, for gzip), recorded with that length.  Exactly the bytes hashed are read,
# so a log that grows while it is ingested is counted up to there, and the next run reads
# the rest; a file whose first ``length`` bytes match a recorded digest, whatever it is
# called now (``access.log`` renamed ``access.log.1``, or compressed ``access.log.2.gz``),
# is read from there on.

#: A gzip log that expands past this many bytes is skipped, named, with the reason (a
#: damaged file or a decompression bomb would otherwise hold the ingest); the rest goes on.
MAX_EXPANDED = 1 << 30
_CHUNK = 4 * 1024 * 1024  # read, inflate and hash step
#: S3 objects downloaded at once (many small log objects: the network's wait dominates).
_FETCHERS = 16
#: A run this long without a newline is a line DuckDB may drop without a word (past its
#: 32 MiB buffer): the file is then read through memory, each over-long line replaced by
#: one malformed line.  Any such run spans a whole step, so checking steps finds it.
_LONG_RUN = 2 * _CHUNK
#: A plain file modified this recently may end in a line still being written: that last
#: line waits for the next run, which reads the file from there.
_RESTING_NS = 60 * 10**9


class _TooLarge(Exception):
    """A gzip file that expands past :data:`MAX_EXPANDED`."""


@dataclass
class _Content:
    """One pass over a file's content (decompressed, for gzip)."""

    digest: str  # BLAKE3 of the first ``length`` bytes of the content
    length: int
    raw: int  # bytes of the file itself read to get them
    stamp: str  # local: mtime in ns; S3: ETag
    head: bytes  # the content's first bytes, to detect the format
    gzip: bool = False
    ingested: int = 0  # the longest prefix of the content ingested before
    damaged: bool = False  # gzip cut short or corrupt: the content stops at its last whole line
    cut_line: bool = False  # ... and a line was cut in two there (one malformed line)
    long_lines: bool = False
    inode: tuple[int, int] | None = None  # a local file's (device, inode) when scanned


class _Digest:
    """BLAKE3 of a stream, with the digests it had at given lengths (``marks``) and, with
    ``lines``, at its last line end (where a damaged gzip file's content stops)."""

    def __init__(self, marks: dict[int, set[str]], lines: bool = False) -> None:
        self.hash = blake3.blake3(max_threads=blake3.blake3.AUTO)
        self.length = 0
        self.marks = marks
        self.pending = deque(sorted(n for n in marks if n > 0))
        self.ingested = 0
        self.lines = lines
        self.line_end, self.line_hash = 0, self.hash.copy() if lines else None
        self.run = 0  # bytes since the last newline
        self.long_lines = False

    def update(self, data, first: int, last: int) -> None:
        """Add ``data``, whose first and last newlines are at ``first`` and ``last`` (-1:
        none); the caller finds them with C code (``mmap.find``, ``bytes.rfind``)."""
        size, before = len(data), self.run
        if first >= 0 and before + first > _LONG_RUN:
            self.long_lines = True
        self.run = before + size if first < 0 else size - last - 1
        if self.run > _LONG_RUN:
            self.long_lines = True
        cuts = []
        while self.pending and self.pending[0] <= self.length + size:
            cuts.append(self.pending.popleft() - self.length)
        if self.lines and last >= 0:
            cuts.append(last + 1)
        pos = 0
        for cut in sorted(set(cuts)):
            self.hash.update(data[pos:cut])
            pos = cut
            at = self.length + cut
            if at in self.marks and self.hash.copy().hexdigest() in self.marks[at]:
                self.ingested = at
            if self.lines and cut == last + 1:
                self.line_end, self.line_hash = at, self.hash.copy()
        self.hash.update(data[pos:])
        self.length += size


def _scan_local(path: Path, marks: dict[int, set[str]]) -> _Content:
    """What a local file holds now (a log may be growing: its size is taken once)."""
    with path.open("rb") as handle:
        stat = os.fstat(handle.fileno())
        if handle.read(2) == _GZIP_MAGIC:
            handle.seek(0)
            content = _scan_gzip(handle.read, marks, stat.st_size, str(stat.st_mtime_ns))
        else:
            content = _scan_plain(handle, stat, marks)
    content.inode = (stat.st_dev, stat.st_ino)
    return content


def _scan_plain(handle, stat: os.stat_result, marks: dict[int, set[str]]) -> _Content:
    """Hash a plain file a step at a time.  Read, not mapped: a log truncated under us
    (logrotate's ``copytruncate``) must end the read, not kill the process with SIGBUS."""
    end = stat.st_size
    if end and time.time_ns() - stat.st_mtime_ns < _RESTING_NS:
        end = _last_line_end(handle, end)  # the last line may still be being written
    handle.seek(0)
    digest, head, at = _Digest(marks), b"", 0
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    while at < end:
        count = handle.readinto(view[:min(_CHUNK, end - at)])
        if not count:
            break  # truncated while read: the content is what was read
        digest.update(view[:count], buffer.find(b"\n", 0, count),
                      buffer.rfind(b"\n", 0, count))
        if not at:
            head = bytes(view[:min(count, _SNIFF_BYTES)])
        at += count
    view.release()
    return _Content(digest.hash.hexdigest(), at, at, str(stat.st_mtime_ns), head,
                    ingested=digest.ingested, long_lines=digest.long_lines)


def _last_line_end(handle, end: int) -> int:
    """The offset just after the last newline in the first ``end`` bytes (0: none)."""
    handle.seek(end - 1)
    if handle.read(1) == b"\n":
        return end
    while end > 0:
        start = max(0, end - _SNIFF_BYTES)
        handle.seek(start)
        found = handle.read(end - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def _scan_bytes(data: bytes, source: Source) -> _Content:
    """What a downloaded S3 object holds (objects never change: no prefix to look for)."""
    if data[:2] == _GZIP_MAGIC:
        return _scan_gzip(io.BytesIO(data).read, {}, len(data), source.stamp)
    digest = _Digest({})
    for start in range(0, len(data), _CHUNK):
        piece = data[start:start + _CHUNK]
        digest.update(piece, piece.find(b"\n"), piece.rfind(b"\n"))
    return _Content(digest.hash.hexdigest(), len(data), len(data), source.stamp,
                    data[:_SNIFF_BYTES], long_lines=digest.long_lines)


def _scan_gzip(read: Callable[[int], bytes], marks: dict[int, set[str]], raw: int,
               stamp: str) -> _Content:
    """Hash a gzip file's decompressed content a step at a time, never holding it whole."""
    digest, head, gunzip = _Digest(marks, lines=True), b"", _Gunzip(read)
    for piece in gunzip:
        if len(head) < _SNIFF_BYTES:
            head += piece[:_SNIFF_BYTES - len(head)]
        digest.update(piece, piece.find(b"\n"), piece.rfind(b"\n"))
        if digest.length > MAX_EXPANDED:
            raise _TooLarge
    if gunzip.damaged:  # the content is what ends at the last whole line
        return _Content(digest.line_hash.hexdigest(), digest.line_end, raw, stamp, head,
                        gzip=True, ingested=min(digest.ingested, digest.line_end),
                        damaged=True, cut_line=digest.length > digest.line_end,
                        long_lines=digest.long_lines)
    return _Content(digest.hash.hexdigest(), digest.length, raw, stamp, head, gzip=True,
                    ingested=digest.ingested, long_lines=digest.long_lines)


class _Gunzip:
    """The decompressed pieces of gzip data read through ``read`` (members one after the
    other, as ``cat a.gz b.gz`` makes), at most a step at a time; after the iteration,
    ``damaged`` says whether the data was cut short or corrupt."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self.read = read
        self.damaged = False

    def __iter__(self) -> Iterator[bytes]:
        inflater, data = zlib.decompressobj(16 + zlib.MAX_WBITS), b""
        while True:
            if not data:
                data = self.read(_CHUNK // 4)
            if not data:  # the input ended: cleanly only at the end of a member
                with contextlib.suppress(zlib.error):
                    if rest := inflater.flush():
                        yield rest
                self.damaged = not inflater.eof
                return
            try:
                piece = inflater.decompress(data, _CHUNK)
            except zlib.error:
                self.damaged = True
                return
            if piece:
                yield piece
            data = inflater.unconsumed_tail
            if inflater.eof:
                data = inflater.unused_data or self.read(_CHUNK // 4)
                if data[:2] != _GZIP_MAGIC:
                    return  # the end, or trailing bytes that are no gzip member: ignored
                inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)


_CUT_LINE = b"\x00truncated\n"  # stands for a line cut by damage: counted malformed
_LONG_LINE = b"\x00long line\n"  # stands for a line too long to read: counted malformed


def _pieces(read: Callable[[int], bytes], start: int, end: int) -> Iterator[bytes]:
    """Bytes ``start`` to ``end`` of gzip data's decompressed content, a step at a time."""
    at = 0
    for piece in _Gunzip(read):
        if at + len(piece) > start:
            yield piece[max(0, start - at):end - at]
        at += len(piece)
        if at >= end:
            return


@contextlib.contextmanager
def _reopen(source: Source, content: _Content) -> Iterator:
    """The local file ``content`` was scanned from, open for reading; OSError if another
    file has taken its name since (the next run reads that one)."""
    with source.path.open("rb") as handle:
        stat = os.fstat(handle.fileno())
        if (stat.st_dev, stat.st_ino) != content.inode:
            raise OSError("replaced while it was read (the next run reads it)")
        yield handle


def _regzip(source: Source, body: bytes | None, content: _Content) -> bytes:
    """The new part of a gzip file's content, compressed again (fast level): a damaged or
    partly ingested gzip file is read from memory without ever holding its decompressed
    content (a truncated 3 MB file can hold gigabytes)."""
    out = io.BytesIO()
    packer = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with contextlib.ExitStack() as stack:
        if body is None:
            read = stack.enter_context(_reopen(source, content)).read
        else:
            read = io.BytesIO(body).read
        for piece in _pieces(read, content.ingested, content.length):
            out.write(packer.compress(piece))
    if content.cut_line:
        out.write(packer.compress(_CUT_LINE))
    out.write(packer.flush())
    return out.getvalue()


def _without_long_lines(data: bytes) -> bytes:
    """``data`` with every line longer than DuckDB reads (``logs.MAX_LINE``) replaced by a
    short malformed line, so that it is counted, not silently dropped.

    Jumps a window at a time: a window that holds a newline holds only short lines before
    its last one.
    """
    limit, parts, pos, kept = logs.MAX_LINE, [], 0, 0
    while len(data) - pos > limit:
        end = data.rfind(b"\n", pos, pos + limit + 1)
        if end >= 0:
            pos = end + 1
            continue
        stop = data.find(b"\n", pos)
        parts += [data[kept:pos], _LONG_LINE]
        pos = kept = len(data) if stop < 0 else stop + 1
    return b"".join([*parts, data[kept:]]) if parts else data


def _content_bytes(source: Source, body: bytes | None, content: _Content) -> bytes:
    """The new part of a file's content (from ``content.ingested`` to its ``length``),
    decompressed, over-long lines and a line cut by damage counted as malformed."""
    if body is None:
        with _reopen(source, content) as handle:
            if content.gzip:
                data = b"".join(_pieces(handle.read, content.ingested, content.length))
            else:
                handle.seek(content.ingested)
                data = handle.read(content.length - content.ingested)
            if len(data) < content.length - content.ingested:
                raise OSError("truncated while it was read (the next run reads it)")
    elif content.gzip:
        data = b"".join(_pieces(io.BytesIO(body).read, content.ingested, content.length))
    else:
        data = body[content.ingested:content.length]
    data = _without_long_lines(data)
    return data + _CUT_LINE if content.cut_line else data


# --- the work ----------------------------------------------------------------------------


@dataclass
class _Item:
    """A file ready to read: where DuckDB finds it, and what the database records."""

    source: Source
    content: _Content  # what the database records: digest, length, raw size, stamp
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
                    echo: Callable[[str], None] | None, progress: bool,
                    robust: bool) -> IngestReport:
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
                memory.drop([item.location for item in batch])
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
    """Scan the new files (content hash, already-ingested prefix, format) and group the
    readable ones into batches."""
    seen = {digest for (digest,) in con.execute("SELECT digest FROM files").fetchall()}
    marks = store.ingested_prefixes(con)
    pending: dict[tuple, list[_Item]] = {}
    pending_size: dict[tuple, int] = {}
    for source, scanned in _ahead(new, marks):
        item = _prepare(source, scanned, seen, memory, report)
        if item is None:
            if bar is not None:
                bar.update(source.size)
            continue
        seen.add(item.content.digest)
        group = (item.sniffed, item.compression, item.in_memory)
        pending.setdefault(group, []).append(item)
        pending_size[group] = pending_size.get(group, 0) + item.size
        if pending_size[group] >= (MEMORY_BATCH_BYTES if item.in_memory else BATCH_BYTES):
            yield pending.pop(group)
            pending_size.pop(group)
    yield from pending.values()


def _ahead(sources: list[Source], marks: dict[int, set[str]],
           ahead: int = 32) -> Iterator[tuple[Source, Future]]:
    """The sources in order, each with its scan under way ``ahead`` sources in advance:
    S3 objects downloaded and scanned :data:`_FETCHERS` at a time (S3 writes many small log
    files, and fetching them one by one would wait on the network for each), local files
    scanned by one thread (hashing, C code without the GIL, overlaps DuckDB reading the
    batch before).
    """
    remote = any(s.s3 is not None for s in sources)
    client = _fetch_client() if remote else None
    fetcher = ThreadPoolExecutor(max_workers=_FETCHERS) if remote else None
    hasher = ThreadPoolExecutor(max_workers=1)
    queue: deque[tuple[Source, Future]] = deque()
    try:
        for source in sources:
            if source.s3 is not None:
                queue.append((source, fetcher.submit(_fetch_and_scan, source, client)))
            else:
                queue.append((source, hasher.submit(_scan_local, source.path, marks)))
            if len(queue) > ahead:
                yield queue.popleft()
        while queue:
            yield queue.popleft()
    finally:
        for pool in (fetcher, hasher):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)


def _fetch_client():
    """The S3 client of the storage settings, with a connection for each fetcher (boto3
    clients are thread-safe; botocore's default pool holds 10 connections)."""
    from botocore.config import Config

    from podcast.storage import s3_client

    client = s3_client()
    meta = getattr(client, "meta", None)
    if meta is None:
        return client
    import boto3

    return boto3.client("s3", config=meta.config.merge(
        Config(max_pool_connections=_FETCHERS)))


def _fetch_and_scan(source: Source, client) -> tuple[_Content, bytes]:
    """Download an S3 object and scan it (in a fetcher thread)."""
    body = _read_bytes(source, client)
    return _scan_bytes(body, source), body


def _prepare(source: Source, scanned: Future, seen: set[str], memory: _Memory,
             report: IngestReport) -> _Item | None:
    """One source as a readable item, or None (nothing new in it, or skipped and why)."""
    try:
        if source.path is not None:
            content, body = scanned.result(), None
        else:
            content, body = scanned.result()
    except _TooLarge:
        report.skipped.append((source.name, f"expands past {MAX_EXPANDED // 2**20} MiB "
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
        item.location = memory.put(source.name + ".gz", _regzip(source, body, content))
        item.compression, item.size = "gzip", content.length - content.ingested
    else:
        # Plain content waits in the item: a batch of many small S3 objects is read as
        # one memory file (fsspec's memory file system slows down with every file in it).
        item.data = _content_bytes(source, body, content)
        item.compression, item.size = "none", len(item.data)
    return item


def _unchanged(item: _Item) -> bool:
    """The local file still holds exactly the bytes scanned (DuckDB reads to its end)."""
    try:
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
        data = _content_bytes(item.source, None, item.content)
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
    geoip: _GeoIP | None
    agent_rules: agents.ExtraRules = agents.NO_EXTRA_RULES
    agent_cache: dict[str, agents.Agent] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = counting.media_by_name(self.catalog.all_media())
        self.slugs = frozenset(m.slug for m in self.catalog.all_media())
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
               [located, [self.geoip.country(ip) for ip in located]])
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


# The value-level rules, in REASONS order, for the lines that passed the line-level ones.
# An agent missing from ``agents`` is NULL (no User-Agent at all): a bot.  ``visit``: a
# person opened an episode page through a share link (its lines stay ``unknown_object``:
# a page is no download).
_CLASSIFY_SQL = """
CREATE OR REPLACE TEMP TABLE classified AS
SELECT *, verdict = 'unknown_object' AND page IS NOT NULL AND via IS NOT NULL AND ok > 0
          AND NOT bot AS visit
FROM (
SELECT d.day, d.period, p.key, p.page, g.site, g.h, g.h2, g.bytes, g.ok, g.probe,
       g.malformed, g.not_get, g.bad_status, g.via, g.via_ref, coalesce(w.bot, true) AS bot,
       CASE WHEN g.ok + g.probe = 0 THEN 'none'
            WHEN d.day IS NULL OR w.address IS NULL THEN 'malformed'
            WHEN p.key IS NULL THEN 'unknown_object'
            WHEN w.bot THEN 'bots'
            ELSE 'listener' END AS verdict
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

