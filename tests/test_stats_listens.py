"""The ``listens`` metric: IAB downloads from the logs + plays of platforms that never
download from the host (Spotify), never Apple Podcasts' (in the logs already).

Six weeks of listening to the demo show are written as a combined access log and ingested;
a Spotify for Creators export and an Apple Podcasts export of the same weeks are imported,
all through the CLI.  The test counts the downloads from its own requests and adds the
Spotify plays it wrote, then checks the `listens` target's value, paces, needed pace and
projection, and that the report's JSON, CSV and HTML show the parts by source.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from stats_fixtures import DEMO_MEDIA, podcast_cli, publish_stand_ins, whole, write_log

from podcast.config import load_episodes, load_show

START = date(2026, 11, 9)
TODAY = date(2026, 12, 18)
BY = date(2027, 6, 30)
GOAL = 40_000
SUBSET = ("002-marc-olivier", "003-claire-dubois")
AGENT = "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def traffic(seed: int = 3) -> dict[tuple[date, str], int]:
    """Downloads per (UTC day, episode): each a distinct listener fetching the whole file."""
    rng = random.Random(seed)
    # Logs run two days past TODAY: what comes after today must not count.
    return {(day, slug): rng.randint(0, 6)
            for day in days(START, TODAY + timedelta(days=2)) for slug in DEMO_MEDIA}


def requests_for(counts: dict[tuple[date, str], int]) -> list:
    requests = []
    for n, ((day, slug), count) in enumerate(sorted(counts.items())):
        for i in range(count):
            when = datetime(day.year, day.month, day.day, 10, i, tzinfo=UTC)
            requests.append(whole(when, f"10.{n // 250}.{n % 250}.{i + 1}", AGENT,
                                  DEMO_MEDIA[slug]))
    return requests


def platform_plays(seed: int) -> dict[tuple[date, str], int]:
    """A platform's plays per (day, episode), some days after TODAY as exports run late."""
    rng = random.Random(seed)
    return {(day, slug): rng.randint(0, 120)
            for day in days(START, TODAY + timedelta(days=1)) for slug in DEMO_MEDIA}


def export(path: Path, plays: dict[tuple[date, str], int], titles: dict[str, str],
           delimiter: str = ",", columns=("Date", "Episode", "Plays")) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    for (day, slug), n in sorted(plays.items()):
        writer.writerow([day.isoformat(), titles[slug], n])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def listened(demo_show: Path, tmp_path: Path):
    """The demo show with a listens target (all episodes and a subset), its logs
    ingested and its Spotify and Apple exports imported."""
    text = demo_show.read_text()
    text = text.replace("targets:\n", "targets:\n"
                        f"  - {{name: Écoutes, metric: listens, goal: {GOAL}, by: {BY}}}\n"
                        f"  - {{name: Écoutes 2-3, metric: listens, goal: 9000, by: {BY}, "
                        f"episodes: [{', '.join(SUBSET)}]}}\n", 1)
    demo_show.write_text(text)
    publish_stand_ins(demo_show)
    episodes = load_episodes(load_show(demo_show))
    titles = {e.slug: e.title for e in episodes}
    guids = {e.slug: e.guid for e in episodes}
    downloads = traffic()
    log = write_log(tmp_path / "logs", "combined", requests_for(downloads), path_prefix="/")
    podcast_cli(demo_show, "stats", "ingest", str(log))
    spotify = platform_plays(seed=5)
    apple = platform_plays(seed=6)
    podcast_cli(demo_show, "stats", "import", "spotify",
                str(export(tmp_path / "spotify.csv", spotify, titles)))
    podcast_cli(demo_show, "stats", "import", "apple",
                str(export(tmp_path / "apple.txt", apple, guids, delimiter="\t",
                           columns=("Date", "Episode GUID", "Plays"))))
    return demo_show, downloads, spotify, apple


def gain_per_day(downloads, spotify, slugs) -> dict[date, int]:
    gain: dict[date, int] = {}
    for source in (downloads, spotify):
        for (day, slug), n in source.items():
            if slug in slugs:
                gain[day] = gain.get(day, 0) + n
    return gain


def expected_target(gain: dict[date, int], goal: int) -> dict:
    """Value, paces, needed pace and projection, from the definitions in the README."""
    def upto(day: date) -> int:
        return sum(n for d, n in gain.items() if d <= day)

    now = upto(TODAY)
    yesterday = TODAY - timedelta(days=1)
    pace_7 = (upto(yesterday) - upto(yesterday - timedelta(days=7))) / 7
    pace_28 = (upto(yesterday) - upto(yesterday - timedelta(days=28))) / 28
    projected = TODAY + timedelta(days=math.ceil((goal - now) / pace_28))
    return {"value": now, "pace_7d": round(pace_7, 2), "pace_28d": round(pace_28, 2),
            "pace_needed": round((goal - now) / (BY - TODAY).days, 2),
            "projected": projected.isoformat(), "remaining": goal - now,
            "on_track": projected <= BY}


def test_a_listens_target_adds_spotify_plays_to_downloads_never_apple(listened) -> None:
    config, downloads, spotify, apple = listened
    data = json.loads(podcast_cli(config, "stats", "targets", "--today", TODAY.isoformat(),
                                  "--format", "json"))
    targets = {t["name"]: t for t in data["targets"]}
    for name, slugs, goal in (("Écoutes", set(DEMO_MEDIA), GOAL),
                              ("Écoutes 2-3", set(SUBSET), 9000)):
        mine = targets[name]
        expected = expected_target(gain_per_day(downloads, spotify, slugs), goal)
        for key, value in expected.items():
            assert mine[key] == value, (name, key)
        assert mine["metric"] == "listens"
        assert mine["parts"] == {
            "downloads": sum(n for (d, s), n in downloads.items() if d <= TODAY and s in slugs),
            "spotify": sum(n for (d, s), n in spotify.items() if d <= TODAY and s in slugs)}
        assert mine["not_added"] == {
            "apple": sum(n for (d, s), n in apple.items() if d <= TODAY and s in slugs)}
        assert mine["value"] == sum(mine["parts"].values())
    # The downloads target is untouched by platform plays.
    assert targets["Saison 1"]["value"] == sum(
        n for (d, _), n in downloads.items() if d <= TODAY)
    table = podcast_cli(config, "stats", "targets", "--today", TODAY.isoformat())
    parts = targets["Écoutes"]["parts"]
    assert (f"listens: {parts['downloads']:,} downloads + {parts['spotify']:,} spotify plays"
            in table)


@pytest.mark.slow
def test_the_report_shows_listens_by_source_in_json_csv_and_html(listened,
                                                                 tmp_path: Path) -> None:
    config, downloads, spotify, apple = listened
    since, until = date(2026, 11, 20), date(2026, 12, 10)

    def in_period(figures, slug=None):
        return sum(n for (d, s), n in figures.items()
                   if since <= d <= until and (slug is None or s == slug))

    html = tmp_path / "report.html"
    period = ("--since", since.isoformat(), "--until", until.isoformat())
    data = json.loads(podcast_cli(config, "stats", "report", "--format", "json", *period,
                                  "--html", str(html)))
    assert data["total"]["downloads"] == in_period(downloads)
    assert data["listens"] == {"total": in_period(downloads) + in_period(spotify),
                               "downloads": in_period(downloads),
                               "spotify": in_period(spotify)}
    assert {row["platform"]: row["plays"] for row in data["platforms"]} == {
        "spotify": in_period(spotify), "apple": in_period(apple)}
    for episode in data["episodes"]:
        slug = episode["slug"]
        assert episode["plays_spotify"] == in_period(spotify, slug)
        assert episode["plays_apple"] == in_period(apple, slug)
        assert episode["listens"] == in_period(downloads, slug) + in_period(spotify, slug)

    table = podcast_cli(config, "stats", "report", *period)
    assert (f"Listens: {in_period(downloads) + in_period(spotify):,} = "
            f"{in_period(downloads):,} downloads + {in_period(spotify):,} spotify plays"
            in table)

    rows = list(csv.DictReader(io.StringIO(podcast_cli(
        config, "stats", "report", "--format", "csv", *period))))
    for row in rows:
        slug = row["slug"]
        assert int(row["downloads"]) == in_period(downloads, slug)
        assert int(row["plays_spotify"]) == in_period(spotify, slug)
        assert int(row["plays_apple"]) == in_period(apple, slug)
        assert int(row["listens"]) == int(row["downloads"]) + int(row["plays_spotify"])

    page = html.read_text()
    section = page[page.index('<section id="platforms">'):]
    section = section[:section.index("</section>")]

    def figure(source: str) -> int:
        cell = re.search(rf'data-source="{source}">.*?<td class="n">([\d,]+)</td>', section,
                         re.S)
        return int(cell.group(1).replace(",", ""))

    assert figure("downloads") == in_period(downloads)
    assert figure("spotify") == in_period(spotify)
    assert figure("apple") == in_period(apple)
    total = re.search(r'id="listens-total"><b>([\d,]+)</b>', section).group(1)
    assert int(total.replace(",", "")) == in_period(downloads) + in_period(spotify)
    assert "no: in the downloads already" in section  # Apple's row
    assert "listens-parts" in page  # the target's parts under its verdict


def test_without_imported_figures_the_report_has_no_platform_keys(demo_show: Path) -> None:
    publish_stand_ins(demo_show)
    data = json.loads(podcast_cli(demo_show, "stats", "report", "--format", "json"))
    assert "platforms" not in data and "listens" not in data
    rows = podcast_cli(demo_show, "stats", "report", "--format", "csv").splitlines()
    assert "listens" not in rows[0]
