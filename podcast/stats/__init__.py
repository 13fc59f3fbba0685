"""Measurement: count IAB downloads from access logs and report them.

* ``ingest`` (:mod:`podcast.stats.ingest`): logs -> the stats database;
* ``report`` (:mod:`podcast.stats.report`) and ``targets`` (:mod:`podcast.stats.targets`):
  the database -> tables, JSON, CSV, charts and HTML.

The three entry points are thin functions here.  Importing a submodule makes Python set
the package attribute of the same name to the module, which would hide the function; the
submodules are therefore imported first and the functions defined after them.
"""

from __future__ import annotations

import contextlib
from datetime import date
from pathlib import Path

from podcast.model import Show
from podcast.stats.ingest import IngestReport

with contextlib.suppress(ImportError):  # written by another stage; may not exist yet
    import podcast.stats.report  # noqa: F401
    import podcast.stats.targets  # noqa: F401


def ingest(show: Show, sources: list[str], *, geoip: Path | None = None,
           agent_lists: list[Path] = (), echo=None, progress: bool = False) -> IngestReport:
    """``podcast stats ingest``: read access logs into the show's stats database."""
    from podcast.stats.ingest import ingest as run

    return run(show, sources, geoip=geoip, agent_lists=agent_lists, echo=echo,
               progress=progress)


def report(show: Show, **options) -> str:
    """``podcast stats report``: see :func:`podcast.stats.report.report`."""
    from podcast.stats.report import report as run

    return run(show, **options)


def targets(show: Show, *, today: date, fmt: str = "table") -> str:
    """``podcast stats targets``: see :func:`podcast.stats.targets.targets`."""
    from podcast.stats.targets import targets as run

    return run(show, today=today, fmt=fmt)
