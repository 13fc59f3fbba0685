"""Helpers for the reliability and security tests: a tiny show, the CLI as a process, and
checks of what a store holds.

The tiny show is the demo show cut down to three episodes of a few seconds of real speech
(taken from the demo recordings), so a full publish masters in seconds on a small machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import feedparser

from podcast.binaries import ffmpeg

REPO = Path(__file__).resolve().parent.parent
#: The CLI exactly as users run it, but with this interpreter (the venv's).
PODCAST = [sys.executable, "-c", "from podcast.cli import main; main()"]
#: A fixed clock, so two publishes of the same show give byte-identical feeds.
NOW = "2026-12-01T12:00:00+00:00"
DEFAULT_SEED = 20261123


def test_seed() -> int:
    """The seed of this run: ``PODCAST_TEST_SEED`` if set (CI varies it), else a fixed one."""
    return int(os.environ.get("PODCAST_TEST_SEED") or DEFAULT_SEED)


test_seed.__test__ = False  # a helper, not a test, despite its name


def rng(name: str) -> random.Random:
    """A generator seeded by the run's seed and the test's name (tests stay independent)."""
    return random.Random(f"{test_seed()}:{name}")


def record(test: str, **figures) -> None:
    """Append one JSON line of measured figures to ``$PODCAST_RELIABILITY_LOG`` (if set).

    docs/reliability.md is filled from these lines, so its numbers are real runs.
    """
    path = os.environ.get("PODCAST_RELIABILITY_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"test": test, "seed": test_seed(), **figures}) + "\n")


TINY_EPISODES = {
    "001-sonia-mamin": ("interview.mp3", "0:00", "0:04", {}),
    "002-marc-olivier": ("interview.m4a", "0:00", "0:03", {"transcript": "transcript.vtt"}),
    "003-claire-dubois": ("interview.flac", "0:00", "0:05", {"image": "guest.jpg"}),
}


def make_tiny_show(folder: Path, *, storage: str, base_url: str, seconds: float = 6.0,
                   title_suffix: str = "") -> Path:
    """Write a three-episode show into ``folder``; returns its podcast.yaml.

    Each episode is the first ``seconds`` of a demo interview (real speech, each in a
    different input format), with two chapters; one has a transcript, one its own cover.
    """
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "assets", folder / "assets", dirs_exist_ok=True)
    config = (REPO / "podcast.yaml").read_text(encoding="utf-8")
    config = config.replace("base_url: http://127.0.0.1:8000", f"base_url: {base_url}")
    config = config.replace("storage: file://public", f"storage: {storage}")
    assert base_url in config and storage in config
    (folder / "podcast.yaml").write_text(config, encoding="utf-8")
    for slug, (audio, first, second, extra) in TINY_EPISODES.items():
        source = REPO / "episodes" / slug
        target = folder / "episodes" / slug
        target.mkdir(parents=True, exist_ok=True)
        wav = target / "interview.wav"
        if not wav.exists():
            subprocess.run([ffmpeg(), "-v", "error", "-y", "-i", str(source / audio),
                            "-t", str(seconds), "-c:a", "pcm_s16le", str(wav)], check=True)
        for key, name in extra.items():
            if key == "image":
                _make_cover(target / name)
            else:
                shutil.copy(source / name, target / name)
        lines = [
            "---",
            f'title: "{_front_matter_title(source)}{title_suffix}"',
            f"published: 2026-11-{10 + int(slug[:3]):02d}T07:00:00+01:00",
            "audio: interview.wav",
            "season: 1",
            f"number: {int(slug[:3])}",
            "guests:",
            f"  - {{name: {slug.split('-', 1)[1].replace('-', ' ').title()}}}",
            "chapters:",
            f'  - {{start: "{first}", title: "Introduction"}}',
            f'  - {{start: "{second}", title: "La suite"}}',
            *(f"{key}: {name}" for key, name in extra.items()),
            "---",
            f"Notes de l'épisode {slug}.",
            "",
        ]
        (target / "episode.md").write_text("\n".join(lines), encoding="utf-8")
    return folder / "podcast.yaml"


def _make_cover(path: Path) -> None:
    """A real 1400 px square RGB JPEG (an episode's own artwork)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1400, 1400), (139, 40, 60))
    ImageDraw.Draw(image).rectangle((200, 200, 1200, 1200), fill=(250, 220, 120))
    image.save(path, "JPEG", quality=85)


def _front_matter_title(folder: Path) -> str:
    for line in (folder / "episode.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("title:"):
            return line.split(":", 1)[1].strip().strip('"')
    raise ValueError(f"no title in {folder}")


def run_podcast(config: Path, *args: str, env: dict[str, str] | None = None,
                timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``podcast --config CONFIG ARGS...`` to completion; returns the finished process."""
    return subprocess.run([*PODCAST, "--config", str(config), *args], cwd=config.parent,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


def start_podcast(config: Path, *args: str, env: dict[str, str] | None = None
                  ) -> subprocess.Popen:
    """Start ``podcast --config CONFIG ARGS...`` without waiting (to kill it later)."""
    return subprocess.Popen([*PODCAST, "--config", str(config), *args], cwd=config.parent,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# --- what a store holds -----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredObject:
    """One object as the store has it."""

    size: int
    sha256: str
    content_type: str | None


class BucketView:
    """Read-only access to an S3 bucket, straight to the server (never through a proxy)."""

    def __init__(self, client, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def size(self, key: str) -> int | None:
        """The object's size from a HEAD request, or None if absent."""
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(key))[
                "ContentLength"]
        except self.client.exceptions.ClientError:
            return None

    def snapshot(self) -> dict[str, StoredObject]:
        """Every object: size, sha256 of the bytes and Content-Type."""
        objects = {}
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else "")
        for page in pages:
            for item in page.get("Contents", []):
                answer = self.client.get_object(Bucket=self.bucket, Key=item["Key"])
                data = answer["Body"].read()
                key = item["Key"][len(self.prefix) + 1:] if self.prefix else item["Key"]
                objects[key] = StoredObject(len(data), hashlib.sha256(data).hexdigest(),
                                            answer.get("ContentType"))
        return objects

    def clear(self) -> None:
        """Delete every object (to start a round from an empty store)."""
        for key in self.snapshot():
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


class FolderView:
    """The same read-only view over a ``file://`` store folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, key: str) -> bytes | None:
        path = self.folder / key
        return path.read_bytes() if path.is_file() else None

    def size(self, key: str) -> int | None:
        path = self.folder / key
        return path.stat().st_size if path.is_file() else None

    def snapshot(self) -> dict[str, StoredObject]:
        if not self.folder.is_dir():
            return {}
        return {path.relative_to(self.folder).as_posix(): StoredObject(
                    path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest(), None)
                for path in sorted(self.folder.rglob("*"))
                if path.is_file() and not path.name.startswith(".")}

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


FEED_KEY = "feed.xml"


class FeedWatcher:
    """Checks the stored feed over and over in a thread while a command runs.

    ``with FeedWatcher(view, base_url) as watch: ...`` then ``watch.problems`` lists every
    inconsistency seen at any moment, and ``watch.checks`` how many checks ran.
    """

    def __init__(self, view, base_url: str, interval: float = 0.05) -> None:
        import threading

        self.view, self.base_url, self.interval = view, base_url, interval
        self.problems: list[str] = []
        self.checks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.problems += feed_problems(self.view, self.base_url)
            self.checks += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> FeedWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


def store_differences(view, reference) -> list[str]:
    """How ``view``'s objects differ from ``reference``'s; text objects as unified diffs."""
    import difflib

    mine, theirs = view.snapshot(), reference.snapshot()
    out = [f"missing {key}" for key in sorted(set(theirs) - set(mine))]
    out += [f"extra {key}" for key in sorted(set(mine) - set(theirs))]
    for key in sorted(set(mine) & set(theirs)):
        if mine[key] == theirs[key]:
            continue
        out.append(f"differs {key}: {mine[key]} vs reference {theirs[key]}")
        if key.endswith((".json", ".xml", ".html")):
            out += list(difflib.unified_diff(
                reference.get(key).decode().splitlines(), view.get(key).decode().splitlines(),
                "reference", "this run", lineterm="", n=1))[:40]
    return out


def feed_problems(view, base_url: str) -> list[str]:
    """What is wrong with the stored feed; [] when it is absent or fully consistent.

    Consistent means: it parses, and every URL it gives a listener (enclosures, chapters,
    transcripts, images) names an object that exists, and every enclosure's ``length`` is
    that object's exact size.
    """
    data = view.get(FEED_KEY)
    if data is None:
        return []
    parsed = feedparser.parse(data)
    if parsed.bozo:
        return [f"feed does not parse: {parsed.bozo_exception}"]
    problems = []
    prefix = base_url.rstrip("/") + "/"
    sizes: dict[str, int | None] = {}

    def check(url: str, length: int | None = None) -> None:
        if not url.startswith(prefix):
            return  # an external link (guest's site, funding page)
        key = url[len(prefix):].split("#")[0].split("?")[0]
        if key == "" or key.endswith("/"):
            key += "index.html"  # a page's address is its folder
        if key not in sizes:
            sizes[key] = view.size(key)
        if sizes[key] is None:
            problems.append(f"feed points at missing object {key}")
        elif length is not None and sizes[key] != length:
            problems.append(f"{key}: feed says {length} bytes, store has {sizes[key]}")

    if not parsed.entries and b"<item>" in data:
        problems.append("feed has <item> elements feedparser could not read")
    for entry in parsed.entries:
        enclosures = entry.get("enclosures", [])
        if len(enclosures) != 1:
            problems.append(f"{entry.get('id')}: {len(enclosures)} enclosures")
        for enclosure in enclosures:
            check(enclosure["href"], int(enclosure.get("length") or -1))
        for name in ("podcast_chapters", "podcast_transcript"):
            if isinstance(entry.get(name), dict) and entry[name].get("url"):
                check(entry[name]["url"])
        if entry.get("image", {}).get("href"):
            check(entry["image"]["href"])
    if parsed.feed.get("image", {}).get("href"):
        check(parsed.feed["image"]["href"])
    # Namespaced tags feedparser does not model, and the pages: every URL we host.
    for url in re.findall(rb'(?:url|href)="([^"]+)"', data):
        check(url.decode().replace("&amp;", "&"))
    for url in re.findall(rb"<link>([^<]+)</link>", data):
        check(url.decode().strip())
    return problems


# --- access logs ------------------------------------------------------------------------------

AGENTS = (
    "AppleCoreMedia/1.0.0.21E236 (iPhone; U; CPU OS 17_4 like Mac OS X; fr_fr)",
    "Podcasts/1650.20 CFNetwork/1410.1 Darwin/22.6.0",
    "Spotify/8.9.10 iOS/17.4 (iPhone15,2)",
    "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)",
    "AntennaPod/3.4.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "-",
)


def combined_lines(media: list[tuple[str, int]], *, days: list[str], count: int,
                   rand: random.Random, prefix: str = "") -> list[str]:
    """``count`` combined-format lines for ``media`` ((key, size) pairs) on ``days``
    (``"23/Nov/2026"``): whole downloads, partial ranges, 2-byte probes, HEADs, 304s, bots
    and other objects, from a few hundred listeners (IPv4 and IPv6)."""
    lines = []
    for _ in range(count):
        key, size = rand.choice(media)
        listener = rand.randrange(400)
        ip = (f"203.0.{listener % 256}.{listener // 256 + 1}" if listener % 3
              else f"2001:db8:{listener:x}::{rand.randrange(1, 9)}")
        agent = AGENTS[listener % len(AGENTS)]
        method, status, sent = "GET", 200, size
        roll = rand.random()
        if roll < 0.30:
            status, sent = 206, rand.randrange(3, size)
        elif roll < 0.38:
            status, sent = 206, 2
        elif roll < 0.42:
            method, sent = "HEAD", 0
        elif roll < 0.45:
            status, sent = 304, 0
        elif roll < 0.50:
            key, sent = "feed.xml", 4000
        clock = (f"{rand.choice(days)}:{rand.randrange(24):02d}:"
                 f"{rand.randrange(60):02d}:{rand.randrange(60):02d} +0000")
        lines.append(f'{ip} - - [{clock}] "{method} {prefix}/{key} HTTP/1.1" {status} {sent} '
                     f'"-" "{agent}"')
    return lines
