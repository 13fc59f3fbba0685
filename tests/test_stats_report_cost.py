"""What `podcast stats report` costs: no report imports matplotlib, and the charts are
laid out by the project's own code.

matplotlib takes about half a second to import and as long again to lay out the page's
three charts; the page's charts are SVG written directly (podcast.stats.charts), so a
report printed in a terminal, read by a script or opened as a page never pays for it.
Each command runs in a fresh interpreter that reports the modules it loaded, so an import
anywhere on the way (the CLI, the stats package, the report) shows.  The same runner with
`--chart FILE.png` must list matplotlib (the one report that rasterises): it can see it.
Where the labels fall with real fonts is checked in Chromium (tests/test_stats_html.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from stats_fixtures import DEMO_MEDIA, PLOTTING_RUNNER, publish_stand_ins, whole, write_log


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


def test_the_html_page_imports_no_matplotlib_either(ingested: Path, tmp_path: Path):
    page = tmp_path / "report.html"
    assert loaded_plotting_modules(ingested, "stats", "report", "--until", "2026-11-29",
                                   "--html", str(page)) == []
    assert page.read_text(encoding="utf-8").count("data:image/svg+xml;base64,") == 3


def test_only_a_png_chart_imports_it(ingested: Path, tmp_path: Path):
    svg, png = tmp_path / "progress.svg", tmp_path / "progress.png"
    assert loaded_plotting_modules(ingested, "stats", "report", "--until", "2026-11-29",
                                   "--chart", str(svg)) == []
    assert svg.read_bytes().startswith(b"<?xml")
    loaded = loaded_plotting_modules(ingested, "stats", "report", "--until", "2026-11-29",
                                     "--chart", str(png))
    assert "matplotlib.figure" in loaded  # the runner does see matplotlib when it is there
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
