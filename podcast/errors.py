"""The one exception type users see: it always says where, what and how to fix."""

from __future__ import annotations

from pathlib import Path


class PodcastError(Exception):
    """A problem the user can fix: names the file, the field, what is wrong and the fix.

    The CLI prints ``str(error)`` and exits non-zero; no traceback reaches the user.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        field: str | None = None,
        fix: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.field = field
        self.fix = fix
        self.line = line  # of the field in the file, counted from 1, when known
        super().__init__(str(self))

    def __str__(self) -> str:
        place = [self.file, f"line {self.line}" if self.line else None, self.field]
        where = "".join(f"{part}: " for part in place if part)
        text = where + self.message
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class ConfigError(PodcastError):
    """podcast.yaml or an episode.md is invalid."""


class AudioError(PodcastError):
    """An input file cannot be decoded or mastered."""


class StorageError(PodcastError):
    """An object store refused or lost an operation."""
