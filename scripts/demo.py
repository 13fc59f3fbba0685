"""The demo: publish the demo show locally, let some listeners download it, print the stats.

1. `podcast publish` masters the three interviews and writes ./public (file:// storage);
2. `podcast serve` serves ./public on 127.0.0.1:8000 (the demo's base_url) with an access log;
3. simulated apps download episodes from different loopback addresses (127.0.0.x): full
   downloads, range-request series, 2-byte probes, HEAD requests and a crawler;
4. `podcast stats ingest` reads the log, `podcast stats report` / `targets` print the figures.

Run it with scripts/demo.sh (which installs first). Deterministic: a fixed random seed.
"""

from __future__ import annotations

import http.client
import random
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PODCAST = str(Path(sys.executable).with_name("podcast"))

APPS = [
    "AppleCoreMedia/1.0.0.21B101 (iPhone; U; CPU OS 17_1 like Mac OS X; fr_fr)",
    "Podcasts/1.1.0 (iPhone; iOS 17.1; fr_FR)",
    "Spotify/8.8.76 iOS/17.1 (iPhone15,2)",
    "Spotify/8.8.80 Android/33 (SM-S911B)",
    "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)",
    "Pocket Casts/7.52 (Android 14)",
    "AntennaPod/3.2.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36",
]
BOTS = ["Googlebot/2.1 (+http://www.google.com/bot.html)", "Spotify/1.0", ""]


def run(*args: str) -> str:
    """Run the podcast CLI, echo and return its output; stop the demo on failure."""
    print(f"\n$ podcast {' '.join(args)}", flush=True)
    done = subprocess.run([PODCAST, *args], cwd=ROOT, text=True, capture_output=True)
    print(done.stdout, end="")
    if done.returncode:
        print(done.stderr, end="", file=sys.stderr)
        sys.exit(done.returncode)
    return done.stdout


def request(host: str, port: int, method: str, path: str, source: str, agent: str,
            byte_range: str | None = None) -> int:
    """One HTTP request from a chosen loopback source address; returns body bytes read."""
    conn = http.client.HTTPConnection(host, port, source_address=(source, 0), timeout=10)
    headers = {"User-Agent": agent} if agent else {"User-Agent": ""}
    if byte_range:
        headers["Range"] = f"bytes={byte_range}"
    conn.request(method, path, headers=headers)
    body = conn.getresponse().read()
    conn.close()
    return len(body)


def listen(host: str, port: int, enclosures: list[tuple[str, int]]) -> int:
    """Simulate a week of listeners; returns the number of requests made."""
    rng = random.Random(2026)
    count = 0
    for listener in range(60):
        source = f"127.0.0.{10 + listener % 200}"
        agent = rng.choice(APPS)
        for path, size in enclosures:
            if rng.random() < 0.35:
                continue
            count += request(host, port, "HEAD", path, source, agent) >= 0
            count += request(host, port, "GET", path, source, agent, "0-1") >= 0
            if rng.random() < 0.8:  # plays: a series of ranges covering the file
                step = size // 3 + 1
                for start in range(0, size, step):
                    request(host, port, "GET", path, source, agent,
                            f"{start}-{min(size, start + step) - 1}")
                    count += 1
            else:  # gave up after a few seconds: below the IAB threshold
                request(host, port, "GET", path, source, agent, "0-20000")
                count += 1
    for agent in BOTS:
        for path, _ in enclosures:
            count += request(host, port, "GET", path, "127.0.0.250", agent) >= 0
    return count


def enclosures_of(feed: Path) -> list[tuple[str, int]]:
    """(path, length) of every enclosure in the built feed."""
    import xml.etree.ElementTree as ET

    items = ET.parse(feed).getroot().iter("enclosure")
    return [(urlparse(e.get("url")).path, int(e.get("length"))) for e in items]


def main() -> None:
    run("publish", "--all")
    run("validate")
    feed = ROOT / "public" / "feed.xml"
    log = ROOT / ".podcast" / "logs" / f"access-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen([PODCAST, "serve", "--port", "8000", "--log", str(log)], cwd=ROOT,
                              stdout=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                request("127.0.0.1", 8000, "HEAD", "/feed.xml", "127.0.0.1", "demo")
                break
            except OSError:
                time.sleep(0.1)
        made = listen("127.0.0.1", 8000, enclosures_of(feed))
        print(f"\nsimulated {made} requests from 60 listeners and 3 bots -> {log.name}")
    finally:
        server.terminate()
        server.wait(timeout=10)
    run("stats", "ingest", str(log))
    run("stats", "report")
    run("stats", "report", "--by", "app")
    run("stats", "targets")
    print("\nThe show is in ./public (feed.xml, index.html); serve it with `podcast serve`.")


if __name__ == "__main__":
    main()
