"""A misbehaving network between `podcast` and a real S3 server, for fault-injection tests.

:class:`FaultyProxy` listens on 127.0.0.1 and forwards HTTP/1.1 requests, byte for byte, to
a real S3 endpoint (moto server, SeaweedFS).  For each request a seeded random generator
decides whether to pass it through or to inject one fault:

``500``
    answer ``500 InternalError`` without forwarding (S3's "please retry" error).
``503``
    answer ``503`` with S3's ``SlowDown`` XML body (throttling), without forwarding.
``reset-request``
    read the request, then reset the TCP connection (RST) without forwarding it: nothing
    reaches S3.
``reset-response``
    forward the request (S3 *does* apply it), then send half of the answer and reset: the
    client cannot know whether its write happened.
``stall``
    forward the request, then hold the answer back ``stall_seconds`` before sending it.
    Longer than the client's read timeout, this is a lost answer to an applied request.

The same seed and the same request sequence give the same faults, so a failing run can be
replayed.  ``max_faults`` bounds how many faults one proxy injects in total.  ``stats``
counts requests and faults by kind, for the reliability table in ``docs/reliability.md``.

    with moto_s3() as s3, FaultyProxy(s3.endpoint, rate=0.3, seed=7) as proxy:
        env["AWS_ENDPOINT_URL"] = proxy.endpoint
"""

from __future__ import annotations

import random
import socket
import socketserver
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlparse

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
FAULT_KINDS = ("500", "503", "reset-request", "reset-response", "stall")

_ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>{message}</Message>"
    "<RequestId>faulty-proxy</RequestId></Error>"
)
_ERRORS = {
    "500": (500, "Internal Server Error", "InternalError",
            "We encountered an internal error. Please try again."),
    "503": (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
}


@dataclass
class FaultPlan:
    """Which faults to inject, how often, and how many at most."""

    rate: float = 0.2  # probability that one request gets a fault
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS
    max_faults: int | None = None  # None: no bound
    stall_seconds: float = 3.0

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within 0..1, got {self.rate}")


@dataclass
class ProxyStats:
    """What the proxy saw: requests, forwarded requests, and faults by kind."""

    requests: int = 0
    forwarded: int = 0
    faults: Counter = field(default_factory=Counter)

    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())


class _Message:
    """One raw HTTP/1.1 message read from a socket: head bytes, parsed headers, body bytes."""

    def __init__(self, head: bytes, body: bytes) -> None:
        self.head = head
        self.body = body
        lines = head.decode("latin-1").split("\r\n")
        self.start_line = lines[0]
        self.headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                self.headers[name.strip().lower()] = value.strip()

    @property
    def raw(self) -> bytes:
        return self.head + self.body


class _Reader:
    """Buffered reads of HTTP heads, fixed-length and chunked bodies from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def head(self) -> bytes | None:
        """Bytes up to and including the blank line; None if the peer closed first."""
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                if self.buffer:
                    raise ConnectionError("peer closed in the middle of a message head")
                return None
        end = self.buffer.index(b"\r\n\r\n") + 4
        head, self.buffer = self.buffer[:end], self.buffer[end:]
        return head

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise ConnectionError("peer closed in the middle of a body")
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError("peer closed in the middle of a chunk")
        end = self.buffer.index(b"\r\n") + 2
        data, self.buffer = self.buffer[:end], self.buffer[end:]
        return data

    def chunked(self) -> bytes:
        """A raw chunked body, trailer included, exactly as sent."""
        out = b""
        while True:
            size_line = self.line()
            out += size_line
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailer lines up to the blank line
                    trailer = self.line()
                    out += trailer
                    if trailer == b"\r\n":
                        return out
            out += self.exactly(size + 2)

    def until_close(self) -> bytes:
        while self._fill():
            pass
        data, self.buffer = self.buffer, b""
        return data

    def message(self, *, request: bool, method: str = "GET",
                on_expect=None) -> _Message | None:
        head = self.head()
        if head is None:
            return None
        message = _Message(head, b"")
        if request and message.headers.get("expect", "").lower() == "100-continue":
            # Answer the continue ourselves and drop the header upstream, so the client
            # sends its body at once instead of waiting for a timeout.
            if on_expect is not None:
                on_expect()
            message = _Message(_without_header(head, "expect"), b"")
        headers = message.headers
        status = 0 if request else int(message.start_line.split()[1])
        if not request and (method == "HEAD" or status in (204, 304) or status < 200):
            return message
        if "chunked" in headers.get("transfer-encoding", "").lower():
            message.body = self.chunked()
        elif "content-length" in headers:
            message.body = self.exactly(int(headers["content-length"]))
        elif not request:
            message.body = self.until_close()
        return message


def _without_header(head: bytes, name: str) -> bytes:
    lines = head.split(b"\r\n")
    kept = [line for line in lines if not line.lower().startswith(name.encode() + b":")]
    return b"\r\n".join(kept)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST (linger 0) instead of an orderly FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def _error_response(kind: str) -> bytes:
    status, reason, code, message = _ERRORS[kind]
    body = _ERROR_BODY.format(code=code, message=message).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\nx-amz-request-id: faulty-proxy\r\n\r\n")
    return head.encode() + body


class FaultyProxy:
    """A fault-injecting HTTP/1.1 proxy on 127.0.0.1 in front of ``upstream`` (a base URL)."""

    def __init__(self, upstream: str, *, rate: float = 0.2, seed: int = 0,
                 kinds: tuple[str, ...] = FAULT_KINDS, max_faults: int | None = None,
                 stall_seconds: float = 3.0) -> None:
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.plan = FaultPlan(rate=rate, seed=seed, kinds=tuple(kinds), max_faults=max_faults,
                              stall_seconds=stall_seconds)
        self.stats = ProxyStats()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` to give the client instead of the real endpoint."""
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultyProxy:
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve_connection(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, wake stalled answers and close every open connection."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultyProxy:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- decisions -------------------------------------------------------------------

    def _decide(self) -> str | None:
        """The fault for the next request (None: pass it through), from the seeded RNG."""
        with self._lock:
            self.stats.requests += 1
            # Always draw both numbers so the sequence does not depend on the bound.
            hit = self._random.random() < self.plan.rate
            kind = self._random.choice(self.plan.kinds) if self.plan.kinds else None
            bounded = (self.plan.max_faults is not None
                       and self.stats.total_faults >= self.plan.max_faults)
            if not hit or kind is None or bounded:
                return None
            self.stats.faults[kind] += 1
            return kind

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            (self._sockets.add if add else self._sockets.discard)(sock)

    # --- one client connection -------------------------------------------------------

    def _serve_connection(self, client: socket.socket) -> None:
        self._track(client, True)
        upstream: socket.socket | None = None
        try:
            reader = _Reader(client)
            up_reader: _Reader | None = None
            while not self._stopping.is_set():
                request = reader.message(request=True, on_expect=lambda: client.sendall(CONTINUE))
                if request is None:
                    return
                method = request.start_line.split(" ", 1)[0].upper()
                fault = self._decide()
                if fault in _ERRORS:
                    client.sendall(_error_response(fault))
                    continue
                if fault == "reset-request":
                    _reset(client)
                    return
                if upstream is None:
                    upstream = socket.create_connection(self.upstream, timeout=60)
                    self._track(upstream, True)
                    up_reader = _Reader(upstream)
                upstream.sendall(request.raw)
                response = up_reader.message(request=False, method=method)
                if response is None:
                    raise ConnectionError("the S3 server closed the connection")
                with self._lock:
                    self.stats.forwarded += 1
                if fault == "reset-response":
                    raw = response.raw
                    client.sendall(raw[: max(1, len(raw) // 2)])
                    _reset(client)
                    return
                if fault == "stall" and self._stopping.wait(self.plan.stall_seconds):
                    return
                client.sendall(response.raw)
                if response.headers.get("connection", "").lower() == "close":
                    return
        except (OSError, ConnectionError, ValueError):
            # The client gave up (e.g. read timeout during a stall) or sent garbage: drop it.
            return
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    self._track(sock, False)
                    try:
                        sock.close()
                    except OSError:
                        pass
