"""`podcast stats report --html`: the page opens cleanly in a real browser.

The page is rendered from hand-built downloads, written to disk, and opened in headless
Chromium (Debian's /usr/bin/chromium, driven by Playwright).  We listen to the console and
to every network request: the page must log no error, fetch nothing from anywhere (it is
mailed around and opened offline), show its charts, and print a hostile episode title as
text rather than run it.  The targets section must state what the chart draws: both
paces, the projected date and the verdict sentence; listeners come per UTC month.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from podcast.model import Download, Episode, Person, Target
from podcast.stats.report import build_report, html_report, progress_panels, write_atomic
from podcast.stats.targets import progress, verdict

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AS_OF = date(2026, 11, 30)
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script> & "Co"'

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="needs Chromium at /usr/bin/chromium (apt-get install chromium)")




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
