"""Episode pacing: day 1/3/7/30, the median episode and each episode against it.

A generated history of seven weeks for the demo show's four episodes (release spikes that
decay, listeners who give up early, 2-byte probes, a preview before release) is written as
real access logs (S3 server access log for the first weeks, combined log after), ingested
with `podcast stats ingest` and reported with `podcast stats report`.  The test counts the
same requests itself: a download is a (UTC day, episode, address, agent) whose GET bytes
reach the threshold; the median is the middle value of the sorted numbers.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
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

#: The demo show's releases (episode.md: 07:00 +01:00, i.e. 06:00 UTC; the fourth the
#: same day at 18:00 +01:00: its day 1 is that UTC day too).
RELEASES = {"001-sonia-mamin": date(2026, 11, 9), "002-marc-olivier": date(2026, 11, 16),
            "003-claire-dubois": date(2026, 11, 30), "004-lea-fontaine": date(2026, 11, 30)}
PEAKS = {"001-sonia-mamin": 24, "002-marc-olivier": 40, "003-claire-dubois": 31,
         "004-lea-fontaine": 18}
UNTIL = date(2026, 12, 20)
SWITCH = date(2026, 11, 28)  # days before are in the S3 log, the rest in the combined log
AGENTS = ["Podcasts/1650.20 CFNetwork/1408.0.4 Darwin/22.5.0",
          "Spotify/8.8.56 Android/33 (SM-G991B)",
          "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)",
          "AntennaPod/3.2.0"]


def history(seed: int = 12) -> list[Request]:
    """Every request of the seven weeks: each episode's audience decays from its peak."""
    rng = random.Random(seed)
    requests: list[Request] = []
    for number, (slug, released) in enumerate(RELEASES.items(), 1):
        media = DEMO_MEDIA[slug]
        # A preview link opened the day before release: a download, but before day 1.
        requests.append(whole(_at(released - timedelta(days=1), 9), f"10.{number}.0.1",
                              AGENTS[0], media))
        for age in range(1, (UNTIL - released).days + 2):
            day = released + timedelta(days=age - 1)
            audience = int(PEAKS[slug] * 0.72 ** (age - 1)) + rng.randint(0, 2)
            for i in range(audience):
                requests += _listener(rng, day, f"10.{number}.{age}.{i + 1}", media)
    return requests


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    # Release day starts at 06:00 UTC; listening after 07:00 keeps every request on its day.
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _listener(rng: random.Random, day: date, ip: str, media) -> list[Request]:
    agent = rng.choice(AGENTS)
    when = _at(day, rng.randint(7, 22), rng.randint(0, 59))
    kind = rng.random()
    if kind < 0.15:  # gave up after a few seconds: never a download
        return [ranged(when, ip, agent, 0, 2, key=media.key),
                ranged(when + timedelta(seconds=5), ip, agent, 0, 300_000, key=media.key)]
    if kind < 0.55:  # a probe, then the file in three ranges
        step = media.bytes // 3
        return [ranged(when, ip, agent, 0, 2, key=media.key)] + [
            ranged(when + timedelta(seconds=10 * (n + 1)), ip, agent, n * step, step,
                   key=media.key) for n in range(3)]
    return [whole(when, ip, agent, media)]


# --- the independent count ------------------------------------------------------------------


def downloads_by_day(requests: list[Request]) -> dict[str, dict[date, int]]:
    """Downloads per episode and UTC day, counted from the requests themselves."""
    slug_of = {m.key: slug for slug, m in DEMO_MEDIA.items()}
    delivered: dict[tuple, int] = defaultdict(int)
    for r in requests:
        if r.method == "GET" and r.status in (200, 206) and r.when.date() <= UNTIL:
            delivered[(slug_of[r.key], r.when.date(), r.ip, r.agent)] += r.sent
    counts: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for (slug, day, _ip, _agent), sent in delivered.items():
        if sent >= DEMO_THRESHOLD:
            counts[slug][day] += 1
    return counts


def running_totals(per_day: dict[date, int], released: date) -> list[int]:
    """Cumulative downloads on day 1, 2, ... since release, up to UNTIL, at most 30 days."""
    days = min((UNTIL - released).days + 1, 30)
    out = []
    for age in range(1, days + 1):
        last = released + timedelta(days=age - 1)
        out.append(sum(n for day, n in per_day.items() if released <= day <= last))
    return out


def middle(values: list[int]) -> float:
    ordered = sorted(values)
    half = len(ordered) // 2
    return float(ordered[half]) if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


@pytest.fixture
def paced_show(demo_show: Path, tmp_path: Path) -> tuple[Path, list[Request]]:
    publish_stand_ins(demo_show)
    requests = history()
    early = [r for r in requests if r.when.date() < SWITCH]
    late = [r for r in requests if r.when.date() >= SWITCH]
    s3 = write_log(tmp_path / "logs", "s3", early, prefix="")
    combined = write_log(tmp_path / "logs", "combined", late, path_prefix="/")
    podcast_cli(demo_show, "stats", "ingest", str(s3), str(combined))
    return demo_show, requests


def test_day_1_3_7_30_the_median_and_the_comparison_match_an_independent_count(
        paced_show) -> None:
    config, requests = paced_show
    counted = downloads_by_day(requests)
    curves = {slug: running_totals(counted[slug], released)
              for slug, released in RELEASES.items()}
    median_line = []
    for age in range(1, max(len(c) for c in curves.values()) + 1):
        old_enough = [c[age - 1] for c in curves.values() if len(c) >= age]
        median_line.append(middle(old_enough) if len(old_enough) >= 2 else None)

    data = json.loads(podcast_cli(config, "stats", "report", "--format", "json",
                                  "--until", UNTIL.isoformat()))
    episodes = {e["slug"]: e for e in data["episodes"]}
    for slug, released in RELEASES.items():
        curve, mine = curves[slug], episodes[slug]
        for n in (1, 3, 7, 30):
            window_over = released + timedelta(days=n - 1) <= UNTIL
            assert mine[f"day_{n}"] == (curve[n - 1] if window_over else None), (slug, n)
        assert data["pacing"]["episodes"][slug] == curve
        age = len(curve)
        assert mine["age_days"] == age
        assert mine["median_at_age"] == median_line[age - 1]
        expected = round(100 * (curve[-1] - median_line[age - 1]) / median_line[age - 1], 1)
        assert mine["vs_median_percent"] == expected
        # The preview the day before release counts in all-time, never in day N.
        assert mine["all_time"] == sum(counted[slug].values())
    assert data["pacing"]["median"] == median_line
    # Claire and Léa (out 30 November) are 21 days old: days 22-30 have only the two older
    # episodes.
    assert len(curves["003-claire-dubois"]) == 21 and median_line[21] == middle(
        [curves["001-sonia-mamin"][21], curves["002-marc-olivier"][21]])


def test_every_format_has_day_3_and_the_comparison(paced_show) -> None:
    config, _requests = paced_show
    rows = list(csv.DictReader(io.StringIO(podcast_cli(
        config, "stats", "report", "--format", "csv", "--until", UNTIL.isoformat()))))
    assert {"day_1", "day_3", "day_7", "day_30", "vs_median_percent"} <= set(rows[0])
    table = podcast_cli(config, "stats", "report", "--until", UNTIL.isoformat())
    header = next(line for line in table.splitlines() if line.startswith("Episode"))
    columns = [word.strip() for word in header.split("  ") if word.strip()]
    assert columns[-6:] == ["Day 1", "Day 3", "Day 7", "Day 30", "All time", "Vs median"]
    claire = next(line for line in table.splitlines() if line.startswith("Claire Dubois"))
    assert "(day 21)" in claire
