"""Files on disk: written so that nobody ever sees half of one (temp file in the same
folder, then rename), and hashed without reading again what has not changed."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_writer(path: Path, *, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Yield a binary handle whose content replaces ``path`` only if the block succeeds.

    The temp file sits beside ``path`` (same file system, so ``os.replace`` is atomic) and
    is removed on any failure. ``mode`` defaults to world-readable because mkstemp's 0600
    would hide published files and reports from a web server; secrets pass 0o600.
    """
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically, creating its folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path, mode=mode) as out:
        out.write(data)


#: A temp file untouched this long belongs to a write that was killed, not one in flight.
STALE_TEMP_SECONDS = 3600


def temp_path(path: Path) -> Path:
    """A new temp file's name beside ``path``, of the ``.NAME.*.tmp`` form
    :func:`sweep_stale_temps` knows (for writers that must create the file themselves)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")


def sweep_stale_temps(target: Path) -> None:
    """Remove temp files a killed write of ``target`` left beside it (``.NAME.*.tmp`` and
    their companions such as ``.tmp.wal``); a temp still being written has a fresh mtime
    and is left alone."""
    for temp in target.parent.glob(f".{glob.escape(target.name)}.*.tmp*"):
        try:
            if time.time() - temp.stat().st_mtime > STALE_TEMP_SECONDS:
                temp.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: the write goes on


#: A temp whose process is gone is swept once untouched this long (a process on another
#: machine sharing the folder touches its temp as it writes).
DEAD_TEMP_SECONDS = 60


def sweep_dead_temps(folder: Path, prefix: str) -> None:
    """Remove the ``PREFIX-PID-…`` temps (and their sidecars) in ``folder`` that killed
    processes left: those whose process is gone and that are untouched for
    :data:`DEAD_TEMP_SECONDS`, and any untouched for :data:`STALE_TEMP_SECONDS`.  A running
    process's temp, or a fresh one, is never removed."""
    for temp in folder.glob(f"{glob.escape(prefix)}-*"):
        try:
            age = time.time() - temp.stat().st_mtime
            if age > STALE_TEMP_SECONDS or (age > DEAD_TEMP_SECONDS
                                            and not _running(temp.name, prefix)):
                temp.unlink()
        except OSError:
            pass  # gone already, or not ours to remove


def _running(name: str, prefix: str) -> bool:
    """Whether the process whose id follows ``prefix-`` in ``name`` runs (True when the
    name holds no id: only the age then decides)."""
    try:
        os.kill(int(name[len(prefix) + 1:].split("-")[0]), 0)
    except (ValueError, OverflowError):
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so large masters never sit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


#: A file changed this recently is hashed but its digest not kept: on a file system whose
#: times have a coarse grain (FAT: 2 s), a second change within the grain keeps the time.
SETTLE_SECONDS = 2.0


class FileDigests:
    """The sha256 of files, each read only when it changed since it was last hashed.

    A digest is kept (in the JSON file ``path``) with the file's size, modification and
    change times (nanoseconds) and inode; while all four stay the same the file is not
    read again, as git's index trusts a file's stat: ``publish`` and ``master`` need not
    read every recording of a show each time.  A copy, a checkout or any write changes
    the stat, so the file is read again; so is one written less than ``settle`` seconds
    (:data:`SETTLE_SECONDS`) before it was hashed.  Two processes saving at once keep
    one of their sets (the other's files are only hashed again).
    """

    def __init__(self, path: Path, *, settle: float | None = None) -> None:
        self.path = path
        self.settle = SETTLE_SECONDS if settle is None else settle
        self._known = self._load(path)
        self._changed = False

    @staticmethod
    def _load(path: Path) -> dict[str, list]:
        try:
            known = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: every file is hashed again
        return known if isinstance(known, dict) else {}

    def sha256(self, file: Path) -> str:
        """Hex sha256 of ``file``, from the kept digest if the file has not changed."""
        key = str(file.resolve())
        stat = file.stat()
        identity = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        kept = self._known.get(key)
        if isinstance(kept, list) and len(kept) == 5 and kept[:4] == identity \
                and isinstance(kept[4], str):
            return kept[4]
        digest = sha256_file(file)
        if time.time() - max(stat.st_mtime, stat.st_ctime) >= self.settle:
            self._known[key] = [*identity, digest]
            self._changed = True
        return digest

    def save(self) -> None:
        """Keep the digests for the next run (nothing written if none is new)."""
        if not self._changed:
            return
        known = {key: value for key, value in self._known.items() if Path(key).exists()}
        try:
            atomic_write(self.path, json.dumps(known, sort_keys=True).encode())
        except OSError:
            return  # a folder we may not write: the files are only hashed again next time
        self._changed = False
