"""The ``podcast stats`` commands: ingest, report and targets, each with the database
kept in a store between runs (``--state``, :mod:`podcast.stats.state`) and a damaged
database named with its fix.  The CLI calls these; the work is in :mod:`.ingest`,
:mod:`.report` and :mod:`.targets`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TypeVar

from podcast.errors import PodcastError
from podcast.model import Show
from podcast.stats import ingest as ingest_logs
from podcast.stats import report as report_tables
from podcast.stats import targets as target_tables
from podcast.stats.ingest import IngestReport, Progress

T = TypeVar("T")


def ingest(show: Show, sources: list[str], *, geoip: Path | None = None,
           agent_lists: Sequence[Path] = (), echo=None, progress: Progress | None = None,
           state: str | None = None) -> IngestReport:
    """``podcast stats ingest``: read access logs into the show's stats database.

    ``progress``: see :data:`podcast.stats.ingest.Progress` (the CLI draws a bar with it).
    ``state``: a store URL the database is fetched from first and stored back to after,
    as a compare-and-swap (see :mod:`podcast.stats.state`).
    """

    def once() -> IngestReport:
        with database_errors(show):
            return ingest_logs.ingest(show, sources, geoip=geoip, agent_lists=agent_lists,
                                      echo=echo, progress=progress)

    return _with_state(show, state, once, echo, store_after=True)


def report(show: Show, *, state: str | None = None, echo=None, **options) -> str:
    """``podcast stats report``: see :func:`podcast.stats.report.report`."""

    def once() -> str:
        with database_errors(show):
            return report_tables.report(show, **options)

    return _with_state(show, state, once, echo)


def targets(show: Show, *, today: date, fmt: str = "table", state: str | None = None,
            echo=None) -> str:
    """``podcast stats targets``: see :func:`podcast.stats.targets.targets`."""

    def once() -> str:
        with database_errors(show):
            return target_tables.targets(show, today=today, fmt=fmt)

    return _with_state(show, state, once, echo)


def _with_state(show: Show, state: str | None, once: Callable[[], T], echo, *,
                store_after: bool = False) -> T:
    """``once()``, with the database fetched from ``state`` first (and stored back)."""
    from podcast.stats.state import with_state

    if not state:
        return once()
    return with_state(show, state, once, echo=echo, store_after=store_after)


@contextlib.contextmanager
def database_errors(show: Show) -> Iterator[None]:
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
