"""`podcast stats report` on the demo: CPU seconds of the table, the JSON and the HTML page.

    .venv/bin/python benchmarks/bench_report.py [--repeat 5]

Builds once (cached in ``benchmarks/.data/report/``, gitignored) the demo show as the demo
leaves it: published to ``file://`` with real masters, then the weeks since its first
release written in `podcast serve`'s log format by scripts/demo.py's own simulation and
ingested.  Then, in fresh processes in turns, ``--repeat`` times each: ``stats report``
(the table), ``--format json`` and ``--html``; CPU seconds are user + system of the
process (best kept), with the wall time and the load sampled during the runs beside them.
A last run of the page in one process splits its cost: importing the chart modules,
laying out and writing the three charts as SVG, and the rest (the page without its charts:
the template and its data).

Judged: the page under 1 s of CPU (issue 25), neither text report importing matplotlib,
and the page not importing it either (its charts are SVG written directly; the runner
lists the modules loaded).  The ratio page / table (CPU and wall) is printed too: the
page's own cost, less dependent on the machine's speed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from common import REPO, LoadSampler, compile_package, demo_copy, run_measured, verdict

sys.path.insert(0, str(REPO / "tests"))
from stats_fixtures import PLOTTING_RUNNER  # noqa: E402  (the cost test's own runner)

DATA = REPO / "benchmarks" / ".data" / "report"
HTML_TARGET = 1.0  # CPU seconds
#: In one process: the page, its chart modules' import and its charts timed apart.
SPLIT = """
import json, sys, time
from datetime import date
from pathlib import Path
cpu = time.process_time
from podcast.config import load_show, load_episodes
from podcast.stats import report as R
from podcast.stats.store import load_downloads, load_plays, rejected_counts, page_visits
import podcast.stats.platforms as platforms
show = load_show(Path(sys.argv[1]))
episodes = load_episodes(show)
downloads = load_downloads(show, None, None)
plays = platforms.with_slugs(load_plays(show, None, None), episodes)
as_of = date.today()
report = R.build_report(downloads, episodes, rejected_counts(show, None, None),
                        show_title=show.title, as_of=as_of, plays=plays,
                        visits=page_visits(show, None, None))
start = cpu()
from podcast.stats import charts
from podcast.stats.canvas import svg
imported = cpu()
def draw():
    panels = R.progress_panels(downloads, show.targets, as_of, plays)
    for chart in (charts.progress_figure(panels), charts.daily_figure(report.daily, title=""),
                  R.pacing_figure(report)):
        svg(chart)
draw()
drawn = cpu()
draw()  # again, as the page draws them: warm
again = cpu()
R.html_report(report, downloads, show.targets, episodes, as_of, plays)
page = cpu() - again
print(json.dumps({"import": imported - start, "charts": drawn - imported,
                  "without": page - (again - drawn)}))
"""


def podcast(config: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run([sys.executable, "-c", "from podcast.cli import main; main()",
                           "--config", str(config), *args], capture_output=True, text=True,
                          cwd=config.parent)
    if check and done.returncode:
        sys.exit(f"podcast {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def demo_stats() -> Path:
    """The demo show, published and with its simulated weeks ingested; its podcast.yaml."""
    config = DATA / "podcast.yaml"
    if (DATA / ".podcast" / "stats.duckdb").is_file():
        return config
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    demo_copy(DATA)
    print("building the demo's stats once (publish, weeks of logs, ingest)...", flush=True)
    podcast(config, "publish", "--all")
    sys.path.insert(0, str(REPO / "scripts"))
    import demo  # the demo's own listening simulation

    releases = demo.releases_of(DATA / "public" / "feed.xml")
    log = DATA / ".podcast" / "logs" / "history.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n".join(demo.history(releases, datetime.now(UTC).date())) + "\n",
                   encoding="utf-8")
    podcast(config, "stats", "ingest", str(log))
    return config


def timed(config: Path, *args: str) -> tuple[float, float, list[str]]:
    """CPU and wall seconds of one fresh `podcast ARGS…`, and the matplotlib modules it
    loaded."""
    done, cpu, wall = run_measured(
        [sys.executable, "-c", PLOTTING_RUNNER, "--config", str(config), *args], config.parent)
    if done.returncode:
        sys.exit(f"podcast {' '.join(args)} failed:\n{done.stderr}")
    return cpu, wall, json.loads(done.stderr.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (best kept)")
    args = parser.parse_args()
    compile_package()
    config = demo_stats()
    page = DATA / ".podcast" / "report.html"
    kinds = {"table": ("stats", "report"), "json": ("stats", "report", "--format", "json"),
             "html": ("stats", "report", "--html", str(page))}
    results: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
    imports: dict[str, list[str]] = {}
    timed(config, *kinds["html"])  # warm-up: page cache, compiled imports
    with LoadSampler() as load:
        for _ in range(args.repeat):
            for kind, command in kinds.items():
                cpu, wall, loaded = timed(config, *command)
                results[kind].append((cpu, wall))
                imports[kind] = loaded
    split = json.loads(subprocess.run([sys.executable, "-c", SPLIT, str(config)],
                                      capture_output=True, text=True, check=True,
                                      cwd=config.parent).stdout)
    best = {kind: (min(c for c, _ in runs), min(w for _, w in runs))
            for kind, runs in results.items()}
    print(f"stats report on the demo, best of {args.repeat} fresh processes in turns")
    for kind in kinds:
        cpus = ", ".join(f"{c:.2f}" for c, _ in results[kind])
        print(f"  {kind:6} CPU {best[kind][0]:.2f} s (runs {cpus}), wall {best[kind][1]:.2f} s, "
              f"matplotlib modules loaded: {len(imports[kind])}")
    print(f"  the page in one process: importing the chart modules {split['import']:.3f} s "
          f"CPU, drawing the three charts {split['charts']:.3f} s, the page without its "
          f"charts {split['without']:.2f} s")
    print(f"load during the runs: {load.summary()}")
    cpu_ratio = best["html"][0] / best["table"][0]
    wall_ratio = best["html"][1] / best["table"][1]
    print(f"page / table: CPU ratio {cpu_ratio:.2f}, wall ratio {wall_ratio:.2f}")
    checks = [
        (f"--html {best['html'][0]:.2f} s CPU (target < {HTML_TARGET} s)",
         best["html"][0] < HTML_TARGET),
        ("table and JSON import no matplotlib", not imports["table"] and not imports["json"]),
        ("the page imports no matplotlib", not imports["html"]),
    ]
    for text, ok in checks:
        print(f"{text}: {verdict(ok)}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
