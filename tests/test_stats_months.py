"""Listeners per UTC calendar month, end to end: logs -> `podcast stats ingest` -> every output.

Listener hashes are keyed per UTC month, so a listener is only recognisable within one
month.  A seven-week history spanning November and December is written as a combined
access log, ingested by the real command, and every output (JSON, CSV, the table, HTML,
`stats targets`) must give each month's listeners, equal to a count made here from the
requests themselves, and never call the two months' sum "listeners".
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from stats_fixtures import Request, combined_log

from podcast.model import Catalog, Media

SLUGS = ("001-sonia-mamin", "002-marc-olivier")
MEDIA = {slug: Media(slug=slug, key=f"media/{slug}-0123456789ab.mp3", bytes=2_000_000,
                     sha256=str(n) * 64, duration=160.0, tag_size=10_000, bitrate=96_000,
                     input_hash=str(n))
         for n, slug in enumerate(SLUGS, 1)}
THRESHOLD = 10_000 + 96_000 // 8 * 60  # tag + one minute of audio: 730,000 bytes
FIRST, LAST = date(2026, 11, 10), date(2026, 12, 28)  # seven weeks over two months
AGENTS = ("Podcasts/1650.20 CFNetwork/1408.0.4 Darwin/22.5.0",
          "Spotify/8.8.56 Android/33 (SM-G991B)",
          "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)")


def traffic(seed: int = 11) -> list[Request]:
    """Seven weeks of a small show: 80 listeners, most coming back across the months;
    some fetch a whole episode, some two ranges, some give up under a minute."""
    rng = random.Random(seed)
    people = [(f"198.51.{n // 200}.{n % 200 + 1}", AGENTS[n % 3]) for n in range(80)]
    requests = []
    day = FIRST
    while day <= LAST:
        for ip, agent in rng.sample(people, rng.randint(3, 12)):
            when = datetime(day.year, day.month, day.day, rng.randint(0, 23),
                            rng.randint(0, 59), tzinfo=UTC)
            key = MEDIA[rng.choice(SLUGS)].key
            shape = rng.random()
            if shape < 0.6:
                requests.append(Request(when, ip, agent, key, sent=2_000_000))
            elif shape < 0.85:  # two ranges that add up past the threshold
                requests += [Request(when, ip, agent, key, status=206, sent=400_000,
                                     range=(0, 399_999)),
                             Request(when + timedelta(seconds=30), ip, agent, key,
                                     status=206, sent=400_000, range=(400_000, 799_999))]
            else:  # under a minute of audio: not a download
                requests.append(Request(when, ip, agent, key, status=206, sent=200_000,
                                        range=(0, 199_999)))
        day += timedelta(days=1)
    return requests


def independent_counts(requests: list[Request]) -> dict[str, dict[str, set]]:
    """Listeners per month (and per episode and month), straight from the IAB rule: a
    (day, episode, address, agent) whose 200/206 bytes reach the threshold is a download,
    and a listener is an (address, agent) within one UTC month."""
    slug_of = {m.key: m.slug for m in MEDIA.values()}
    delivered: dict[tuple, int] = defaultdict(int)
    for r in requests:
        if r.method == "GET" and r.status in (200, 206):
            delivered[(r.when.date(), slug_of[r.key], r.ip, r.agent)] += r.sent
    months: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for (day, slug, ip, agent), sent in delivered.items():
        if sent >= THRESHOLD:
            month = f"{day:%Y-%m}"
            months[month]["all"].add((ip, agent))
            months[month][slug].add((ip, agent))
    return months


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The demo show with TRAFFIC ingested by `podcast stats ingest`; its config and the
    independent counts."""
    import shutil

    from podcast.config import load_show
    from podcast.storage import open_store, write_catalog

    root = tmp_path_factory.mktemp("months")
    repo = Path(__file__).resolve().parent.parent
    for name in ("assets", "episodes"):
        shutil.copytree(repo / name, root / name)
    shutil.copy(repo / "podcast.yaml", root / "podcast.yaml")
    config = root / "podcast.yaml"
    show = load_show(config)
    write_catalog(open_store(show.storage, show.root), Catalog(media=MEDIA))
    requests = traffic()
    log = root / "access.log"
    log.write_text(combined_log(requests).replace("/show/", "/"), encoding="utf-8")
    cli(config, "ingest", str(log))
    return config, independent_counts(requests)


def cli(config: Path, *args: str) -> str:
    from click.testing import CliRunner

    from podcast.cli import main

    result = CliRunner().invoke(main, ["--config", str(config), "stats", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_history_has_returning_listeners_across_the_two_months(measured) -> None:
    _config, counts = measured
    nov, dec = counts["2026-11"]["all"], counts["2026-12"]["all"]
    # Most listeners came back in December: a two-month sum would count them twice.
    assert len(nov & dec) > 20 and len(nov | dec) < len(nov) + len(dec)


def test_json_gives_each_months_listeners_and_no_period_total(measured) -> None:
    config, counts = measured
    data = json.loads(cli(config, "report", "--format", "json"))
    assert data["listener_window"] == "utc-month"
    assert data["listeners_by_month"] == [
        {"month": month, "listeners": len(counts[month]["all"])}
        for month in ("2026-11", "2026-12")]
    assert data["total"]["listeners"] is None  # two months: never their sum
    for episode in data["episodes"]:
        if episode["slug"] in SLUGS:
            assert episode["listeners_by_month"] == {
                month: len(counts[month][episode["slug"]]) for month in ("2026-11", "2026-12")}
        assert "listeners" not in episode
    by_app = json.loads(cli(config, "report", "--format", "json", "--by", "app"))
    assert all("listeners" not in row and set(row["listeners_by_month"]) ==
               {"2026-11", "2026-12"} for row in by_app["rows"])


def test_csv_gives_one_listeners_column_per_month(measured) -> None:
    config, counts = measured
    rows = {r["slug"]: r for r in csv.DictReader(io.StringIO(
        cli(config, "report", "--format", "csv")))}
    for slug in SLUGS:
        assert "listeners" not in rows[slug]
        assert (rows[slug]["listeners_2026-11"], rows[slug]["listeners_2026-12"]) == (
            str(len(counts["2026-11"][slug])), str(len(counts["2026-12"][slug])))
    # Everything came from one log format: the source row is the show's total per month.
    (source,) = csv.DictReader(io.StringIO(cli(config, "report", "--format", "csv",
                                               "--by", "source")))
    assert (source["listeners_2026-11"], source["listeners_2026-12"]) == (
        str(len(counts["2026-11"]["all"])), str(len(counts["2026-12"]["all"])))


def test_the_table_names_each_month_and_never_the_sum(measured) -> None:
    config, counts = measured
    nov, dec = len(counts["2026-11"]["all"]), len(counts["2026-12"]["all"])
    table = cli(config, "report")
    assert f"Listeners: {nov} in 2026-11 (from the 10th) · {dec} in 2026-12 (to the 28th)" \
        in table
    assert f"Listeners: {nov + dec}" not in table
    assert "distinct listeners within one UTC calendar month" in table


def test_html_shows_each_months_listeners(measured, tmp_path: Path) -> None:
    config, counts = measured
    page = tmp_path / "report.html"
    cli(config, "report", "--html", str(page))
    html = page.read_text(encoding="utf-8")
    for month in ("2026-11", "2026-12"):
        found = re.search(rf'id="listeners-{month}">([\d,]+)<', html)
        assert found and found.group(1) == f"{len(counts[month]['all']):,}", month
    assert 'id="total-listeners"' not in html
    assert "Listener IDs change every month, so months are never added up." in html


def test_targets_give_each_months_listeners(measured) -> None:
    config, counts = measured
    nov, dec = len(counts["2026-11"]["all"]), len(counts["2026-12"]["all"])
    data = json.loads(cli(config, "targets", "--today", "2026-12-28", "--format", "json"))
    uniques = next(t for t in data["targets"] if t["metric"] == "listeners")
    assert uniques["listeners_by_month"] == {"2026-11": nov, "2026-12": dec}
    # The best month, named: never the two months added up.
    assert (uniques["value"], uniques["now"]) == (max(nov, dec), dec)
    assert uniques["value_month"] == ("2026-12" if dec >= nov else "2026-11")
    table = cli(config, "targets", "--today", "2026-12-28")
    assert f"listeners per month: 2026-11 {nov}, 2026-12 {dec}" in table
    assert "distinct listeners within one UTC calendar month" in table
