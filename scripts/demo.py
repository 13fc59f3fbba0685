"""The demo: publish the demo show locally, simulate weeks of listening, write the report.

1. `podcast publish` masters the four interviews (the fourth mixed from one track per
   speaker) and writes ./public (file:// storage);
2. the weeks since each release are written as an access log in `podcast serve`'s own
   format (its `combined_log_line`): a release spike that decays into a long tail, several
   apps, a few bots, 2-byte probes, listeners who give up, and guests' share links. A server
   cannot be asked to log another day than today, so the past is written, not served;
3. today is real: `podcast serve` serves ./public on 127.0.0.1:8000 (the demo's base_url),
   simulated apps download from loopback addresses, and two people open share links that
   `podcast share` printed;
4. `podcast stats ingest` reads both logs; `report`, `report --by via` and `targets` print
   the figures, and `report --html` writes the marketing page, whose path is printed last.

Run it with scripts/demo.sh (which installs first). Deterministic for a given day: each
simulated day has its own seed, so a run on a later day appends to the history it wrote
before (the ingest reads only the new part).
"""

from __future__ import annotations

import http.client
import random
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PODCAST = str(Path(sys.executable).with_name("podcast"))
sys.path.insert(0, str(ROOT))
from podcast.serve import combined_log_line  # noqa: E402 (the log format serve writes)

#: (agent, weight): who listens to a French interview show, roughly.
APPS = [
    ("Podcasts/1650.20 CFNetwork/1408.0.4 Darwin/22.5.0", 30),
    ("AppleCoreMedia/1.0.0.21B101 (iPhone; U; CPU OS 17_1 like Mac OS X; fr_fr)", 12),
    ("Spotify/8.8.76 iOS/17.1 (iPhone15,2)", 14),
    ("Spotify/8.8.80 Android/33 (SM-S911B)", 12),
    ("Overcast/3.0 (+http://overcast.fm/; iOS podcast app)", 6),
    ("Pocket Casts/7.52 (Android 14)", 6),
    ("AntennaPod/3.2.0", 4),
    ("Deezer/7.0.20.1 (Android; 14; Mobile; fr)", 5),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0 Safari/537.36", 6),
]
BROWSER = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like "
           "Gecko) Version/17.2 Safari/605.1.15")
BOTS = ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Spotify/1.0", "curl/8.4.0"]
#: Share links used in the weeks after a release: (slug, code, visitors on release day).
SHARED = {"001-sonia-mamin": [("sonia-mamin", 9), ("newsletter", 5)],
          "002-marc-olivier": [("marc-olivier", 4), ("newsletter", 6)],
          "003-claire-dubois": [("claire-dubois", 12), ("linkedin", 7)],
          "004-lea-fontaine": [("lea-fontaine", 8), ("newsletter", 4)]}
PEAKS = {"001-sonia-mamin": 38, "002-marc-olivier": 55, "003-claire-dubois": 46,
         "004-lea-fontaine": 31}


def run(*args: str, quiet: bool = False) -> str:
    """Run the podcast CLI, echo and return its output; stop the demo on failure."""
    print(f"\n$ podcast {' '.join(args)}", flush=True)
    done = subprocess.run([PODCAST, *args], cwd=ROOT, text=True, capture_output=True)
    if not quiet:
        print(done.stdout, end="")
    if done.returncode:
        print(done.stdout if quiet else "", done.stderr, end="", file=sys.stderr)
        sys.exit(done.returncode)
    return done.stdout


# --- the past: weeks of listening written in serve's log format ------------------------------


def history(releases: dict[str, tuple[datetime, str, int]], today: date) -> list[str]:
    """Log lines from the first release to yesterday, day by day (UTC)."""
    first = min(when for when, _, _ in releases.values()).date()
    lines: list[str] = []
    day = first
    while day < today:
        lines += one_day(day, releases)
        day += timedelta(days=1)
    return lines


def one_day(day: date, releases: dict[str, tuple[datetime, str, int]]) -> list[str]:
    """One day's requests: each live episode's audience decays from its release spike."""
    rng = random.Random(f"demo-{day.isoformat()}")
    entries: list[tuple[datetime, str]] = []
    for number, (slug, (released, path, size)) in enumerate(sorted(releases.items()), 1):
        age = (day - released.date()).days + 1
        if age < 1:
            continue
        audience = int(PEAKS[slug] * 0.62 ** (age - 1)) + rng.choice((0, 1, 1, 2, 3))
        start = released if age == 1 else datetime(day.year, day.month, day.day, tzinfo=UTC)
        for i in range(audience):
            ip = f"10.{number}.{age % 250}.{i + 1}"
            agent = rng.choices([a for a, _ in APPS], [w for _, w in APPS])[0]
            when = start + timedelta(minutes=rng.randint(1, int(
                (start.replace(hour=23, minute=59) - start).seconds // 60)))
            entries += listener(rng, when, ip, agent, path, size)
        for code, visitors in SHARED[slug]:
            for i in range(int(visitors * 0.5 ** (age - 1))):
                when = start + timedelta(minutes=rng.randint(1, 600))
                entries += shared_visit(rng, when, f"172.16.{number}.{i + 1}", slug, code,
                                        path, size)
        if rng.random() < 0.5:
            agent = rng.choice(BOTS)
            entries.append((start + timedelta(minutes=30),
                            line("66.249.66.1", start, path, 200, size, agent)))
    entries.sort(key=lambda item: item[0])
    return [text for _, text in entries]


def line(ip: str, when: datetime, target: str, status: int, sent: int, agent: str,
         referer: str | None = None, method: str = "GET") -> str:
    return combined_log_line(ip, when, f"{method} {target} HTTP/1.1", status, sent, referer,
                             agent)


def listener(rng: random.Random, when: datetime, ip: str, agent: str, path: str,
             size: int) -> list[tuple[datetime, str]]:
    """A podcast app: a probe, then the file in ranges; some only check the file (a new
    subscriber's app that never downloads it), some give up within the first minute."""
    out = [(when, line(ip, when, path, 206, 2, agent))]
    chance = rng.random()
    if chance < 0.08:
        return out
    if chance < 0.2:
        return out + [(when, line(ip, when, path, 206, 40_000, agent))]
    step = size // 3 + 1
    for start in range(0, size, step):
        out.append((when, line(ip, when, path, 206, min(step, size - start), agent)))
    return out


def shared_visit(rng: random.Random, when: datetime, ip: str, slug: str, code: str,
                 path: str, size: int) -> list[tuple[datetime, str]]:
    """Someone opens a share link, and most of them press play on the page."""
    page = f"/episodes/{slug}.html?via={code}"
    out = [(when, line(ip, when, page, 200, 14_000, BROWSER, "https://www.linkedin.com/"))]
    if rng.random() < 0.75:
        out.append((when, line(ip, when, f"{path}?via={code}", 200, size, BROWSER,
                               f"http://127.0.0.1:8000{page}")))
    return out


# --- today: real requests to `podcast serve` --------------------------------------------------


def request(method: str, path: str, source: str, agent: str, byte_range: str | None = None,
            referer: str | None = None) -> int:
    """One HTTP request from a chosen loopback source address; returns body bytes read."""
    conn = http.client.HTTPConnection("127.0.0.1", 8000, source_address=(source, 0),
                                      timeout=10)
    headers = {"User-Agent": agent}
    if byte_range:
        headers["Range"] = f"bytes={byte_range}"
    if referer:
        headers["Referer"] = referer
    conn.request(method, path, headers=headers)
    body = conn.getresponse().read()
    conn.close()
    return len(body)


def listen_today(enclosures: list[tuple[str, int]], links: list[str]) -> int:
    """Today's listeners through `podcast serve`, and two people opening share links."""
    rng = random.Random(2026)
    count = 0
    for n in range(24):
        source, agent = f"127.0.0.{10 + n}", rng.choices(
            [a for a, _ in APPS], [w for _, w in APPS])[0]
        path, size = rng.choice(enclosures)
        count += request("HEAD", path, source, agent) >= 0
        count += request("GET", path, source, agent, "0-1") >= 0
        step = size // 3 + 1
        for start in range(0, size, step):
            request("GET", path, source, agent, f"{start}-{min(size, start + step) - 1}")
            count += 1
    for n, link in enumerate(links):
        url = urlparse(link)
        page = f"{url.path}?{url.query}"
        media, _ = next(e for e in enclosures if url.path.split("/")[-1][:-5] in e[0])
        source = f"127.0.0.{200 + n}"
        request("GET", page, source, BROWSER)
        request("GET", f"{media}?{url.query}", source, BROWSER, referer=link)
        count += 2
    for agent in BOTS:
        path, _ = enclosures[0]
        count += request("GET", path, "127.0.0.250", agent) >= 0
    return count


def enclosures_of(feed: Path) -> list[tuple[str, int]]:
    """(path, length) of every enclosure in the built feed."""
    import xml.etree.ElementTree as ET

    items = ET.parse(feed).getroot().iter("enclosure")
    return [(urlparse(e.get("url")).path, int(e.get("length"))) for e in items]


def releases_of(feed: Path) -> dict[str, tuple[datetime, str, int]]:
    """Each live episode's release time and enclosure, by slug."""
    import xml.etree.ElementTree as ET
    from email.utils import parsedate_to_datetime

    out = {}
    for item in ET.parse(feed).getroot().iter("item"):
        enclosure = item.find("enclosure")
        path = urlparse(enclosure.get("url")).path
        slug = re.match(r"/media/(.+)-[0-9a-f]{12}\.mp3$", path).group(1)
        out[slug] = (parsedate_to_datetime(item.findtext("pubDate")).astimezone(UTC), path,
                     int(enclosure.get("length")))
    return out


def serve_today(log: Path, enclosures: list[tuple[str, int]], links: list[str]) -> None:
    server = subprocess.Popen([PODCAST, "serve", "--port", "8000", "--log", str(log)],
                              cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                request("HEAD", "/feed.xml", "127.0.0.1", "demo")
                break
            except OSError:
                time.sleep(0.1)
        made = listen_today(enclosures, links)
        print(f"\ntoday: {made} requests to podcast serve -> {log.relative_to(ROOT)}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    run("publish", "--all", quiet=True)
    run("validate")
    feed = ROOT / "public" / "feed.xml"
    releases = releases_of(feed)
    today = datetime.now(UTC).date()
    logs = ROOT / ".podcast" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    past = logs / "history.log"
    past.write_text("\n".join(history(releases, today)) + "\n", encoding="utf-8")
    print(f"\nthe weeks since the first release, as `podcast serve` logs them -> "
          f"{past.relative_to(ROOT)} ({sum(1 for _ in past.open())} lines)")
    newest = max(releases, key=lambda slug: releases[slug][0])
    links = [url for url in re.findall(r"http\S+", run("share", newest) + run(
        "share", newest, "--via", "newsletter"))]
    today_log = logs / f"access-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
    serve_today(today_log, enclosures_of(feed), links)
    run("stats", "ingest", str(past), str(today_log))
    run("stats", "report")
    run("stats", "report", "--by", "via")
    run("stats", "targets")
    report = ROOT / ".podcast" / "report.html"
    run("stats", "report", "--html", str(report), quiet=True)
    print(f"\nThe marketing report: {report}\n  open it in a browser: file://{report}")
    print("The show is in ./public (feed.xml, index.html); serve it with `podcast serve`.")


if __name__ == "__main__":
    main()
