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
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.field = field
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file and self.field:
            where = f"{self.file}: {self.field}: "
        elif self.file:
            where = f"{self.file}: "
        elif self.field:
            where = f"{self.field}: "
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
