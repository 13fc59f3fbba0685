"""What `podcast stats report` costs: the table and JSON never import matplotlib, and the
charts are laid out at fixed margins (no automatic layout) with nothing drawn outside them.

matplotlib takes about half a second to import; a report printed in a terminal or read
by a script must not pay for it.  Each command runs in a fresh interpreter that reports
the modules it loaded, so an import anywhere on the way (the CLI, the stats package, the
report) shows.  The same runner with `--html` must list matplotlib: it can see it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from stats_fixtures import DEMO_MEDIA, PLOTTING_RUNNER, publish_stand_ins, whole, write_log

from podcast.model import Target
from podcast.stats.charts import Panel, daily_figure, pacing_figure, progress_figure

START = date(2026, 11, 9)


@pytest.fixture
def ingested(demo_show: Path, tmp_path: Path) -> Path:
    """The demo show with three weeks of downloads of each episode ingested."""
    from stats_fixtures import podcast_cli

    publish_stand_ins(demo_show)
    requests = []
    for offset in range(21):
        when = datetime(2026, 11, 9, 8, tzinfo=UTC) + timedelta(days=offset)
        for n, media in enumerate(DEMO_MEDIA.values()):
            for listener in range((offset + n) % 4 + 1):
                requests.append(whole(when + timedelta(minutes=listener),
                                      f"10.{n}.{offset}.{listener}",
                                      "Overcast/3.0 (+http://overcast.fm/)", media))
    log = write_log(tmp_path / "logs", "combined", requests, path_prefix="/")
    podcast_cli(demo_show, "stats", "ingest", str(log))
    return demo_show


def loaded_plotting_modules(config: Path, *args: str) -> list[str]:
    """The matplotlib modules a fresh `podcast --config CONFIG ARGS…` loaded."""
    done = subprocess.run([sys.executable, "-c", PLOTTING_RUNNER, "--config", str(config),
                           *args],
                          capture_output=True, text=True, cwd=config.parent, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [(), ("--format", "json"), ("--by", "app"),
                                  ("--format", "csv")], ids=["table", "json", "by", "csv"])
def test_a_text_report_never_imports_matplotlib(ingested: Path, args: tuple[str, ...]):
    assert loaded_plotting_modules(ingested, "stats", "report", "--until", "2026-11-29",
                                   *args) == []


def test_the_html_report_imports_it_to_draw_its_charts(ingested: Path, tmp_path: Path):
    page = tmp_path / "report.html"
    loaded = loaded_plotting_modules(ingested, "stats", "report", "--until", "2026-11-29",
                                     "--html", str(page))
    assert "matplotlib.figure" in loaded  # the runner does see matplotlib when it is there
    assert page.read_text(encoding="utf-8").count("data:image/svg+xml;base64,") == 3


# --- fixed layout -----------------------------------------------------------------------


def _panels() -> list[Panel]:
    days = [START + timedelta(days=i) for i in range(40)]
    totals = [25 * i * i for i in range(40)]  # ends near 39,000
    ahead = [(days[-1], float(totals[-1])), (date(2027, 2, 1), 60_000.0)]
    small = [(day, i * 3) for i, day in enumerate(days)]  # far under its goal: an inset
    return [
        Panel("Saison 1 — a long title with $ signs $5", "downloads",
              list(zip(days, totals, strict=True)),
              Target("Saison 1", "downloads", 50_000, date(2027, 1, 31)), [ahead],
              date(2027, 1, 10), 1_900.0, True, date(2027, 2, 7)),
        Panel("Auditeurs uniques", "listeners", small,
              Target("Auditeurs uniques", "listeners", 5_000, date(2027, 3, 31)), [],
              "never", 0.0, False, date(2027, 4, 7)),
    ]


def _figures():
    days = [(START + timedelta(days=i), 100_000 + i) for i in range(30)]
    curves = [(f"Épisode {n} : un titre assez long pour la légende", [n * d for d in range(1, 31)])
              for n in range(1, 5)]
    median = [float(2 * d) for d in range(1, 31)]
    return {"progress": progress_figure(_panels()), "daily": daily_figure(days),
            "daily untitled": daily_figure(days, title=""),
            "pacing": pacing_figure(curves, median)}


def _drawn(figure):
    """Draw ``figure`` as the report saves it (Agg's text metrics); its renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


@pytest.mark.parametrize("name", ["progress", "daily", "daily untitled", "pacing"])
def test_charts_use_no_automatic_layout_and_keep_every_label_inside(name: str):
    figure = _figures()[name]
    assert figure.get_layout_engine() is None
    renderer = _drawn(figure)
    # Everything drawn (tick labels, titles, legends, the inset), in inches.
    drawn = figure.get_tightbbox(renderer)
    width, height = figure.get_size_inches()
    assert drawn.x0 >= 0 and drawn.y0 >= 0, (name, drawn)
    assert drawn.x1 <= width and drawn.y1 <= height, (name, drawn, width, height)
    # and the margins are not wasted: the drawing reaches close to each edge
    assert drawn.x0 < 0.4 and drawn.y0 < 0.4 and drawn.y1 > height - 0.25, (name, drawn)


def test_stacked_panels_keep_a_title_clear_of_the_ticks_above():
    figure = progress_figure(_panels())
    renderer = _drawn(figure)
    upper, lower = figure.axes[0], [a for a in figure.axes[1:] if a not in
                                    figure.axes[0].child_axes][0]
    lowest_upper_label = min(label.get_window_extent(renderer).y0
                             for label in upper.get_xticklabels() if label.get_text())
    (title,) = figure.findobj(lambda a: hasattr(a, "get_text") and a.get_visible()
                              and a.get_text() == lower.get_title(loc="left"))
    assert title.get_window_extent(renderer).y1 < lowest_upper_label
