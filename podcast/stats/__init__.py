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
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TypeVar

from podcast.errors import PodcastError
from podcast.model import Show
from podcast.stats.ingest import IngestReport

with contextlib.suppress(ImportError):  # written by another stage; may not exist yet
    import podcast.stats.report  # noqa: F401
    import podcast.stats.targets  # noqa: F401

T = TypeVar("T")


def ingest(show: Show, sources: list[str], *, geoip: Path | None = None,
           agent_lists: list[Path] = (), echo=None, progress: bool = False,
           state: str | None = None) -> IngestReport:
    """``podcast stats ingest``: read access logs into the show's stats database.

    ``state``: a store URL the database is fetched from first and stored back to after,
    as a compare-and-swap (see :mod:`podcast.stats.state`).
    """
    from podcast.stats.ingest import ingest as run

    def once() -> IngestReport:
        with _database_errors(show):
            return run(show, sources, geoip=geoip, agent_lists=agent_lists, echo=echo,
                       progress=progress)

    return _with_state(show, state, once, echo, store_after=True)


def report(show: Show, *, state: str | None = None, echo=None, **options) -> str:
    """``podcast stats report``: see :func:`podcast.stats.report.report`."""
    from podcast.stats.report import report as run

    def once() -> str:
        with _database_errors(show):
            return run(show, **options)

    return _with_state(show, state, once, echo)


def targets(show: Show, *, today: date, fmt: str = "table", state: str | None = None,
            echo=None) -> str:
    """``podcast stats targets``: see :func:`podcast.stats.targets.targets`."""
    from podcast.stats.targets import targets as run

    def once() -> str:
        with _database_errors(show):
            return run(show, today=today, fmt=fmt)

    return _with_state(show, state, once, echo)


def _with_state(show: Show, state: str | None, once: Callable[[], T], echo, *,
                store_after: bool = False) -> T:
    """``once()``, with the database fetched from ``state`` first (and stored back)."""
    from podcast.stats.state import with_state

    if not state:
        return once()
    return with_state(show, state, once, echo=echo, store_after=store_after)


@contextlib.contextmanager
def _database_errors(show: Show) -> Iterator[None]:
    """Any DuckDB error left (a damaged local database read halfway) as a PodcastError."""
    import duckdb

    from podcast.stats.state import previous_path
    from podcast.stats.store import db_path

    try:
        yield
    except duckdb.Error as exc:
        raise PodcastError(
            f"cannot read the stats database: {exc}", file=db_path(show),
            fix=f"move it away and ingest the logs again, or put back the copy kept before "
                f"the last fetch ({previous_path(show).name}, if there is one); the "
                "listener-hash keys in ip-key stay valid") from None
