"""Outbound HTTP: the one client for WebSub pings, ``validate``'s fetches and ``doctor``.

Every request the product sends to a server it does not run goes through :func:`request`,
which bounds what a hostile or broken server can do to a run:

* an overall deadline per request, connection to last body byte (``PODCAST_HTTP_TIMEOUT``
  seconds, default 30): a server that trickles one byte every 2 s cannot hold a nightly
  job, because a timer shuts the socket down when the deadline passes;
* capped sizes: at most :data:`MAX_HEADER_BYTES` of response headers, and at most the
  caller's ``limit`` of body (nothing more is read);
* redirects only where the caller allows them (``validate`` and ``doctor`` follow up to 5,
  each hop checked like the first; the WebSub POST follows none: a 3xx is its answer);
* no request to a loopback, link-local, private or otherwise non-public address unless
  the caller allows local addresses (the show itself lives on one, as in a local test):
  the host is resolved once, every address it resolves to is checked, and the connection
  goes to a checked address (a second DNS answer cannot swap in another).

Failures are :class:`OutboundError` (an ``OSError``); their messages quote URLs only through
:func:`podcast.text.safe_url`, so no password or token of a URL is printed.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from .errors import PodcastError
from .text import safe_url

#: Seconds one request may take in all, connection to last body byte, by default.
DEFAULT_TIMEOUT = 30.0
TIMEOUT_VARIABLE = "PODCAST_HTTP_TIMEOUT"
#: Response headers larger than this are refused (http.client also caps each line at 64 KiB
#: and their number at 100 while reading them).
MAX_HEADER_BYTES = 64 * 1024
#: Body bytes read when the caller names no limit.
DEFAULT_BODY_LIMIT = 1024 * 1024
REDIRECTS = (301, 302, 303, 307, 308)


class OutboundError(OSError):
    """A request that got no usable answer: refused address, deadline, broken answer."""


class RefusedAddress(OutboundError):
    """The URL's host is (or resolves to) an address requests may not go to."""


class DeadlineExceeded(OutboundError):
    """The server did not finish its answer within the deadline."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, lower-cased headers, the first ``limit`` bytes of the body."""

    status: int
    headers: dict[str, str]
    body: bytes
    url: str  # after the redirects followed
    reason: str = ""  # the status line's words ("Not Found")


def timeout() -> float:
    """Seconds one request may take (``PODCAST_HTTP_TIMEOUT``, default 30)."""
    text = os.environ.get(TIMEOUT_VARIABLE)
    try:
        value = float(text) if text else DEFAULT_TIMEOUT
        if not value > 0 or value == float("inf"):
            raise ValueError
    except ValueError:
        raise PodcastError(f"{TIMEOUT_VARIABLE} is not a positive number of seconds",
                           field=TIMEOUT_VARIABLE, fix="e.g. 10, or unset it for 30") from None
    return value


# --- which addresses ---------------------------------------------------------------------


def is_public_address(address: str) -> bool:
    """Whether ``address`` (an IP literal) is a public one: not loopback, link-local,
    private, shared, reserved, multicast or unspecified (an IPv4 address written as IPv6
    is judged as the IPv4 one)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int, within: float | None = None) -> list[str]:
    """The addresses ``host`` resolves to (an IP literal resolves to itself), within
    ``within`` seconds (default :func:`timeout`): a resolver that does not answer is a
    missed deadline too."""
    try:
        return [str(ipaddress.ip_address(host))]  # a literal: no lookup
    except ValueError:
        pass
    seconds = timeout() if within is None else within
    found: list[list[tuple] | BaseException] = []  # getaddrinfo's answer or its error

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            found.append(exc)

    # getaddrinfo has no timeout of its own: it runs aside, and is left behind if late.
    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    if not found:
        raise DeadlineExceeded(f"its host name did not resolve within {seconds:g} s")
    if isinstance(found[0], BaseException):
        raise OutboundError(f"its host name does not resolve ({found[0]})")
    return list(dict.fromkeys(str(info[4][0]) for info in found[0]))


def is_local_url(url: str) -> bool:
    """Whether ``url``'s host is on a non-public address (this machine, a LAN): a show
    served there may fetch and ping other local addresses.  A host that does not resolve
    is not local."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolve(parts.hostname or "", port) if parts.hostname else []
    except (OutboundError, ValueError):
        return False
    return bool(addresses) and not any(is_public_address(a) for a in addresses)


def _checked_addresses(host: str, port: int, allow_local: bool, within: float) -> list[str]:
    addresses = resolve(host, port, within)
    if not allow_local:
        for address in addresses:
            if not is_public_address(address):
                raise RefusedAddress(
                    f"refused: {host} is on the non-public address {address} (loopback, "
                    "link-local or private), and the show is not")
    return addresses


# --- one request -------------------------------------------------------------------------


def request(url: str, method: str = "GET", *, headers: dict[str, str] | None = None,
            body: bytes | None = None, limit: int = DEFAULT_BODY_LIMIT,
            redirects: int = 0, allow_local: bool = False, user_agent: str = "podcast",
            deadline: float | None = None) -> Answer:
    """Send one request (following up to ``redirects`` redirects) within the deadline.

    ``deadline`` is in seconds (default :func:`timeout`) and covers every hop.  Raises
    :class:`OutboundError` when no complete answer came; an HTTP error status is an answer.
    A 3xx beyond ``redirects`` is returned as the answer.
    """
    seconds = timeout() if deadline is None else deadline
    ends = time.monotonic() + seconds
    for _ in range(redirects + 1):
        answer = _one(url, method, headers or {}, body, limit, allow_local, user_agent,
                      ends, seconds)
        location = answer.headers.get("location")
        if answer.status not in REDIRECTS or not location or redirects == 0:
            return answer
        url = urljoin(url, location)
        if urlsplit(url).scheme not in ("http", "https"):
            raise OutboundError(f"redirected to a non-http(s) URL {safe_url(url)}")
        if answer.status == 303:
            method, body = ("HEAD" if method == "HEAD" else "GET"), None
    raise OutboundError(f"more than {redirects} redirects")


def _one(url: str, method: str, headers: dict[str, str], body: bytes | None, limit: int,
         allow_local: bool, user_agent: str, ends: float, seconds: float) -> Answer:
    """One hop: check the address, connect to it, send, read within the deadline."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundError(f"{safe_url(url)} is not an http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # its message quotes the "port": maybe a password
        raise OutboundError("the URL's host:port is not valid (a password with / or @ in "
                            "it must be percent-encoded)") from None
    addresses = _checked_addresses(parts.hostname, port, allow_local,
                                   ends - time.monotonic())
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    path = quote(path, safe="/%?=&:;@!$'()*+,~")  # non-ASCII URLs, as browsers do
    # User info is never sent (http.client would take it for part of the host name).
    host = parts.netloc.rpartition("@")[2]
    watchdog = _Watchdog(ends)
    connection = None
    try:
        connection = _connect(parts.scheme, host, addresses, watchdog, seconds)
        connection.request(method, path, body=body,
                           headers={"User-Agent": user_agent, **headers})
        response = connection.getresponse()
        answer_headers = _headers(response)
        data = response.read(limit) if method != "HEAD" and limit else b""
    except (http.client.HTTPException, ValueError, OSError) as exc:
        # The socket's own timeout is the time left: either way the deadline passed.
        if watchdog.fired or isinstance(exc, TimeoutError):
            raise DeadlineExceeded(f"no complete answer within {seconds:g} s") from None
        if isinstance(exc, OutboundError):
            raise
        if isinstance(exc, http.client.HTTPException) or not isinstance(exc, OSError):
            raise OutboundError(f"bad HTTP answer: {_reason(exc)}") from None
        raise OutboundError(f"the connection failed ({_reason(exc)})") from None
    finally:
        watchdog.cancel()
        if connection is not None:
            connection.close()
    if watchdog.fired:  # the shutdown cut a body short
        raise DeadlineExceeded(f"no complete answer within {seconds:g} s")
    return Answer(response.status, answer_headers, data, url, response.reason or "")


def _headers(response: http.client.HTTPResponse) -> dict[str, str]:
    pairs = response.getheaders()
    if sum(len(k) + len(v) + 4 for k, v in pairs) > MAX_HEADER_BYTES:
        raise OutboundError(f"its answer's headers are over {MAX_HEADER_BYTES // 1024} KiB")
    return {k.lower(): v for k, v in pairs}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, http.client.InvalidURL):  # its message quotes the "port"
        return "the URL's host:port is not valid"
    return str(exc) or type(exc).__name__


def _connect(scheme: str, host: str, addresses: list[str], watchdog: _Watchdog,
             seconds: float) -> http.client.HTTPConnection:
    """A connection to the first of ``addresses`` that accepts one before the deadline."""
    problem: OSError | None = None
    for address in addresses:
        left = watchdog.ends - time.monotonic()
        if left <= 0:
            break
        try:
            connection = (_PinnedHTTPS if scheme == "https" else _PinnedHTTP)(
                host, address, timeout=left)
        except http.client.InvalidURL:  # its message quotes the "port": maybe a password
            raise OutboundError("the URL's host:port is not valid (a password with / or @ "
                                "in it must be percent-encoded)") from None
        watchdog.connection = connection
        try:
            connection.connect()
            return connection
        except OSError as exc:
            connection.close()
            if watchdog.fired:
                break
            problem = exc
    if problem is None or isinstance(problem, TimeoutError):
        raise DeadlineExceeded(f"no connection within {seconds:g} s")
    raise OutboundError(f"could not connect ({_reason(problem)})")


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to an address checked beforehand (Host: still the name)."""

    def __init__(self, host: str, address: str, *, timeout: float) -> None:
        super().__init__(host, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(_PinnedHTTP):
    """The same over TLS: the certificate is checked against the host name."""

    default_port = http.client.HTTPS_PORT

    def connect(self) -> None:
        super().connect()  # self.sock is the plain socket while the handshake runs
        self.sock = _tls().wrap_socket(self.sock, server_hostname=self.host)


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


class _Watchdog:
    """Shuts the connection's socket down at the deadline: a blocked connect, handshake or
    read then returns, so no server can hold a request past it, however slowly it sends."""

    def __init__(self, ends: float) -> None:
        self.ends = ends
        self.fired = False
        self.connection: http.client.HTTPConnection | None = None
        self._timer = threading.Timer(max(0.0, ends - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        sock = self.connection.sock if self.connection is not None else None
        if sock is not None:
            try:  # the plain socket's shutdown, also under TLS (no SSL state is touched)
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def cancel(self) -> None:
        self._timer.cancel()
