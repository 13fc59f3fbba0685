"""`podcast stats report --html`: the page opens cleanly in a real browser.

The page is rendered from hand-built downloads, written to disk, and opened in headless
Chromium (Debian's /usr/bin/chromium, driven by Playwright).  We listen to the console and
to every network request: the page must log no error, fetch nothing from anywhere (it is
mailed around and opened offline), show its charts, and print a hostile episode title as
text rather than run it.  The targets section must state what the chart draws: both
paces, the projected date and the verdict sentence; listeners come per UTC month.
"""

from __future__ import annotations

import base64
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from stats_fixtures import SvgChart

from podcast.model import Download, Episode, Person, Target
from podcast.stats.canvas import svg
from podcast.stats.charts import Panel, daily_figure, pacing_figure, progress_figure
from podcast.stats.platforms import Play
from podcast.stats.report import build_report, html_report, progress_panels, write_atomic
from podcast.stats.targets import progress, verdict

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AS_OF = date(2026, 11, 30)
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> & "Co"'

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="needs Chromium at /usr/bin/chromium (apt-get install chromium)")]




def episodes() -> list[Episode]:
    def episode(slug: str, day: int, title: str, *guests: str) -> Episode:
        return Episode(slug=slug, folder=Path(slug), title=title,
                       published=datetime.fromisoformat(f"2026-11-{day:02d}T07:00:00+01:00"),
                       audio=Path("a.wav"), notes="", guid=f"guid-{slug}",
                       guests=tuple(Person(g, role="guest") for g in guests))

    return [episode("001-sonia", 2, "Sonia Mamin : le salon devient phygital", "Sonia Mamin"),
            episode("002-hostile", 9, HOSTILE, HOSTILE)]


def downloads() -> list[Download]:
    result = []
    for offset in range(28):
        day = date(2026, 11, 3) + timedelta(days=offset)
        for i in range(offset % 5 + 1):
            result.append(Download(day=day, slug="001-sonia" if i % 2 else "002-hostile",
                                   listener=f"listener-{i}-{offset % 3}",
                                   app=["Apple Podcasts", "Spotify", HOSTILE][i % 3],
                                   device="iOS", country=["FR", None][i % 2]))
    return result


def open_page(browser: Browser, path: Path):
    """Load ``path``; returns the page, console problems and every URL requested."""
    page = browser.new_page()
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    return page, problems, requests


def write_page(tmp_path: Path, all_downloads: list[Download], targets: tuple,
               as_of: date = AS_OF) -> Path:
    eps = episodes()
    report = build_report(all_downloads, eps, {"bots": 12, "not_get": 3},
                          show_title="Salons & Rencontres", as_of=as_of)
    path = tmp_path / "report.html"
    write_atomic(path, html_report(report, all_downloads, targets, eps, as_of).encode())
    return path


def test_report_opens_without_errors_and_shows_charts(browser: Browser,
                                                      tmp_path: Path) -> None:
    targets = (Target("Saison 1", "downloads", 400, date(2027, 1, 31)),
               Target(HOSTILE, "listeners", 10, date(2026, 12, 31), ("002-hostile",)))
    path = write_page(tmp_path, downloads(), targets)
    page, problems, requests = open_page(browser, path)
    try:
        assert problems == []
        # Self-contained: the page itself is the only thing loaded (charts are data: URIs).
        assert [url for url in requests if not url.startswith("data:")] == [path.as_uri()]

        for chart in ("#progress-chart", "#daily-chart", "#pacing-chart"):
            width = page.eval_on_selector(chart, "img => img.complete && img.naturalWidth")
            assert width and width > 300, chart
        assert page.inner_text("#total-downloads") == str(len(downloads()))
        assert page.locator("#episodes tr").count() == 3  # header + two episodes
        for section in ("#targets", "#days", "#by-app", "#by-guest", "#by-country",
                        "#rejected"):
            assert page.locator(section).count() == 1, section
        assert "Saison 1" in page.inner_text("#targets")
    finally:
        page.close()


def test_hostile_titles_are_printed_not_run(browser: Browser, tmp_path: Path) -> None:
    targets = (Target(HOSTILE, "downloads", 100, date(2027, 1, 31)),)
    path = write_page(tmp_path, downloads(), targets)
    page, problems, requests = open_page(browser, path)
    try:
        assert page.evaluate("window.pwned") is None
        assert page.locator("script").count() == 0
        assert page.locator("main img").count() == 3  # only the three charts
        for section in ("#episodes", "#by-guest", "#by-app", "#targets"):
            assert HOSTILE in page.inner_text(section), section
        assert problems == []
    finally:
        page.close()


def test_an_empty_show_still_renders_its_charts(browser: Browser, tmp_path: Path) -> None:
    path = write_page(tmp_path, [], ())
    page, problems, _requests = open_page(browser, path)
    try:
        assert problems == []
        assert page.inner_text("#total-downloads") == "0"
        for chart in ("#progress-chart", "#daily-chart", "#pacing-chart"):
            assert page.eval_on_selector(chart, "img => img.naturalWidth") > 300
        assert "No targets set" in page.inner_text("#targets")
    finally:
        page.close()


def test_the_file_has_no_external_reference(tmp_path: Path) -> None:
    text = write_page(tmp_path, downloads(), ()).read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text


# --- targets: the projection and both paces, as the show saw them ------------------

LAUNCH_TODAY = date(2026, 12, 10)


def launch_then_slow() -> list[Download]:
    """A launch spike (100 a day, 2-4 November), then 3 a day: the cumulative curve sits
    far above a straight ramp from the first day while the recent pace misses the goal."""
    result = []
    day = date(2026, 11, 2)
    while day <= LAUNCH_TODAY:
        per_day = 100 if day <= date(2026, 11, 4) else 3
        # Listener IDs are per month: December's are new hashes.
        result += [Download(day=day, slug="001-sonia", app="Apple Podcasts", device="iOS",
                            listener=f"{day:%Y-%m}-{(day.toordinal() * 7 + i) % 150}")
                   for i in range(per_day)]
        day += timedelta(days=1)
    return result


def test_targets_show_the_projection_and_both_paces(browser: Browser, tmp_path: Path) -> None:
    saison = Target("Saison 1", "downloads", 600, date(2027, 1, 31))
    monthly = Target("Auditeurs uniques", "listeners", 150, date(2027, 3, 31))
    data = launch_then_slow()
    path = write_page(tmp_path, data, (saison, monthly), LAUNCH_TODAY)
    expected = progress(saison, data, LAUNCH_TODAY)
    assert not expected.on_track and isinstance(expected.projected, date)  # behind
    page, problems, _requests = open_page(browser, path)
    try:
        assert problems == []
        rows = page.locator("#targets tr.target")
        first = rows.nth(0)
        assert first.locator(".pace-7d").inner_text() == f"{expected.pace_7d:,.1f}"
        assert first.locator(".pace-28d").inner_text() == f"{expected.pace_28d:,.1f}"
        assert first.locator(".pace-needed").inner_text() == f"{expected.pace_needed:,.1f}"
        projected = first.locator(".projected").inner_text()
        assert expected.projected.isoformat() in projected and "behind" in projected
        sentence = page.locator("#targets tr.verdict").nth(0).inner_text()
        assert sentence == verdict(expected)
        assert sentence.startswith("Behind: 3.0/day over the last 7 days, ")
        assert f"reached on {expected.projected.isoformat()}." in sentence
        # Counted here independently: distinct IDs among each month's downloads.
        nov = len({d.listener for d in data if d.day.month == 11})
        dec = len({d.listener for d in data if d.day.month == 12})
        listeners = page.inner_text("#targets")
        assert f"Listeners per month: 2026-11: {nov} · 2026-12: {dec}" in listeners
        assert "one UTC calendar month" in listeners
        # Two months: each month's listeners, never a two-month total.
        assert page.inner_text("#listeners-2026-11") == str(nov)
        assert page.inner_text("#listeners-2026-12") == str(dec)
        assert page.locator("#total-listeners").count() == 0
        assert "never added up" in page.inner_text("#listeners-note")
        page.set_viewport_size({"width": 1100, "height": 900})
        shot = page.locator("#targets").screenshot(path=str(tmp_path / "targets.png"))
        assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        page.close()
    # The chart draws the table's projection: its dashed line ends on the projected day.
    downloads_panel = progress_panels(data, (saison, monthly), LAUNCH_TODAY)[0]
    assert downloads_panel.projected == expected.projected
    assert downloads_panel.projection[-1][-1][0] == expected.projected


# --- 1280 px: every table fits, platforms, guests by reach, the GeoIP hint ----------------

WIDE = 1280
#: Sections whose content is wider than the section (it scrolls sideways: a cut table).
OVERFLOWING = """() => [...document.querySelectorAll('main section')]
    .filter(s => s.scrollWidth > s.clientWidth + 1
                 || [...s.querySelectorAll('table')].some(
                        t => t.getBoundingClientRect().right
                             > s.getBoundingClientRect().right + 1))
    .map(s => s.id)"""
LONG_EPISODES = [
    ("001-sonia", "2026-05-04", "Sonia Mamin : le salon devient phygital, et les exposants "
                                "suivent enfin le mouvement", ("Sonia Mamin",)),
    ("002-marc", "2026-07-06", "Marc Olivier : organiser un congrès médical de 4 000 "
                               "personnes sans perdre personne", ("Marc Olivier",)),
    ("003-lea", "2026-11-16", "Léa Fontaine : un salon du livre à Lyon",
     ("Léa Fontaine", "Hélène Çelik")),
]
LONG_END = date(2026, 11, 30)
APPS = [("Apple Podcasts", "Apple (iPhone, iPad or Mac)"), ("AppleCoreMedia", "iPhone"),
        ("Spotify", "Android"), ("Overcast", "iPhone"), ("okhttp", "Android"),
        ("Chrome", "Windows")]


def long_episodes() -> list[Episode]:
    return [Episode(slug=slug, folder=Path(slug), title=title,
                    published=datetime.fromisoformat(f"{day}T07:00:00+00:00"),
                    audio=Path("a.wav"), notes="", guid=f"guid-{slug}",
                    guests=tuple(Person(g, role="guest") for g in guests))
            for slug, day, title, guests in LONG_EPISODES]


def long_history(country: str | None = None) -> list[Download]:
    """Seven months of a show: each episode's downloads fall off with its age; Léa's
    newest episode came partly through her share link."""
    result, n = [], 0
    for slug, published, _title, _guests in LONG_EPISODES:
        day = date.fromisoformat(published)
        while day <= LONG_END:
            age = (day - date.fromisoformat(published)).days
            for i in range(30 // (age + 1) + 2):
                n += 1
                app, device = APPS[n % len(APPS)]
                via = "lea-fontaine" if slug == "003-lea" and i < 4 else None
                result.append(Download(day=day, slug=slug, listener=f"{day:%Y-%m}-{n % 250}",
                                       app=app, device=device, country=country, via=via))
            day += timedelta(days=1)
    return result


def platform_plays() -> list[Play]:
    """Three platforms' imported plays for each episode, every Monday."""
    result = []
    for slug, published, _title, _guests in LONG_EPISODES:
        day = date.fromisoformat(published)
        while day <= LONG_END:
            result += [Play(platform, f"guid-{slug}", day, 40 + n, slug)
                       for n, platform in enumerate(("spotify", "youtube", "deezer"))]
            day += timedelta(days=7)
    return result


def write_long_page(tmp_path: Path, history: list[Download], name: str = "long.html",
                    since: date | None = None, plays: tuple[Play, ...] = ()) -> Path:
    eps = long_episodes()
    report = build_report(history, eps, {"bots": 3}, show_title="Salons & Rencontres",
                          since=since, until=LONG_END, as_of=LONG_END, plays=plays)
    path = tmp_path / name
    targets = (Target("Saison 1", "downloads", 40_000, date(2027, 6, 30)),)
    write_atomic(path, html_report(report, history, targets, eps, LONG_END, plays).encode())
    return path


@pytest.mark.parametrize("since", [None, date(2026, 10, 1)], ids=["seven-months", "two"])
def test_every_table_fits_at_1280_px_without_console_errors(
        browser: Browser, tmp_path: Path, since: date | None) -> None:
    path = write_long_page(tmp_path, long_history(), since=since,
                           plays=tuple(platform_plays()))
    page, problems, _requests = open_page(browser, path)
    try:
        assert page.locator("#platforms").count() == 1  # its tables are measured too
        page.set_viewport_size({"width": WIDE, "height": 900})
        assert page.evaluate(OVERFLOWING) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDE
        months = 7 if since is None else 2
        assert page.locator("#episodes th").count() == 9 + (1 if months > 2 else months)
        shot = tmp_path / f"report-{WIDE}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # The check can fail: a narrow window cuts the episodes table.
        page.set_viewport_size({"width": 700, "height": 900})
        assert "episodes" in page.evaluate(OVERFLOWING)
        assert problems == []
    finally:
        page.close()


def test_apps_and_devices_show_platforms_with_their_parts(browser: Browser,
                                                          tmp_path: Path) -> None:
    history = long_history()
    path = write_long_page(tmp_path, history)
    # Counted here: the Apple agents of APPS and the Apple devices.
    apple_apps = sum(1 for d in history if d.app in ("Apple Podcasts", "AppleCoreMedia"))
    apple_devices = sum(1 for d in history
                        if d.device in ("iPhone", "Apple (iPhone, iPad or Mac)"))
    page, problems, _requests = open_page(browser, path)
    try:
        platforms = [row.split("\t") for row in
                     page.locator("#by-app tr.platform").all_inner_texts()]
        apple = next(cells for cells in platforms if cells[0] == "Apple")
        assert apple[1] == f"{apple_apps:,}"
        parts = page.locator("#by-app tr.part").all_inner_texts()
        assert any(p.startswith("Apple Podcasts\t") for p in parts)
        assert any(p.startswith("Apple media player (AppleCoreMedia)\t") for p in parts)
        devices = [row.split("\t")[0] for row in
                   page.locator("#by-device tr.platform").all_inner_texts()]
        assert "iPhone" not in devices and "Apple (iPhone, iPad or Mac)" not in devices
        apple_row = page.locator("#by-device tr.platform", has_text="Apple").inner_text()
        assert apple_row.split("\t")[1] == f"{apple_devices:,}"
        assert problems == []
    finally:
        page.close()


def test_guests_by_reach_and_share_links_by_name(browser: Browser, tmp_path: Path) -> None:
    history = long_history()
    path = write_long_page(tmp_path, history)
    # Léa's link: her episode's listeners whose first download of the month came through it.
    first: dict[tuple[str, str], date] = {}
    for d in history:
        key = (f"{d.day:%Y-%m}", d.listener)
        first[key] = min(first.get(key, d.day), d.day)
    new = {(f"{d.day:%Y-%m}", d.listener) for d in history
           if d.via == "lea-fontaine" and first[(f"{d.day:%Y-%m}", d.listener)] == d.day}
    page, problems, _requests = open_page(browser, path)
    try:
        rows = page.locator("#by-guest tr").all_inner_texts()[1:]
        # The newest episode's guests lead: Léa's link brought listeners; not the oldest.
        assert rows[0].startswith("Léa Fontaine\nlea-fontaine")
        assert rows[0].split("\t")[3] == f"{len(new):,}" and new
        assert not rows[0].startswith("Sonia")
        via = page.locator("#via tr").nth(1).inner_text()
        assert via.startswith("Léa Fontaine (lea-fontaine)")
        assert problems == []
    finally:
        page.close()


def test_unknown_countries_hint_at_a_geoip_database(browser: Browser, tmp_path: Path) -> None:
    unknown = write_long_page(tmp_path, long_history(), "unknown.html")
    known = write_long_page(tmp_path, long_history("FR"), "known.html")
    page, problems, _requests = open_page(browser, unknown)
    try:
        assert "podcast stats ingest --geoip FILE.mmdb" in page.inner_text("#geoip-hint")
        assert problems == []
    finally:
        page.close()
    assert 'id="geoip-hint"' not in known.read_text(encoding="utf-8")


# --- the charts' labels with real fonts ---------------------------------------------------------

#: Every <text> of the SVG document on screen, as Chromium lays it out with its own fonts.
TEXT_BOXES = """() => [...document.querySelectorAll('text')].map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; })"""


def chart_cases() -> dict[str, bytes]:
    """Charts at their most crowded: long titles with accents and $, six-digit counts, a
    young show's inset, a listeners sawtooth, seven episodes (two legend columns), empty."""
    start = date(2026, 11, 9)
    days = [start + timedelta(days=i) for i in range(40)]
    totals = [25 * i * i for i in range(40)]  # ends near 39,000
    ahead = [(days[-1], float(totals[-1])), (date(2027, 2, 1), 60_000.0)]
    small = [(day, i * 3) for i, day in enumerate(days)]  # far under its goal: an inset
    panels = [
        Panel("Saison 1 — a long title with $ signs $5 and Éèçà, long enough to need cutting "
              "short at the edge of the chart", "downloads", list(zip(days, totals, strict=True)),
              Target("Saison 1", "downloads", 50_000, date(2027, 1, 31)), [ahead],
              date(2027, 1, 10), 1_900.0, True, date(2027, 2, 7)),
        Panel("Auditeurs uniques", "listeners", small,
              Target("Auditeurs uniques", "listeners", 5_000, date(2027, 3, 31)), [],
              "never", 0.0, False, date(2027, 4, 7)),
    ]
    per_day = [(start + timedelta(days=i), 100_000 + i) for i in range(30)]
    curves = [(f"Épisode {n} : un titre assez long pour la légende, MAJUSCULES WWW {n}",
               [n * d for d in range(1, 31)]) for n in range(1, 8)]
    median = [float(2 * d) for d in range(1, 31)]
    return {"progress": svg(progress_figure(panels)), "daily": svg(daily_figure(per_day)),
            "daily untitled": svg(daily_figure(per_day, title="")),
            "one day": svg(daily_figure(per_day[:1])),
            "pacing": svg(pacing_figure(curves, median)),
            "empty progress": svg(progress_figure([])), "empty daily": svg(daily_figure([])),
            "empty pacing": svg(pacing_figure([], []))}


def _overlap(a: dict, b: dict) -> bool:
    return min(a["x1"], b["x1"]) - max(a["x0"], b["x0"]) > 1 and \
        min(a["y1"], b["y1"]) - max(a["y0"], b["y0"]) > 1


def test_chart_labels_stay_inside_and_apart_with_real_fonts(browser: Browser) -> None:
    page = browser.new_page()
    try:
        for name, data in chart_cases().items():
            chart = SvgChart.parse(data)
            page.set_viewport_size({"width": int(chart.width), "height": int(chart.height)})
            page.goto("data:image/svg+xml;base64," + base64.b64encode(data).decode())
            boxes = page.evaluate(TEXT_BOXES)
            assert len(boxes) == len(chart.texts) > 3, name
            for box in boxes:
                inside = (box["x0"] >= 0 and box["y0"] >= 0 and box["x1"] <= chart.width
                          and box["y1"] <= chart.height)
                assert inside, (name, box, chart.width, chart.height)
            crowded = [(a["text"], b["text"]) for i, a in enumerate(boxes)
                       for b in boxes[i + 1:] if _overlap(a, b)]
            assert crowded == [], name
    finally:
        page.close()
