"""The stats database kept in a store between runs (``podcast stats --state URL``).

The stored ``stats.duckdb`` is changed only as a compare-and-swap, so two jobs ingesting
at once never lose each other's counts:

1. **fetch** (:func:`fetch`): read the stored object and its version (S3: its ETag;
   ``file://``: the sha256 of its bytes), write it to a temp file beside the local
   database and check it there (:func:`podcast.stats.store.check_whole`: DuckDB, this
   schema version, its tables, every row readable).  Only then does it replace the local
   database, whose previous copy is kept as ``stats.duckdb.previous``.  A damaged, empty
   or foreign object is refused and the local database is left as it was;
2. **ingest** into the local database;
3. **store** (:func:`store_back`): a conditional write on the version fetched (S3:
   ``If-Match``, or ``If-None-Match: *`` when nothing was stored; ``file://``: checked and
   written under the store folder's lock), the manifest's mechanism
   (:meth:`podcast.storage.Store.put_bytes_if`);
4. on a conflict (another job stored first): fetch its state and ingest this run's logs
   into it again (the logs' content hashes make that count each file once), then store
   again; :data:`ATTEMPTS` rounds in all.

Runs on one machine also share the local database (and ``ip-key``): a ``--state`` command
holds ``.podcast/stats.lock`` from the fetch to the store, so a second one waits.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from podcast.errors import PodcastError
from podcast.files import sha256_file, sweep_stale_temps, temp_path
from podcast.model import Show
from podcast.stats.store import DB_NAME, check_whole, db_path
from podcast.storage import (
    PRIVATE_CACHE,
    Store,
    WriteConflict,
    file_lock,
    open_store,
)
from podcast.text import safe_url

#: The key of the database in the state store (the same as before conditional writes).
STATE_KEY = DB_NAME
#: Fetch-ingest-store rounds before giving up (each after another job stored first).
ATTEMPTS = 8
#: Beside the local database: held by a ``--state`` command from fetch to store.
LOCK_NAME = "stats.lock"
#: The local database as it was before a fetch replaced it.
PREVIOUS_SUFFIX = ".previous"

Echo = Callable[[str], None] | None
T = TypeVar("T")


@dataclass(frozen=True)
class Fetched:
    """The stored state as fetched: its version for the conditional write (None: nothing
    stored yet) and the sha256 of its bytes (to skip storing an unchanged database)."""

    version: str | None
    sha256: str | None


def previous_path(show: Show) -> Path:
    """Where the local database is kept when a fetched one replaces it."""
    path = db_path(show)
    return path.with_name(path.name + PREVIOUS_SUFFIX)


@contextlib.contextmanager
def local_lock(show: Show) -> Iterator[None]:
    """Hold ``.podcast/stats.lock``: one ``--state`` command at a time per show folder."""
    with file_lock(db_path(show).with_name(LOCK_NAME),
                   "another `podcast stats --state` command on this show folder"):
        yield


def with_state(show: Show, url: str, run: Callable[[], T], *, echo: Echo = None,
               store_after: bool = False) -> T:
    """Fetch the state at ``url``, call ``run`` and, with ``store_after``, store the
    database back as a compare-and-swap (``run`` is called again after each conflict; it
    must be idempotent, as an ingest of the same logs is).  What ``run`` returned last."""
    store = open_store(url, show.root)
    with local_lock(show):
        if not store_after:
            fetch(show, store, echo, for_store=False)
            return run()
        fetched = fetch(show, store, echo)
        for attempt in range(ATTEMPTS):
            result = run()
            try:
                stored = store_back(show, store, fetched)
            except WriteConflict:
                _say(echo, f"the stats database in {safe_url(url)} was stored by another job "
                           "meanwhile: fetching it and ingesting this run's logs into it")
                _pause(attempt)
                fetched = fetch(show, store, echo)
                continue
            if stored:
                _say(echo, f"stored the stats database in {safe_url(url)}")
            return result
    raise PodcastError(f"the stats database in {safe_url(url)} kept changing while this run "
                       f"stored it ({ATTEMPTS} attempts)", file=_where(store),
                       fix="run the same command again once the other jobs have finished: "
                           "its logs are counted once")


def fetch(show: Show, store: Store, echo: Echo = None, *, for_store: bool = True) -> Fetched:
    """Fetch the stored database over the local one unless they are the same.

    The object is checked in a temp file first: a damaged, empty or foreign one raises
    PodcastError and the local database is left unchanged.  Nothing stored yet (the first
    night) keeps the local database as it is.  Without ``for_store`` (a report), a local
    copy whose sha256 is the one stored with the object is kept without a download; the
    version returned is then None.
    """
    path = db_path(show)
    if not for_store and path.exists():
        info = store.head(STATE_KEY)
        if info is not None and info.sha256 == sha256_file(path):
            return Fetched(None, info.sha256)
    found = store.read_versioned(STATE_KEY)
    if found is None:
        return Fetched(None, None)
    data, version = found
    digest = hashlib.sha256(data).hexdigest()
    if path.exists() and sha256_file(path) == digest:
        return Fetched(version, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(path)
    temp = temp_path(path)
    try:
        temp.write_bytes(data)
        _check_fetched(temp, store)
        _install(temp, path, previous_path(show))
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.wal").unlink(missing_ok=True)
    _say(echo, f"fetched the stats database from {safe_url(store.url)}")
    return Fetched(version, digest)


def store_back(show: Show, store: Store, fetched: Fetched) -> bool:
    """Store the local database if it differs from what was fetched, conditional on the
    stored object still being the one fetched (WriteConflict when not).  True if stored.
    The listener-hash keys are never stored with it."""
    path = db_path(show)
    if not path.exists():
        return False
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() == fetched.sha256:
        return False
    _check_local(path, store)
    with store.exclusive():  # file://: the check and the write are one step under the lock
        store.put_bytes_if(STATE_KEY, data, version=fetched.version,
                           content_type="application/octet-stream", cache_control=PRIVATE_CACHE)
    return True


def _check_fetched(temp: Path, store: Store) -> None:
    """PodcastError naming the stored object, with the fix, unless ``temp`` is whole."""
    try:
        check_whole(temp)
    except PodcastError as exc:
        what = exc.message.replace("the stats database", "the stored stats database", 1)
        raise PodcastError(
            f"{what}; the local database was left unchanged", file=_where(store),
            fix=f"put a good copy at {_where(store)} (an earlier version of the object if "
                "the store keeps them; on a machine that ran the job, .podcast/stats.duckdb "
                "or stats.duckdb.previous), or delete the object: the next `podcast stats "
                "--state URL ingest` then stores the local database") from None


def _check_local(path: Path, store: Store) -> None:
    """PodcastError unless the local database reads to the end: a damaged one (a disk
    error, a file cut short before this run) is never stored over a good state."""
    try:
        check_whole(path)
    except PodcastError as exc:
        raise PodcastError(f"{exc.message}; it was not stored in {_where(store)}", file=path,
                           fix="move it away and run the same command again: the stored "
                               "state is fetched and this run's logs are ingested into it"
                           ) from None


def _install(temp: Path, path: Path, previous: Path) -> None:
    """Put the checked ``temp`` at ``path``, keeping the local database as ``previous``.

    A write-ahead log left beside the old database (a run killed mid-write) goes with it:
    replayed over another database it would damage that one.
    """
    wal = Path(f"{path}.wal")
    if path.exists():
        os.replace(path, previous)
        Path(f"{previous}.wal").unlink(missing_ok=True)
        if wal.exists():
            os.replace(wal, f"{previous}.wal")
    os.replace(temp, path)


def _where(store: Store) -> str:
    return f"{safe_url(store.url)}/{STATE_KEY}"


def _say(echo: Echo, text: str) -> None:
    if echo is not None:
        echo(text)


def _pause(attempt: int) -> None:
    """Full-jitter backoff between rounds, so two jobs stop colliding."""
    time.sleep(random.uniform(0, min(5.0, 0.1 * 2 ** attempt)))
