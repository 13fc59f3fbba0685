"""Serve stage: the local storage folder over HTTP, the way a podcast host must serve it.

Podcast apps send HEAD requests and byte ranges (``Range: bytes=a-b``) for audio; Apple
refuses a host that ignores them.  Every request is written to an access log in Apache's
combined format, with the body bytes the client received (acknowledged by its TCP stack,
not merely handed to ours: the kernel's buffers take megabytes a client that hung up never
got), so ``podcast stats ingest`` can count IAB downloads from it exactly as it does from a
CDN's logs.

Only the standard library (``http.server``): this is for local testing and small setups.
Nothing outside the folder is ever served: ``..`` (also percent-encoded), absolute paths and
symlinks that lead out are refused, and hidden files (writes in flight) and the store's state
(``.podcast/``: the manifest and the media of scheduled episodes; a manifest left at the old
``podcast-manifest.json``) answer 404, as if absent.

Every answer allows any origin (``Access-Control-Allow-Origin: *``): web players fetch the
chapters, transcripts and feed from their own site, and everything served here is public.
``OPTIONS`` answers a CORS preflight (e.g. for a ``Range`` header).

Hostile clients cost little and never stop it answering others: a request head (request
line and headers) must arrive whole within :data:`HEAD_TIMEOUT` (a byte now and then does
not extend it; idle keep-alive counts too), is limited in size (:data:`MAX_REQUEST_LINE`
answered 414, :data:`MAX_HEAD_BYTES` answered 431), and at most ``max_connections`` are open
at once: past that, the connection that has waited longest for its request head is closed
to make room, and when every connection is busy answering, the newcomer gets 503.  Client
errors are logged, never a traceback; the access log (raw addresses) is created 0600.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal, cast
from urllib.parse import unquote, urlsplit

from .errors import ConfigError
from .storage import LEGACY_MANIFEST_KEY, cache_control, content_type

CHUNK = 64 * 1024
#: How long an answer waits for the client to acknowledge its last bytes before it is
#: logged with what was acknowledged by then (a slow link drains the kernel's buffers).
ACK_WAIT = 60.0
_TCP_BYTES_ACKED = 120  # offset of tcpi_bytes_acked (u64) in Linux's struct tcp_info
_TCP_OPEN = (1, 8)  # ESTABLISHED, CLOSE_WAIT: the client may still acknowledge bytes
#: Seconds for a whole request head to arrive (and for an idle keep-alive connection).
HEAD_TIMEOUT = 10.0
#: Seconds a write may wait for a client that stopped reading (an app pausing a stream
#: while its buffer is full reads again long before this).
WRITE_TIMEOUT = 120.0
#: Longest request line (method, target, version) and whole request head, in bytes.
MAX_REQUEST_LINE = 8 * 1024
MAX_HEAD_BYTES = 32 * 1024
MAX_HEADER_LINES = 100
#: Connections open at once, at most; also kept below the file-descriptor limit.
MAX_CONNECTIONS = 256
#: Descriptors kept free for the log, the files being served and the listening socket.
RESERVED_FDS = 64
#: A byte position with more digits than this is past the end of any file.
MAX_POSITION_DIGITS = 18
RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
#: Sent with every answer: everything served is public, and web players on other sites
#: read the chapters, transcripts and feed (and range the audio) through fetch().
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range, Accept-Ranges",
}
#: The answer to a CORS preflight; a day of caching spares players a preflight per request.
PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range",
    "Access-Control-Max-Age": "86400",
}
ALLOWED_METHODS = "GET, HEAD, OPTIONS"


def parse_range(header: str | None,
                size: int) -> tuple[int, int] | None | Literal["unsatisfiable"]:
    """The inclusive byte span a ``Range`` header asks for.

    Returns ``(first, last)``; ``None`` when the whole file should be sent (no header, a
    header we do not understand, or several ranges, which RFC 9110 lets a server ignore);
    ``"unsatisfiable"`` when the range starts past the end (answer 416).
    """
    if not header:
        return None
    match = RANGE_RE.match(header)
    if not match or match.group(1) == match.group(2) == "":
        return None
    start_text, end_text = match.groups()
    if start_text == "":  # suffix range: the last N bytes
        length = _position(end_text)
        if length == 0:
            return "unsatisfiable"
        return (max(0, size - length), size - 1) if size else "unsatisfiable"
    first = _position(start_text)
    last = _position(end_text) if end_text else size - 1
    if end_text and last < first:
        return None  # syntactically invalid: ignore, as RFC 9110 says
    if first >= size:
        return "unsatisfiable"
    return first, min(last, size - 1)


def _position(digits: str) -> int:
    """A byte position; a huge one (5,000 digits) is simply larger than any file, without
    the int() of all its digits (refused past 4,300 by Python, and slow before that)."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= MAX_POSITION_DIGITS else 10 ** MAX_POSITION_DIGITS


def combined_log_line(ip: str, when: datetime, request_line: str, status: int, sent: int,
                      referer: str | None, agent: str | None) -> str:
    """One Apache combined log line (no newline); quotes and backslashes escaped."""

    def quoted(text: str | None) -> str:
        if not text:
            return "-"
        return text.replace("\\", "\\\\").replace('"', '\\"')

    stamp = when.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return (f'{ip} - - [{stamp}] "{quoted(request_line)}" {status} {sent} '
            f'"{quoted(referer)}" "{quoted(agent)}"')


class AccessLog:
    """An append-only combined log shared by the server's threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._lock:
            os.close(self._open())
        if self.path.stat().st_mode & 0o077:  # made readable by others before: not now
            self.path.chmod(0o600)

    def _open(self) -> int:
        # It holds raw IP addresses: owner-only, like the listener-hash key.
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, line: str) -> None:
        """Append one line; open-append-close so log rotation and readers see it at once
        (a log rotated away is created again, 0600 too)."""
        with self._lock, open(self._open(), "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


class _CountingWriter:
    """The connection's writer, counting every byte written (headers and bodies)."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.count = 0

    def write(self, data) -> int:
        written = self.raw.write(data)
        self.count += len(data)
        return written

    def flush(self) -> None:
        self.raw.flush()

    def __getattr__(self, name: str):
        return getattr(self.raw, name)


def _tcp_state(sock: socket.socket) -> tuple[int, int] | None:
    """(TCP state, bytes the peer acknowledged) of a connection; None where unknown."""
    if not hasattr(socket, "TCP_INFO"):
        return None  # not Linux: the bytes handed to the kernel are all we know
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    except OSError:
        return None
    if len(info) < _TCP_BYTES_ACKED + 8:
        return None  # a kernel older than 4.2
    return info[0], struct.unpack_from("Q", info, _TCP_BYTES_ACKED)[0]


def delivered(sock: socket.socket, start: int, sent: int, wait: float = ACK_WAIT) -> int:
    """Of the ``sent`` body bytes written after the connection's first ``start`` bytes,
    how many the client acknowledged, once it has them all, hung up, or ``wait`` passed."""
    deadline = time.monotonic() + wait
    pause = 0.001
    while True:
        state = _tcp_state(sock)
        if state is None:
            return sent
        status, acked = state
        if acked >= start + sent or status not in _TCP_OPEN or time.monotonic() > deadline:
            return max(0, min(sent, acked - start))
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class _HeadReader(io.RawIOBase):
    """The connection's bytes while a request head is awaited: every read waits only until
    ``deadline``, so a client sending a byte now and then cannot hold the connection."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = 0.0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request head did not arrive in time")
        self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


class _HeadTooLarge(Exception):
    """A request line or head over its limit: answered with ``status``, then closed."""

    def __init__(self, status: HTTPStatus, line: bytes) -> None:
        super().__init__(status.phrase)
        self.status = status
        self.line = line


class PodcastRequestHandler(BaseHTTPRequestHandler):
    """GET and HEAD with single byte ranges, for files under ``server.folder``."""

    server_version = "podcast-serve/1"
    protocol_version = "HTTP/1.1"
    server: PodcastHTTPServer

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the stock reader waits forever: reads go through the deadline
        self._reader = _HeadReader(self.connection)
        self.rfile = io.BufferedReader(self._reader, 16 * 1024)
        self._counter = _CountingWriter(self.wfile)
        # duck-typed: it forwards every other attribute to the stock writer
        self.wfile = cast(io.BufferedIOBase, self._counter)

    def handle_one_request(self) -> None:
        """Read one request head (whole within HEAD_TIMEOUT, within the size limits), then
        answer it as http.server does, from the head alone (no method here has a body)."""
        # (typeshed types these str/Message; http.server itself resets them to None)
        self.headers, self.command = None, None  # type: ignore[assignment]
        self.request_version = "HTTP/1.1"
        self.requestline = ""  # logged as "-" when no request line could be read
        self.server.waiting(self.connection)
        self._reader.deadline = time.monotonic() + HEAD_TIMEOUT
        try:
            head = self._read_head()
        except _HeadTooLarge as exc:
            self.requestline = _cut(exc.line)
            self._answer_and_close(exc.status)
            return
        except (TimeoutError, OSError):  # too slow, closed to make room, or gone
            self.close_connection = True
            if self._partial and self.server.answering(self.connection):
                self._answer_and_close(HTTPStatus.REQUEST_TIMEOUT)
            return
        if head is None or not self.server.answering(self.connection):
            self.close_connection = True
            return
        self._started = datetime.now(UTC)
        self.connection.settimeout(WRITE_TIMEOUT)
        stream, self.rfile = self.rfile, io.BytesIO(head)
        try:
            super().handle_one_request()
        finally:
            self.rfile = stream

    def _read_head(self) -> bytes | None:
        """The request line and header lines through the blank line; None when the client
        closed first.  _HeadTooLarge past the limits."""
        lines: list[bytes] = []
        size, self._partial = 0, False
        while True:
            limit = MAX_REQUEST_LINE if not lines else MAX_HEAD_BYTES - size
            line = self.rfile.readline(limit + 1)
            if not line.endswith(b"\n"):
                if len(line) > limit:
                    raise _HeadTooLarge(HTTPStatus.REQUEST_URI_TOO_LONG if not lines
                                        else HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                                        lines[0] if lines else line)
                return None  # closed before the head was complete: nothing to answer
            self._partial = True
            size += len(line)
            if not lines and line.strip() == b"":
                if size > MAX_REQUEST_LINE:  # blank lines before a request, without end
                    raise _HeadTooLarge(HTTPStatus.BAD_REQUEST, b"")
                continue  # RFC 9112: ignore empty lines before the request line
            lines.append(line)
            if line.strip() == b"":
                return b"".join(lines)
            if len(lines) > MAX_HEADER_LINES + 1:
                raise _HeadTooLarge(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, lines[0])

    def _answer_and_close(self, status: HTTPStatus) -> None:
        """Answer ``status`` to a request that could not be read, log it, close."""
        self.close_connection = True
        self.server.answering(self.connection)
        self.connection.settimeout(HEAD_TIMEOUT)
        try:
            self._send_status(status, extra={"Connection": "close"})
        except OSError:
            pass  # the client is gone: nothing to tell it

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, unknown method...): answered and
        logged like every other answer, then the connection is closed."""
        self.close_connection = True
        self.request_version = "HTTP/1.1"  # a status line even to what looked like HTTP/0.9
        self._send_status(HTTPStatus(code), extra={"Connection": "close"})

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        with self.server.in_flight():
            self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        with self.server.in_flight():
            self._answer(send_body=False)

    def do_OPTIONS(self) -> None:  # noqa: N802
        """A CORS preflight (or a plain OPTIONS): what a browser may ask, no body."""
        with self.server.in_flight():
            self._started = datetime.now(UTC)
            self.send_response(HTTPStatus.NO_CONTENT)
            self.send_header("Allow", ALLOWED_METHODS)
            for name, value in {**CORS_HEADERS, **PREFLIGHT_HEADERS}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self._log(HTTPStatus.NO_CONTENT, 0)

    def _refuse_method(self) -> None:
        self._send_status(HTTPStatus.METHOD_NOT_ALLOWED, extra={"Allow": ALLOWED_METHODS})

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse_method  # noqa: N815

    def log_request(self, code="-", size="-") -> None:
        """Silence http.server's stderr line; :meth:`_log` writes the access log instead."""

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        """Silence stderr noise (bad request lines are answered and logged anyway)."""

    # --- the answer ----------------------------------------------------------------

    def _answer(self, *, send_body: bool) -> None:
        self._started = datetime.now(UTC)
        path, status = self._resolve()
        try:
            size = path.stat().st_size if path is not None else 0
        except OSError:  # removed since it was found
            path, status = None, HTTPStatus.NOT_FOUND
        if path is None:
            self._send_status(status)
            return
        span = parse_range(self.headers.get("Range"), size)
        if span == "unsatisfiable":
            self._send_status(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                              extra={"Content-Range": f"bytes */{size}",
                                     "Accept-Ranges": "bytes"})
            return
        first, last = span if span else (0, size - 1)
        length = last - first + 1 if size else 0
        status = HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK
        key = path.relative_to(self.server.folder).as_posix()
        self.send_response(status)
        self.send_header("Content-Type", content_type(key))
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", cache_control(key))
        self.send_header("Last-Modified", formatdate(path.stat().st_mtime, usegmt=True))
        for name, value in CORS_HEADERS.items():
            self.send_header(name, value)
        if span:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        sent, start = 0, self._counter.count
        try:
            if send_body and length:
                with open(path, "rb") as handle:
                    handle.seek(first)
                    remaining = length
                    while remaining:
                        block = handle.read(min(CHUNK, remaining))
                        if not block:
                            break
                        self.wfile.write(block)
                        sent += len(block)
                        remaining -= len(block)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the app hung up; log what it got
        finally:
            self._log(status, delivered(self.connection, start, sent) if sent else 0)

    def _resolve(self) -> tuple[Path | None, HTTPStatus]:
        """The file a request path names, or None and the status to answer."""
        raw = urlsplit(self.path).path
        try:
            text = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return None, HTTPStatus.NOT_FOUND
        parts = [part for part in text.split("/") if part]
        if "\x00" in text or "\\" in text or any(p in (".", "..") for p in parts):
            return None, HTTPStatus.NOT_FOUND
        if any(part.startswith(".") for part in parts):
            # Temp files of writes in flight, dotfiles, and the state in .podcast/.
            return None, HTTPStatus.NOT_FOUND
        if parts == [LEGACY_MANIFEST_KEY]:
            return None, HTTPStatus.NOT_FOUND  # state from before it moved to .podcast/
        root = self.server.folder
        candidate = root.joinpath(*parts)
        try:  # a name too long for the file system is missing too (ENAMETOOLONG)
            if candidate.is_dir():
                candidate = candidate / "index.html"
            resolved = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None, HTTPStatus.NOT_FOUND
        if root not in resolved.parents:
            return None, HTTPStatus.FORBIDDEN  # a symlink that leads out of the folder
        inside = resolved.relative_to(root).parts
        if any(part.startswith(".") for part in inside) or inside == (LEGACY_MANIFEST_KEY,):
            return None, HTTPStatus.NOT_FOUND  # a symlink to the state is still state
        if not resolved.is_file():
            return None, HTTPStatus.NOT_FOUND
        return resolved, HTTPStatus.OK

    def _send_status(self, status: HTTPStatus, extra: dict[str, str] | None = None) -> None:
        if not hasattr(self, "_started") or status in _UNREAD:
            self._started = datetime.now(UTC)
        body = f"{status.value} {status.phrase}\n".encode()
        send_body = self.command != "HEAD"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**CORS_HEADERS, **(extra or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        sent = 0
        try:
            if send_body:
                self.wfile.write(body)
                sent = len(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        self._log(status, sent)

    def _log(self, status: int, sent: int) -> None:
        headers: Message | dict[str, str] = self.headers or {}
        self.server.log.write(combined_log_line(
            self.client_address[0], self._started, _cut(self.requestline), int(status), sent,
            headers.get("Referer"), headers.get("User-Agent")))


#: Answers to requests that could not be read (no request started the clock).
_UNREAD = (HTTPStatus.REQUEST_URI_TOO_LONG, HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
           HTTPStatus.REQUEST_TIMEOUT)


def _cut(line: bytes | str, limit: int = 1024) -> str:
    """A request line as logged: text, without its line end, cut to ``limit`` characters."""
    if isinstance(line, bytes):
        line = line.decode("iso-8859-1")
    line = line.rstrip("\r\n")
    return line if len(line) <= limit else line[:limit] + "…"


def connection_limit(wanted: int = MAX_CONNECTIONS) -> int:
    """``wanted``, lowered to leave :data:`RESERVED_FDS` of the process's descriptor limit
    free (``ulimit -n`` is often 1024): past the cap a client gets a 503, not an EMFILE."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return wanted
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, soft - RESERVED_FDS))


class PodcastHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its folder and its access log, and how many
    connections it holds (at most ``max_connections``: see the module's docstring)."""

    daemon_threads = True
    #: Pending connections the kernel queues before accept (the default 5 drops SYNs).
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], folder: Path, log_path: Path,
                 max_connections: int | None = None) -> None:
        self.folder = Path(folder).resolve()
        self.log = AccessLog(log_path)
        self.max_connections = max_connections or connection_limit()
        self._busy = 0
        self._idle = threading.Condition()
        # Open connections -> since when each awaits a request head (None: answering).
        self._open: dict[socket.socket, float | None] = {}
        self._closing: set[socket.socket] = set()  # closed to make room, thread still ending
        self._open_lock = threading.Condition()
        self._refused = 0
        self._noted = 0.0
        super().__init__(address, PodcastRequestHandler)

    # --- the connection cap ------------------------------------------------------------

    def process_request(self, request, client_address) -> None:
        """Admit the connection (making room if needed) and answer it in a thread of its
        own, or answer 503 at once when every connection is busy answering."""
        if not self._admit(request):
            self._refuse(request, client_address)
            return
        super().process_request(request, client_address)

    def _admit(self, sock: socket.socket) -> bool:
        def full() -> bool:
            return len(self._open) + len(self._closing) >= self.max_connections

        with self._open_lock:
            if full():
                # The longest waiting, an eighth of the cap at a time: a flood of new
                # connections then waits for one batch of threads to end, not one each.
                waiting = sorted((since, id(s), s) for s, since in self._open.items()
                                 if since is not None)
                for _, _, oldest in waiting[:max(1, self.max_connections // 8)]:
                    del self._open[oldest]
                    self._closing.add(oldest)
                    with contextlib.suppress(OSError):  # its thread reads end-of-file
                        oldest.shutdown(socket.SHUT_RDWR)
                self._open_lock.wait_for(lambda: not full(), timeout=0.5)
                if full():
                    return False
            self._open[sock] = time.monotonic()
            return True

    def waiting(self, sock: socket.socket) -> None:
        """``sock`` awaits a request head: it may be closed to make room for another."""
        with self._open_lock:
            if sock in self._open:
                self._open[sock] = time.monotonic()

    def answering(self, sock: socket.socket) -> bool:
        """``sock`` has a request to answer: it keeps its place; False if it was closed to
        make room meanwhile."""
        with self._open_lock:
            if sock not in self._open:
                return False
            self._open[sock] = None
            return True

    def shutdown_request(self, request) -> None:
        super().shutdown_request(request)
        with self._open_lock:
            self._open.pop(request, None)
            self._closing.discard(request)
            self._open_lock.notify_all()

    def _refuse(self, sock: socket.socket, client_address) -> None:
        """503 without reading the request (the accept loop must not wait on a client)."""
        body = b"503 Service Unavailable\n"
        fields = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": len(body),
                  "Retry-After": 5, "Connection": "close", **CORS_HEADERS}
        head = ("HTTP/1.1 503 Service Unavailable\r\n"
                + "".join(f"{name}: {value}\r\n" for name, value in fields.items())
                + "\r\n").encode("latin-1")
        started, sent = datetime.now(UTC), 0
        try:
            sock.setblocking(False)  # a fresh socket's buffer takes it whole
            sent = max(0, sock.send(head + body) - len(head))
        except OSError:
            pass
        self.log.write(combined_log_line(client_address[0], started, "-", 503, sent,
                                         None, None))
        self.shutdown_request(sock)
        self._refused += 1
        self._note(f"{self._refused} connection(s) answered 503 so far: all "
                   f"{self.max_connections} connections are busy answering requests")

    def _note(self, message: str) -> None:
        """One line on stderr, at most every 10 s (a flood must not flood the terminal)."""
        now = time.monotonic()
        if now - self._noted >= 10:
            self._noted = now
            sys.stderr.write(f"podcast serve: {message}\n")

    def get_request(self):
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                # The connection stays queued; pause instead of spinning on it.
                self._note(f"cannot accept a connection: {exc.strerror}")
                time.sleep(0.05)
            raise

    def handle_error(self, request, client_address) -> None:
        """One line for an unexpected error, nothing for a client that went away or was
        too slow: never a traceback (socketserver prints one by default)."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        sys.stderr.write(f"podcast serve: error while answering a request: "
                         f"{type(error).__name__}: {error}\n")

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        """Mark one request as being answered (and its log line not yet written)."""
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def server_close(self) -> None:
        """Close, once the requests being answered have written their log lines.

        A request's line waits for the client's acknowledgements (up to ACK_WAIT): without
        this wait, stopping the server dropped the line of a download that had just been
        served, and stats never counted it.  Idle keep-alive connections do not hold it up.
        """
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, timeout=ACK_WAIT)
        super().server_close()


def make_server(folder: Path, *, host: str = "127.0.0.1", port: int = 8000,
                log_path: Path, max_connections: int | None = None) -> PodcastHTTPServer:
    """A ready server (port 0 picks a free one: see ``server.server_address``).

    ``max_connections``: connections open at once (default :func:`connection_limit`).

    Run it with ``serve_forever()`` (in a thread for tests) and stop it with ``shutdown()``
    then ``server_close()``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"folder {folder} does not exist", file=folder,
                          fix="run `podcast publish` first, or pass --root FOLDER")
    try:
        return PodcastHTTPServer((host, port), folder, log_path, max_connections)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}", field="--port",
                          fix="pick another port with --port N") from None


@contextlib.contextmanager
def serving(folder: Path, *, host: str = "127.0.0.1", port: int = 0,
            log_path: Path, max_connections: int | None = None
            ) -> Iterator[PodcastHTTPServer]:
    """Run a server in a background thread for the ``with`` block (tests, the demo).

    ``server.server_address[1]`` is the port; the server is shut down and closed on exit.
    """
    server = make_server(folder, host=host, port=port, log_path=log_path,
                         max_connections=max_connections)
    # A short poll interval: shutdown() waits for the loop to notice.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def serve(folder: Path, *, host: str, port: int, log_path: Path) -> None:
    """Serve ``folder`` until interrupted (Ctrl-C)."""
    # One thread per connection (up to the cap): 1 MiB stacks instead of 8 keep 256 of
    # them at 256 MiB of address space (the handlers' calls are shallow).
    threading.stack_size(1024 * 1024)
    server = make_server(folder, host=host, port=port, log_path=log_path)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def serve_paths(config: str | Path | None, root: str | Path | None,
                log_path: str | Path | None) -> tuple[Path, Path]:
    """The folder to serve and the log to write, from the CLI options and the config.

    The folder defaults to the ``file://`` storage folder of the show; the log to
    ``.podcast/access.log`` beside podcast.yaml.
    """
    from .config import load_show
    from .storage import FileStore, open_store

    show = None
    if root is None:
        show = load_show(config)
    elif log_path is None:
        try:  # serving any folder needs no show, but its log belongs beside the config
            show = load_show(config)
        except ConfigError:
            show = None
    if root is not None:
        folder = Path(root)
    else:
        assert show is not None  # loaded above when there is no --root
        store = open_store(show.storage, show.root)
        if not isinstance(store, FileStore):
            raise ConfigError(f"storage {show.storage} is not a local folder",
                              file=show.config_path, field="storage",
                              fix="serve a folder with --root FOLDER (S3 serves itself)")
        folder = store.folder
    if log_path is not None:
        log = Path(log_path)
    else:
        log = (show.state_dir if show else Path(".podcast")) / "access.log"
    return folder, log
