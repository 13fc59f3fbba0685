"""`podcast serve`: HEAD, byte ranges, refusals and the combined access log.

A real server on a free 127.0.0.1 port, real HTTP requests through http.client.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from podcast.serve import combined_log_line, make_server, parse_range, serve_paths, serving

AUDIO = bytes(range(256)) * 400  # 102,400 bytes of "audio"
COMBINED = re.compile(
    r'^(?P<ip>\S+) - - \[(?P<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] '
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>[^"]*)" '
    r'"(?P<agent>(?:[^"\\]|\\.)*)"$')


@pytest.fixture
def site(tmp_path: Path):
    """A served folder with an episode, a feed and a page; yields (port, folder, log)."""
    folder = tmp_path / "public"
    (folder / "media").mkdir(parents=True)
    (folder / "media" / "001-a-0123456789ab.mp3").write_bytes(AUDIO)
    (folder / "feed.xml").write_bytes(b"<rss/>")
    (folder / "index.html").write_bytes(b"<html>home</html>")
    (folder / ".feed.xml.abc.tmp").write_bytes(b"half written")
    (tmp_path / "secret.txt").write_text("outside the folder")
    log = tmp_path / "logs" / "access.log"
    with serving(folder, port=0, log_path=log) as server:
        yield server.server_address[1], folder, log


def wait_for_lines(log: Path, count: int, timeout: float = 5.0) -> list[str]:
    """The log's lines once it has ``count`` of them (each is written as its answer ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.02)
    raise AssertionError(f"{log} has {len(lines)} lines, expected {count}")


def fetch(port: int, path: str, method: str = "GET", headers: dict | None = None):
    """One request; returns (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, path, headers=headers or {})
    answer = conn.getresponse()
    body = answer.read()
    conn.close()
    return answer.status, dict(answer.getheaders()), body


def test_get_sends_the_whole_file_with_type_length_and_ranges_advertised(site):
    port, _, _ = site
    status, headers, body = fetch(port, "/media/001-a-0123456789ab.mp3")
    assert status == 200
    assert body == AUDIO
    assert headers["Content-Type"] == "audio/mpeg"
    assert headers["Content-Length"] == str(len(AUDIO))
    assert headers["Accept-Ranges"] == "bytes"
    assert "immutable" in headers["Cache-Control"]
    assert fetch(port, "/feed.xml")[1]["Content-Type"] == "application/rss+xml"
    assert fetch(port, "/")[2] == b"<html>home</html>"


def test_head_answers_the_headers_without_a_body(site):
    port, _, _ = site
    status, headers, body = fetch(port, "/media/001-a-0123456789ab.mp3", "HEAD")
    assert status == 200 and body == b""
    assert headers["Content-Length"] == str(len(AUDIO))


@pytest.mark.parametrize("header, first, last", [
    ("bytes=0-1", 0, 1),              # the 2-byte probe apps send first
    ("bytes=1000-1999", 1000, 1999),
    ("bytes=100000-", 100000, len(AUDIO) - 1),
    ("bytes=-500", len(AUDIO) - 500, len(AUDIO) - 1),
    ("bytes=102000-999999", 102000, len(AUDIO) - 1),  # the end is clipped to the size
])
def test_a_byte_range_gets_206_and_exactly_those_bytes(site, header, first, last):
    port, _, _ = site
    status, headers, body = fetch(port, "/media/001-a-0123456789ab.mp3",
                                  headers={"Range": header})
    assert status == 206
    assert body == AUDIO[first:last + 1]
    assert headers["Content-Range"] == f"bytes {first}-{last}/{len(AUDIO)}"
    assert headers["Content-Length"] == str(last - first + 1)


def test_a_range_past_the_end_gets_416_with_the_size(site):
    port, _, _ = site
    status, headers, _ = fetch(port, "/media/001-a-0123456789ab.mp3",
                               headers={"Range": f"bytes={len(AUDIO)}-"})
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{len(AUDIO)}"


def test_several_or_malformed_ranges_get_the_whole_file(site):
    port, _, _ = site
    for header in ("bytes=0-1,5-9", "items=0-1", "bytes=9-3"):
        status, _, body = fetch(port, "/media/001-a-0123456789ab.mp3",
                                headers={"Range": header})
        assert (status, len(body)) == (200, len(AUDIO)), header


@pytest.mark.parametrize("path", [
    "/../secret.txt",
    "/media/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/media/%2e%2e/%2e%2e/secret.txt",
    "/..%5csecret.txt",
    "/.feed.xml.abc.tmp",      # a write in flight is never served
    "/nothing.mp3",
    "/media/%ff.mp3",
])
def test_nothing_outside_the_folder_or_missing_is_served(site, path):
    port, _, _ = site
    status, _, body = fetch(port, path)
    assert status == 404
    assert b"outside" not in body and b"half" not in body


def test_a_symlink_that_leads_out_is_forbidden(site, tmp_path):
    port, folder, _ = site
    os.symlink(tmp_path / "secret.txt", folder / "leak.txt")
    os.symlink(tmp_path, folder / "up")
    assert fetch(port, "/leak.txt")[0] == 403
    assert fetch(port, "/up/secret.txt")[0] == 403


def test_other_methods_are_refused(site):
    port, _, _ = site
    status, headers, _ = fetch(port, "/feed.xml", "POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD, OPTIONS"


# --- state is never served; public files are readable from any origin ------------------------


@pytest.mark.parametrize("path", [
    "/.podcast/manifest.json",
    "/.podcast/staged/media/003-c-0123456789ab.mp3",
    "/%2Epodcast/manifest.json",
    "/media/../.podcast/manifest.json",
    "/podcast-manifest.json",   # where versions before the embargo kept the manifest
    "/leak.json",               # a symlink to the state is state too
])
def test_the_stores_state_answers_404_as_if_absent(site, path):
    port, folder, _ = site
    (folder / ".podcast" / "staged" / "media").mkdir(parents=True)
    (folder / ".podcast" / "manifest.json").write_text('{"media": {"003-c": {}}}')
    (folder / ".podcast" / "staged" / "media" / "003-c-0123456789ab.mp3").write_bytes(AUDIO)
    (folder / "podcast-manifest.json").write_text('{"media": {"003-c": {}}}')
    os.symlink(folder / ".podcast" / "manifest.json", folder / "leak.json")
    for method in ("GET", "HEAD"):
        status, _, body = fetch(port, path, method)
        assert status == 404 and b"003-c" not in body, (method, status)


def test_every_answer_allows_any_origin_so_web_players_can_read_it(site):
    port, folder, _ = site
    (folder / "media" / "001-a-0123456789ab.chapters.json").write_text('{"version": "1.2"}')
    (folder / "media" / "001-a-0123456789ab.vtt").write_text("WEBVTT\n")
    origin = {"Origin": "https://player.example"}
    for path in ("/media/001-a-0123456789ab.chapters.json", "/media/001-a-0123456789ab.vtt",
                 "/feed.xml", "/media/001-a-0123456789ab.mp3"):
        status, headers, _ = fetch(port, path, headers=origin)
        assert status == 200 and headers["Access-Control-Allow-Origin"] == "*", path
    status, headers, _ = fetch(port, "/media/001-a-0123456789ab.mp3",
                               headers={**origin, "Range": "bytes=0-99"})
    assert status == 206 and headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Range" in headers["Access-Control-Expose-Headers"]


def test_a_cors_preflight_for_a_range_request_is_answered(site):
    port, _, log = site
    status, headers, body = fetch(port, "/media/001-a-0123456789ab.mp3", "OPTIONS", headers={
        "Origin": "https://player.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range"})
    assert (status, body) == (204, b"")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in headers["Access-Control-Allow-Methods"].split(", ")
    assert headers["Access-Control-Allow-Headers"].lower() == "range"
    (line,) = wait_for_lines(log, 1)
    assert '"OPTIONS /media/001-a-0123456789ab.mp3 HTTP/1.1" 204 0' in line


def test_every_request_is_logged_in_combined_format_with_bytes_sent(site):
    port, _, log = site
    agent = 'Podcasts/1.1.0 (iPhone; "quoted")'
    fetch(port, "/media/001-a-0123456789ab.mp3", headers={"User-Agent": agent})
    fetch(port, "/media/001-a-0123456789ab.mp3", "HEAD", headers={"User-Agent": agent})
    fetch(port, "/media/001-a-0123456789ab.mp3",
          headers={"Range": "bytes=0-1", "User-Agent": agent, "Referer": "https://x.test/"})
    fetch(port, "/missing.mp3", headers={"User-Agent": ""})

    lines = wait_for_lines(log, 4)
    # A line is written when its answer is complete, so order by status to compare.
    parsed = sorted((COMBINED.match(line) for line in lines), key=lambda m: m["request"]
                    + m["status"])
    assert all(parsed), lines
    assert [(m["request"], m["status"], m["bytes"]) for m in parsed] == [
        ("GET /media/001-a-0123456789ab.mp3 HTTP/1.1", "200", str(len(AUDIO))),
        ("GET /media/001-a-0123456789ab.mp3 HTTP/1.1", "206", "2"),
        ("GET /missing.mp3 HTTP/1.1", "404", parsed[2]["bytes"]),
        ("HEAD /media/001-a-0123456789ab.mp3 HTTP/1.1", "200", "0"),
    ]
    assert parsed[0]["ip"] == "127.0.0.1"
    assert parsed[0]["agent"] == 'Podcasts/1.1.0 (iPhone; \\"quoted\\")'
    assert parsed[1]["referer"] == "https://x.test/"
    assert parsed[2]["agent"] == "-"


def test_a_client_that_hangs_up_is_logged_with_what_it_received(tmp_path):
    folder = tmp_path / "public"
    folder.mkdir()
    (folder / "big.mp3").write_bytes(b"\0" * (8 * 1024 * 1024))
    log = tmp_path / "access.log"
    with serving(folder, port=0, log_path=log) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        conn.request("GET", "/big.mp3")
        answer = conn.getresponse()
        answer.read(1000)
        conn.sock.close()  # hang up after the first bytes, like a skipped episode
        conn.close()
        lines = wait_for_lines(log, 1)
    line = COMBINED.match(lines[0])
    assert line["status"] == "200"
    assert 0 < int(line["bytes"]) < 8 * 1024 * 1024


@pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="Linux's TCP_INFO")
def test_a_client_that_reads_a_few_bytes_is_logged_with_about_those_bytes(tmp_path):
    """An episode small enough to fit in the kernel's buffers: every write succeeds, yet the
    client read 265 bytes and hung up.  The log must not say it got the episode."""
    folder = tmp_path / "public"
    folder.mkdir()
    (folder / "ep.mp3").write_bytes(b"\1" * 512 * 1024)
    log = tmp_path / "access.log"
    with serving(folder, port=0, log_path=log) as server:
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a phone's small window
        client.connect(("127.0.0.1", server.server_address[1]))
        client.sendall(b"GET /ep.mp3 HTTP/1.1\r\nHost: x\r\nUser-Agent: T/1\r\n\r\n")
        time.sleep(0.3)  # the server writes all it can into its buffers
        assert len(client.recv(265)) == 265
        client.close()  # unread bytes: the kernel resets the connection
        lines = wait_for_lines(log, 1)
    logged = int(COMBINED.match(lines[0])["bytes"])
    assert logged < 64 * 1024, logged


@pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="Linux's TCP_INFO")
def test_stopping_the_server_keeps_the_line_of_a_download_still_being_read(tmp_path):
    """A line is written once the client has acknowledged the bytes; a server stopped in
    between (Ctrl-C, SIGTERM) must still write it before it closes, or a download goes
    uncounted."""
    folder = tmp_path / "public"
    folder.mkdir()
    (folder / "ep.mp3").write_bytes(b"\2" * 2 * 1024 * 1024)
    log = tmp_path / "access.log"
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    received = []

    def read_slowly() -> None:
        time.sleep(0.5)  # the server is stopping meanwhile
        while chunk := client.recv(65536):
            received.append(len(chunk))

    with serving(folder, port=0, log_path=log) as server:
        client.connect(("127.0.0.1", server.server_address[1]))
        client.sendall(b"GET /ep.mp3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        time.sleep(0.2)
        reader = threading.Thread(target=read_slowly)
        reader.start()
    # serving() has returned: the server is closed, so its log must be complete now.
    lines = log.read_text().splitlines() if log.exists() else []
    reader.join()
    client.close()
    assert len(lines) == 1, lines
    assert int(COMBINED.match(lines[0])["bytes"]) == 2 * 1024 * 1024


def test_parse_range_rules():
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=-30", 10) == (0, 9)
    assert parse_range("bytes=10-", 10) == "unsatisfiable"
    assert parse_range("bytes=-0", 10) == "unsatisfiable"
    assert parse_range("bytes=0-", 0) == "unsatisfiable"


def test_log_line_format_matches_apache():
    from datetime import UTC, datetime

    line = combined_log_line("203.0.113.9", datetime(2026, 11, 24, 7, 5, 9, tzinfo=UTC),
                             "GET /a.mp3 HTTP/1.1", 206, 2, None, "AntennaPod/3.2.0")
    assert line == ('203.0.113.9 - - [24/Nov/2026:07:05:09 +0000] "GET /a.mp3 HTTP/1.1" '
                    '206 2 "-" "AntennaPod/3.2.0"')


def test_a_missing_folder_or_busy_port_is_a_clear_error(tmp_path, site):
    from podcast.errors import ConfigError

    with pytest.raises(ConfigError, match="publish"):
        make_server(tmp_path / "nowhere", port=0, log_path=tmp_path / "log")
    port, folder, _ = site
    with pytest.raises(ConfigError, match="--port"):
        make_server(folder, port=port, log_path=tmp_path / "log")


def test_serve_paths_default_to_the_storage_folder_and_state_log(demo_show):
    folder, log = serve_paths(str(demo_show), None, None)
    assert folder == demo_show.parent / "public"
    assert log == demo_show.parent / ".podcast" / "access.log"
    assert serve_paths(None, "/srv/x", "/tmp/a.log") == (Path("/srv/x"), Path("/tmp/a.log"))
    # Any folder can be served without a show; the log then goes to ./.podcast/.
    missing = str(demo_show.parent / "nothing.yaml")
    assert serve_paths(missing, "/srv/x", None) == (Path("/srv/x"),
                                                    Path(".podcast/access.log"))


def test_s3_storage_has_nothing_local_to_serve(demo_show):
    from podcast.errors import ConfigError

    demo_show.write_text(demo_show.read_text().replace("file://public", "s3://bucket/show"))
    with pytest.raises(ConfigError, match="--root"):
        serve_paths(str(demo_show), None, None)


def test_the_command_serves_until_stopped(tmp_path):
    import subprocess
    import sys

    from s3_servers import free_port

    folder = tmp_path / "public"
    folder.mkdir()
    (folder / "feed.xml").write_bytes(b"<rss/>")
    port, log = free_port(), tmp_path / "access.log"
    process = subprocess.Popen(
        [sys.executable, "-c", "from podcast.cli import main; main()", "serve", "--port", str(port),
         "--root", str(folder), "--log", str(log)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                status, _, body = fetch(port, "/feed.xml")
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
        assert (status, body) == (200, b"<rss/>")
        assert wait_for_lines(log, 1)[0].endswith('"GET /feed.xml HTTP/1.1" 200 6 "-" "-"')
    finally:
        process.terminate()
        process.wait(timeout=10)
