"""A log file's content: what it holds, and which of it is new.

A file is known by its content, never by its name: BLAKE3 of its first ``length`` bytes
(decompressed, for gzip), recorded with that length.  Exactly the bytes hashed are read,
so a log that grows while it is ingested is counted up to there, and the next run reads
the rest; a file whose first ``length`` bytes match a recorded digest, whatever it is
called now (``access.log`` renamed ``access.log.1``, or compressed ``access.log.2.gz``),
is read from there on.  :func:`ahead` scans the files an ingest reads in advance of it
(S3 objects downloaded many at a time).
"""

from __future__ import annotations

import contextlib
import io
import os
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import blake3

from podcast.stats import logs, sources
from podcast.stats.sources import Source

#: The first bytes of a file's content kept to detect its format.
SNIFF_BYTES = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"

#: A gzip log that expands past this many bytes is skipped, named, with the reason (a
#: damaged file or a decompression bomb would otherwise hold the ingest); the rest goes on.
MAX_EXPANDED = 1 << 30
_CHUNK = 4 * 1024 * 1024  # read, inflate and hash step
#: A run this long without a newline is a line DuckDB may drop without a word (past its
#: 32 MiB buffer): the file is then read through memory, each over-long line replaced by
#: one malformed line.  Any such run spans a whole step, so checking steps finds it.
_LONG_RUN = 2 * _CHUNK
#: A plain file modified this recently may end in a line still being written: that last
#: line waits for the next run, which reads the file from there.
_RESTING_NS = 60 * 10**9


class TooLarge(Exception):
    """A gzip file that expands past :data:`MAX_EXPANDED`."""


@dataclass
class Content:
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


def scan_local(path: Path, marks: dict[int, set[str]]) -> Content:
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


def _scan_plain(handle, stat: os.stat_result, marks: dict[int, set[str]]) -> Content:
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
            head = bytes(view[:min(count, SNIFF_BYTES)])
        at += count
    view.release()
    return Content(digest.hash.hexdigest(), at, at, str(stat.st_mtime_ns), head,
                    ingested=digest.ingested, long_lines=digest.long_lines)


def _last_line_end(handle, end: int) -> int:
    """The offset just after the last newline in the first ``end`` bytes (0: none)."""
    handle.seek(end - 1)
    if handle.read(1) == b"\n":
        return end
    while end > 0:
        start = max(0, end - SNIFF_BYTES)
        handle.seek(start)
        found = handle.read(end - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def scan_bytes(data: bytes, source: Source) -> Content:
    """What a downloaded S3 object holds (objects never change: no prefix to look for)."""
    if data[:2] == _GZIP_MAGIC:
        return _scan_gzip(io.BytesIO(data).read, {}, len(data), source.stamp)
    digest = _Digest({})
    for start in range(0, len(data), _CHUNK):
        piece = data[start:start + _CHUNK]
        digest.update(piece, piece.find(b"\n"), piece.rfind(b"\n"))
    return Content(digest.hash.hexdigest(), len(data), len(data), source.stamp,
                    data[:SNIFF_BYTES], long_lines=digest.long_lines)


def _scan_gzip(read: Callable[[int], bytes], marks: dict[int, set[str]], raw: int,
               stamp: str) -> Content:
    """Hash a gzip file's decompressed content a step at a time, never holding it whole."""
    digest, head, gunzip = _Digest(marks, lines=True), b"", _Gunzip(read)
    for piece in gunzip:
        if len(head) < SNIFF_BYTES:
            head += piece[:SNIFF_BYTES - len(head)]
        digest.update(piece, piece.find(b"\n"), piece.rfind(b"\n"))
        if digest.length > MAX_EXPANDED:
            raise TooLarge
    if gunzip.damaged:  # the content is what ends at the last whole line
        assert digest.line_hash is not None  # _Digest(lines=True) keeps it
        return Content(digest.line_hash.hexdigest(), digest.line_end, raw, stamp, head,
                        gzip=True, ingested=min(digest.ingested, digest.line_end),
                        damaged=True, cut_line=digest.length > digest.line_end,
                        long_lines=digest.long_lines)
    return Content(digest.hash.hexdigest(), digest.length, raw, stamp, head, gzip=True,
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
def _reopen(source: Source, content: Content) -> Iterator:
    """The local file ``content`` was scanned from, open for reading; OSError if another
    file has taken its name since (the next run reads that one)."""
    assert source.path is not None  # only a local file is reopened
    with source.path.open("rb") as handle:
        stat = os.fstat(handle.fileno())
        if (stat.st_dev, stat.st_ino) != content.inode:
            raise OSError("replaced while it was read (the next run reads it)")
        yield handle


def regzip(source: Source, body: bytes | None, content: Content) -> bytes:
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


def content_bytes(source: Source, body: bytes | None, content: Content) -> bytes:
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


def ahead(found: list[Source], marks: dict[int, set[str]],
          depth: int = 32) -> Iterator[tuple[Source, Future]]:
    """The sources in order, each with its scan under way ``depth`` sources in advance:
    S3 objects downloaded and scanned :data:`~podcast.stats.sources.FETCHERS` at a time
    (S3 writes many small log files, and fetching them one by one would wait on the
    network for each), local files scanned by one thread (hashing, C code without the
    GIL, overlaps DuckDB reading the batch before).
    """
    remote = any(s.s3 is not None for s in found)
    client = sources.fetch_client() if remote else None
    fetcher = ThreadPoolExecutor(max_workers=sources.FETCHERS) if remote else None
    hasher = ThreadPoolExecutor(max_workers=1)
    queue: deque[tuple[Source, Future]] = deque()
    try:
        for source in found:
            if source.s3 is not None:
                assert fetcher is not None  # made when any source is an S3 object
                queue.append((source, fetcher.submit(_fetch_and_scan, source, client)))
            else:
                assert source.path is not None  # a source is an S3 object or a local file
                queue.append((source, hasher.submit(scan_local, source.path, marks)))
            if len(queue) > depth:
                yield queue.popleft()
        while queue:
            yield queue.popleft()
    finally:
        for pool in (fetcher, hasher):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)


def _fetch_and_scan(source: Source, client) -> tuple[Content, bytes]:
    """Download an S3 object and scan it (in a fetcher thread)."""
    body = sources.read_bytes(source, client)
    return scan_bytes(body, source), body

