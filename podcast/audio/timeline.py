"""Dead-air trimming (``audio.max_pause``) and the timeline it leaves.

Pauses longer than ``max_pause`` are shortened to it by cutting their middle: half of
``max_pause`` of room tone stays on each side, so the cut falls in noise, never in a word.
Dead air before the first word and after the last is shortened to ``max_pause`` too.
Cuts lie on the 100 ms grid of the master's program time (intro included): pass 2 cuts the
audio in 100 ms frames (``asetnsamples`` + ``aselect``), streaming and sample-exact.

:class:`~podcast.model.Timeline` maps a time in the recording (a chapter start, a
transcript cue) to the master's: plus the intro, minus every cut before it; a time inside a
cut snaps to the cut.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable

import numpy as np

from ..model import Timeline
from ..text import clock
from .levelling import BLOCK, speech_profile

#: The frame grid (s) of the cuts: 100 ms, a whole number of samples at every MP3 rate.
GRID = 0.1


def pause_cuts(times: np.ndarray, momentary: np.ndarray, max_pause: float, *,
               offset: float = 0.0) -> tuple[tuple[float, float], ...]:
    """The spans (recording seconds) to cut so no silence lasts more than ``max_pause`` s:
    a pause between speech keeps ``max_pause / 2`` of room tone on each side; dead air
    before the first word and after the last keeps ``max_pause`` next to the speech.
    ``times``/``momentary`` are the recording's 400 ms blocks; a pause runs from the end of
    the last speech block's window to the start of the next one's.  Cut edges fall on the
    :data:`GRID` of program time (``offset`` = the intro)."""
    index = np.flatnonzero(speech_profile(momentary).speech)
    if index.size == 0:
        return ()
    half = max_pause / 2
    # (silence start, silence end, room tone kept before the cut, and after it)
    silences = [(0.0, times[index[0]] - 4 * BLOCK, 0.0, max_pause)]
    silences += [(times[before], times[after] - 4 * BLOCK, half, half)
                 for before, after in zip(index[:-1], index[1:], strict=True)
                 if after - before >= 2]
    silences.append((times[index[-1]], times[-1], max_pause, 0.0))
    cuts = []
    for silent_from, silent_to, keep_before, keep_after in silences:
        if silent_to - silent_from <= max_pause:
            continue
        start = _on_grid(silent_from + keep_before + offset, math.ceil) - offset
        end = _on_grid(silent_to - keep_after + offset, math.floor) - offset
        if end - start >= GRID - 1e-9:
            cuts.append((round(max(start, 0.0), 6), round(end, 6)))
    return tuple(cuts)


def _on_grid(seconds: float, rounding: Callable[[float], float]) -> float:
    return round(rounding(round(seconds / GRID, 6)) * GRID, 6)


def cut_filter(cuts: list[tuple[float, float]], rate: int) -> str:
    """The filters cutting ``cuts`` (program seconds, on the grid) out of a stream: 100 ms
    frames, dropped when they start inside a cut, then timestamps made continuous."""
    if not cuts:
        return ""
    inside = "+".join(f"between(t,{start - 1e-4:.4f},{end - 1e-4:.4f})"
                      for start, end in cuts)
    return (f"asetnsamples=n={round(rate * GRID)}:p=0,aselect='not({inside})',"
            f"asetpts=N/SR/TB")


# --------------------------------------------------------------------------- transcripts

_CUE = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})([.,])(\d{3})")


def retime_transcript(data: bytes, suffix: str, timeline: Timeline) -> bytes:
    """A transcript's cue times moved onto the master's timeline.

    WebVTT and SRT cue lines (``00:01:02.500 --> 00:01:04.000``) and Podcasting 2.0 JSON
    (``startTime``/``endTime`` of each segment) are rewritten; HTML and plain text carry
    no times and come back unchanged.
    """
    if suffix in (".vtt", ".srt"):
        text = data.decode("utf-8-sig")
        lines = [_retime_cue_line(line, timeline) if "-->" in line else line
                 for line in text.split("\n")]
        return "\n".join(lines).encode("utf-8")
    if suffix == ".json":
        document = json.loads(data.decode("utf-8"))
        for segment in document.get("segments", []):
            for key in ("startTime", "endTime"):
                if isinstance(segment.get(key), (int, float)):
                    segment[key] = round(timeline(float(segment[key])), 3)
        return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return data


def _retime_cue_line(line: str, timeline: Timeline) -> str:
    def move(match: re.Match) -> str:
        hours, minutes, secs, mark, millis = match.groups()
        seconds = (int(hours or 0) * 3600 + int(minutes) * 60 + int(secs)
                   + int(millis) / 1000)
        return clock(timeline(seconds), mark=mark, hours=hours is not None)

    return _CUE.sub(move, line)
