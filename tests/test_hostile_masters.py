"""Temp masters a killed ``podcast master`` left (``.podcast-master-PID-….mp3`` and its
``.json``) are swept by the next master into that folder, like the other stale temps:
only those whose process is gone (or that nobody touched for an hour), never those of a
master still running (issue 14)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reliability_fixtures import make_tiny_show, run_podcast

pytestmark = pytest.mark.audio


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _temp(folder: Path, pid: int, thread: int, age: float, suffix: str = ".mp3") -> Path:
    path = folder / f".podcast-master-{pid}-{thread}{suffix}"
    path.write_bytes(b"\xff\xfb" * 1000)
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_a_killed_masters_temps_are_swept_and_a_running_ones_kept(tmp_path: Path) -> None:
    config = make_tiny_show(tmp_path / "show", storage="file://public",
                            base_url="http://127.0.0.1:8000")
    folder = config.parent / ".podcast" / "masters"
    folder.mkdir(parents=True)
    dead = _dead_pid()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        swept = [_temp(folder, dead, 1, 120), _temp(folder, dead, 1, 120, ".json"),
                 _temp(folder, running.pid, 2, 2 * 3600)]  # untouched for two hours
        kept = [_temp(folder, running.pid, 3, 120), _temp(folder, running.pid, 3, 120, ".json"),
                _temp(folder, dead, 4, 5)]  # just written: maybe by another machine
        result = run_podcast(config, "master", "001-sonia-mamin", "-o",
                             str(folder / "001.mp3"))
    finally:
        running.kill()
        running.wait()
    assert result.returncode == 0, result.stderr
    assert [p.name for p in swept if p.exists()] == []
    assert [p.name for p in kept if not p.exists()] == []
    assert (folder / "001.mp3").stat().st_size > 10_000
