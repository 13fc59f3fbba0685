"""What was not counted, as a marketer reads it: listener-days as well as log lines, the
2-byte range probes apart, and the bots by name (`podcast stats report --by bot`).

A generated day of traffic (listeners who play, listeners who give up, apps that only
probe, named bots, HEAD and failed requests) is written in each log format, ingested and
reported with the CLI; the test counts the same requests itself.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from stats_fixtures import (
    DEMO_MEDIA,
    DEMO_THRESHOLD,
    Request,
    podcast_cli,
    publish_stand_ins,
    ranged,
    whole,
    write_log,
)

DAY = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
LISTENER_AGENTS = ["Podcasts/1650.20 CFNetwork/1408.0.4 Darwin/22.5.0",
                   "Spotify/8.8.56 Android/33 (SM-G991B)",
                   "AppleCoreMedia/1.0.0.21B101 (iPhone; U; CPU OS 17_1 like Mac OS X)"]
#: Each bot's agent and the name the report must give it.
BOTS = {
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)": "Googlebot",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)": "AhrefsBot",
    "curl/8.4.0": "curl",
    "Spotify/1.0": "Spotify (cache)",
    "": "(no user agent)",
    "atc/1.0 watchOS/9.1 model/Watch6,2 hwp/t8301 build/20S75 (6; dt:275) AMS/1":
        "Apple Watch (duplicate)",
}
SLUGS = list(DEMO_MEDIA)


def traffic(seed: int = 3) -> list[Request]:
    """Two days of requests of every kind, from a fixed seed."""
    rng = random.Random(seed)
    out: list[Request] = []
    for n in range(120):
        when = DAY + timedelta(days=n % 2, minutes=n)
        ip, agent = f"192.0.2.{n + 1}", rng.choice(LISTENER_AGENTS)
        media = DEMO_MEDIA[rng.choice(SLUGS)]
        kind = n % 6
        if kind == 0:  # an app that only probes the file
            out += [ranged(when, ip, agent, 0, 2, key=media.key)] * rng.randint(1, 3)
        elif kind == 1:  # a probe, then a full play
            out += [ranged(when, ip, agent, 0, 2, key=media.key), whole(when, ip, agent, media)]
        elif kind == 2:  # gave up after a few seconds, in two ranges
            out += [ranged(when, ip, agent, 0, 100_000, key=media.key),
                    ranged(when, ip, agent, 100_000, 150_000, key=media.key)]
        elif kind == 3:  # HEAD, then a 404 of a mistyped file
            out += [Request(when, ip, agent, media.key, method="HEAD"),
                    Request(when, ip, agent, media.key, status=404, sent=150)]
        else:
            out.append(whole(when, ip, agent, media))
    for b, agent in enumerate(BOTS):
        for n in range(rng.randint(1, 6)):
            media = DEMO_MEDIA[SLUGS[n % 3]]
            when = DAY + timedelta(days=n % 2, hours=1, minutes=b)
            out.append(whole(when, f"198.51.100.{b + 1}", agent, media))
            if n == 0:  # a bot probing too: still the bot's
                out.append(ranged(when, f"198.51.100.{b + 1}", agent, 0, 2, key=media.key))
    return out


# --- the independent count ------------------------------------------------------------------

def expected(requests: list[Request]) -> dict:
    """Lines and requester-days per reason, and the bots by name, from the requests."""
    slug_of = {m.key: slug for slug, m in DEMO_MEDIA.items()}
    lines: dict[str, int] = defaultdict(int)
    audio: dict[tuple, int] = defaultdict(int)
    audio_lines: dict[tuple, int] = defaultdict(int)
    probed: set[tuple] = set()
    bots: dict[str, list] = defaultdict(lambda: [0, set(), set()])
    for r in requests:
        who = (r.when.date(), slug_of[r.key], r.ip, r.agent)
        if r.method != "GET":
            lines["not_get"] += 1
        elif r.status not in (200, 206):
            lines["bad_status"] += 1
        elif r.agent in BOTS:
            name = BOTS[r.agent]
            lines["bots"] += 1
            bots[name][0] += 1
            bots[name][1].add(who)
            bots[name][2].add(slug_of[r.key])
        elif r.status == 206 and r.sent <= 2:
            lines["probes"] += 1
            probed.add(who)
        else:
            audio[who] += r.sent
            audio_lines[who] += 1
    low = [who for who, sent in audio.items() if sent < DEMO_THRESHOLD]
    return {
        "lines": dict(lines) | {"below_threshold": sum(audio_lines[w] for w in low)},
        "days": {"probes": len(probed - set(audio)), "below_threshold": len(low),
                 "bots": len(set().union(*(b[1] for b in bots.values())))},
        "bots": {name: (n, len(days), len(slugs)) for name, (n, days, slugs) in bots.items()},
    }


@pytest.fixture(params=["s3", "cloudfront", "combined"])
def ingested(request, demo_show: Path, tmp_path: Path) -> tuple[Path, list[Request]]:
    """The demo show, served from podcast.example.org/show, with the traffic ingested from
    a log in one format."""
    text = demo_show.read_text(encoding="utf-8")
    demo_show.write_text(re.sub(r"(?m)^base_url: .*$",
                                "base_url: https://podcast.example.org/show", text),
                         encoding="utf-8")
    publish_stand_ins(demo_show)
    requests = traffic()
    log = write_log(tmp_path / "logs", request.param, requests)
    podcast_cli(demo_show, "stats", "ingest", str(log))
    return demo_show, requests


def test_not_counted_gives_listener_days_lines_and_probes_apart(ingested) -> None:
    config, requests = ingested
    want = expected(requests)
    data = json.loads(podcast_cli(config, "stats", "report", "--format", "json"))
    rows = {row["reason"]: row for row in data["not_counted"]}
    assert list(rows) == ["bots", "probes", "below_threshold", "not_get", "bad_status",
                          "unknown_object", "malformed"]
    for reason in ("bots", "probes", "below_threshold", "not_get", "bad_status"):
        assert rows[reason]["lines"] == want["lines"][reason], reason
    for reason in ("bots", "probes", "below_threshold"):
        assert rows[reason]["listener_days"] == want["days"][reason], reason
    assert rows["not_get"]["listener_days"] is None
    # The SPEC's "rejected" keeps the probes inside below_threshold.
    assert data["rejected"]["below_threshold"] == (want["lines"]["below_threshold"]
                                                   + want["lines"]["probes"])
    assert data["total"]["downloads"] == sum(
        1 for r in requests if r.agent not in BOTS and r.method == "GET" and r.status == 200)


def test_the_bots_are_named_with_their_requests(ingested) -> None:
    config, requests = ingested
    want = expected(requests)["bots"]
    data = json.loads(podcast_cli(config, "stats", "report", "--format", "json",
                                  "--by", "bot"))
    got = {row["bot"]: (row["requests"], row["bot_days"], row["episodes"])
           for row in data["rows"]}
    assert got == want
    assert [row["requests"] for row in data["rows"]] == sorted(
        (n for n, _, _ in want.values()), reverse=True)
    table = podcast_cli(config, "stats", "report", "--by", "bot")
    assert "Googlebot" in table and "Bot days" in table


def test_by_device_splits_the_downloads(ingested) -> None:
    config, requests = ingested
    data = json.loads(podcast_cli(config, "stats", "report", "--format", "json",
                                  "--by", "device"))
    got = {row["device"]: row["downloads"] for row in data["rows"]}
    counted = [r for r in requests
               if r.agent not in BOTS and r.method == "GET" and r.status == 200]
    # The device each listener agent names (Apple's own apps name only the Darwin kernel).
    device = {LISTENER_AGENTS[0]: "Apple (iPhone, iPad or Mac)", LISTENER_AGENTS[1]: "Android",
              LISTENER_AGENTS[2]: "iPhone"}
    expected_rows: dict[str, int] = defaultdict(int)
    for r in counted:
        expected_rows[device[r.agent]] += 1
    assert got == expected_rows


def test_library_names_read_as_what_they_are(ingested) -> None:
    config, _requests = ingested
    table = podcast_cli(config, "stats", "report", "--by", "app")
    assert "Apple media player" in table and "AppleCoreMedia" in table
    rows = json.loads(podcast_cli(config, "stats", "report", "--format", "json", "--by",
                                  "app"))["rows"]
    assert "AppleCoreMedia" in {row["app"] for row in rows}  # the stable key in JSON
