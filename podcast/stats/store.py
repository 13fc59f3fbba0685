"""The stats database: DuckDB in ``.podcast/stats.duckdb``, and the listener-hash keys.

What is stored (never a raw IP, never a user agent):

* ``files``           every log file ingested, by content hash (BLAKE3 of its first
                      ``length`` bytes, decompressed for gzip; ``size`` and ``stamp`` are
                      the raw bytes read and the mtime or ETag, to skip unchanged files
                      unread): the same content is never read twice, and a file whose
                      first bytes were ingested is read from there on;
* ``media``           media key -> episode slug and byte threshold, from the catalog;
* ``listener_bytes``  per (UTC day, media key, listener): bytes delivered by GET 200/206,
                      the lines, the listener's app, device and country, and the
                      source (the log format: s3, cloudfront, combined).  Rows are
                      appended per file and summed when read, so a late file for an old
                      day merges with what is already there and may push a listener-day
                      over the threshold;
* ``rejections``      lines rejected at ingest, per day and reason;
* ``not_counted``     per (UTC day, media key, requester hash) that made no download: a
                      bot's requests of episodes (``bots``, with the bot's name) and a
                      listener's 2-byte range probes (``probes``), in lines, so the report
                      gives these as requester-days too, and names the bots;
* ``page_visits``     per (UTC day, episode page, share-link code, visitor hash): the
                      episode pages opened through a ``podcast share`` link; and
                      ``listener_bytes.via``, the code a listener-day's audio requests
                      carried (or their referer, the episode page opened through one);
* ``key_checks``      per month, a one-way check value of that month's listener-hash key
                      (HMAC of a constant), so a lost or changed key is refused instead of
                      silently starting new hashes (which would count listeners twice);
* ``schema``          the version of these tables (:data:`SCHEMA_VERSION`).

Listener hashes are HMAC-SHA256 keyed by one secret per UTC month, never inside the
database: drawn at random into ``.podcast/ip-key`` (mode 0600), or derived from the secret
in ``PODCAST_IP_SECRET`` (for CI, where no file survives between runs).  A log line is
hashed with the key of the month it was logged in, so hashes are stable within a month
(late files merge) and cannot be linked across months without the secret.  A month that
already has listeners in the database must get the very key it had: a missing or changed
key is refused (see ``key_checks``).

The database can be kept in a store between runs (``--state URL``, see
:mod:`podcast.stats.state`), e.g. a private bucket for the nightly job; the keys never go
there.

Downloads are decided when read (:func:`load_downloads`): a listener-day counts when its
summed bytes reach the media's threshold.
"""

from __future__ import annotations

import hashlib
import hmac
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
#: A secret the monthly keys are derived from instead of ip-key (CI: a repository secret).
SECRET_ENV = "PODCAST_IP_SECRET"

#: Bumped whenever a table changes; a database of another version is refused with the fix.
SCHEMA_VERSION = 2

#: Added after version 2 shipped (an older reader ignores it): created where missing.
_KEY_CHECKS = ("CREATE TABLE IF NOT EXISTS key_checks "
               "(period VARCHAR PRIMARY KEY, check_value VARCHAR)")
#: Added after version 2 shipped (an older reader ignores it): the content length the
#: digest covers; rows from before it covered the whole file (``size``).
_FILES_LENGTH = "ALTER TABLE files ADD COLUMN IF NOT EXISTS length BIGINT"
#: Added after version 2 shipped (an older reader ignores it): created where missing.
_NOT_COUNTED = ("CREATE TABLE IF NOT EXISTS not_counted (day DATE, key VARCHAR, "
                "requester UHUGEINT, key_period VARCHAR, reason VARCHAR, name VARCHAR, "
                "lines BIGINT)")
#: Added after version 2 shipped: the share-link code a listener-day came through, and
#: the episode pages opened through share links (``podcast share``).
_VIA_COLUMN = "ALTER TABLE listener_bytes ADD COLUMN IF NOT EXISTS via VARCHAR"
_PAGE_VISITS = ("CREATE TABLE IF NOT EXISTS page_visits (day DATE, slug VARCHAR, "
                "via VARCHAR, visitor UHUGEINT, key_period VARCHAR, lines BIGINT)")
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
{_KEY_CHECKS};
{_NOT_COUNTED};
{_PAGE_VISITS};
{_VIA_COLUMN};
"""


def db_path(show: Show) -> Path:
    """Where the show's stats database lives."""
    return show.state_dir / DB_NAME


#: What DuckDB may never do by itself: fetch an extension over HTTP (a SQLite file at
#: the database's path made it try) or load one it finds installed.
NO_EXTENSIONS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
#: Every DuckDB database file has this at byte 8 (its header's magic).
_DUCKDB_MAGIC = (8, b"DUCK")
#: The tables every version-2 database has from the start (later ones are added below).
_TABLES = {"schema", "files", "media", "listener_bytes", "rejections"}


def duckdb_connect(path: Path | str, *, read_only: bool = False):
    """``duckdb.connect`` with extension auto-install and auto-load off."""
    import duckdb

    return duckdb.connect(str(path), read_only=read_only, config=dict(NO_EXTENSIONS))


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
        _check_is_duckdb(path)
        con = duckdb_connect(path, read_only=read_only)
    except duckdb.Error as exc:
        raise PodcastError(f"cannot open the stats database: {exc}", file=path,
                           fix="close other `podcast stats` runs, or delete the file and "
                               "ingest the logs again") from None
    except OSError as exc:
        raise PodcastError(f"cannot open the stats database: {exc.strerror}", file=path,
                           fix=disk_fix(path)) from None
    # No progress bar of DuckDB's own: it would print into a JSON or CSV report on stdout.
    con.execute("SET enable_progress_bar = false")
    con.execute("SET max_temp_directory_size = '0B'")
    con.execute("SET preserve_insertion_order = false")
    try:
        tables = check_schema(con, path)
    except PodcastError:
        con.close()
        raise
    if not read_only and "key_checks" not in tables:
        con.execute(_KEY_CHECKS)  # a version 2 database from before the key checks
    if not read_only and "not_counted" not in tables:
        con.execute(_NOT_COUNTED)  # from before the not-counted requester-days
    if not read_only and "page_visits" not in tables:
        con.execute(_PAGE_VISITS)  # from before share links
        con.execute(_VIA_COLUMN)
    return con


def check_schema(con, path: Path | str) -> set[str]:
    """The tables of the open database ``con`` (at ``path``, for messages); PodcastError
    when it is not a stats database of this version, or lacks one of its tables."""
    tables = {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()")
              .fetchall()}
    version = (con.execute("SELECT max(version) FROM schema").fetchone()[0]
               if "schema" in tables else None)  # none: before version 2, or not ours
    if version != SCHEMA_VERSION:
        raise PodcastError("the stats database was written by another version of podcast",
                           file=path, fix="delete it and ingest the logs again (the "
                                          "listener-hash keys in ip-key stay valid)")
    views = {name for (name,) in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    if missing := sorted(_TABLES - tables - views):
        raise PodcastError(f"the stats database has its version row but not the tables "
                           f"{', '.join(missing)}: it was damaged or made by hand", file=path,
                           fix="move it away and ingest the logs again (the listener-hash "
                               "keys in ip-key stay valid)")
    return tables


#: A DuckDB file is its three 4 KiB headers, then whole blocks.
_HEADERS_BYTES = 3 * 4096


def check_whole(path: Path) -> None:
    """PodcastError (its ``fix`` left to the caller) unless the file at ``path`` is a
    whole stats database of this version: DuckDB's magic, opened read-only, this schema
    version and its tables, whole blocks after its headers, every row of every table
    readable.  A copy cut short may open and even count its rows: only reading them all
    finds the missing blocks (the block count says nothing: DuckDB cuts free blocks off
    the file's end)."""
    import duckdb

    _check_is_duckdb(path)
    try:
        con = duckdb_connect(path, read_only=True)
    except duckdb.Error as exc:
        raise PodcastError(f"the stats database cannot be opened: {exc}", file=path) from None
    try:
        tables = check_schema(con, path)
        (block,) = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()
        if (path.stat().st_size - _HEADERS_BYTES) % block:
            raise PodcastError("the stats database is cut short (it ends within a block)",
                               file=path)
        for table in sorted(tables):
            con.execute(f'SELECT bit_xor(hash(t)) FROM "{table}" AS t').fetchall()
    except duckdb.Error as exc:
        raise PodcastError(f"the stats database is damaged: {exc}", file=path) from None
    finally:
        con.close()


def _check_is_duckdb(path: Path) -> None:
    """PodcastError when the file at ``path`` is not a DuckDB database (a SQLite file, a
    copy cut short, anything else): told before DuckDB opens it."""
    offset, magic = _DUCKDB_MAGIC
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head[offset:offset + len(magic)] == magic:
        return
    what = ("a SQLite database" if head.startswith(b"SQLite format 3")
            else "empty" if not head else "not a DuckDB database")
    raise PodcastError(f"the stats database is {what}", file=path,
                       fix="move it away (podcast keeps its counts in a DuckDB file of "
                           "its own, made by `podcast stats ingest`) and ingest the logs "
                           "again")


def disk_fix(path: Path) -> str:
    """The fix for a write of the database that failed for want of space."""
    return (f"free space on the file system of {path.parent} (or raise the file size "
            "limit), then run the same command again: the logs whose counts were not "
            "written are read again, and none is counted twice")


def _create(path: Path) -> None:
    """Create an empty database of this version at ``path``.

    It is made under a temp name and then linked into place: a process killed while DuckDB
    writes a new file leaves a file DuckDB refuses to open, and that must never be
    ``stats.duckdb``.  Two runs starting together both make one; the first link wins, so
    neither writes into a file the other has replaced.
    """

    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(path)
    temp = temp_path(path)
    try:
        con = duckdb_connect(temp)
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
           sum(bytes) AS bytes, sum(lines) AS lines, min(via) AS via
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
                   arg_max(source, bytes), max(bytes), min(via)
            FROM ({LISTENER_DAYS_SQL.format(where=where)}) WHERE bytes >= threshold
            GROUP BY day, slug, listener ORDER BY day, slug, listener""", params).fetchall()
    finally:
        con.close()
    return [Download(day=day, slug=slug, listener=f"{listener:032x}", app=app, device=device,
                     country=country, source=source, bytes=int(nbytes), via=via)
            for day, slug, listener, app, device, country, source, nbytes, via in rows]


def page_visits(show: Show, since: date | None, until: date | None) -> dict[str, dict]:
    """Per share-link code, the episode pages opened through it between ``since`` and
    ``until``: ``{code: {"visits": n, "episodes": {slug, …}}}``, a visit being one
    visitor (address and agent) on one page and UTC day (reloads add nothing)."""
    where, params = _period(since, until)
    con = connect(show)
    try:
        rows = con.execute(f"""
            SELECT via, slug, count(DISTINCT (day, visitor)) FROM page_visits
            WHERE {where} GROUP BY via, slug""", params).fetchall()
    finally:
        con.close()
    result: dict[str, dict] = {}
    for code, slug, visits in rows:
        entry = result.setdefault(code, {"visits": 0, "episodes": set()})
        entry["visits"] += int(visits)
        entry["episodes"].add(slug)
    return result


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


def not_counted(show: Show, since: date | None, until: date | None) -> dict:
    """What did not make a download, in requester-days, between ``since`` and ``until``.

    ``{"probes": (lines, listener_days), "below_threshold": (lines, listener_days),
    "bots": (lines, bot_days), "bot_names": [(name, requests, bot_days, episodes)…]}``.
    A requester-day is one (UTC day, episode, requester).  Probe listener-days are those
    that probed and got no audio at all that day; ``below_threshold`` listener-days got
    some audio, but too little; its lines are those audio lines (the probes apart).
    """
    where, params = _period(since, until)
    con = connect(show)
    try:
        probes = con.execute(f"""
            WITH probed AS (SELECT day, slug, requester AS listener, sum(lines) AS lines
                            FROM not_counted JOIN media USING (key)
                            WHERE reason = 'probes' AND {where} GROUP BY ALL),
                 heard AS (SELECT DISTINCT day, slug, listener
                           FROM listener_bytes JOIN media USING (key) WHERE {where})
            SELECT coalesce(sum(lines), 0), count(*) FILTER (WHERE heard.slug IS NULL)
            FROM probed LEFT JOIN heard USING (day, slug, listener)""",
                             params + params).fetchone()
        below = con.execute(f"""
            SELECT coalesce(sum(lines), 0), count(*)
            FROM (SELECT sum(lines) AS lines FROM ({LISTENER_DAYS_SQL.format(where=where)})
                  GROUP BY day, slug, listener HAVING bool_and(bytes < threshold))""",
                            params).fetchone()
        bots = con.execute(f"""
            SELECT name, sum(lines), count(DISTINCT (day, slug, requester)),
                   count(DISTINCT slug)
            FROM not_counted JOIN media USING (key)
            WHERE reason = 'bots' AND {where} GROUP BY name""", params).fetchall()
        (bot_days,) = con.execute(f"""
            SELECT count(DISTINCT (day, slug, requester)) FROM not_counted JOIN media
            USING (key) WHERE reason = 'bots' AND {where}""", params).fetchone()
    finally:
        con.close()
    names = sorted(((name, int(n), int(days), int(eps)) for name, n, days, eps in bots),
                   key=lambda row: (-row[1], row[0]))
    return {"probes": (int(probes[0]), int(probes[1])),
            "below_threshold": (int(below[0]), int(below[1])),
            "bots": (sum(row[1] for row in names), int(bot_days)),
            "bot_names": names}


def ingested_prefixes(con) -> dict[int, set[str]]:
    """The content digests of the local log files ingested, by the length they cover: a
    file whose first N bytes hash to one of those of length N was ingested that far,
    whatever it is called now.  S3 objects never change, so they are left out.  A database
    from before ``files.length`` gets the column (its rows covered ``size`` bytes)."""
    if not con.execute("SELECT 1 FROM duckdb_columns() WHERE table_name = 'files' "
                       "AND column_name = 'length'").fetchall():
        con.execute(_FILES_LENGTH)
    marks: dict[int, set[str]] = {}
    for digest, length in con.execute(
            "SELECT digest, coalesce(length, size) FROM files "
            "WHERE name NOT LIKE 's3://%' AND coalesce(length, size) > 0").fetchall():
        marks.setdefault(int(length), set()).add(digest)
    return marks


# --- platform-reported plays (podcast stats import) ----------------------------------------

#: Plays as the platforms report them (``podcast stats import``), apart from the IAB
#: downloads: per platform, episode GUID and UTC day, with the file and time of the import
#: that wrote the figure.  Created where missing (an older reader ignores it).
_PLATFORM_PLAYS = ("CREATE TABLE IF NOT EXISTS platform_plays (platform VARCHAR, "
                   "guid VARCHAR, day DATE, plays BIGINT, file VARCHAR, "
                   "imported_at TIMESTAMP DEFAULT current_timestamp)")


def replace_plays(show: Show, plays: list, file: str) -> int:
    """Store imported plays (:class:`podcast.stats.platforms.Play`), replacing what an
    earlier import said for the same (platform, episode, day): a re-import or an
    overlapping export never adds up.  Returns how many stored figures were replaced."""
    con = connect(show)
    try:
        con.execute(_PLATFORM_PLAYS)
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TEMP TABLE incoming (platform VARCHAR, guid VARCHAR, day DATE, "
                    "plays BIGINT)")
        if plays:
            con.executemany("INSERT INTO incoming VALUES (?, ?, ?, ?)",
                            [(p.platform, p.guid, p.day, p.plays) for p in plays])
        (replaced,) = con.execute(
            "SELECT count(*) FROM platform_plays JOIN incoming "
            "USING (platform, guid, day)").fetchone()
        con.execute("DELETE FROM platform_plays WHERE (platform, guid, day) IN "
                    "(SELECT (platform, guid, day) FROM incoming)")
        con.execute("INSERT INTO platform_plays (platform, guid, day, plays, file) "
                    "SELECT platform, guid, day, plays, ? FROM incoming", [file])
        con.execute("DROP TABLE incoming")
        con.execute("COMMIT")
    finally:
        con.close()  # without the COMMIT (an error, a signal) nothing was changed
    return int(replaced)


def load_plays(show: Show, since: date | None, until: date | None) -> list:
    """Every imported platform figure between ``since`` and ``until`` (inclusive), as
    :class:`podcast.stats.platforms.Play` without slugs; none before the first import."""
    from podcast.stats.platforms import Play

    where, params = _period(since, until)
    con = connect(show)
    try:
        if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = "
                           "'platform_plays'").fetchall():
            return []
        rows = con.execute(f"SELECT platform, guid, day, plays FROM platform_plays "
                           f"WHERE {where} ORDER BY day, platform, guid", params).fetchall()
    finally:
        con.close()
    return [Play(platform, guid, day, int(plays)) for platform, guid, day, plays in rows]


# --- listener-hash keys -------------------------------------------------------------------


def key_path(show: Show) -> Path:
    """The file holding the monthly HMAC keys (never inside the database)."""
    return show.state_dir / KEY_NAME


def period_keys(show: Show, periods: set[str], con=None) -> dict[str, bytes]:
    """The HMAC key of each month (``YYYY-MM``).

    Keys come from ``PODCAST_IP_SECRET`` when it is set, else from ``ip-key`` (JSON
    ``{"YYYY-MM": "hex key", ...}``, mode 0600, replaced atomically), where missing months
    get a new random key.  With ``con``, each key is checked against the one the database
    used for that month: a month with listeners but no key, or a changed key, raises
    PodcastError (new hashes would count every listener of that month again).
    """
    secret = os.environ.get(SECRET_ENV)
    if secret is not None:
        keys = {p: _derived_key(secret, p) for p in periods}
    else:
        keys = _file_keys(show, periods, con)
    if con is not None:
        _check_keys(show, con, keys)
    return keys


def _derived_key(secret: str, period: str) -> bytes:
    if len(secret.strip()) < 16:
        raise PodcastError(f"{SECRET_ENV} is empty or too short to be a secret",
                           field=SECRET_ENV,
                           fix="if stats were counted with a secret before, set it back to "
                               "that very secret (a new one is refused for months that have "
                               "listeners); for a first run, set a long random value (e.g. "
                               "`openssl rand -hex 32`) and never change it")
    return hmac.new(secret.encode(), f"podcast listener key {period}".encode(),
                    hashlib.sha256).digest()


def _file_keys(show: Show, periods: set[str], con) -> dict[str, bytes]:
    path = key_path(show)
    keys: dict[str, str] = {}
    if path.exists():
        try:
            keys = json.loads(path.read_text())
            if not isinstance(keys, dict) or not all(
                    isinstance(v, str) and len(v) == 64 and _is_hex(v) for v in keys.values()):
                raise ValueError("not a JSON object of 64-digit hex keys")
        except (ValueError, OSError) as exc:
            raise PodcastError(f"cannot read the listener-hash keys: {exc}", file=path,
                               fix="restore the file from a backup; deleting it starts new "
                                   "listener hashes (listeners are counted again)") from exc
    missing = sorted(p for p in periods if p not in keys)
    used = _checked_periods(con) if con is not None else set()
    lost = [p for p in missing if p in used]
    if lost:
        raise PodcastError(f"no listener-hash key for {', '.join(lost)}, but the stats "
                           "database has listeners hashed with one", file=path,
                           fix="restore ip-key from a backup (or set PODCAST_IP_SECRET to "
                               "the secret used before); a new key would count every "
                               "listener of that month again")
    if missing:
        for period in missing:
            keys[period] = secrets.token_hex(32)
        # The key file is a secret: owner-only, like an SSH key.
        atomic_write(path, (json.dumps(keys, indent=1, sort_keys=True) + "\n").encode(),
                     mode=0o600)
    return {p: bytes.fromhex(keys[p]) for p in periods}


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def _check_value(key: bytes) -> str:
    """A value that tells keys apart and reveals nothing of them."""
    return hmac.new(key, b"podcast key check", hashlib.sha256).hexdigest()[:32]


def _checked_periods(con) -> set[str]:
    checked = {p for (p,) in con.execute("SELECT period FROM key_checks").fetchall()}
    # Databases from before key_checks: a month with listener rows has used a key.
    return checked | {p for (p,) in con.execute(
        "SELECT DISTINCT key_period FROM listener_bytes").fetchall()}


def _check_keys(show: Show, con, keys: dict[str, bytes]) -> None:
    known = dict(con.execute("SELECT period, check_value FROM key_checks").fetchall())
    changed = sorted(p for p, key in keys.items()
                     if p in known and known[p] != _check_value(key))
    if changed:
        where = SECRET_ENV if os.environ.get(SECRET_ENV) is not None else str(key_path(show))
        raise PodcastError(f"the listener-hash key for {', '.join(changed)} is not the one "
                           "the stats database was written with", file=where,
                           fix="restore the key (or secret) used before; a new key would "
                               "count every listener of that month again")
    new = sorted(p for p in keys if p not in known)
    if new:
        con.execute("INSERT INTO key_checks SELECT unnest(?), unnest(?)",
                    [new, [_check_value(keys[p]) for p in new]])
