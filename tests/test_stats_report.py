"""`podcast stats report`: the numbers, from hand-built Download lists.

Each test builds the downloads a listener population would leave after ingest (one
Download per episode, listener and UTC day) and checks what marketing reads off the report.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from PIL import Image
from stats_fixtures import SvgChart

from podcast.errors import PodcastError
from podcast.model import Catalog, Download, Episode, Media, Person, Target
from podcast.stats.canvas import save
from podcast.stats.charts import daily_figure, progress_figure
from podcast.stats.report import (
    REJECT_REASONS,
    build_report,
    chart_format,
    progress_panels,
    rows_by,
    to_csv,
    to_json,
    to_table,
    write_atomic,
)

TODAY = date(2026, 12, 31)


def episode(slug: str, published: str, *guests: str, title: str | None = None) -> Episode:
    """An episode as config.load_episodes would return it (only what reports read)."""
    return Episode(
        slug=slug, folder=Path("episodes") / slug, title=title or slug.title(),
        published=datetime.fromisoformat(published), audio=Path("interview.wav"), notes="",
        guid=f"guid-{slug}", guests=tuple(Person(name, role="guest") for name in guests),
    )


def dl(day: str, slug: str, listener: str, app: str = "Apple Podcasts",
       country: str | None = "FR") -> Download:
    """One counted download."""
    return Download(day=date.fromisoformat(day), slug=slug, listener=listener, app=app,
                    device="iOS", country=country)


EPISODES = [
    episode("001-sonia", "2026-11-02T07:00:00+01:00", "Sonia Mamin"),
    episode("002-duo", "2026-11-09T07:00:00+01:00", "Marc Olivier", "Sonia Mamin"),
    episode("003-solo", "2026-11-16T23:30:00-05:00"),  # 04:30 UTC on the 17th
]


def test_totals_count_downloads_and_distinct_listeners() -> None:
    downloads = [
        dl("2026-11-02", "001-sonia", "alice"),
        dl("2026-11-03", "001-sonia", "alice"),  # a new UTC day is a new download
        dl("2026-11-09", "002-duo", "alice"),  # ...but still one listener
        dl("2026-11-09", "002-duo", "bob"),
    ]
    report = build_report(downloads, EPISODES, {}, as_of=TODAY)
    assert (report.downloads, report.listeners_by_month) == (4, {"2026-11": 2})
    by_slug = {e.slug: e for e in report.episodes}
    assert (by_slug["001-sonia"].downloads, by_slug["001-sonia"].listeners_by_month) == (
        2, {"2026-11": 1})
    assert (by_slug["002-duo"].downloads, by_slug["002-duo"].listeners_by_month) == (
        2, {"2026-11": 2})
    assert by_slug["003-solo"].downloads == 0  # out, but nobody listened: still listed
    # Without --since/--until the period is the days that have data.
    assert (report.since, report.until) == (date(2026, 11, 2), date(2026, 11, 9))


def test_since_and_until_are_inclusive_and_all_time_ignores_since() -> None:
    downloads = [dl(f"2026-11-{day:02d}", "001-sonia", f"l{day}") for day in range(2, 12)]
    report = build_report(downloads, EPISODES, {}, since=date(2026, 11, 4),
                          until=date(2026, 11, 6), as_of=date(2026, 11, 6))
    assert report.downloads == 3  # the 4th, 5th and 6th
    assert report.listeners_by_month == {"2026-11": 3}
    sonia = next(e for e in report.episodes if e.slug == "001-sonia")
    assert sonia.downloads == 3
    # The caller loads everything up to --until; all-time counts all of it.
    assert sonia.all_time == 10


def test_first_1_7_30_days_count_from_the_utc_publication_day() -> None:
    # 003-solo went out at 04:30 UTC on 17 November: that day is its day 1.
    days = ["2026-11-16",  # before publication (a preview link): never in day-N counts
            "2026-11-17", "2026-11-17",  # day 1
            "2026-11-23",  # day 7, the last of the first week
            "2026-11-24",  # day 8
            "2026-12-16",  # day 30
            "2026-12-17"]  # day 31
    downloads = [dl(day, "003-solo", f"l{i}") for i, day in enumerate(days)]
    stats = {e.slug: e for e in build_report(downloads, EPISODES, {}, as_of=TODAY).episodes}
    assert stats["003-solo"].first_days == {1: 2, 3: 2, 7: 3, 30: 5}
    assert stats["003-solo"].all_time == 7


def test_a_first_days_window_still_open_is_null_not_a_partial_count() -> None:
    downloads = [dl("2026-11-17", "003-solo", "a"), dl("2026-11-20", "003-solo", "b")]
    report = build_report(downloads, EPISODES, {}, until=date(2026, 11, 20),
                          as_of=date(2026, 11, 20))
    solo = next(e for e in report.episodes if e.slug == "003-solo")
    assert solo.first_days == {1: 1, 3: 1, 7: None, 30: None}
    assert json.loads(to_json(report))["episodes"][0]["day_7"] is None


def test_episodes_newest_first_scheduled_hidden_unknown_slugs_kept() -> None:
    scheduled = episode("004-later", "2027-02-01T07:00:00+01:00")
    downloads = [dl("2026-11-20", "000-deleted", "x")]
    report = build_report(downloads, [*EPISODES, scheduled], {}, as_of=TODAY)
    assert [e.slug for e in report.episodes] == ["003-solo", "002-duo", "001-sonia",
                                                 "000-deleted"]
    deleted = report.episodes[-1]
    assert (deleted.guid, deleted.title, deleted.downloads) == (None, "000-deleted", 1)


def test_by_day_lists_every_day_of_the_period_including_empty_ones() -> None:
    downloads = [dl("2026-11-03", "001-sonia", "a"), dl("2026-11-03", "002-duo", "a"),
                 dl("2026-11-05", "001-sonia", "b")]
    rows = rows_by("day", downloads, EPISODES, date(2026, 11, 2), date(2026, 11, 5))
    assert rows == [
        {"day": "2026-11-02", "downloads": 0, "listeners": 0},
        {"day": "2026-11-03", "downloads": 2, "listeners": 1},
        {"day": "2026-11-04", "downloads": 0, "listeners": 0},
        {"day": "2026-11-05", "downloads": 1, "listeners": 1},
    ]


def test_by_app_and_country_share_of_the_period() -> None:
    downloads = [dl("2026-11-03", "001-sonia", "a", "Spotify", "FR"),
                 dl("2026-11-03", "001-sonia", "b", "Apple Podcasts", "BE"),
                 dl("2026-11-04", "001-sonia", "b", "Apple Podcasts", None),
                 dl("2026-11-04", "002-duo", "c", "Apple Podcasts", "FR")]
    assert rows_by("app", downloads, EPISODES) == [
        {"app": "Apple Podcasts", "platform": "Apple", "downloads": 3,
         "listeners_by_month": {"2026-11": 2}, "share": 75.0},
        {"app": "Spotify", "platform": "Spotify", "downloads": 1,
         "listeners_by_month": {"2026-11": 1}, "share": 25.0},
    ]
    assert rows_by("country", downloads, EPISODES) == [
        {"country": "FR", "downloads": 2, "listeners_by_month": {"2026-11": 2}, "share": 50.0},
        {"country": "BE", "downloads": 1, "listeners_by_month": {"2026-11": 1}, "share": 25.0},
        {"country": "unknown", "downloads": 1, "listeners_by_month": {"2026-11": 1},
         "share": 25.0},
    ]


def test_by_guest_counts_a_shared_episode_for_each_guest() -> None:
    downloads = [dl("2026-11-03", "001-sonia", "a"),
                 dl("2026-11-10", "002-duo", "b"), dl("2026-11-10", "002-duo", "c"),
                 dl("2026-11-18", "003-solo", "a")]
    assert [(r["guest"], r["episodes"], r["downloads"], r["listeners_by_month"], r["share"])
            for r in rows_by("guest", downloads, EPISODES)] == [
        ("Sonia Mamin", 2, 3, {"2026-11": 3}, 75.0),
        ("Marc Olivier", 1, 2, {"2026-11": 2}, 50.0),
        ("(no guest)", 1, 1, {"2026-11": 1}, 25.0),
    ]


def test_by_episode_uses_titles() -> None:
    downloads = [dl("2026-11-03", "001-sonia", "a"), dl("2026-11-10", "002-duo", "b"),
                 dl("2026-11-11", "002-duo", "b")]
    assert rows_by("episode", downloads, EPISODES) == [
        {"episode": "002-duo", "title": "002-Duo", "downloads": 2,
         "listeners_by_month": {"2026-11": 1}, "share": 66.7},
        {"episode": "001-sonia", "title": "001-Sonia", "downloads": 1,
         "listeners_by_month": {"2026-11": 1}, "share": 33.3},
    ]


def test_an_unknown_dimension_is_a_clear_error() -> None:
    with pytest.raises(PodcastError, match="cannot group by 'city'") as caught:
        rows_by("city", [], EPISODES)
    assert "episode, day, app, guest, country" in caught.value.fix


def test_json_has_exactly_the_spec_shape() -> None:
    downloads = [dl("2026-11-03", "001-sonia", "a"), dl("2026-11-04", "001-sonia", "a")]
    rejected = {"bots": 7, "not_get": 2}
    report = build_report(downloads, EPISODES, rejected, since=date(2026, 11, 1),
                          until=date(2026, 11, 30), as_of=date(2026, 11, 30))
    data = json.loads(to_json(report))
    assert list(data) == ["metric", "window", "listener_window", "since", "until", "total",
                          "listeners_by_month", "episodes", "pacing", "rejected",
                          "not_counted"]
    assert (data["metric"], data["window"], data["listener_window"]) == (
        "downloads", "utc-day", "utc-month")
    assert (data["since"], data["until"]) == ("2026-11-01", "2026-11-30")
    # Exactly November: its listeners are the period's.
    assert data["total"] == {"downloads": 2, "listeners": 1}
    assert data["listeners_by_month"] == [{"month": "2026-11", "listeners": 1}]
    assert data["rejected"] == {"bots": 7, "below_threshold": 0, "not_get": 2,
                                "bad_status": 0, "malformed": 0, "unknown_object": 0}
    assert list(data["rejected"]) == list(REJECT_REASONS)
    sonia = data["episodes"][-1]
    assert sonia == {"slug": "001-sonia", "guid": "guid-001-sonia", "title": "001-Sonia",
                     "published": "2026-11-02", "downloads": 2,
                     "listeners_by_month": {"2026-11": 1},
                     "day_1": 0, "day_3": 2, "day_7": 2, "day_30": None, "all_time": 2,
                     # no other episode is 29 days old yet: no median to compare with
                     "age_days": 29, "median_at_age": None, "vs_median_percent": None}
    # (day 30 of an episode out on 2 November is 1 December: after this report's end)


def test_json_with_by_adds_rows_keyed_by_the_dimension() -> None:
    downloads = [dl("2026-11-03", "001-sonia", "a", "Overcast")]
    data = json.loads(to_json(build_report(downloads, EPISODES, {}, by="app", as_of=TODAY)))
    assert data["rows"] == [{"app": "Overcast", "platform": "Overcast", "downloads": 1,
                             "listeners_by_month": {"2026-11": 1}, "share": 100.0}]
    # The period is the one day with data, not a whole month: no month figure.
    assert data["total"] == {"downloads": 1, "listeners": None}
    assert data["listeners_by_month"] == [{"month": "2026-11", "listeners": 1}]


def test_csv_parses_with_the_csv_module() -> None:
    hostile = episode("001-sonia", "2026-11-02T07:00:00+01:00",
                      title='Salon, "phygital"\net après ?')
    downloads = [dl("2026-11-03", "001-sonia", "a"), dl("2026-11-03", "001-sonia", "b")]
    text = to_csv(build_report(downloads, [hostile], {}, as_of=TODAY))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [{"slug": "001-sonia", "guid": "guid-001-sonia",
                     "title": 'Salon, "phygital"\net après ?', "published": "2026-11-02",
                     "downloads": "2", "listeners_2026-11": "2", "day_1": "0", "day_3": "2",
                     "day_7": "2", "day_30": "2", "all_time": "2", "age_days": "30",
                     "median_at_age": "", "vs_median_percent": ""}]

    by_day = to_csv(build_report(downloads, [hostile], {}, by="day", as_of=TODAY))
    assert list(csv.reader(io.StringIO(by_day))) == [["day", "downloads", "listeners"],
                                                     ["2026-11-03", "2", "2"]]


def test_csv_cells_never_start_a_spreadsheet_formula() -> None:
    """A title or guest name like ``=HYPERLINK(...)`` must open as text, not run."""
    trap = episode("001-sonia", "2026-11-02T07:00:00+01:00", "@Sonia", "-Marc",
                   title='=HYPERLINK("https://evil.example","clic")')
    downloads = [dl("2026-11-03", "001-sonia", "a")]
    (row,) = csv.DictReader(io.StringIO(to_csv(build_report(downloads, [trap], {},
                                                            as_of=TODAY))))
    assert row["title"] == '\'=HYPERLINK("https://evil.example","clic")'
    assert row["downloads"] == "1"  # numbers stay numbers
    guests = csv.DictReader(io.StringIO(to_csv(build_report(downloads, [trap], {},
                                                            by="guest", as_of=TODAY))))
    assert sorted(r["guest"] for r in guests) == ["'-Marc", "'@Sonia"]


def test_csv_of_an_empty_period_still_has_its_header() -> None:
    assert to_csv(build_report([], [], {}, by="guest", as_of=TODAY)) == \
        ("guest,episodes,downloads,share,vs_median_percent,link,link_visits,link_downloads,"
         "link_new_listeners")
    assert to_csv(build_report([], [], {}, by="app", since=date(2026, 11, 5),
                               until=date(2026, 12, 1), as_of=TODAY)) == \
        "app,platform,downloads,listeners_2026-11,listeners_2026-12,share"
    assert to_csv(build_report([], [], {}, as_of=TODAY)).startswith("slug,guid,title,")


def test_table_is_aligned_plain_text() -> None:
    downloads = [dl("2026-11-03", "001-sonia", f"l{i}") for i in range(1234)]
    downloads += [dl("2026-11-10", "002-duo", "l0")]
    text = to_table(build_report(downloads, EPISODES, {"bots": 5}, as_of=TODAY))
    lines = text.splitlines()
    assert "Downloads: 1,235    Listeners: 1,234 in 2026-11 (3-10)" in text
    header = next(line for line in lines if line.startswith("Episode"))
    sonia = next(line for line in lines if line.startswith("001-Sonia"))
    duo = next(line for line in lines if line.startswith("002-Duo"))
    # Numbers are right-aligned under their heading.
    end = header.index("Downloads") + len("Downloads")
    assert sonia[:end].endswith("1,234") and duo[:end].endswith("    1")
    # Without the store's requester-days, what was not counted is given in lines only.
    start = lines.index("Requests not counted      Lines  Listener-days")
    assert lines[start + 1] == "  from bots and crawlers      5              —"
    assert "Listeners: distinct listeners within one UTC calendar month." in text


def test_table_by_guest() -> None:
    downloads = [dl("2026-11-10", "002-duo", "a")]
    text = to_table(build_report(downloads, EPISODES, {}, by="guest", as_of=TODAY))
    assert "Guest" in text and "Marc Olivier" in text and "Sonia Mamin" in text
    assert "\nRequests not counted: none.\n" in text


def test_chart_png_is_a_real_image(tmp_path: Path) -> None:
    downloads = [dl(f"2026-11-{day:02d}", "001-sonia", f"l{day % 4}") for day in range(2, 30)]
    targets = (Target("Saison 1", "downloads", 100, date(2027, 1, 31)),
               Target("Auditeurs", "listeners", 10, date(2026, 12, 31)))
    panels = progress_panels(downloads, targets, date(2026, 11, 29))
    # The listeners panel climbs to the 4 distinct listeners, the downloads one to 28.
    assert [p.series[-1][1] for p in panels] == [28, 4]
    assert panels[0].series[0] == (date(2026, 11, 2), 1)

    path = tmp_path / "progress.png"
    write_atomic(path, save(progress_figure(panels), chart_format(path)))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        width, height = image.size
    assert 600 <= width <= 1200 and 400 <= height <= 1200
    assert [p.name for p in tmp_path.iterdir()] == ["progress.png"]  # no temp left behind
    assert path.stat().st_mode & 0o777 == 0o644  # readable by a web server, like the rest


def test_chart_needs_a_png_or_svg_name() -> None:
    with pytest.raises(PodcastError, match="cannot draw a chart as .jpg") as caught:
        chart_format(Path("chart.jpg"))
    assert caught.value.field == "--chart" and "*.png" in caught.value.fix


def test_writing_into_a_missing_folder_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(PodcastError, match="does not exist") as caught:
        write_atomic(tmp_path / "nope" / "report.html", b"x")
    assert "mkdir" in caught.value.fix


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("old")

    # None cannot be written: the write fails after the temp file was created.
    with pytest.raises(TypeError):
        write_atomic(path, None)  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_downloads_of_the_utc_day_not_local_day() -> None:
    # Published 23:30 in New York on the 16th = 17 November UTC.
    solo = next(e for e in EPISODES if e.slug == "003-solo")
    assert solo.published.astimezone(timezone.utc).date() == date(2026, 11, 17)
    downloads = [dl("2026-11-17", "003-solo", "a")]
    stats = build_report(downloads, EPISODES, {}, as_of=TODAY).episodes
    assert next(e for e in stats if e.slug == "003-solo").first_days[1] == 1


def test_chart_titles_are_text_not_tex(tmp_path: Path) -> None:
    # matplotlib reads $...$ as TeX maths; a target named like this used to crash the chart.
    target = Target(r"Budget $\frac{$ 1 000 €", "downloads", 10, date(2027, 1, 1))
    panels = progress_panels([dl("2026-11-03", "001-sonia", "a")], (target,), TODAY)
    assert save(progress_figure(panels), "png")[:4] == b"\x89PNG"
    assert save(progress_figure(panels), "svg").lstrip().startswith(b"<?xml")


def test_the_same_data_draws_the_same_bytes() -> None:
    # Nightly CI regenerates the report: an unchanged show must not produce a new file.
    panels = progress_panels([dl("2026-11-03", "001-sonia", "a")], (), TODAY)
    for fmt in ("png", "svg"):
        assert save(progress_figure(panels), fmt) == save(progress_figure(panels), fmt)


# --- end to end: a combined access log -> ingest -> the CLI report ------------------------

SONIA, MARC = "001-sonia-mamin", "002-marc-olivier"
APPLE_UA = "Podcasts/1650.20 CFNetwork/1408.0.4 Darwin/22.5.0"
SPOTIFY_UA = "Spotify/8.8.56 Android/33 (SM-G991B)"
# The served MP3s: 10,000-byte ID3 tag, 96 kbit/s, so a download needs 730,000 bytes.
SERVED = {slug: Media(slug=slug, key=f"media/{slug}-0123456789ab.mp3", bytes=2_000_000,
                      sha256=str(n) * 64, duration=160.0, tag_size=10_000, bitrate=96_000,
                      input_hash=str(n))
          for n, slug in enumerate((SONIA, MARC, "003-claire-dubois"), 1)}


def access_line(when: str, ip: str, path: str, status: int, sent: int, agent: str,
                method: str = "GET") -> str:
    """One line of a combined log (what `podcast serve` and nginx write)."""
    stamp = datetime.fromisoformat(when).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {sent} "-" "{agent}"'


def media_path(slug: str) -> str:
    return "/" + SERVED[slug].key


ACCESS_LOG = [
    # Spotify listener B gets Marc's episode on its publication day in two ranges.
    access_line("2026-11-16T10:00:00", "198.51.100.2", media_path(MARC), 206, 400_000,
                SPOTIFY_UA),
    access_line("2026-11-16T10:01:00", "198.51.100.2", media_path(MARC), 206, 400_000,
                SPOTIFY_UA),
    # Apple Podcasts listener A: Sonia twice on the 20th (one download), again on the 21st,
    # and Marc on the 21st.
    access_line("2026-11-20T10:00:00", "192.0.2.1", media_path(SONIA), 200, 800_000,
                APPLE_UA),
    access_line("2026-11-20T10:05:00", "192.0.2.1", media_path(SONIA), 206, 500_000,
                APPLE_UA),
    access_line("2026-11-21T08:00:00", "192.0.2.1", media_path(SONIA), 200, 800_000,
                APPLE_UA),
    access_line("2026-11-21T09:00:00", "192.0.2.1", media_path(MARC), 200, 800_000, APPLE_UA),
    # One line of each kind that never counts.
    access_line("2026-11-21T09:30:00", "203.0.113.3", media_path(SONIA), 200, 100_000,
                "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"),  # below threshold
    access_line("2026-11-21T09:31:00", "66.249.66.1", media_path(SONIA), 200, 800_000,
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    access_line("2026-11-21T09:32:00", "192.0.2.1", media_path(SONIA), 200, 0, APPLE_UA,
                method="HEAD"),
    access_line("2026-11-21T09:33:00", "192.0.2.9", media_path(SONIA), 404, 150, APPLE_UA),
    access_line("2026-11-21T09:34:00", "192.0.2.9", "/media/old-episode.mp3", 200, 900_000,
                APPLE_UA),
    "this is not a log line",
]


@pytest.fixture
def measured_show(demo_show: Path, tmp_path: Path) -> Path:
    """The demo show with its MP3s published and ACCESS_LOG ingested; returns the config."""
    from podcast.config import load_show
    from podcast.stats.commands import ingest
    from podcast.storage import open_store, write_catalog

    show = load_show(demo_show)
    write_catalog(open_store(show.storage, show.root), Catalog(media=SERVED))
    log = tmp_path / "access.log"
    log.write_text("\n".join(ACCESS_LOG) + "\n", encoding="utf-8")
    ingest(show, [str(log)])
    return demo_show


def cli(config: Path, *args: str) -> str:
    from click.testing import CliRunner

    from podcast.cli import main

    result = CliRunner().invoke(main, ["--config", str(config), "stats", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_end_to_end_from_an_access_log_to_the_json_report(measured_show: Path) -> None:
    data = json.loads(cli(measured_show, "report", "--format", "json", "--until",
                          "2026-11-30"))
    assert data["total"] == {"downloads": 4, "listeners": None}  # from the 16th only
    assert data["listeners_by_month"] == [{"month": "2026-11", "listeners": 2}]
    assert (data["since"], data["until"]) == ("2026-11-16", "2026-11-30")
    # A line too broken to have a date belongs to no period, so a dated report omits it.
    assert data["rejected"] == {"bots": 1, "below_threshold": 1, "not_get": 1,
                                "bad_status": 1, "malformed": 0, "unknown_object": 1}
    episodes = {e["slug"]: e for e in data["episodes"]}
    assert [e["slug"] for e in data["episodes"]] == ["004-lea-fontaine", "003-claire-dubois",
                                                     MARC, SONIA]
    assert episodes[SONIA] | {"guid": None} == {
        "slug": SONIA, "guid": None, "title": "Sonia Mamin : le salon devient phygital",
        "published": "2026-11-09", "downloads": 2, "listeners_by_month": {"2026-11": 1},
        "day_1": 0, "day_3": 0, "day_7": 0, "day_30": None, "all_time": 2,
        "age_days": 22, "median_at_age": None, "vs_median_percent": None}
    assert episodes[SONIA]["guid"]  # the episode's own guid, from episode.md
    assert {k: episodes[MARC][k] for k in ("downloads", "listeners_by_month", "day_1",
                                           "day_7")} == {
        "downloads": 2, "listeners_by_month": {"2026-11": 2}, "day_1": 1, "day_7": 2}
    assert episodes["003-claire-dubois"]["downloads"] == 0


def test_end_to_end_breakdowns_and_period(measured_show: Path) -> None:
    by_app = json.loads(cli(measured_show, "report", "--format", "json", "--by", "app"))
    assert [(r["app"], r["downloads"]) for r in by_app["rows"]] == [
        ("Apple Podcasts", 3), ("Spotify", 1)]
    assert by_app["rejected"]["malformed"] == 1  # no period asked: every line is reported
    by_guest = list(csv.DictReader(io.StringIO(
        cli(measured_show, "report", "--format", "csv", "--by", "guest"))))
    assert {(r["guest"], r["downloads"]) for r in by_guest} == {
        ("Sonia Mamin", "2"), ("Marc Olivier", "2")}
    late = json.loads(cli(measured_show, "report", "--format", "json", "--since",
                          "2026-11-20", "--until", "2026-11-21", "--by", "day"))
    assert late["total"] == {"downloads": 3, "listeners": None}
    assert late["listeners_by_month"] == [{"month": "2026-11", "listeners": 1}]
    assert late["rows"] == [{"day": "2026-11-20", "downloads": 1, "listeners": 1},
                            {"day": "2026-11-21", "downloads": 2, "listeners": 1}]
    marc = next(e for e in late["episodes"] if e["slug"] == MARC)
    assert (marc["downloads"], marc["all_time"]) == (1, 2)
    table = cli(measured_show, "report", "--until", "2026-11-30")
    assert "Downloads: 4    Listeners: 2 in 2026-11 (from the 16th)" in table
    assert "Salons & Rencontres" in table


def test_end_to_end_targets_chart_and_html(measured_show: Path, tmp_path: Path) -> None:
    data = json.loads(cli(measured_show, "targets", "--today", "2026-11-22", "--format",
                          "json"))
    saison, uniques = data["targets"]
    assert (saison["name"], saison["value"], saison["remaining"]) == ("Saison 1", 4, 39_996)
    assert saison["pace_7d"] == round(4 / 7, 2) and saison["pace_28d"] == round(4 / 28, 2)
    assert (uniques["metric"], uniques["value"]) == ("listeners", 2)
    assert "Saison 1" in cli(measured_show, "targets", "--today", "2026-11-22")

    chart, page = tmp_path / "progress.png", tmp_path / "report.html"
    cli(measured_show, "report", "--chart", str(chart), "--html", str(page))
    with Image.open(chart) as image:
        assert image.format == "PNG" and image.size[1] > 500  # two target panels
    html = page.read_text(encoding="utf-8")
    assert "Auditeurs uniques" in html and "Marc Olivier" in html


def test_an_inverted_period_is_refused_clearly(demo_show: Path) -> None:
    from click.testing import CliRunner

    from podcast.cli import main

    result = CliRunner().invoke(main, ["--config", str(demo_show), "stats", "report",
                                       "--since", "2026-11-30", "--until", "2026-11-01"])
    assert result.exit_code != 0
    assert "after --until" in result.output and "swap" in result.output


def test_an_unwritable_html_path_fails_before_any_work(demo_show: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from podcast.cli import main

    result = CliRunner().invoke(main, ["--config", str(demo_show), "stats", "report",
                                       "--html", str(tmp_path / "missing" / "r.html")])
    assert result.exit_code != 0
    assert "--html: the folder does not exist" in result.output and "mkdir" in result.output
    assert not (demo_show.parent / ".podcast").exists()  # the database was not even opened


# --- the marketer's questions: platforms, guests fair to age, share links by name ----------

def device_dl(day: str, listener: str, app: str, device: str) -> Download:
    return Download(day=date.fromisoformat(day), slug="001-sonia", listener=listener,
                    app=app, device=device)


def test_apps_come_grouped_by_platform_with_their_parts() -> None:
    """Apple's agents together: Apple Podcasts and its media player are one platform."""
    made = {"Apple Podcasts": 3, "AppleCoreMedia": 2, "Spotify": 4, "okhttp": 1}
    downloads = [device_dl("2026-11-03", f"{app}-{i}", app, "iPhone")
                 for app, n in made.items() for i in range(n)]
    rows = rows_by("app", downloads, EPISODES)
    # Platforms biggest first (Apple 5, Spotify 4, Android 1), parts biggest first.
    assert [(r["app"], r["platform"], r["downloads"]) for r in rows] == [
        ("Apple Podcasts", "Apple", 3), ("AppleCoreMedia", "Apple", 2),
        ("Spotify", "Spotify", 4), ("okhttp", "Android", 1)]
    text = to_table(build_report(downloads, EPISODES, {}, by="app", as_of=TODAY))
    lines = text.splitlines()
    apple = lines.index(next(line for line in lines if line.startswith("Apple ")))
    assert lines[apple].split()[:3] == ["Apple", "5", "5"]  # downloads, listeners
    assert lines[apple].endswith("50.0%")
    assert lines[apple + 1].startswith("  Apple Podcasts ")
    assert lines[apple + 2].startswith("  Apple media player (AppleCoreMedia) ")
    assert lines[apple + 3].startswith("Spotify ")  # one part of its own name: no sub-row
    assert lines[apple + 4].startswith("Android ")
    assert lines[apple + 5].startswith("  an Android app (okhttp) ")
    grouped = list(csv.DictReader(io.StringIO(to_csv(build_report(
        downloads, EPISODES, {}, by="app", as_of=TODAY)))))
    assert [(r["app"], r["platform"]) for r in grouped][:2] == [
        ("Apple Podcasts", "Apple"), ("AppleCoreMedia", "Apple")]


def test_devices_have_no_overlapping_rows() -> None:
    """"iPhone" and Apple's untold device are parts of one Apple row, not two rows."""
    downloads = ([device_dl("2026-11-03", f"i{n}", "Overcast", "iPhone") for n in range(2)]
                 + [device_dl("2026-11-03", f"a{n}", "Apple Podcasts",
                              "Apple (iPhone, iPad or Mac)") for n in range(3)]
                 + [device_dl("2026-11-03", "s", "Spotify", "Android")])
    text = to_table(build_report(downloads, EPISODES, {}, by="device", as_of=TODAY))
    top = [line.split("  ")[0] for line in text.splitlines()
           if line and not line.startswith(" ")]
    assert "Apple" in top and "Android" in top
    assert "iPhone" not in top and "Apple (iPhone, iPad or Mac)" not in top
    assert "  iPhone, iPad or Mac (the app does not say)" in text
    data = json.loads(to_json(build_report(downloads, EPISODES, {}, by="device",
                                           as_of=TODAY)))
    assert {r["device"]: r["platform"] for r in data["rows"]} == {
        "Apple (iPhone, iPad or Mac)": "Apple", "iPhone": "Apple", "Android": "Android"}


REACH_EPISODES = [
    episode("001-sonia", "2026-11-02T07:00:00+00:00", "Sonia Mamin"),
    episode("003-solo", "2026-11-10T07:00:00+00:00"),
    episode("004-lea", "2026-11-20T07:00:00+00:00", "Léa Fontaine"),
]


def reach_downloads() -> list[Download]:
    """Sonia's old episode: 10 on day 1 then 3 a day (64 by the 20th); the guestless one: 5
    on day 1; Léa's, out on the 20th: 30 on day 1, 5 of them through her share link."""
    out = [dl("2026-11-02", "001-sonia", f"s{i}") for i in range(10)]
    out += [dl(f"2026-11-{day:02d}", "001-sonia", f"s{day}-{i}")
            for day in range(3, 21) for i in range(3)]
    out += [dl("2026-11-10", "003-solo", f"o{i}") for i in range(5)]
    out += [replace(dl("2026-11-20", "004-lea", f"l{i}"), via="lea-fontaine" if i < 5 else None)
            for i in range(30)]
    return out


def test_guests_by_reach_are_fair_to_age_and_name_their_links() -> None:
    report = build_report(reach_downloads(), REACH_EPISODES, {}, by="guest",
                          until=date(2026, 11, 20), as_of=date(2026, 11, 20))
    rows = {r["guest"]: r for r in report.rows}
    assert rows["Sonia Mamin"]["downloads"] == 64 > rows["Léa Fontaine"]["downloads"] == 30
    # Day 1 of Léa's: 30 against the median of 10, 5 and 30 (= 10): +200 %.
    assert rows["Léa Fontaine"]["vs_median_percent"] == 200.0
    # Day 11 of the guestless one: 5 against the median of 5 and Sonia's 10 + 10 * 3 = 40.
    assert rows["(no guest)"]["vs_median_percent"] == round(100 * (5 - 22.5) / 22.5, 1)
    # Sonia's is the only episode 19 days old: no median to compare with.
    assert rows["Sonia Mamin"]["vs_median_percent"] is None
    assert (rows["Léa Fontaine"]["link"], rows["Léa Fontaine"]["link_new_listeners"],
            rows["Léa Fontaine"]["link_downloads"]) == ("lea-fontaine", 5, 5)
    assert rows["Sonia Mamin"]["link_new_listeners"] == 0
    # Ranked by reach, not by all-time downloads (which the oldest episode wins).
    assert [r["guest"] for r in report.rows] == ["Léa Fontaine", "(no guest)", "Sonia Mamin"]
    assert report.guests == report.rows
    text = to_table(report)
    assert "+200%" in text and "fair to age" in text
    via = to_table(replace(report, by="via", rows=report.via))
    assert "Léa Fontaine (lea-fontaine)" in via


def test_countries_all_unknown_say_how_to_get_them() -> None:
    downloads = [dl("2026-11-03", "001-sonia", "a", country=None)]
    text = to_table(build_report(downloads, EPISODES, {}, by="country", as_of=TODAY))
    assert "podcast stats ingest --geoip FILE.mmdb" in text
    known = [dl("2026-11-03", "001-sonia", "a"), dl("2026-11-03", "001-sonia", "b")]
    text = to_table(build_report(known, EPISODES, {}, by="country", as_of=TODAY))
    assert "--geoip" not in text


# --- charts a young show can read ------------------------------------------------------------

def young_show(per_day: int) -> list[Download]:
    return [dl(f"2026-11-{day:02d}", "001-sonia", f"l{day}-{i}")
            for day in range(2, 21) for i in range(per_day)]


def _numbers(chart: SvgChart) -> dict[int, list[float]]:
    """The baselines of the labels that are whole numbers (the count ticks), by value."""
    found: dict[int, list[float]] = {}
    for _x, y, text in chart.texts:
        if text.replace(",", "").isdigit():
            found.setdefault(int(text.replace(",", "")), []).append(y)
    return found


def test_a_young_shows_progress_gets_a_zoom_at_its_own_scale() -> None:
    """40,000 downloads as the goal: 190 so far would be a flat line along the axis."""
    goal = Target("Saison 1", "downloads", 40_000, date(2027, 6, 30))
    (panel,) = progress_panels(young_show(10), (goal,), date(2026, 11, 20))
    totals = [total for _, total in panel.series]
    chart = SvgChart.parse(save(progress_figure([panel]), "svg"))
    assert "zoom: downloads so far" in [text for _, _, text in chart.texts]
    # Its own scale: ticks far under the goal that reach the actuals.
    small = [n for n in _numbers(chart) if 0 < n < 0.25 * goal.goal]
    assert small and max(small) >= max(totals)
    # The zoomed line is the series at the scale its tick labels state.
    low, high = sorted(small)[:2]
    (y_low,), (y_high,) = _numbers(chart)[low], _numbers(chart)[high]
    per_download = (y_low - y_high) / (high - low)
    (line,) = [points for points in chart.lines if len(points) == len(totals)
               and max(y for _, y in points) - min(y for _, y in points) > 20]
    for (_x, y), total in zip(line, totals, strict=True):
        assert y == pytest.approx(line[0][1] - (total - totals[0]) * per_download, abs=0.3)
    # Near the goal, the main chart reads well: no inset.
    near = Target("Saison 1", "downloads", 400, date(2026, 12, 31))
    (panel,) = progress_panels(young_show(10), (near,), date(2026, 11, 20))
    texts = [text for _, _, text in SvgChart.parse(save(progress_figure([panel]), "svg")).texts]
    assert not [text for text in texts if text.startswith("zoom")]


def test_a_one_day_history_is_drawn_by_day() -> None:
    """A plotting library's automatic axis would tick hours around a single bar."""
    chart = SvgChart.parse(save(daily_figure([(date(2026, 11, 9), 7)]), "svg"))
    texts = [text for _, _, text in chart.texts]
    assert {"8 Nov", "9 Nov", "10 Nov", "2026"} <= set(texts)
    assert not [text for text in texts if ":" in text]  # no hours
    (bar,) = chart.rects[1:]  # after the background
    centre = float(bar["x"]) + float(bar["width"]) / 2
    assert centre == pytest.approx(chart.text_at("9 Nov")[0], abs=0.2)
    # Its height is 7 downloads on the scale of the tick labels.
    (y0,), (y2,) = _numbers(chart)[0], _numbers(chart)[2]
    assert float(bar["height"]) == pytest.approx(7 * (y0 - y2) / 2, abs=0.3)


def test_a_hostile_title_is_text_in_a_well_formed_chart() -> None:
    title = 'Saison <script>alert(1)</script> & "Co" \x01\x1f'
    target = Target(title, "downloads", 10, date(2027, 1, 1))
    panels = progress_panels([dl("2026-11-03", "001-sonia", "a")], (target,), TODAY)
    chart = SvgChart.parse(save(progress_figure(panels), "svg"))  # parses as XML
    assert 'Saison <script>alert(1)</script> & "Co"  — behind' in [t for _, _, t in chart.texts]
    assert "Saison <script>" in chart.title
