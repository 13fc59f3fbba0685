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
from podcast.text import safe_url

with contextlib.suppress(ImportError):  # written by another stage; may not exist yet
    import podcast.stats.report  # noqa: F401
    import podcast.stats.targets  # noqa: F401


def ingest(show: Show, sources: list[str], *, geoip: Path | None = None,
           agent_lists: list[Path] = (), echo=None, progress: bool = False,
           state: str | None = None) -> IngestReport:
    """``podcast stats ingest``: read access logs into the show's stats database.

    ``state``: a store URL the database is fetched from first and stored back to after.
    """
    from podcast.stats.ingest import ingest as run
    from podcast.stats.store import push_state

    _pull(show, state, echo)
    result = run(show, sources, geoip=geoip, agent_lists=agent_lists, echo=echo,
                 progress=progress)
    if state and push_state(show, state) and echo is not None:
        echo(f"stored the stats database in {safe_url(state)}")
    return result


def report(show: Show, *, state: str | None = None, echo=None, **options) -> str:
    """``podcast stats report``: see :func:`podcast.stats.report.report`."""
    from podcast.stats.report import report as run

    _pull(show, state, echo)
    return run(show, **options)


def targets(show: Show, *, today: date, fmt: str = "table", state: str | None = None,
            echo=None) -> str:
    """``podcast stats targets``: see :func:`podcast.stats.targets.targets`."""
    from podcast.stats.targets import targets as run

    _pull(show, state, echo)
    return run(show, today=today, fmt=fmt)


def _pull(show: Show, state: str | None, echo) -> None:
    from podcast.stats.store import pull_state

    if state and pull_state(show, state) and echo is not None:
        echo(f"fetched the stats database from {safe_url(state)}")
