"""What a master makes, shared by the single-track and the multitrack master.

The figures of the finished MP3 (:class:`MasterFigures`) and the report around them
(:class:`MasterResult`, written beside the MP3 as ``OUT.json``), the checks both masters
make before and after (:func:`check_output`, :func:`chapter_problems`,
:func:`coverage_warning`), and the temp-file discipline: the MP3 is written to a hidden
temp file in the output's folder (:func:`scratch`), tagged (:func:`tag_and_describe`), and
renamed into place with its figures at the end (:func:`write_result`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AudioError
from ..files import sweep_dead_temps
from ..model import Episode, Show
from ..tags import write_tags
from ..text import clock
from .analysis import channel_layout
from .encoding import mp3_duration
from .timeline import Timeline

#: A master whose speech covers less than this share of its length is reported: a music
#: bed or a recording running far past the talk makes hours of master out of minutes.
MIN_SPEECH_COVERAGE = 0.25


@dataclass(frozen=True)
class MasterFigures:
    """The finished MP3, as measured by ffmpeg's meter."""

    path: str
    lufs: float
    true_peak: float
    lra: float
    duration: float
    bytes: int
    tag_size: int
    bitrate: int
    sample_rate: int
    channels: int
    target_lufs: float
    target_true_peak: float


@dataclass(frozen=True)
class MasterResult:
    """What :func:`master` made: the input's and the output's figures."""

    input: dict
    output: MasterFigures
    levelling: dict = field(default_factory=dict)
    tracks: list[dict] = field(default_factory=list)  # a multitrack master's, per track
    # Where the recording's times land in this master: after the intro, less the cut
    # pauses (chapters and transcript cues published beside it move by it).
    timeline: Timeline = field(default_factory=Timeline)
    # What is wrong with the master though it was made (e.g. :func:`coverage_warning`).
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """``{"input": {...}, "output": {...}, "levelling": {...}}`` (and ``"tracks":
        [...]`` for a multitrack master, ``"warnings": [...]`` when there are some),
        JSON-ready."""
        document: dict[str, Any] = {"input": self.input, "output": asdict(self.output),
                                    "levelling": self.levelling}
        if self.tracks:
            document["tracks"] = self.tracks
        if self.warnings:
            document["warnings"] = self.warnings
        return finite(document)


def chapter_problems(episode: Episode, duration: float) -> list[str]:
    """Chapters that start at or after the end of the interview audio (``duration`` s)."""
    problems = []
    for number, chapter in enumerate(episode.chapters, start=1):
        if chapter.start >= duration:
            problems.append(f"chapter {number} {chapter.title!r} starts at "
                            f"{clock(chapter.start, hours=True)}, after the end of the audio "
                            f"({clock(duration, hours=True)})")
    return problems


def coverage_warning(speech_seconds: float, duration: float, hint: str) -> str | None:
    """The warning for a master of ``duration`` s with ``speech_seconds`` of speech in it,
    when the speech covers less than :data:`MIN_SPEECH_COVERAGE` of it; ``hint`` says
    what to check."""
    if duration <= 0 or speech_seconds >= MIN_SPEECH_COVERAGE * duration:
        return None
    return (f"speech covers {100 * speech_seconds / duration:.1f} % of the "
            f"{clock(duration, hours=True)} master ({speech_seconds:.0f} s of speech): {hint}")


def check_output(output: Path, overwrite: bool) -> None:
    if output.exists() and not overwrite:
        raise AudioError("the output file already exists", file=output,
                         fix="pass --force to replace it, or choose another -o path")
    if not output.parent.is_dir():
        raise AudioError("the output folder does not exist", file=output.parent,
                         fix="create the folder first, or choose another -o path")


def tag_and_describe(show: Show, episode: Episode, output: Path, temp: Path,
                     timeline: Timeline, measured: dict[str, float]) -> MasterFigures:
    """Tag the encoded temp MP3 (chapters on ``timeline``) and its figures as
    ``output``: ``measured`` is pass 2's meter of the MP3."""
    settings = show.audio
    _layout, channels = channel_layout(settings.channels)
    duration = mp3_duration(temp)
    tag_size = write_tags(temp, show, episode, duration=duration, timeline=timeline)
    return MasterFigures(
        path=str(output), lufs=measured["lufs"], true_peak=measured["peak"],
        lra=measured.get("lra", 0.0), duration=round(duration, 3),
        bytes=temp.stat().st_size, tag_size=tag_size, bitrate=settings.bitrate_bps,
        sample_rate=settings.sample_rate, channels=channels,
        target_lufs=settings.meter_target, target_true_peak=settings.true_peak)


def timeline_figures(timeline: Timeline) -> dict:
    """The cuts a master made, as its report (``OUT.json``) gives them."""
    return {"cuts": [list(cut) for cut in timeline.cuts],
            "removed_s": round(timeline.removed, 3)}


def write_result(result: MasterResult, output: Path, temp: Path) -> None:
    """Write the figures beside the temp MP3, then move both into place."""
    # Both files are complete before either is renamed into place.
    sidecar = temp.with_suffix(".json")
    sidecar.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(temp, output)
    os.replace(sidecar, output.with_suffix(".json"))


@contextmanager
def scratch(output: Path) -> Iterator[tuple[Path, Path]]:
    """A private work folder and the hidden temp MP3's path beside ``output``; both (and
    the temp's sidecar) are gone on the way out, whatever ended the block."""
    temp = output.parent / f".podcast-master-{os.getpid()}-{threading.get_ident()}.mp3"
    sweep_dead_temps(output.parent, ".podcast-master")  # those of killed masters
    work = None
    try:
        work = Path(tempfile.mkdtemp(prefix="podcast-master-"))
        yield work, temp
    finally:
        temp.unlink(missing_ok=True)
        temp.with_suffix(".json").unlink(missing_ok=True)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def finite(value):
    """``-inf``/``nan`` are not JSON: write them as null."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
