"""Security promises, each checked against the real program:

- ``podcast serve`` never serves a byte from outside its folder: ``..``, percent-encoded and
  double-encoded dots, backslashes, NUL bytes, absolute URLs and symlinks that lead out.
- YAML is always loaded safely: a ``!!python/...`` tag in podcast.yaml or an episode is a
  clear error and runs nothing.
- Nothing asks S3 for a public ACL: objects are private unless the bucket policy says
  otherwise (checked on a real S3 server after a publish, in test_reliability's helpers).
- Hostile metadata (titles and notes full of markup) is escaped in the feed, the pages and
  the ID3 tags, and comes back byte for byte through real parsers.
- Credentials and full IP addresses never appear in output, exceptions or the database.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from mutagen.id3 import ID3
from reliability_fixtures import NOW, BucketView, make_tiny_show, run_podcast
from s3_servers import moto_s3

from podcast.config import load_show, split_front_matter
from podcast.errors import ConfigError
from podcast.text import redacted, safe_url

REPO = Path(__file__).resolve().parent.parent
PODCAST = [sys.executable, "-c", "from podcast.cli import main; main()"]
SECRET = "TOP-SECRET-OUTSIDE-THE-FOLDER"


# --- podcast serve: nothing outside the folder ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raw_request(port: int, target: str, method: str = "GET") -> tuple[int, bytes]:
    """Send the request line exactly as given (no client-side normalisation of ``..``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                     .encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """``podcast serve --root public`` as a real process; secrets sit beside the folder."""
    base = tmp_path_factory.mktemp("serve")
    public = base / "public"
    (public / "media").mkdir(parents=True)
    (public / "feed.xml").write_text("<rss/>")
    (public / "media" / "a.mp3").write_bytes(b"ID3" + b"\0" * 100)
    (base / "secret.txt").write_text(SECRET)
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (public / "link.txt").symlink_to(base / "secret.txt")
    (public / "linkdir").symlink_to(outside, target_is_directory=True)
    (public / ".hidden").write_text(SECRET)
    port = _free_port()
    log = base / "access.log"
    process = subprocess.Popen(
        [*PODCAST, "serve", "--root", str(public), "--port", str(port), "--log", str(log)],
        cwd=base, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if raw_request(port, "/feed.xml")[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"podcast serve did not start: {process.communicate()}")
    yield port
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


ESCAPES = [
    "/../secret.txt",
    "/media/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/media/%2e%2e/%2e%2e/secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/%252e%252e/secret.txt",  # double-encoded: must stay a literal, missing name
    "/..\\secret.txt",
    "/%5c..%5csecret.txt",
    "/..%00/secret.txt",
    "/feed.xml%00/../../secret.txt",
    "//../secret.txt",
    "/" + "%2e%2e/" * 8 + "etc/passwd",
    "http://x/../secret.txt",
    "/link.txt",  # symlink to a file outside
    "/linkdir/secret.txt",  # symlinked folder outside
    "/.hidden",
]


@pytest.mark.parametrize("target", ESCAPES)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_serve_never_answers_with_a_file_outside_its_folder(served: int, target: str,
                                                            method: str) -> None:
    status, data = raw_request(served, target, method)
    assert status in (400, 403, 404), f"{method} {target} answered {status}"
    assert SECRET.encode() not in data
    assert b"root:" not in data  # /etc/passwd


def test_serve_still_serves_what_is_inside(served: int) -> None:
    """The refusals above are not a server that refuses everything."""
    assert raw_request(served, "/feed.xml")[0] == 200
    status, data = raw_request(served, "/media/%61.mp3")  # percent-encoded "a"
    assert status == 200 and data.endswith(b"ID3" + b"\0" * 100)


# --- YAML loaded safely ---------------------------------------------------------------------


def test_python_tags_in_podcast_yaml_are_refused_and_run_nothing(demo_show: Path) -> None:
    marker = demo_show.parent / "pwned"
    text = demo_show.read_text()
    demo_show.write_text(text.replace(
        "title: Salons & Rencontres",
        f'title: !!python/object/apply:os.system ["touch {marker}"]'))
    with pytest.raises(ConfigError) as error:
        load_show(demo_show)
    assert "podcast.yaml" in str(error.value)
    assert not marker.exists()


def test_the_cli_refuses_a_hostile_episode_without_a_traceback(demo_show: Path) -> None:
    marker = demo_show.parent / "pwned"
    episode = demo_show.parent / "episodes" / "001-sonia-mamin" / "episode.md"
    episode.write_text(episode.read_text().replace(
        "title:", f'evil: !!python/object/new:os.system ["touch {marker}"]\ntitle:', 1))
    result = subprocess.run([*PODCAST, "--config", str(demo_show), "master", "001-sonia-mamin",
                             "-o", str(demo_show.parent / "x.mp3")],
                            capture_output=True, text=True, cwd=demo_show.parent, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "episode.md" in result.stderr
    assert not marker.exists()


def test_no_module_uses_an_unsafe_yaml_loader() -> None:
    """Belt and braces: the only YAML entry point in the package is ``yaml.safe_load``."""
    unsafe = re.compile(r"yaml\.(load|unsafe_load|full_load|load_all)\(|Loader\s*=\s*yaml\.")
    offenders = [f"{path}:{n}" for path in (REPO / "podcast").rglob("*.py")
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if unsafe.search(line)]
    assert offenders == []


def test_no_module_asks_for_a_public_acl() -> None:
    """Public access is the bucket owner's decision, never a side effect of a publish."""
    asks = re.compile(r"public-read|ACL\s*[=:]|GrantRead|put_object_acl|put_bucket_acl")
    offenders = [f"{path}:{n}" for path in [*(REPO / "podcast").rglob("*.py"), REPO / "cli.py"]
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if asks.search(line)]
    assert offenders == []


# --- credentials never leak ------------------------------------------------------------------

ACCESS_KEY = "AKIALEAKCHECK7QX2ZPW"
SECRET_KEY = "sEcReT/LeakCheck+9f8e7d6c5b4a3z2y1x0w"
PASSWORD = "pw-LeakCheck-31415"


def _leaks(text: str) -> list[str]:
    return [s for s in (SECRET_KEY, PASSWORD, ACCESS_KEY) if s in text]


# Secrets typed into URLs: a password with "/", "@" or "%" in it, raw or percent-encoded
# (a "/" ends the host part early, an "@" makes two of them), and a token in a query.
URL_SECRETS = ("pw-Leak", "Check-31415", "tok-Leak")
SECRET_ENDPOINTS = [
    "http://user:pw-Leak/Check-31415@127.0.0.1:{port}",
    "http://user:pw-Leak@Check-31415@127.0.0.1:{port}",
    "http://user:pw-Leak%2FCheck-31415%40x%25@127.0.0.1:{port}",
    "http://127.0.0.1:{port}/?token=tok-Leak/Check-31415%40x",
]


_url_text = st.text(st.sampled_from(list("aZ09-._~/@%:?#&=+!$'()*,;[]`\"")), max_size=12)


@settings(max_examples=500, deadline=None)
@given(user=_url_text, before=_url_text, after=_url_text, path=_url_text,
       host=st.sampled_from(["127.0.0.1:9", "example.com", "[::1]:8000", "s3.example.org"]),
       scheme=st.sampled_from(["http", "https", "s3"]), in_query=st.booleans())
def test_no_password_or_token_survives_redaction(user: str, before: str, after: str,
                                                  path: str, host: str, scheme: str,
                                                  in_query: bool) -> None:
    """Whatever characters surround it, a secret typed as a password or into the query of
    a URL is not in the printed form, alone or inside a message that quotes the URL."""
    secret = f"{before}SECRET{after}"
    url = (f"{scheme}://{host}/{path}?token={secret}" if in_query
           else f"{scheme}://{user}:{secret}@{host}/{path}")
    assert "SECRET" not in safe_url(url)
    for quoted in (f'"{url}"', f"`{url}`", f"'{url}'", f"({url}).", url):
        assert "SECRET" not in redacted(f"cannot reach {quoted}: refused"), quoted


def _url_leaks(text: str) -> list[str]:
    return [s for s in URL_SECRETS if s in text] + _leaks(text)


def _log_file(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    log = folder / "access.log"
    log.write_text('203.0.113.9 - - [23/Nov/2026:01:00:00 +0000] "GET /x.mp3 HTTP/1.1" 200 '
                   '9 "-" "AppleCoreMedia/1.0"\n')
    return log


def _commands(folder: Path) -> list[list[str]]:
    """Every command that talks to the storage endpoint."""
    return [["publish", "--now", NOW], ["feed", "--upload"], ["doctor"],
            ["stats", "ingest", "s3://show-bucket/logs/"],
            ["stats", "--state", "s3://show-bucket/state", "ingest", str(_log_file(folder))]]


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:{port}", *SECRET_ENDPOINTS])
def test_storage_failures_never_print_credentials(demo_show: Path, endpoint: str) -> None:
    """Nothing listens at the endpoint: every command fails cleanly, without a secret."""
    config = demo_show.read_text().replace("storage: file://public", "storage: s3://show-bucket")
    demo_show.write_text(config)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
           "AWS_ENDPOINT_URL": endpoint.format(port=_free_port())}
    for command in _commands(demo_show.parent / "logs"):
        for debug in ([], ["--debug"]):  # --debug: tracebacks and log lines as well
            result = subprocess.run([*PODCAST, "--config", str(demo_show), *debug, *command],
                                    capture_output=True, text=True, env=env,
                                    cwd=demo_show.parent, timeout=120)
            output = result.stdout + result.stderr
            assert result.returncode != 0, (command, output)
            assert debug or "Traceback" not in result.stderr, (command, output)
            assert _url_leaks(output) == [], (command, debug, output)


@pytest.mark.s3
def test_no_url_secret_is_printed_logged_or_stored_against_a_real_s3(tmp_path: Path) -> None:
    """moto on 127.0.0.1: endpoints botocore accepts publish, ingest and check for real;
    those it refuses fail cleanly.  Output, debug logs and tracebacks, every file of the
    show and every stored object are searched for the secrets."""
    with moto_s3() as s3:
        host = s3.endpoint.removeprefix("http://")
        config = make_tiny_show(tmp_path / "show", storage=f"s3://{s3.bucket}/show",
                                base_url=f"{s3.endpoint}/{s3.bucket}/show")
        commands = [[*c] for c in _commands(tmp_path / "logs")]
        commands[3][-1] = f"s3://{s3.bucket}/logs/"
        commands[4][2] = f"s3://{s3.bucket}/state"
        outputs, worked = [], set()
        for endpoint in SECRET_ENDPOINTS:
            env = {**s3.env(), "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                   "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_MAX_ATTEMPTS": "1",
                   "AWS_ENDPOINT_URL": endpoint.replace("127.0.0.1:{port}", host)}
            for command in commands:
                result = run_podcast(config, "--debug", *command, env=env)
                outputs.append(result.stdout + result.stderr)
                worked.add((endpoint, command[0], result.returncode))
        assert [w for w in worked if w[1] == "publish" and w[2] == 0], worked  # really ran
        assert [w for w in worked if w[2] != 0], worked  # and failed with others
        assert _url_leaks("\n".join(outputs)) == []
        view = BucketView(s3.client(), s3.bucket, "show")
        for key in view.snapshot():
            assert _url_leaks(view.get(key).decode("latin-1")) == [], key
        for path in config.parent.rglob("*"):
            if path.is_file():
                assert _url_leaks(path.read_bytes().decode("latin-1")) == [], path
        # The feed fetched by validate, from the server and from a closed port.
        for where in (f"{host}/{s3.bucket}/show", f"127.0.0.1:{_free_port()}"):
            result = run_podcast(config, "--debug", "validate",
                                 f"http://user:pw-Leak/Check-31415@{where}/feed.xml"
                                 "?token=tok-Leak/Check-31415", env=s3.env())
            assert _url_leaks(result.stdout + result.stderr) == [], result.stderr


@pytest.mark.s3
def test_websub_hubs_are_printed_without_their_secrets(tmp_path: Path) -> None:
    closed = _free_port()
    with moto_s3() as s3:
        config = make_tiny_show(tmp_path / "show", storage=f"s3://{s3.bucket}/show",
                                base_url=f"{s3.endpoint}/{s3.bucket}/show")
        with config.open("a") as file:
            file.write(f"websub:\n  - http://user:pw-Leak/Check-31415@127.0.0.1:{closed}/hub\n"
                       f"  - http://127.0.0.1:{closed}/hub?token=tok-Leak\n")
        result = run_podcast(config, "publish", "--now", NOW, env=s3.env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("warning: WebSub hub http://127.0.0.1") == 2, result.stdout
    assert _url_leaks(result.stdout + result.stderr) == []


# --- a hostile show, published for real ------------------------------------------------------

HOSTILE_TITLE = "<b>Ça</b> & \"cie\" ]]> <script>alert('title')</script>"
HOSTILE_GUEST = "Zoé <i>&amp;</i> \"O'Brien\" <img src=x onerror=alert('guest')>"
HOSTILE_CHAPTER = "</title><script>alert('chapter')</script>"
HOSTILE_NOTES = ("Intro <script>alert('notes')</script>\n\n<img src=x onerror=alert('img')>\n\n"
                 "[click](javascript:alert('link')) and ]]> and <![CDATA[ nested ]]>\n")
PAYLOADS = ("alert('title')", "alert('guest')", "alert('chapter')", "alert('notes')",
            "alert('img')", "alert('link')")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):
    """The tiny show with markup in a title, guest, chapter and notes, published to a real
    S3 server (moto) with recognisable credentials.  Yields (server, run, view)."""
    folder = tmp_path_factory.mktemp("hostile")
    with moto_s3() as s3:
        config = make_tiny_show(folder / "show", storage=f"s3://{s3.bucket}/show",
                                base_url=f"{s3.endpoint}/{s3.bucket}/show")
        episode = config.parent / "episodes" / "001-sonia-mamin" / "episode.md"
        data, _ = split_front_matter(episode.read_text(encoding="utf-8"), episode)
        data.update(title=HOSTILE_TITLE, guests=[{"name": HOSTILE_GUEST}],
                    chapters=[{"start": "0:00", "title": HOSTILE_CHAPTER}])
        episode.write_text("---\n" + yaml.safe_dump(data, allow_unicode=True) + "---\n"
                           + HOSTILE_NOTES, encoding="utf-8")
        env = {**s3.env(), "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        run = run_podcast(config, "publish", "--now", NOW, env=env)
        assert run.returncode == 0, run.stderr
        yield s3, run, BucketView(s3.client(), s3.bucket, "show"), config


@pytest.mark.s3
def test_publishing_prints_no_credentials_and_stores_none(hostile) -> None:
    s3, run, view, config = hostile
    assert _leaks(run.stdout + run.stderr) == []
    for key in view.snapshot():
        assert _leaks(view.get(key).decode("latin-1")) == [], key
    for path in config.parent.rglob("*"):
        if path.is_file():
            assert _leaks(path.read_bytes().decode("latin-1")) == [], path


@pytest.mark.s3
def test_no_published_object_is_public_unless_the_bucket_says_so(hostile) -> None:
    s3, _, view, _ = hostile
    client = s3.client()
    everyone = ("http://acs.amazonaws.com/groups/global/AllUsers",
                "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
    keys = list(view.snapshot())
    assert keys
    for key in keys:
        grants = client.get_object_acl(Bucket=s3.bucket, Key=f"show/{key}")["Grants"]
        assert [g for g in grants if g["Grantee"].get("URI") in everyone] == [], key
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"], (key, grants)


@pytest.mark.s3
def test_hostile_text_is_escaped_in_the_feed_and_read_back_exactly(hostile) -> None:
    s3, _, view, _ = hostile
    data = view.get("feed.xml")
    ElementTree.fromstring(data)  # well-formed XML: no markup broke out of its element
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.bozo_exception
    titles = [entry.title for entry in feed.entries]
    assert HOSTILE_TITLE in titles
    # No payload runs: scripts, event handlers and javascript: links are gone or text.
    assert b"<script" not in data.lower()
    assert b"javascript:" not in data.lower()
    assert not re.search(rb"<img[^>]*onerror", data, re.IGNORECASE)


class _LiveMarkup(HTMLParser):
    """Collects what a browser would *run*: script bodies, on* attributes, js: links."""

    def __init__(self) -> None:
        super().__init__()
        self.live: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.live.append(f"<{tag} {name}={value}>")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.live if self._in_script else self.text).append(data)


@pytest.mark.s3
def test_hostile_text_is_shown_not_run_on_the_pages(hostile) -> None:
    s3, _, view, _ = hostile
    pages = [key for key in view.snapshot() if key.endswith(".html")]
    assert "index.html" in pages and len(pages) >= 2
    for key in pages:
        parser = _LiveMarkup()
        parser.feed(view.get(key).decode("utf-8"))
        live = "\n".join(parser.live)
        assert [p for p in PAYLOADS if p in live] == [], (key, live[:500])
    episode_page = next(key for key in pages if "001-sonia-mamin" in key)
    parser = _LiveMarkup()
    parser.feed(view.get(episode_page).decode("utf-8"))
    shown = "".join(parser.text)
    assert HOSTILE_TITLE in shown  # the producer's text, displayed as typed
    assert HOSTILE_GUEST in shown


@pytest.mark.s3
def test_hostile_text_is_stored_exactly_in_the_id3_tag(hostile, tmp_path: Path) -> None:
    s3, _, view, _ = hostile
    manifest = json.loads(view.get(".podcast/manifest.json"))
    key = manifest["media"]["001-sonia-mamin"]["key"]
    mp3 = tmp_path / "episode.mp3"
    mp3.write_bytes(view.get(key))
    tags = ID3(mp3)
    assert tags.version[:2] == (2, 3)
    assert str(tags["TIT2"]) == HOSTILE_TITLE
    assert [str(f.sub_frames["TIT2"]) for f in tags.getall("CHAP")] == [HOSTILE_CHAPTER]


# --- full IP addresses never leave the log they came in ---------------------------------------

IPS = ("203.0.113.77", "198.51.100.213", "2001:db8:abcd:12::77", "2001:db8:abcd:13:1:2:3:4")
IP_TRACES = ("203.0.113.77", "198.51.100.213", "2001:db8:abcd:12", "2001:db8:abcd:13")


def _ip_leaks(text: str) -> list[str]:
    return [ip for ip in IP_TRACES if ip in text]


def _hostile_logs(folder: Path, media_key: str, prefix: str) -> Path:
    """Well-formed downloads from the listed addresses, plus broken lines that carry them."""
    import gzip

    folder.mkdir()
    agent = "AppleCoreMedia/1.0.0.21E236 (iPhone; U; CPU OS 17_4 like Mac OS X; fr_fr)"
    good = [f'{ip} - - [23/Nov/2026:0{n}:00:00 +0000] "GET {prefix}/{media_key} HTTP/1.1" '
            f'200 900000 "-" "{agent}"' for n, ip in enumerate(IPS)]
    broken = [f'{IPS[0]} - - [23/Nov/2026:25:61:00 +0000] "GET {prefix}/{media_key}',
              f'{IPS[1]} - - [99/Xyz/2026:00:00:00 +0000] "GET / HTTP/1.1" abc -1 "-" "x"',
              f'{IPS[2]} - - [23/Nov/2026:01:00:00 +0000] "GET "quoted" HTTP/1.1" 200 "',
              f'{IPS[3]}\t\t"\x00\x01garbage']
    (folder / "access.log").write_text("\n".join(good + broken) + "\n", encoding="utf-8")
    (folder / "binary.log").write_bytes(("\n".join(good)).encode() + b"\n\xff\xfe\x00"
                                        + IPS[0].encode() + b" \xc3\x28 bad utf-8\n")
    data = gzip.compress(("\n".join(good) + "\n").encode())
    (folder / "cut.log.gz").write_bytes(data[: len(data) // 2])  # a truncated download
    return folder


@pytest.mark.s3
def test_no_full_ip_reaches_output_reports_or_the_database(hostile, tmp_path: Path) -> None:
    import duckdb

    s3, _, view, config = hostile
    manifest = json.loads(view.get(".podcast/manifest.json"))
    media_key = manifest["media"]["001-sonia-mamin"]["key"]
    logs = _hostile_logs(tmp_path / "logs", media_key, f"/{s3.bucket}/show")
    outputs = []
    for args in (["stats", "ingest", str(logs)],
                 ["stats", "ingest", str(logs / "access.log"), str(logs / "cut.log.gz")],
                 ["stats", "report"], ["stats", "report", "--format", "json", "--by", "app"],
                 ["stats", "report", "--format", "csv", "--by", "day"],
                 ["stats", "report", "--html", str(tmp_path / "r.html"),
                  "--chart", str(tmp_path / "r.png")],
                 ["stats", "targets", "--today", "2026-11-24"]):
        result = run_podcast(config, *args, env=s3.env())
        assert "Traceback" not in result.stderr, result.stderr
        outputs.append(result.stdout + result.stderr)
        if "json" in args:
            counted = json.loads(result.stdout)["total"]["downloads"]
    text = "\n".join(outputs)
    assert counted >= 4  # the addresses were really read and counted
    assert _ip_leaks(text) == [], text
    assert _ip_leaks((tmp_path / "r.html").read_text(encoding="utf-8")) == []
    # Every file the show keeps, byte for byte (DuckDB, its WAL, the key file, masters).
    for path in (config.parent / ".podcast").rglob("*"):
        if path.is_file():
            assert _ip_leaks(path.read_bytes().decode("latin-1")) == [], path
    # And every value of every table, as SQL reads it (DuckDB may compress strings on disk).
    con = duckdb.connect(str(config.parent / ".podcast" / "stats.duckdb"), read_only=True)
    try:
        tables = [name for (name,) in con.execute("SHOW TABLES").fetchall()]
        assert "listener_bytes" in tables
        for table in tables:
            dump = "\n".join(map(str, con.execute(f"SELECT * FROM {table}").fetchall()))
            assert _ip_leaks(dump) == [], table
    finally:
        con.close()
