"""Outbound HTTP has a deadline, follows no redirect it should not, and stays off private
addresses unless the show itself lives on one.

Servers on 127.0.0.1 misbehave on purpose: one trickles its answer one byte every 2 s, one
answers a WebSub ping with a 302 to another local server that records what reaches it.  The
real `podcast` command runs against them with a 3 s deadline (``PODCAST_HTTP_TIMEOUT``);
what must hold is that it ends, which a generous subprocess timeout checks, never a clock.
"""

from __future__ import annotations

import os
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from PIL import Image
from test_publish import CHRISTMAS, NOW, master_tiny_show, tiny_show

from podcast import outbound
from podcast.cli import main
from podcast.config import load_show
from podcast.doctor import check_private_state
from podcast.errors import PodcastError
from podcast.websub import ping

PODCAST = str(Path(sys.executable).with_name("podcast"))  # the installed console script
DEADLINE = "3"
#: Far beyond the deadline: reaching it means the command hung.
HUNG = 120


# --- misbehaving servers ---------------------------------------------------------------------


class Server:
    """A TCP server on 127.0.0.1: records each request's line, then ``answer(socket)``."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self.requests: list[str] = []
        self.stop = threading.Event()
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.request.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                server.requests.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
                try:
                    answer(self.request)
                except OSError:
                    pass  # the client gave up

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def running(server: Server) -> Iterator[Server]:
    thread = threading.Thread(target=server.server.serve_forever,
                              kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.server.shutdown()
        server.server.server_close()
        thread.join()


def trickling() -> Server:
    """Answers with a status line, then a header one byte every 2 s, forever."""
    def answer(sock: socket.socket) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while not server.stop.wait(2):
            sock.sendall(b"a")

    server = Server(answer)
    return server


def answering(status: bytes, headers: bytes = b"", body: bytes = b"") -> Server:
    def answer(sock: socket.socket) -> None:
        sock.sendall(b"HTTP/1.1 " + status + b"\r\n" + headers +
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

    return Server(answer)


# --- the show ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def masters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny show mastered once for the module; tests copy the master cache."""
    return master_tiny_show(tmp_path_factory.mktemp("masters"), NOW)


def with_hubs(config: Path, *hubs: str) -> None:
    with config.open("a", encoding="utf-8") as stream:
        stream.write("websub:\n" + "".join(f"  - {hub}\n" for hub in hubs))


def podcast(*args: str) -> subprocess.CompletedProcess:
    """The installed command with a 3 s deadline; TimeoutExpired (a failure) if it hangs."""
    env = {**os.environ, "PODCAST_HTTP_TIMEOUT": DEADLINE}
    return subprocess.run([PODCAST, *args], capture_output=True, text=True, env=env,
                          timeout=HUNG)


# --- the deadline ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.audio
def test_a_trickling_hub_does_not_hold_the_nightly_feed_upload(tmp_path: Path, masters: Path):
    config = tiny_show(tmp_path, masters)
    first = CliRunner().invoke(main, ["--config", str(config), "publish", "--now",
                                      NOW.isoformat()])
    assert first.exit_code == 0, first.output
    with running(trickling()) as hub:
        with_hubs(config, f"{hub.url}/hub")
        done = podcast("--config", str(config), "feed", "--upload", "--now",
                       CHRISTMAS.isoformat())
        assert hub.requests == ["POST /hub HTTP/1.1"]  # it was asked, and never finished

    assert done.returncode == 0, done.stderr
    assert (f"warning: WebSub hub {hub.url}/hub: could not be reached (no complete answer "
            f"within {DEADLINE} s)") in done.stdout
    # The feed went up before the ping: the released episode is listed.
    assert len(feedparser.parse((tmp_path / "public" / "feed.xml").read_bytes()).entries) == 3


def test_validate_gives_up_on_a_trickling_feed(tmp_path: Path):
    with running(trickling()) as server:
        done = podcast("validate", f"{server.url}/feed.xml")
    assert done.returncode == 1
    assert f"cannot fetch the feed: no complete answer within {DEADLINE} s" in done.stderr


def _feed_file(folder: Path, base: str, enclosure: str) -> Path:
    """A small feed file in ``folder`` claiming to live at ``base``, its art in the
    folder and its one enclosure at ``enclosure``."""
    Image.new("RGB", (1400, 1400), (20, 120, 60)).save(folder / "cover.jpg", format="JPEG")
    path = folder / "feed.xml"
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>Trickle</title><link>{base}/</link><description>A test.</description>
  <language>fr</language><itunes:explicit>false</itunes:explicit>
  <itunes:category text="Business"/>
  <itunes:image href="{base}/cover.jpg"/>
  <atom:link rel="self" href="{base}/feed.xml" type="application/rss+xml"/>
  <item>
    <title>Un épisode</title><guid>ep-1</guid>
    <pubDate>Mon, 09 Nov 2026 06:00:00 +0000</pubDate>
    <itunes:duration>60</itunes:duration>
    <enclosure url="{enclosure}" length="1000" type="audio/mpeg"/>
  </item>
</channel>
</rss>
""", encoding="utf-8")
    return path


def test_validate_gives_up_on_a_trickling_enclosure(tmp_path: Path):
    with running(trickling()) as server:
        feed = _feed_file(tmp_path, server.url, f"{server.url}/media/ep.mp3")
        done = podcast("validate", str(feed))
        assert server.requests == ["HEAD /media/ep.mp3 HTTP/1.1"]
    assert (f"[enclosure-reachable] item 1 ('Un épisode'): {server.url}/media/ep.mp3 could "
            f"not be reached: no complete answer within {DEADLINE} s") in done.stdout


def test_doctor_gives_up_on_a_trickling_base_url(demo_show: Path,
                                                 monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PODCAST_HTTP_TIMEOUT", "1")
    with running(trickling()) as server:
        text = demo_show.read_text(encoding="utf-8")
        demo_show.write_text(text.replace("base_url: http://127.0.0.1:8000",
                                          f"base_url: {server.url}"), encoding="utf-8")
        check = check_private_state(load_show(demo_show))
        assert server.requests and server.requests[0].startswith("GET /.podcast/doctor-probe-")
    assert check.detail.startswith(f"not checked: {server.url} does not answer (no complete "
                                   "answer within 1 s)")


def test_the_deadline_is_configurable_and_checked(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PODCAST_HTTP_TIMEOUT", "soon")
    with pytest.raises(PodcastError, match="PODCAST_HTTP_TIMEOUT"):
        outbound.timeout()
    monkeypatch.setenv("PODCAST_HTTP_TIMEOUT", "1.5")
    assert outbound.timeout() == 1.5
    monkeypatch.delenv("PODCAST_HTTP_TIMEOUT")
    assert outbound.timeout() == outbound.DEFAULT_TIMEOUT
    with running(trickling()) as server, pytest.raises(outbound.DeadlineExceeded):
        outbound.request(server.url, allow_local=True, deadline=1)


def test_oversized_headers_are_refused_and_bodies_capped():
    big = b"".join(b"X-Big-%d: %s\r\n" % (n, b"b" * 30_000) for n in range(3))
    with running(answering(b"200 OK", headers=big)) as server, \
            pytest.raises(outbound.OutboundError, match="headers are over 64 KiB"):
        outbound.request(server.url, allow_local=True)
    with running(answering(b"200 OK", body=b"x" * 100_000)) as server:
        assert outbound.request(server.url, allow_local=True, limit=1000).body == b"x" * 1000


# --- redirects and addresses -------------------------------------------------------------------


@pytest.mark.audio
def test_a_hub_redirecting_to_loopback_is_not_followed(tmp_path: Path, masters: Path):
    config = tiny_show(tmp_path, masters)
    with running(answering(b"200 OK")) as target, \
            running(answering(b"302 Found", f"Location: {target.url}/\r\n".encode())) as hub:
        with_hubs(config, f"{hub.url}/hub")
        done = CliRunner().invoke(main, ["--config", str(config), "publish", "--now",
                                         NOW.isoformat()])
        assert hub.requests == ["POST /hub HTTP/1.1"]
        assert target.requests == []  # nothing reached the redirect's target

    assert done.exit_code == 0, done.output
    assert f"warning: WebSub hub {hub.url}/hub: answered HTTP 302 Found" in done.output
    assert "pinged WebSub hub" not in done.output


def test_a_public_show_sends_nothing_to_private_addresses():
    with running(answering(b"204 No Content")) as server:
        problem = ping(f"{server.url}/hub", "https://podcast.example.org/feed.xml",
                       allow_local=False)
        local = f"http://localhost:{server.server.server_address[1]}/x"
        with pytest.raises(outbound.RefusedAddress):
            outbound.request(local, allow_local=False)
        assert server.requests == []
        assert ping(f"{server.url}/hub", "http://127.0.0.1/feed.xml", allow_local=True) is None
        assert server.requests == ["POST /hub HTTP/1.1"]
    assert "refused" in problem and "127.0.0.1" in problem


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.9", "172.16.4.4",
                                     "169.254.169.254", "::1", "fe80::1", "fd00::5",
                                     "::ffff:127.0.0.1", "0.0.0.0", "100.64.0.1"])
def test_non_public_addresses(address: str):
    assert not outbound.is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::6810:84e5", "8.8.8.8"])
def test_public_addresses(address: str):
    assert outbound.is_public_address(address)


def test_a_public_feed_file_gets_no_private_enclosure_probed(tmp_path: Path):
    with running(answering(b"200 OK")) as server:
        feed = _feed_file(tmp_path, "https://93.184.215.14/show", f"{server.url}/ep.mp3")
        done = podcast("validate", str(feed))
        assert server.requests == []
    assert "ep.mp3 could not be reached: refused: 127.0.0.1 is on the non-public " \
        "address 127.0.0.1" in done.stdout
