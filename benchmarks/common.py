"""What several benchmarks share: the package compiled as installed, the demo show's copy,
a child process's CPU seconds, the machine's load while they run, and the verdict printed
beside each target.

The benchmarks run as scripts (``.venv/bin/python benchmarks/bench_x.py``), so this folder
is first on ``sys.path`` and ``import common`` finds this module.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def compile_package() -> None:
    """Byte-compile the package, as a regular install does (pip compiles it when it
    installs): run from a checkout where nothing writes ``__pycache__`` (the environment
    sets ``PYTHONDONTWRITEBYTECODE``), every process would compile its modules from
    source again, ~0.1 CPU-s that no user pays."""
    import compileall

    compileall.compile_dir(str(REPO / "podcast"), quiet=1)


def demo_copy(folder: Path) -> Path:
    """The demo show (podcast.yaml, assets/, episodes/) copied into ``folder``; its
    podcast.yaml."""
    for name in ("assets", "episodes"):
        shutil.copytree(REPO / name, folder / name)
    shutil.copy(REPO / "podcast.yaml", folder / "podcast.yaml")
    return folder / "podcast.yaml"


def run_measured(command: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float,
                                                         float]:
    """Run ``command`` to its end (output captured); it, its CPU seconds (user + system of
    its whole process tree) and its wall seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done, cpu, wall


class LoadSampler:
    """Runnable threads (``procs_running`` of /proc/stat, the benchmark's own included)
    every 0.1 s while it runs, and the 1-minute load average at each end."""

    def __init__(self) -> None:
        self.running: list[int] = []
        self.loadavg = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            try:
                text = Path("/proc/stat").read_text()
            except OSError:  # not Linux: the load average alone
                return
            self.running += [int(line.split()[1]) for line in text.splitlines()
                             if line.startswith("procs_running")]

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()
        self.loadavg.append(os.getloadavg()[0])

    def summary(self) -> str:
        running = (f"runnable threads mean {statistics.mean(self.running):.1f} "
                   f"(max {max(self.running)})" if self.running else "runnable threads n/a")
        return (f"{running}; load average {min(self.loadavg):.1f}-{max(self.loadavg):.1f} "
                f"on {os.cpu_count()} processors")


def verdict(ok: bool) -> str:
    """What a benchmark prints beside a target."""
    return "PASS" if ok else "FAIL"
