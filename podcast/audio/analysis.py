"""Pass 1 of a master: decode each input to the output's format, clean it, and log the
momentary loudness of every 400 ms block (ffmpeg ``ebur128``), streaming; the same ffmpeg
also writes a mono 8 kHz copy of what it meters, whose frames tell speech from music and
steady noise (:mod:`.voice`).

A long WAV or FLAC recording is read as two halves by two ffmpeg processes at once: the
same CPU as one (since a WAV is probed on one packet, see :func:`input_options`), half the
wall time on two cores.

Cost for 10 minutes of 44.1 kHz stereo WAV (issue 25, CPU seconds): ffmpeg 0.75 (decode,
cleanup, ``ebur128`` ~0.4, the 8 kHz copy ~0.07), Python 0.2 (the copy's features 0.15,
the log 0.03).
"""

from __future__ import annotations

import contextvars
import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import numpy as np

from .. import binaries
from ..binaries import ffmpeg
from ..loudness import (
    AudioInfo,
    check_complete,
    declared_duration,
    decode_error,
    loudness_range,
    meter,
    parse_frame,
    parse_summary,
    wav_declared_duration,
)
from .levelling import (
    BLOCK,
)
from .voice import CHUNK_BYTES, FrameReader, Frames, block_speech, speech_intervals
from .voice import RATE as VOICE_RATE

#: A PCM or FLAC recording this long (s) or longer is analysed as two halves in parallel ...
SPLIT_MIN = 120.0


#: ... the second starting this much before the middle, so its blocks from the middle on
#: have their full history (the 3 s short-term window, the settled K-weighting filter
#: and resampler) and read exactly as in a single pass.
SPLIT_OVERLAP = 4.0


#: Bytes per packet ffmpeg's WAV demuxer reads (its default, 4096, costs system time).
WAV_PACKET = 65536
#: Bytes ffmpeg reads of a WAV to probe it: one packet, no more (see :func:`input_options`).
WAV_PROBE = WAV_PACKET

#: Bytes of the log read at a time (at most), and how many of its other lines are kept.
LOG_CHUNK = 1 << 16
TAIL_LINES = 40
#: Seconds the log is left to gather between two reads.  ffmpeg writes a line in about
#: four pieces, each read on its own as it comes: 10 000 reads (and thread switches) for
#: 10 minutes, 0.1 CPU-s.  Read every 10 ms, it is 100; the pipe's 64 KiB (430 lines,
#: 43 s of audio) take ffmpeg 60 ms or more to fill.
LOG_PAUSE = 0.01

#: The metered audio to :mod:`.voice`'s copy: mono, resampled in single precision
#: (ebur128 hands on doubles: resampled as such, 0.07 CPU-s more per 10 minutes).
VOICE_COPY = f"aformat=sample_fmts=flt:channel_layouts=mono,aresample={VOICE_RATE}"


@dataclass(frozen=True)
class Analysis:
    """Pass 1 over one input file: its momentary loudness series and decoded length."""

    info: AudioInfo
    times: np.ndarray  # end of each 400 ms block, seconds from the file's start
    momentary: np.ndarray  # LUFS of each block, as the output's layout reads it
    duration: float
    lra: float
    filters: str = ""  # the cleanup chain the audio was read through (see .cleanup)
    voice: np.ndarray | None = None  # per 100 ms from the start: speech heard (see .voice)

    @property
    def speech(self) -> np.ndarray | None:
        """Per block of :attr:`times`: whether speech is heard at its centre."""
        return None if self.voice is None else block_speech(self.times, self.voice)


def channel_layout(channels: str) -> tuple[str, int]:
    return ("mono", 1) if channels == "mono" else ("stereo", 2)


def format_filter(rate: int, layout: str, filters: str = "") -> str:
    """Conversion to the output's rate and layout, then ``filters`` (the cleanup) if any."""
    chain = f"aformat=sample_fmts=flt:sample_rates={rate}:channel_layouts={layout}"
    return f"{chain},{filters}" if filters else chain


def analyse(info: AudioInfo, *, rate: int, layout: str, what: str,
            progress: Callable[[float], None] = lambda _s: None,
            split_from: float = SPLIT_MIN, filters: str = "") -> Analysis:
    """Decode ``info.path`` to the output format, clean it (``filters``, see
    :mod:`.cleanup`) and log its momentary loudness.

    Streams ffmpeg's stderr (read every :data:`LOG_PAUSE` s, see :class:`FrameLog`),
    keeping only three numbers per 100 ms, so memory stays small for any length.  A PCM
    or FLAC recording of ``split_from`` seconds or more is read as two halves by two
    ffmpeg processes at once (one per core; both seek exactly), and the halves' series
    are joined into the one a single pass logs.
    Raises AudioError for damage or a decode failure.
    """
    length = declared_duration(info)
    seekable = info.codec.startswith("pcm_") or info.codec == "flac"
    if length is not None and seekable and length >= split_from:
        frames = _meter_halves(info.path, rate, layout, length, progress, filters)
        lra = loudness_range(frames.short_term)
    else:
        frames = _meter(analysis_command(info.path, rate, layout, filters=filters), progress)
        try:
            lra = parse_summary(frames.tail).get("lra", 0.0)
        except ValueError:
            lra = 0.0
    if frames.code != 0:
        raise decode_error([*frames.log, *frames.tail], info.path, what=what)
    decoded = float(frames.times[-1]) if frames.times.size else 0.0
    full = AudioInfo(**{**asdict(info), "declared_duration": length})
    # The frame log stops at the last full 100 ms: allow for that and one packet.
    check_complete(full, decoded + 0.25, frames.log, what=what)
    return Analysis(info=info, times=frames.times, momentary=frames.momentary,
                    duration=decoded, lra=lra, filters=filters,
                    voice=speech_intervals(frames.voice, decoded))


def _meter_halves(path: Path, rate: int, layout: str, length: float,
                  progress: Callable[[float], None], filters: str = "") -> _Frames:
    """The frame log of ``path`` read as two halves at once, joined without a seam."""
    middle = round(length / 2, 1)
    lead = middle - SPLIT_OVERLAP
    done = [0.0, 0.0]

    def half(index: int) -> Callable[[float], None]:
        def update(seconds: float) -> None:
            done[index] = seconds
            progress(done[0] + done[1])
        return update

    # The job closes first: on any exception here the second half's ffmpeg is ended, so
    # the pool's shutdown does not wait for it to read its half to the end.
    with ThreadPoolExecutor(max_workers=1) as pool, binaries.job():
        second = pool.submit(contextvars.copy_context().run, _meter,
                             analysis_command(path, rate, layout, start=lead,
                                              filters=filters), half(1))
        first = _meter(analysis_command(path, rate, layout, length=middle, filters=filters),
                       half(0))
        late = second.result()
    # The second half's first blocks lack their history: keep those of the first.
    early = first.times <= middle + BLOCK / 2
    keep = late.times + lead > middle + BLOCK / 2
    return _Frames(
        times=np.concatenate([first.times[early], late.times[keep] + lead]),
        momentary=np.concatenate([first.momentary[early], late.momentary[keep]]),
        short_term=np.concatenate([first.short_term[early], late.short_term[keep]]),
        code=first.code or late.code, log=[*first.log, *late.log],
        tail=first.tail if first.code else late.tail,
        voice=Frames.join(first.voice.before(middle), late.voice.after(middle, lead)))


@dataclass(frozen=True)
class _Frames:
    """One ebur128 frame log: block ends (s), momentary and short-term LUFS, and how
    ffmpeg ended (exit code, its warnings and errors, the last lines it printed), and the
    voice features of its 8 kHz copy."""

    times: np.ndarray
    momentary: np.ndarray
    short_term: np.ndarray
    code: int
    log: list[str]
    tail: list[str]
    voice: Frames


def input_options(path: Path, *, large_packets: bool = True) -> list[str]:
    """ffmpeg input options for ``path``: a WAV is read in 64 KiB packets (unless not
    ``large_packets``: a short excerpt gains nothing by them), probed on one.

    ffmpeg's WAV demuxer hands out 4 KiB packets by default; for an hour of CD audio
    that is 155 000 packets, whose allocation costs more system time than the decoding
    (measured: analysis 5.4 -> 2.7 s).  Probing the stream (its 5 MB default) costs more
    the larger the packets: 0.09 CPU-s a run with 64 KiB ones (0.35 with 256 KiB), the
    whole cost of decoding a minute, for nothing: a WAV's header says all there is.  The
    samples are the same, only fewer packets.
    """
    if wav_declared_duration(path) is None:
        return []
    packets = ["-max_size", str(WAV_PACKET)] if large_packets else []
    return ["-probesize", str(WAV_PROBE), *packets]


def analysis_command(path: Path, rate: int, layout: str, *, start: float | None = None,
                     length: float | None = None, filters: str = "") -> list[str]:
    """Pass 1's ffmpeg command line: decode to the output format, log every block, and
    write the metered audio to stdout as mono 8 kHz float (for :mod:`.voice`)."""
    seek = ["-ss", f"{start:.3f}"] if start is not None else []
    stop = ["-t", f"{length:.3f}"] if length is not None else []
    return [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "level+info",
            *seek, *stop, *input_options(path), "-i", str(path), "-map", "0:a:0",
            "-af", f"{format_filter(rate, layout, filters)},{meter(frames=True)},{VOICE_COPY}",
            # Written in 32 KiB blocks, not a write per frame: a third of the writes.
            "-f", "f32le", "-c:a", "pcm_f32le", "-flush_packets", "0", "pipe:1"]


def _meter(command: list[str], progress: Callable[[float], None]) -> _Frames:
    """Run one analysis ffmpeg and collect its frame log."""
    process = binaries.popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stderr is not None and process.stdout is not None  # both PIPE
    reader = FrameReader()
    failed: list[BaseException] = []
    # The 8 kHz copy is read beside the log, so neither pipe fills and stalls ffmpeg.
    voice = threading.Thread(target=_read_voice, args=(process.stdout, reader, failed),
                             daemon=True)
    voice.start()
    try:
        log = follow_log(process.stderr, progress)
        voice.join()
    finally:
        binaries.reap(process)
    if failed:
        raise failed[0]
    times, momentary, short_term = log.series()
    return _Frames(times=times, momentary=momentary, short_term=short_term,
                   code=process.returncode, log=log.problems, tail=list(log.tail),
                   voice=reader.frames())


def follow_log(stream: IO[bytes], progress: Callable[[float], None]) -> FrameLog:
    """Read an ffmpeg's stderr ``stream`` to its end as a :class:`FrameLog`, calling
    ``progress`` with the end (s) of the last block logged as blocks come."""
    log = FrameLog()
    while chunk := os.read(stream.fileno(), LOG_CHUNK):
        if log.feed(chunk):
            progress(log.last)
        time.sleep(LOG_PAUSE)
    log.close()
    return log


class FrameLog:
    """An ffmpeg's stderr with an ``ebur128`` block log (pass 1's, and pass 2's meter of
    what it encodes), read in whatever pieces the pipe hands out: the numbers of its frame
    lines (:func:`..loudness.parse_frame`), and every other line kept in :attr:`tail` (its
    last :data:`TAIL_LINES`) and, if a warning or an error, in :attr:`problems`."""

    def __init__(self) -> None:
        self._pending = b""
        self._rows: list[tuple[float, float, float]] = []
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.problems: list[str] = []

    @property
    def last(self) -> float:
        """The end (s) of the last block read, 0 before the first."""
        return self._rows[-1][0] if self._rows else 0.0

    def feed(self, data: bytes) -> bool:
        """Take the next bytes of the log; True if they ended a block."""
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        self._pending = data[cut:]
        return self._parse(data[:cut])

    def close(self) -> None:
        """The log ended: read its last line even without a newline."""
        self._parse(self._pending)
        self._pending = b""

    def series(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Block ends (s), momentary and short-term LUFS of every frame line."""
        rows = np.asarray(self._rows, dtype=float).reshape(-1, 3)
        return rows[:, 0], rows[:, 1], rows[:, 2]

    def _parse(self, data: bytes) -> bool:
        before = len(self._rows)
        # Lines end at "\n" only, each with it (as read before): str.splitlines would
        # also cut at "\r" and others.
        *lines, last = data.decode("utf-8", errors="replace").split("\n")
        for line in [*(line + "\n" for line in lines), *([last] if last else [])]:
            frame = parse_frame(line)
            if frame is not None:
                self._rows.append(frame)
                continue
            self.tail.append(line)
            if "[warning]" in line or "[error]" in line or "[fatal]" in line:
                self.problems.append(line)
        return len(self._rows) > before


def _read_voice(stream, reader: FrameReader, failed: list[BaseException]) -> None:
    """Feed the 8 kHz copy on ``stream`` to ``reader`` until it ends (an error is kept in
    ``failed`` for the caller, and the rest of the stream drained)."""
    try:
        while chunk := stream.read(CHUNK_BYTES):
            reader.feed(chunk)
    except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
        failed.append(error)
        try:  # ffmpeg must not block on a full pipe while its log is read
            while stream.read(CHUNK_BYTES):
                pass
        except (OSError, ValueError):  # the pipe closed: ffmpeg was ended
            pass
