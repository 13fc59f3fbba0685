"""The stats database kept in a store between runs, ``podcast stats --state URL`` (issue 20).

1. **Concurrency** (``test_concurrent_…``, subprocesses of the installed ``podcast``
   started together): two jobs ingest different new logs into one state at once, five
   rounds, in a folder (``file://``) and on moto's S3, with each job's own show folder and
   with one shared by both.  After each round the stored database holds every download of
   every log so far, counted here with SQL of the test's own over the stored bytes.
2. **Damaged state**: a stored object that is cut short (also where DuckDB still opens it
   and counts its rows), empty, a text file, a SQLite file or a DuckDB file of another
   program is refused by ``stats ingest`` and ``stats report`` with ``Error: … fix:``, no
   traceback, and the local database keeps its bytes; a good one replaces the local
   database, which is kept as ``stats.duckdb.previous``.  A local database that cannot be
   read to the end ends ``report`` and ``targets`` with ``Error: … fix:`` too.
3. A night without new logs (a fresh show folder, as on CI) writes nothing back.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from s3_servers import moto_s3
from stats_fixtures import DEMO_MEDIA, DEMO_THRESHOLD, publish_stand_ins

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
PODCAST = str(Path(sys.executable).with_name("podcast"))  # the installed console script
SECRET = "issue-20-state-test-secret-0123456789"  # PODCAST_IP_SECRET: one for both jobs
KEYS = [media.key for media in DEMO_MEDIA.values()]
ROUNDS = 5
LINES = 9  # new downloads per job and round: small logs keep the rounds quick


def make_show(folder: Path) -> Path:
    """The demo show with stand-in media published; returns its podcast.yaml."""
    folder.mkdir(parents=True)
    for name in ("assets", "episodes"):
        shutil.copytree(REPO / name, folder / name)
    shutil.copy(REPO / "podcast.yaml", folder / "podcast.yaml")
    publish_stand_ins(folder / "podcast.yaml")
    return folder / "podcast.yaml"


def podcast(config: Path, *args: str) -> list[str]:
    """The command line of ``podcast --config CONFIG ARGS…`` (for :func:`run`, :func:`start`)."""
    return [PODCAST, "--config", str(config), *args]


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})


def write_log(path: Path, tag: str, count: int) -> Path:
    """``count`` whole downloads, each by a listener of its own (address and app), in one
    month (one listener-hash key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f'10.{n % 250}.0.{n // 250 + 1} - - '
             f'[{20 + n % 8}/Nov/2026:0{n % 10}:00:00 +0000] "GET /{KEYS[n % len(KEYS)]} '
             f'HTTP/1.1" 200 2000000 "-" "AppleCoreMedia/1.0 {tag}-{n}"'
             for n in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def stored_counts(data: bytes, scratch: Path) -> tuple[int, int]:
    """(downloads, log files) in a stored database, read with the test's own SQL: a
    download is a (day, media, listener) whose bytes reach the threshold."""
    scratch.write_bytes(data)
    con = duckdb.connect(str(scratch), read_only=True)
    try:
        (downloads,) = con.execute(
            "SELECT count(*) FROM (SELECT day, key, listener, sum(bytes) AS b "
            "FROM listener_bytes GROUP BY ALL) WHERE b >= ?", [DEMO_THRESHOLD]).fetchone()
        (files,) = con.execute("SELECT count(*) FROM files").fetchone()
    finally:
        con.close()
        scratch.unlink()
    return downloads, files


@dataclass(frozen=True)
class StateStore:
    """Where the jobs keep the state, how the test reads and writes the stored object."""

    url: str
    env: dict[str, str]
    read: Callable[[], bytes | None]
    write: Callable[[bytes], None]
    stamp: Callable[[], object]  # changes whenever the object is written again


@contextlib.contextmanager
def folder_state(tmp_path: Path) -> Iterator[StateStore]:
    folder = tmp_path / "state"
    target = folder / "stats.duckdb"

    def write(data: bytes) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def stamp() -> tuple[int, int]:
        info = target.stat()  # every store writes a new file (temp, then rename)
        return info.st_ino, info.st_mtime_ns

    yield StateStore(f"file://{folder}", {},
                     lambda: target.read_bytes() if target.exists() else None, write, stamp)


@contextlib.contextmanager
def s3_state(tmp_path: Path) -> Iterator[StateStore]:
    with moto_s3() as server:
        client = server.client()

        def read() -> bytes | None:
            try:
                return client.get_object(Bucket=server.bucket,
                                         Key="state/stats.duckdb")["Body"].read()
            except client.exceptions.NoSuchKey:
                return None

        def write(data: bytes) -> None:
            client.put_object(Bucket=server.bucket, Key="state/stats.duckdb", Body=data)

        def stamp() -> tuple[str, object]:
            head = client.head_object(Bucket=server.bucket, Key="state/stats.duckdb")
            return head["ETag"], head["LastModified"]

        yield StateStore(f"s3://{server.bucket}/state", server.env(), read, write, stamp)


STORES = {"file": folder_state, "s3": s3_state}
#: The store kinds as test parameters: the S3 one is marked ``s3`` (it starts moto).
KINDS = [pytest.param("file"), pytest.param("s3", marks=pytest.mark.s3)]


# --- 1. concurrency: two jobs started together, five rounds --------------------------------


@pytest.mark.parametrize("shared", [False, True], ids=["own-folders", "shared-folder"])
@pytest.mark.parametrize("kind", KINDS)
def test_concurrent_ingests_lose_no_count(tmp_path: Path, kind: str, shared: bool) -> None:
    """Two `stats --state URL ingest` processes at once, each with new logs: after every
    round the stored state counts every download of every log ingested so far."""
    config_a = make_show(tmp_path / "show-a")
    config_b = config_a if shared else make_show(tmp_path / "show-b")
    with STORES[kind](tmp_path) as state:
        env = {**state.env, "PODCAST_IP_SECRET": SECRET}
        seed = write_log(tmp_path / "logs-seed" / "seed.log", "seed", LINES)
        first = run(podcast(config_a, "stats", "--state", state.url, "ingest", str(seed)), env)
        assert first.returncode == 0, first.stdout + first.stderr
        expected_downloads, expected_files = LINES, 1
        for number in range(ROUNDS):
            jobs = []
            for job, config in (("a", config_a), ("b", config_b)):
                write_log(tmp_path / f"logs-{job}" / f"round-{number}.log",
                          f"{job}{number}", LINES)
                jobs.append(start(podcast(config, "stats", "--state", state.url, "ingest",
                                          str(tmp_path / f"logs-{job}")), env))
            outputs = [(*job.communicate(timeout=300), job.returncode) for job in jobs]
            for out, err, code in outputs:
                assert code == 0, out + err
                assert "Traceback" not in err, err
                assert "stored the stats database" in out, out
            expected_downloads += 2 * LINES
            expected_files += 2
            assert stored_counts(state.read(), tmp_path / "check.duckdb") == (
                expected_downloads, expected_files), (number, outputs)


# --- 2. damaged state objects ------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _state_bytes(tmp_path: Path, count: int) -> bytes:
    """A good stored state holding ``count`` downloads (made by a show of its own)."""
    config = make_show(tmp_path / "maker")
    log = write_log(tmp_path / "logs-maker" / "m.log", "maker", count)
    result = run(podcast(config, "stats", "ingest", str(log)),
                 {"PODCAST_IP_SECRET": SECRET})
    assert result.returncode == 0, result.stdout + result.stderr
    return (config.parent / ".podcast" / "stats.duckdb").read_bytes()


def opens_but_cut(good: bytes, scratch: Path) -> bytes:
    """A state cut short that DuckDB still opens and counts rows in.

    The database gets a large table, checkpointed and dropped (its blocks freed), then
    listener rows (of under 1,000 bytes each: no download) written after them; it is cut
    by as few whole blocks as leave it opening but not readable to the end.
    """
    scratch.write_bytes(good)
    con = duckdb.connect(str(scratch))
    con.execute("CREATE TABLE junk AS SELECT range AS a, md5(range::VARCHAR) AS b "
                "FROM range(300000)")
    con.execute("CHECKPOINT")
    con.execute("DROP TABLE junk")
    con.execute("CHECKPOINT")
    con.execute("INSERT INTO listener_bytes (day, key, listener, key_period, app, bytes, "
                "lines) SELECT DATE '2026-11-20', ?, hash(range)::UHUGEINT, '2026-11', "
                "md5(range::VARCHAR), hash(range) % 1000 + 1, 1 FROM range(200000)",
                [KEYS[0]])
    con.close()
    whole = scratch.read_bytes()
    try:
        for blocks in range(1, len(whole) // BLOCK):
            scratch.write_bytes(cut := whole[:-blocks * BLOCK])
            if _opens_but_cannot_be_read(scratch):
                return cut
    finally:
        scratch.unlink()
    raise AssertionError("no cut of the database opens but cannot be read")


BLOCK = 256 * 1024  # DuckDB's block size


def _opens_but_cannot_be_read(path: Path) -> bool:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return False
    try:
        assert con.execute("SELECT max(version) FROM schema").fetchone() == (2,)
        assert con.execute("SELECT count(*) FROM listener_bytes").fetchone()[0] > 200000
        con.execute("SELECT sum(bytes), sum(listener), max(app) FROM listener_bytes"
                    ).fetchall()
    except duckdb.Error:
        return True
    finally:
        con.close()
    return False


def bad_objects(good: bytes, tmp_path: Path) -> dict[str, bytes]:
    sqlite_file = tmp_path / "foreign.sqlite"
    with contextlib.closing(sqlite3.connect(sqlite_file)) as db:
        db.execute("CREATE TABLE downloads (n INTEGER)")
        db.commit()
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE listener_bytes (x INTEGER)")
    con.close()
    return {"cut-in-half": good[:len(good) // 2],
            "cut-by-one-byte": good[:-1],
            "opens-but-cut": opens_but_cut(good, tmp_path / "cut.duckdb"),
            "empty": b"",
            "text": b"stats: 27 downloads\n",
            "sqlite": sqlite_file.read_bytes(),
            "other-duckdb": other.read_bytes()}


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_state_is_refused_and_the_local_database_kept(tmp_path: Path,
                                                              kind: str) -> None:
    config = make_show(tmp_path / "show")
    local = config.parent / ".podcast" / "stats.duckdb"
    previous = local.with_name("stats.duckdb.previous")
    good = _state_bytes(tmp_path, 5)
    log = write_log(tmp_path / "logs" / "a.log", "local", 3)
    env = {"PODCAST_IP_SECRET": SECRET}
    made = run(podcast(config, "stats", "ingest", str(log)), env)
    assert made.returncode == 0, made.stdout + made.stderr
    before = sha256(local)
    with STORES[kind](tmp_path) as state:
        env.update(state.env)
        for name, data in bad_objects(good, tmp_path).items():
            state.write(data)
            for command in (["ingest", str(log)], ["report", "--format", "json"]):
                result = run(podcast(config, "stats", "--state", state.url, *command), env)
                said = (name, command, result.stdout + result.stderr)
                assert result.returncode == 1, said
                assert "Traceback" not in result.stderr, said
                assert result.stderr.startswith("Error: "), said
                assert "stored stats database" in result.stderr, said
                assert "fix: put a good copy at" in result.stderr, said
                assert sha256(local) == before, said
                assert not previous.exists(), said
                assert state.read() == data, said  # nothing stored over it either
        # A good object replaces the local database, which is kept as .previous.
        state.write(good)
        result = run(podcast(config, "stats", "--state", state.url, "report", "--format",
                             "json"), env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert sha256(previous) == before
        assert local.read_bytes() == good


def test_a_damaged_local_database_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    """A local database that DuckDB opens but cannot read to the end: every command that
    reads it ends in `Error: … fix:`."""
    config = make_show(tmp_path / "show")
    local = config.parent / ".podcast" / "stats.duckdb"
    log = write_log(tmp_path / "logs" / "a.log", "local", 3)
    env = {"PODCAST_IP_SECRET": SECRET}
    made = run(podcast(config, "stats", "ingest", str(log)), env)
    assert made.returncode == 0, made.stdout + made.stderr
    local.write_bytes(opens_but_cut(local.read_bytes(), tmp_path / "cut.duckdb"))
    for command in (["report"], ["report", "--format", "json"], ["report", "--by", "day"],
                    ["targets", "--today", "2026-12-01"]):
        result = run(podcast(config, "stats", *command), env)
        said = (command, result.stdout + result.stderr)
        assert result.returncode == 1, said
        assert "Traceback" not in result.stderr, said
        assert result.stderr.startswith("Error: ") and "fix:" in result.stderr, said


@pytest.mark.parametrize("kind", KINDS)
def test_a_night_without_new_logs_stores_nothing(tmp_path: Path, kind: str) -> None:
    """Each night on a fresh show folder (CI): the first stores the state, the second,
    with the same logs, fetches it, reads no log and writes nothing back."""
    log = write_log(tmp_path / "logs" / "a.log", "night", 4)
    with STORES[kind](tmp_path) as state:
        env = {**state.env, "PODCAST_IP_SECRET": SECRET}
        nights = []
        for night in (1, 2):
            config = make_show(tmp_path / f"night-{night}")
            result = run(podcast(config, "stats", "--state", state.url, "ingest", str(log)),
                         env)
            assert result.returncode == 0, result.stdout + result.stderr
            nights.append((result.stdout, state.stamp()))
        (first, stamp_first), (second, stamp_second) = nights
        assert "stored the stats database" in first
        assert "fetched the stats database" in second, second
        assert "files: 0 read, 1 already ingested" in second, second
        assert "stored the stats database" not in second, second
        assert stamp_second == stamp_first
        assert stored_counts(state.read(), tmp_path / "check.duckdb") == (4, 1)
