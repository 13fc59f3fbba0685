"""``podcast stats`` against a broken or hostile database, disk and logs (issue 14).

- a SQLite file (or anything else) at ``.podcast/stats.duckdb`` is named with the fix, and
  DuckDB never fetches an extension for it (auto-install and auto-load are off);
- a database with its version row but not its tables is refused with the fix;
- a full disk during ``stats ingest`` (ENOSPC on a small tmpfs where the tests may mount
  one; EFBIG from a file size limit everywhere) is ``Error: … fix:``, and the database
  still reads as before: the same command, with room again, counts every download once;
- any log of up to 1 MB (hypothesis) is counted or refused with a PodcastError within 10 s
  and 200 MiB.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from stats_fixtures import DEMO_MEDIA, publish_stand_ins

REPO = Path(__file__).resolve().parent.parent
PODCAST = [sys.executable, "-c", "from podcast.cli import main; main()"]
KEY = DEMO_MEDIA["001-sonia-mamin"].key
LOG_SECONDS, LOG_BYTES = 10.0, 200 * 2**20


@pytest.fixture
def show(tmp_path: Path) -> Path:
    """The demo show with stand-in media published; returns its podcast.yaml."""
    for name in ("assets", "episodes"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copy(REPO / "podcast.yaml", tmp_path / "podcast.yaml")
    publish_stand_ins(tmp_path / "podcast.yaml")
    return tmp_path / "podcast.yaml"


def podcast(config: Path, *args: str, preexec_fn=None, env: dict | None = None
            ) -> subprocess.CompletedProcess:
    return subprocess.run([*PODCAST, "--config", str(config), *args], capture_output=True,
                          text=True, cwd=config.parent, timeout=300, preexec_fn=preexec_fn,
                          env={**os.environ, **(env or {})})


def downloads_log(path: Path, count: int, seed: int) -> Path:
    """``count`` whole downloads of one episode from as many listeners (each counts)."""
    rnd = random.Random(seed)
    lines = [f'10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)} - - '
             f'[2{rnd.randrange(1, 8)}/Nov/2026:0{rnd.randrange(10)}:00:00 +0000] '
             f'"GET /{KEY} HTTP/1.1" 200 2000000 "-" "AppleCoreMedia/1.0 {n}"'
             for n in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def total(config: Path) -> int:
    result = podcast(config, "stats", "report", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["total"]["downloads"]


def assert_clean_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("Error: ") and "fix:" in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


# --- a database that is not ours ----------------------------------------------------------


def test_a_sqlite_file_is_named_and_no_extension_is_fetched(show: Path, tmp_path: Path) -> None:
    import sqlite3

    db = show.parent / ".podcast" / "stats.duckdb"
    db.parent.mkdir()
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (x)")
    home = tmp_path / "home"  # where DuckDB would install an extension it fetched
    home.mkdir()
    log = downloads_log(tmp_path / "a.log", 3, 1)
    for args in (["stats", "ingest", str(log)], ["stats", "report"]):
        result = podcast(show, *args, env={"HOME": str(home)})  # a hang fails its timeout
        assert_clean_error(result, "stats.duckdb", "SQLite", "move it away")
    assert list(home.rglob("*")) == []
    assert db.read_bytes().startswith(b"SQLite format 3")  # left as it was


def test_extension_auto_install_and_auto_load_are_off(show: Path) -> None:
    from podcast.config import load_show
    from podcast.stats.store import connect

    con = connect(load_show(show))
    try:
        settings_ = dict(con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('autoinstall_known_extensions', 'autoload_known_extensions')").fetchall())
    finally:
        con.close()
    assert settings_ == {"autoinstall_known_extensions": "false",
                         "autoload_known_extensions": "false"}


def test_a_schema_row_without_its_tables_is_refused(show: Path) -> None:
    db = show.parent / ".podcast" / "stats.duckdb"
    db.parent.mkdir()
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE schema (version INTEGER); INSERT INTO schema VALUES (2)")
    con.close()
    assert_clean_error(podcast(show, "stats", "report"), "stats.duckdb", "listener_bytes")


# --- a full disk ----------------------------------------------------------------------


def _file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _small_tmpfs(folder: Path, size: int) -> bool:
    """Mount a tmpfs of ``size`` bytes on ``folder`` (keeping its files); False where this
    user may not mount (CI runs as a user: the file size limit covers it there)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    keep = folder.with_name("kept")
    shutil.copytree(folder, keep)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        shutil.rmtree(keep)
        return False
    shutil.copytree(keep, folder, dirs_exist_ok=True)
    return True


@pytest.mark.slow
@pytest.mark.parametrize("full", ["file-size-limit", "tmpfs"])
def test_a_full_disk_during_ingest_is_an_error_and_loses_nothing(show: Path, tmp_path: Path,
                                                                 full: str) -> None:
    assert podcast(show, "stats", "ingest", str(downloads_log(tmp_path / "a.log", 50, 1))
                   ).returncode == 0
    before = total(show)
    state = show.parent / ".podcast"
    big = downloads_log(tmp_path / "big.log", 100_000, 2)
    if full == "tmpfs":
        if not _small_tmpfs(state, (state / "stats.duckdb").stat().st_size + 512 * 1024):
            pytest.skip("mounting a tmpfs takes root (the file size limit case runs instead)")
        try:
            result = podcast(show, "stats", "ingest", str(big))
            assert_clean_error(result, "stats.duckdb", "No space left", "free space")
            assert total(show) == before
        finally:
            kept = tmp_path / "kept"
            shutil.rmtree(kept)
            shutil.copytree(state, kept)
            subprocess.run(["umount", str(state)], check=True)
            shutil.copytree(kept, state, dirs_exist_ok=True)
    else:
        limit = (state / "stats.duckdb").stat().st_size  # no file may grow
        result = podcast(show, "stats", "ingest", str(big), preexec_fn=_file_size_limit(limit))
        assert_clean_error(result, "stats.duckdb", "File too large", "free space")
    assert total(show) == before  # the database reads as before the failed run
    again = podcast(show, "stats", "ingest", str(big))
    assert again.returncode == 0, again.stderr
    assert total(show) == before + 100_000  # every download of it, once


# --- any log of up to 1 MB ------------------------------------------------------------

#: The peak is the worker's own (VmHWM of its memory map): ``ru_maxrss`` would keep the
#: pytest parent's size from before the exec, hundreds of MiB late in a full run.
_WORKER = """
import json, re, resource, sys
from podcast.cli import main

def cpu():  # CPU seconds, not wall-clock: a busy machine slows a run without making it wrong
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

started = cpu()
try:
    main(sys.argv[2:], standalone_mode=False)
    outcome = "counted"
except SystemExit as exc:
    outcome = "counted" if not exc.code else "refused"
except Exception as exc:  # a PodcastError is caught by the CLI: anything else is a bug
    outcome = f"crashed: {type(exc).__name__}: {exc}"
with open(sys.argv[1], "w") as out:
    json.dump({"outcome": outcome, "seconds": cpu() - started,
               "peak": int(re.search(r"VmHWM:\\s+(\\d+) kB",
                                     open("/proc/self/status").read()).group(1)) * 1024}, out)
"""

_agents = ["AppleCoreMedia/1.0", "Podcasts/1650", "-", "", "Googlebot/2.1", "\x00\x1b[31m",
           "Spotify/8.8 Android", '"quoted"', "x" * 5000]
_line_parts = st.fixed_dictionaries({
    "ip": st.sampled_from(["203.0.113.9", "2001:db8::1", "-", "999.1.1.1", "", "a b"]),
    "when": st.sampled_from(["[23/Nov/2026:01:00:00 +0000]", "[99/Xyz/2026:25:61:00 +0000]",
                             "[]", "[23/Nov/2026:01:00:00 +9999]", "-"]),
    "method": st.sampled_from(["GET", "HEAD", "", "G\x00ET", "POST"]),
    "path": st.sampled_from([f"/{KEY}", "/", "/%zz", "/" + "a" * 3000, f"/{KEY}?x=1"]),
    "status": st.sampled_from(["200", "206", "304", "abc", "-1", "9" * 40]),
    "sent": st.sampled_from(["2000000", "0", "-", "9" * 40, "-5", "1e9"]),
    "agent": st.sampled_from(_agents)})


@st.composite
def _logs(draw) -> bytes:
    kind = draw(st.sampled_from(["lines", "garbage", "one long line", "gzip", "gzip bomb"]))
    if kind == "garbage":
        return draw(st.binary(max_size=2000)) * draw(st.integers(1, 400))
    if kind == "one long line":
        return b"203.0.113.9 " + b"x" * draw(st.integers(1, 1_000_000 - 20))
    if kind == "gzip bomb":  # ~1 MB that would expand to about 1 GB
        return gzip.compress(b"\0" * draw(st.integers(1, 1000)) * 2**20, compresslevel=9)
    parts = draw(st.lists(_line_parts, min_size=1, max_size=50))
    text = "".join(f'{p["ip"]} - - {p["when"]} "{p["method"]} {p["path"]} HTTP/1.1" '
                   f'{p["status"]} {p["sent"]} "-" "{p["agent"]}"\n' for p in parts)
    data = text.encode("utf-8", "surrogateescape") * draw(st.integers(1, 200))
    data = data[:1_000_000]
    return gzip.compress(data) if kind == "gzip" else data


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logs")
    for name in ("assets", "episodes"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "podcast.yaml", root / "podcast.yaml")
    publish_stand_ins(root / "podcast.yaml")
    return root / "podcast.yaml"


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(data=_logs())
def test_any_log_up_to_1_mb_is_counted_or_refused_in_bounded_time_and_memory(
        demo: Path, data: bytes) -> None:
    assert len(data) <= 1_000_000 or data[:2] == b"\x1f\x8b"  # a bomb: ~1 MB compressed
    folder = demo.parent / "in"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    log = folder / ("access.log.gz" if data[:2] == b"\x1f\x8b" else "access.log")
    log.write_bytes(data)
    answer = demo.parent / "answer.json"
    result = subprocess.run([sys.executable, "-c", _WORKER, str(answer), "--config", str(demo),
                             "stats", "ingest", str(log)], capture_output=True, text=True,
                            cwd=demo.parent, timeout=LOG_SECONDS * 6)
    figures = json.loads(answer.read_text())
    event(figures["outcome"])
    assert figures["outcome"] in ("counted", "refused"), (figures, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert figures["seconds"] < LOG_SECONDS, figures
    assert figures["peak"] < LOG_BYTES + _baseline(demo), figures


_BASELINE: list[int] = []


def _baseline(config: Path) -> int:
    """Peak memory of the same process ingesting an empty log: Python, DuckDB and the
    product loaded (what the 200 MiB come on top of)."""
    if not _BASELINE:
        empty = config.parent / "empty.log"
        empty.write_bytes(b"")
        answer = config.parent / "baseline.json"
        subprocess.run([sys.executable, "-c", _WORKER, str(answer), "--config", str(config),
                        "stats", "ingest", str(empty)], capture_output=True, timeout=120)
        _BASELINE.append(json.loads(answer.read_text())["peak"])
    return _BASELINE[0]
