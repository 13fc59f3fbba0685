"""The stats database: DuckDB in ``.podcast/stats.duckdb``, and the listener-hash keys.

What is stored (never a raw IP, never a user agent):

* ``files``           every log file ingested, by content hash (BLAKE3; re-ingest skips it);
* ``media``           media key -> episode slug and byte threshold, from the catalog;
* ``listener_bytes``  per (UTC day, media key, listener): bytes delivered by GET 200/206,
                      the lines, the listener's app, device and country, and the
                      source (the log format: s3, cloudfront, combined).  Rows are
                      appended per file and summed when read, so a late file for an old
                      day merges with what is already there and may push a listener-day
                      over the threshold;
* ``rejections``      lines rejected at ingest, per day and reason;
* ``schema``          the version of these tables (:data:`SCHEMA_VERSION`).

Listener hashes are HMAC-SHA256 keyed by one secret per UTC month, kept in
``.podcast/ip-key`` (outside the database, mode 0600).  A log line is hashed with the key
of the month it was logged in, so hashes are stable within a month (late files merge) and
cannot be linked across months.  Deleting a month's key from the file forgets how to
recognise that month's listeners; logs for that month ingested afterwards get new hashes.

Downloads are decided when read (:func:`load_downloads`): a listener-day counts when its
summed bytes reach the media's threshold.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import date
from pathlib import Path

from podcast.errors import PodcastError
from podcast.files import atomic_write, sweep_stale_temps, temp_path
from podcast.model import Download, Show
from podcast.stats.counting import REASONS

DB_NAME = "stats.duckdb"
KEY_NAME = "ip-key"

#: Bumped whenever a table changes; a database of another version is refused with the fix.
SCHEMA_VERSION = 2

_SCHEMA = f"""
CREATE TABLE schema (version INTEGER);
INSERT INTO schema VALUES ({SCHEMA_VERSION});
CREATE TABLE files (
    digest VARCHAR PRIMARY KEY, name VARCHAR, size BIGINT, stamp VARCHAR,
    format VARCHAR, ingested_at TIMESTAMP DEFAULT current_timestamp);
CREATE TABLE media (key VARCHAR PRIMARY KEY, slug VARCHAR, threshold BIGINT);
CREATE TABLE listener_bytes (
    day DATE, key VARCHAR, listener UHUGEINT, key_period VARCHAR, app VARCHAR,
    device VARCHAR, country VARCHAR, source VARCHAR, bytes BIGINT, lines BIGINT);
CREATE TABLE rejections (day DATE, reason VARCHAR, lines BIGINT);
"""


def db_path(show: Show) -> Path:
    """Where the show's stats database lives."""
    return show.state_dir / DB_NAME


def connect(show: Show, *, read_only: bool = False):
    """An open DuckDB connection to the show's stats database (created if missing).

    Nothing spills to disk: raw addresses live in temporary tables during an ingest, so
    the connection may use memory only (a query that needs more fails instead).
    """
    import duckdb

    path = db_path(show)
    try:
        if not path.exists():
            _create(path)  # even to read: a report on a new show reads zeros
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise PodcastError(f"cannot open the stats database: {exc}", file=path,
                           fix="close other `podcast stats` runs, or delete the file and "
                               "ingest the logs again") from None
    con.execute("SET max_temp_directory_size = '0B'")
    con.execute("SET preserve_insertion_order = false")
    tables = {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()")
              .fetchall()}
    version = (con.execute("SELECT max(version) FROM schema").fetchone()[0]
               if "schema" in tables else None)  # none: before version 2, or not ours
    if version != SCHEMA_VERSION:
        con.close()
        raise PodcastError("the stats database was written by another version of podcast",
                           file=path, fix="delete it and ingest the logs again (the "
                                          "listener-hash keys in ip-key stay valid)")
    return con


def _create(path: Path) -> None:
    """Create an empty database of this version at ``path``.

    It is made under a temp name and then linked into place: a process killed while DuckDB
    writes a new file leaves a file DuckDB refuses to open, and that must never be
    ``stats.duckdb``.  Two runs starting together both make one; the first link wins, so
    neither writes into a file the other has replaced.
    """
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(path)
    temp = temp_path(path)
    try:
        con = duckdb.connect(str(temp))
        con.execute(_SCHEMA)
        con.close()  # checkpoints: everything is in the one file
        try:
            os.link(temp, path)  # unlike a rename, never replaces one another run just made
        except FileExistsError:
            pass  # another run created it first: use that one
        except OSError:
            os.replace(temp, path)  # a file system without hard links
    finally:
        for leftover in (temp, Path(f"{temp}.wal")):
            leftover.unlink(missing_ok=True)


def _period(since: date | None, until: date | None) -> tuple[str, list]:
    clauses, params = [], []
    if since is not None:
        clauses.append("day >= ?")
        params.append(since)
    if until is not None:
        clauses.append("day <= ?")
        params.append(until)
    return (" AND ".join(clauses) or "true"), params


#: SQL: each (day, media key, listener) with its summed bytes, and its media's slug and
#: threshold; ``{where}`` filters the days.  Whether it is a download is decided here.
LISTENER_DAYS_SQL = """
WITH days AS (
    SELECT day, key, listener, min(app) AS app, min(device) AS device,
           min(country) AS country, arg_max(source, bytes) AS source,
           sum(bytes) AS bytes, sum(lines) AS lines
    FROM listener_bytes WHERE {where}
    GROUP BY day, key, listener)
SELECT days.*, media.slug, media.threshold
FROM days JOIN media USING (key)
"""


def load_downloads(show: Show, since: date | None, until: date | None) -> list[Download]:
    """Every counted download between ``since`` and ``until`` (inclusive, UTC days).

    One per (day, episode, listener): when a listener fetched two masters of one episode
    on one day, it is one download (the larger byte count is kept); its source is the log
    that delivered most of its bytes.
    """
    where, params = _period(since, until)
    con = connect(show)
    try:
        rows = con.execute(f"""
            SELECT day, slug, listener, min(app), min(device), min(country),
                   arg_max(source, bytes), max(bytes)
            FROM ({LISTENER_DAYS_SQL.format(where=where)}) WHERE bytes >= threshold
            GROUP BY day, slug, listener ORDER BY day, slug, listener""", params).fetchall()
    finally:
        con.close()
    return [Download(day=day, slug=slug, listener=f"{listener:032x}", app=app, device=device,
                     country=country, source=source, bytes=int(nbytes))
            for day, slug, listener, app, device, country, source, nbytes in rows]


def rejected_counts(show: Show, since: date | None, until: date | None) -> dict[str, int]:
    """Rejected log lines per reason between ``since`` and ``until`` (all six reasons).

    ``below_threshold`` adds the lines of listener-days that never reached the threshold
    (decided now, so a late file can still move them to downloads).  Lines too broken to
    have a date count only when no period is asked for.
    """
    where, params = _period(since, until)
    counts = dict.fromkeys(REASONS, 0)
    con = connect(show)
    try:
        undated = " OR day IS NULL" if since is None and until is None else ""
        for reason, lines in con.execute(
                f"SELECT reason, sum(lines) FROM rejections WHERE ({where}){undated} "
                "GROUP BY reason", params).fetchall():
            counts[reason] = counts.get(reason, 0) + int(lines)
        (below,) = con.execute(
            f"SELECT coalesce(sum(lines), 0) FROM ({LISTENER_DAYS_SQL.format(where=where)}) "
            "WHERE bytes < threshold", params).fetchone()
        counts["below_threshold"] += int(below)
    finally:
        con.close()
    return counts


# --- listener-hash keys -------------------------------------------------------------------


def key_path(show: Show) -> Path:
    """The file holding the monthly HMAC keys (never inside the database)."""
    return show.state_dir / KEY_NAME


def period_keys(show: Show, periods: set[str]) -> dict[str, bytes]:
    """The HMAC key of each month (``YYYY-MM``), creating missing ones in ``ip-key``.

    The file is JSON ``{"YYYY-MM": "hex key", ...}``, created with mode 0600 and replaced
    atomically, so a crash leaves the old keys intact.
    """
    path = key_path(show)
    keys: dict[str, str] = {}
    if path.exists():
        try:
            keys = json.loads(path.read_text())
            if not isinstance(keys, dict):
                raise ValueError("not a JSON object")
        except (ValueError, OSError) as exc:
            raise PodcastError(f"cannot read the listener-hash keys: {exc}", file=path,
                               fix="restore the file from a backup; deleting it starts new "
                                   "listener hashes (listeners are counted again)") from None
    missing = sorted(p for p in periods if p not in keys)
    if missing:
        for period in missing:
            keys[period] = secrets.token_hex(32)
        # The key file is a secret: owner-only, like an SSH key.
        atomic_write(path, (json.dumps(keys, indent=1, sort_keys=True) + "\n").encode(),
                     mode=0o600)
    return {p: bytes.fromhex(keys[p]) for p in periods}


