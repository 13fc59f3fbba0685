"""Embargo: nothing served publicly names or links a scheduled episode before its time.

A tiny show whose third episode is scheduled is published to a folder (the store of an
earlier version, with its manifest still at the public ``podcast-manifest.json``), served by
the real ``podcast serve`` command, and crawled like a curious stranger would: from the
feed, the pages, the old manifest's URL and the folders, following every link (``href``,
``src``, ``url`` attributes, URLs in text, CSS and chapters JSON).  Nothing it can reach may
carry the scheduled episode's slug, title, GUID or any of its object keys, and its objects
themselves answer 404.  After ``podcast feed --upload --now`` past its time, the same crawl
finds it, and its enclosure is the master the producer made.

What the episode is called, which GUID and keys it has, is read from the released feed with
feedparser and from the producer's master cache, not from the code under test.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import feedparser
import pytest
from click.testing import CliRunner
from s3_servers import free_port, moto_s3
from test_publish import edit_episode, make_short_show

from podcast.cli import main
from podcast.config import split_front_matter

pytestmark = pytest.mark.audio

SCHEDULED = "003-claire-dubois"
BEFORE = "2026-11-20T12:00:00Z"  # episodes 1 and 2 are live, 3 is scheduled (24 Dec)
AFTER = "2026-12-25T12:00:00Z"
PODCAST = str(Path(sys.executable).with_name("podcast"))  # the installed console script


@pytest.fixture(scope="module")
def masters(tmp_path_factory) -> Path:
    """The tiny show mastered once for the module (tests copy the master cache)."""
    folder = tmp_path_factory.mktemp("masters") / "show"
    config = make_short_show(folder, storage="file://public", base_url="http://127.0.0.1:1")
    _schedule(config)
    run(config, "publish", "--now", BEFORE)
    return folder / ".podcast" / "masters"


def _schedule(config: Path) -> None:
    edit_episode(config, SCHEDULED, published="2026-12-24T07:00:00+01:00")


def show_in(folder: Path, masters: Path, *, storage: str, base_url: str) -> Path:
    """The tiny show (third episode scheduled) in ``folder``, with the module's masters."""
    config = make_short_show(folder, storage=storage, base_url=base_url)
    _schedule(config)
    shutil.copytree(masters, folder / ".podcast" / "masters")
    return config


def run(config: Path, *args: str) -> str:
    """One `podcast` command, as the CLI runs it; its output (it must succeed)."""
    done = CliRunner().invoke(main, ["--config", str(config), *args])
    assert done.exit_code == 0, done.output
    return done.output


# --- a stranger's crawl ------------------------------------------------------------------------

LINK_PATTERNS = (
    re.compile(r"""(?:href|src|url|content|poster|srcset|data-[\w-]+)\s*=\s*["']([^"']+)["']""",
               re.IGNORECASE),
    re.compile(r"""url\(\s*["']?([^"')]+)""", re.IGNORECASE),  # CSS
    re.compile(r"""https?://[^\s"'<>)]+"""),  # any URL in text (RSS <link>, JSON, scripts)
)


def links(page_url: str, body: bytes) -> set[str]:
    """Every URL a page, feed or JSON document points at, made absolute, without fragments."""
    text = html.unescape(body.decode("utf-8", errors="replace"))
    found = {match.group(match.lastindex or 0) for pattern in LINK_PATTERNS
             for match in pattern.finditer(text)}
    try:  # chapters JSON: "url" and "img" values
        found |= {value for value in _json_strings(json.loads(text)) if "/" in value}
    except ValueError:
        pass
    urls = set()
    for value in found:
        for part in value.split(","):  # srcset lists
            candidate = part.strip().split(" ")[0]
            if candidate:  # percent-encoded as a browser would send it
                url = urljoin(page_url, quote(candidate, safe=":/?&=%;+@!$'()*,~"))
                urls.add(url.split("#")[0])
    return urls


def _json_strings(document) -> list[str]:
    if isinstance(document, dict):
        return [s for value in document.values() for s in _json_strings(value)]
    if isinstance(document, list):
        return [s for value in document for s in _json_strings(value)]
    return [document] if isinstance(document, str) else []


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def crawl(base: str, starts: list[str]) -> dict[str, tuple[int, bytes]]:
    """Every URL under ``base`` reachable from ``starts``: {url: (status, body)}."""
    answered: dict[str, tuple[int, bytes]] = {}
    queue = [f"{base}/{path}" for path in starts]
    while queue:
        url = queue.pop()
        if url in answered or not url.startswith(base + "/"):
            continue
        answered[url] = status, body = fetch(url)
        if status == 200 and not url.endswith(".mp3"):
            queue.extend(links(url, body))
    return answered


START = ["feed.xml", "", "index.html", "podcast-manifest.json", ".podcast/manifest.json",
         "episodes/", "media/", "art/", ".podcast/", f"episodes/{SCHEDULED}.html"]


def traces(answered: dict[str, tuple[int, bytes]], needles: list[str]) -> list[tuple[str, str]]:
    """(url, needle) for each needle found in an answer's (HTML-unescaped) body, or in the
    URL of a request that was answered (the crawl asks for the episode page on purpose)."""
    found = []
    for url, (status, body) in answered.items():
        text = html.unescape(body.decode("utf-8", errors="replace"))
        found += [(url, needle) for needle in needles
                  if needle in text or (status == 200 and needle in url)]
    return found


@pytest.fixture
def served(tmp_path, masters):
    """(config, base URL) of the tiny show, served by a `podcast serve` process."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = show_in(tmp_path / "show", masters, storage="file://public", base_url=base)
    public = tmp_path / "show" / "public"
    public.mkdir()
    server = subprocess.Popen(
        [PODCAST, "--config", str(config), "serve", "--port", str(port), "--root", str(public),
         "--log", str(tmp_path / "access.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                fetch(f"{base}/")
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "podcast serve did not answer"
                time.sleep(0.1)
        yield config, base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _as_an_earlier_version_left_it(config: Path) -> None:
    """Publish the live episodes, then put the manifest where earlier versions kept it."""
    run(config, "publish", "001-sonia-mamin", "002-marc-olivier", "--now", BEFORE)
    public = config.parent / "public"
    (public / ".podcast" / "manifest.json").rename(public / "podcast-manifest.json")


def test_a_scheduled_episode_leaves_no_trace_until_its_time(served):
    config, base = served
    public = config.parent / "public"
    _as_an_earlier_version_left_it(config)
    old_manifest = json.loads((public / "podcast-manifest.json").read_text())
    output = run(config, "publish", "--all", "--now", BEFORE)
    assert "feed: 2 episode(s) live, 1 scheduled (003-claire-dubois)" in output
    assert not (public / "podcast-manifest.json").exists()  # moved, not left public

    before = crawl(base, START)
    # Its objects are not merely unlinked: under their public keys there is nothing yet.
    staged = public / ".podcast" / "staged"
    held = {path.relative_to(staged).as_posix() for path in staged.rglob("*") if path.is_file()}
    assert held and all(fetch(f"{base}/{key}")[0] == 404 for key in held)
    assert before[f"{base}/feed.xml"][0] == 200 and before[f"{base}/index.html"][0] == 200
    assert before[f"{base}/podcast-manifest.json"][0] == 404
    assert before[f"{base}/.podcast/manifest.json"][0] == 404
    assert sum(status == 200 for status, _ in before.values()) >= 8  # pages, media, art...

    # The nightly build after its time, from the store alone.
    output = run(config, "feed", "--upload", "--now", AFTER)
    after = crawl(base, START)

    # What the released episode is, read from the public feed and the producer's files.
    feed = feedparser.parse(after[f"{base}/feed.xml"][1])
    front, _ = split_front_matter(
        (config.parent / "episodes" / SCHEDULED / "episode.md").read_text("utf-8"), config)
    (entry,) = [e for e in feed.entries if e.title == front["title"]]
    enclosure = entry.enclosures[0].href
    keys = {urlsplit(url).path.lstrip("/") for url in after if f"/{SCHEDULED}-" in url}
    assert f"media/{SCHEDULED}-" in " ".join(keys) and len(keys) >= 3  # mp3, chapters, art
    needles = [SCHEDULED, front["title"], entry.id, *sorted(keys)]

    assert traces(before, needles) == []
    assert held == keys  # exactly the objects the released episode links

    # After its time: listed everywhere, and its enclosure is the master that was made.
    found = {needle for _, needle in traces(after, needles)}
    assert found == set(needles)
    assert after[f"{base}/episodes/{SCHEDULED}.html"][0] == 200
    status, audio = fetch(enclosure)
    (master,) = (config.parent / ".podcast" / "masters").glob(f"{SCHEDULED}-*.mp3")
    assert status == 200 and hashlib.sha256(audio).digest() == hashlib.sha256(
        master.read_bytes()).digest()
    assert "released media/" in output
    # Nothing the old manifest listed was lost in the move.
    manifest = json.loads((public / ".podcast" / "manifest.json").read_text())
    for slug, media in old_manifest["media"].items():
        assert manifest["media"][slug] == media
    assert after[f"{base}/.podcast/manifest.json"][0] == 404


def test_the_state_stays_private_across_a_re_master_of_the_scheduled_episode(served):
    config, base = served
    run(config, "publish", "--now", BEFORE)
    edit_episode(config, SCHEDULED, title="Claire Dubois, nouveau titre secret")
    run(config, "publish", SCHEDULED, "--now", BEFORE)
    answered = crawl(base, START)
    assert traces(answered, [SCHEDULED, "nouveau titre secret", "Claire Dubois"]) == []
    staged = sorted((config.parent / "public" / ".podcast" / "staged" / "media").glob(
        f"{SCHEDULED}-*.mp3"))
    assert len(staged) == 2  # both masters held back; the first is retired, never released


# --- S3: held back under the prefix's private area, released by a server-side copy -----------


@pytest.mark.s3
def test_on_s3_a_scheduled_episode_is_held_back_and_released_by_the_nightly_build(
        tmp_path, masters, monkeypatch):
    with moto_s3() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        config = show_in(tmp_path / "show", masters, storage=f"s3://{server.bucket}/show",
                         base_url=server.object_url("show"))
        client = server.client()
        old = {"version": 1, "image_key": None, "media": {}, "retired": []}
        client.put_object(Bucket=server.bucket, Key="show/podcast-manifest.json",
                          Body=json.dumps(old).encode())  # an earlier version's manifest
        run(config, "publish", "--now", BEFORE)

        def keys() -> set[str]:
            listed = client.list_objects_v2(Bucket=server.bucket).get("Contents", [])
            return {item["Key"] for item in listed}

        before = keys()
        assert "show/podcast-manifest.json" not in before
        assert "show/.podcast/manifest.json" in before
        public_before = {k for k in before if not k.startswith("show/.podcast/")}
        assert not [k for k in public_before if SCHEDULED in k]
        held = {k for k in before if k.startswith(f"show/.podcast/staged/media/{SCHEDULED}-")}
        assert len(held) == 2  # the master and its chapters

        run(config, "feed", "--upload", "--now", AFTER)
        after = keys()
        released = {k.replace(".podcast/staged/", "") for k in held}
        assert released <= after and not held & after
        for key in released:
            head = client.head_object(Bucket=server.bucket, Key=key)
            body = client.get_object(Bucket=server.bucket, Key=key)["Body"].read()
            assert head["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest()
            assert "immutable" in head["CacheControl"]
        feed = client.get_object(Bucket=server.bucket, Key="show/feed.xml")["Body"].read()
        assert len(feedparser.parse(feed).entries) == 3
