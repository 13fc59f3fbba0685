"""Mastering: any input -> cleaned, levelled, normalised, true-peak-limited, tagged CBR MP3.

Streaming passes over the audio, so memory does not grow with the episode's length.  The
numpy parts live in modules of their own: :mod:`.cleanup` (high-pass, hum notches, noise
reduction), :mod:`.levelling` (noise floor, speech, the gain curve) and :mod:`.timeline`
(pause cuts and the times they move); this module runs ffmpeg.

1. **Analysis.**  ffmpeg decodes each input (intro, interview, outro), converts it to the
   output's sample rate and channel layout, cleans the interview (:mod:`.cleanup`: its
   mains hum is found first, from its first minute) and runs ``ebur128``, whose frame log
   gives the momentary loudness of every 400 ms block, 10 per second.  Those blocks are
   exactly the BS.1770 gating blocks, so everything else is arithmetic in numpy
   (:func:`level_gains`): the speech-aware *levelling* gain, and the *prediction* of the
   integrated loudness after it, from which one final offset hits the target.  Input with
   no speech is refused here (:func:`sound_problem`), before anything is written.  A long
   WAV or FLAC recording is read as two halves by two ffmpeg processes at once.
2. **Calibration.**  Two things the prediction cannot know are measured instead: the MP3
   encoder's own gain (:func:`codec_gain`, 4 s of noise, libmp3lame comes out ~0.45 dB
   quiet) and the loudness the limiter shaves off (:func:`calibrate`: the gain curve with
   and without the limiter over 6 s windows covering a tenth of a program over 2 minutes,
   all of a shorter one; the windows are heard by two ffmpeg runs at once).
   :func:`limiter_correction` turns them into one more gain.
3. **Encode.**  Three ffmpeg processes joined by OS pipes, so the work spreads over cores:
   ``A`` decodes and cleans (with ``audio.denoise``, the noise reduction learns from a
   pause played before the recording, :class:`Preroll`), applies the gain curve (a 10 Hz
   gain envelope read as another audio input, resampled to the audio rate and multiplied
   in: smooth, per sample), cuts long pauses (``audio.max_pause``), and limits peaks
   (``alimiter``, ceiling below the true-peak target);
   ``B`` encodes CBR MP3 with libmp3lame and, through the ``tee`` muxer, writes the file
   and a copy of the same MP3 bytes to ``C``, which decodes and measures them
   (``ebur128=peak=true``).  The figures reported are therefore those of the very MP3
   that is published, at no cost to the encoder.

Nothing half-made is ever left: the MP3 is written to a hidden temp file in the output's
folder, tagged (:func:`podcast.tags.write_tags`), and renamed into place at the end.
"""

from __future__ import annotations

import contextvars
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import wave
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import binaries
from ..binaries import ffmpeg, ffprobe
from ..errors import AudioError, ConfigError
from ..loudness import (
    AudioInfo,
    block_energy,
    check_complete,
    declared_duration,
    decode_error,
    energy_loudness,
    ffmpeg_errors,
    gated_loudness,
    loudness_range,
    measure,
    meter,
    meter_name,
    parse_frame,
    parse_named_summaries,
    parse_summary,
    probe,
    wav_declared_duration,
)
from ..model import AudioSettings, Episode, Show
from .cleanup import cleanup_filter, denoise_filter, quietest_stretch, resolve_hum
from .levelling import (
    AUDIBLE,
    BLOCK,
    SPEECH_SNR,
    Levelling,
    SpeechProfile,
    level_gains,
    moving_average,
    speech_profile,
)
from .timeline import Timeline, cut_filter, pause_cuts

#: Below this integrated loudness an input is silence or noise: boosting it would only
#: amplify hiss (a +40 dB gain is never right for an interview).
MIN_INPUT_LUFS = -55.0
#: The limiter's ceiling sits this far below the true-peak target: alimiter limits
#: sample peaks, and MP3 encoding adds inter-sample overshoot.
PEAK_MARGIN = 1.2
#: Sample rate (Hz) of the gain envelope handed to ffmpeg.
ENVELOPE_RATE = 10
#: The limiter calibration listens to the whole of a recording up to this long (s) ...
CALIBRATION_WHOLE = 120.0
#: ... and to a tenth of a longer one in windows of CALIBRATION_WINDOW seconds, evenly
#: spread, between this many and this many windows (10 minutes: 10 windows, an hour: 60),
#: read by seeking so the rest is not even decoded.  (Hearing all of a 10-minute
#: recording cost 2.3 s, more than half the bare transcode.)
CALIBRATION_WINDOWS_MIN = 10
CALIBRATION_WINDOWS = 60
CALIBRATION_WINDOW = 6.0
#: The largest correction (dB) the calibration may apply; more means something is off.
MAX_CORRECTION = 4.0
#: A PCM or FLAC recording this long (s) or longer is analysed as two halves in parallel ...
SPLIT_MIN = 120.0
#: ... the second starting this much before the middle, so its blocks from the middle on
#: have their full history (the 3 s short-term window, the settled K-weighting filter
#: and resampler) and read exactly as in a single pass.
SPLIT_OVERLAP = 4.0
#: Bytes per packet ffmpeg's WAV demuxer reads (its default, 4096, costs system time).
WAV_PACKET = 65536


@dataclass(frozen=True)
class Analysis:
    """Pass 1 over one input file: its momentary loudness series and decoded length."""

    info: AudioInfo
    times: np.ndarray  # end of each 400 ms block, seconds from the file's start
    momentary: np.ndarray  # LUFS of each block, as the output's layout reads it
    duration: float
    lra: float
    filters: str = ""  # the cleanup chain the audio was read through (see .cleanup)


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

    def to_dict(self) -> dict:
        """``{"input": {...}, "output": {...}, "levelling": {...}}``, JSON-ready."""
        return _finite({"input": self.input, "output": asdict(self.output),
                        "levelling": self.levelling})


# --------------------------------------------------------------------------- pure functions


def gain_envelope(times: np.ndarray, gains_db: np.ndarray, duration: float, *,
                  rate: int = ENVELOPE_RATE) -> np.ndarray:
    """The gain curve as linear factors sampled ``rate`` times a second from 0 s.

    It runs 2 s past ``duration`` (held at the last gain) so the multiplication never
    runs out of envelope before the audio ends.
    """
    grid = np.arange(int(math.ceil((duration + 2.0) * rate))) / rate
    return sample_gains(grid, times, gains_db)


def sample_gains(grid: np.ndarray, times: np.ndarray, gains_db: np.ndarray) -> np.ndarray:
    """The gain curve at the instants ``grid`` (s), as little-endian float32 factors."""
    return np.power(10.0, np.interp(grid, times, gains_db) / 20.0).astype("<f4")


def calibration_windows(duration: float) -> np.ndarray | None:
    """Start times (s) of the calibration windows over a recording of ``duration`` s, or
    None when it is short enough to be heard whole."""
    if duration <= CALIBRATION_WHOLE:
        return None
    count = int(np.clip(round(0.1 * duration / CALIBRATION_WINDOW), CALIBRATION_WINDOWS_MIN,
                        CALIBRATION_WINDOWS))
    return np.linspace(0.0, duration - CALIBRATION_WINDOW, count)


def window_mask(times: np.ndarray, starts: np.ndarray | None,
                window: float = CALIBRATION_WINDOW) -> np.ndarray:
    """Which 400 ms blocks (ending at ``times``) lie wholly inside a window
    ``[start, start + window]``; all of them when ``starts`` is None."""
    times = np.asarray(times, dtype=float)
    if starts is None:
        return np.ones(times.size, dtype=bool)
    begin = times - 4 * BLOCK
    index = np.searchsorted(starts, begin + 1e-6, side="right") - 1
    inside = times <= starts[np.clip(index, 0, None)] + window + 1e-6
    return (index >= 0) & inside


def limiter_correction(predicted: float, unlimited: float, limited: float,
                       limited_louder: float, *, step: float = 1.0) -> float:
    """The extra gain (dB) that puts the limited master on the predicted loudness.

    From the calibration windows: ``predicted`` is what the gain curve should give there,
    ``unlimited`` what it really gives, ``limited`` the same through the limiter, and
    ``limited_louder`` through the limiter with ``step`` dB more gain.  Limiting loses
    more the louder it is driven, so the correction is solved on the line through the
    two limited measurements (its slope kept in [0, 0.8] so it always converges).
    """
    model_error = unlimited - predicted
    loss = unlimited - limited
    slope = float(np.clip(((unlimited + step - limited_louder) - loss) / step, 0.0, 0.8))
    correction = (loss - model_error) / (1.0 - slope)
    return float(np.clip(correction, -MAX_CORRECTION, MAX_CORRECTION))


def chapter_problems(episode: Episode, duration: float) -> list[str]:
    """Chapters that start at or after the end of the interview audio (``duration`` s)."""
    problems = []
    for number, chapter in enumerate(episode.chapters, start=1):
        if chapter.start >= duration:
            problems.append(f"chapter {number} {chapter.title!r} starts at "
                            f"{_clock(chapter.start)}, after the end of the audio "
                            f"({_clock(duration)})")
    return problems


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _channel_layout(channels: str) -> tuple[str, int]:
    return ("mono", 1) if channels == "mono" else ("stereo", 2)


def _format_filter(rate: int, layout: str, filters: str = "") -> str:
    """Conversion to the output's rate and layout, then ``filters`` (the cleanup) if any."""
    chain = f"aformat=sample_fmts=flt:sample_rates={rate}:channel_layouts={layout}"
    return f"{chain},{filters}" if filters else chain


# --------------------------------------------------------------------------- progress


class _Progress:
    """A click progress bar on stderr, fed with seconds done; silent when disabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar = None
        self._done = 0

    @contextmanager
    def phase(self, label: str, seconds: float) -> Iterator[Callable[[float], None]]:
        if not self.enabled:
            yield lambda _seconds: None
            return
        import click

        with click.progressbar(length=max(1, int(seconds * 10)), label=label,
                               file=sys.stderr) as bar:
            self._done = 0

            def update(done_seconds: float) -> None:
                now = min(int(done_seconds * 10), bar.length)
                if now > self._done:
                    bar.update(now - self._done)
                    self._done = now

            yield update


# --------------------------------------------------------------------------- pass 1


def analyse(info: AudioInfo, *, rate: int, layout: str, what: str,
            progress: Callable[[float], None] = lambda _s: None,
            split_from: float = SPLIT_MIN, filters: str = "") -> Analysis:
    """Decode ``info.path`` to the output format, clean it (``filters``, see
    :mod:`.cleanup`) and log its momentary loudness.

    Streams ffmpeg's stderr line by line, keeping only two numbers per 100 ms, so memory
    stays small for any length.  A PCM or FLAC recording of ``split_from`` seconds or more
    is read as two halves by two ffmpeg processes at once (one per core; both seek
    exactly), and the halves' series are joined into the one a single pass logs.
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
                    duration=decoded, lra=lra, filters=filters)


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
        tail=first.tail if first.code else late.tail)


@dataclass(frozen=True)
class _Frames:
    """One ebur128 frame log: block ends (s), momentary and short-term LUFS, and how
    ffmpeg ended (exit code, its warnings and errors, the last lines it printed)."""

    times: np.ndarray
    momentary: np.ndarray
    short_term: np.ndarray
    code: int
    log: list[str]
    tail: list[str]


def _input_options(path: Path) -> list[str]:
    """ffmpeg input options for ``path``: a WAV is read in 64 KiB packets.

    ffmpeg's WAV demuxer hands out 4 KiB packets by default; for an hour of CD audio
    that is 155 000 packets, whose allocation costs more system time than the decoding
    (measured: analysis 5.4 -> 2.7 s).  The samples are the same, only fewer packets.
    """
    return ["-max_size", str(WAV_PACKET)] if wav_declared_duration(path) is not None else []


def analysis_command(path: Path, rate: int, layout: str, *, start: float | None = None,
                     length: float | None = None, filters: str = "") -> list[str]:
    """Pass 1's ffmpeg command line: decode to the output format, log every block."""
    seek = ["-ss", f"{start:.3f}"] if start is not None else []
    stop = ["-t", f"{length:.3f}"] if length is not None else []
    return [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "level+info",
            *seek, *stop, *_input_options(path), "-i", str(path), "-map", "0:a:0",
            "-af", f"{_format_filter(rate, layout, filters)},{meter(frames=True)}",
            "-f", "null", "-"]


def _meter(command: list[str], progress: Callable[[float], None]) -> _Frames:
    """Run one analysis ffmpeg and collect its frame log."""
    times: list[float] = []
    values: list[float] = []
    short: list[float] = []
    log: list[str] = []
    tail: deque[str] = deque(maxlen=40)
    process = binaries.popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, errors="replace")
    try:
        for line in process.stderr:
            frame = parse_frame(line)
            if frame is not None:
                times.append(frame[0])
                values.append(frame[1])
                short.append(frame[2])
                progress(frame[0])
                continue
            tail.append(line)
            if "[warning]" in line or "[error]" in line or "[fatal]" in line:
                log.append(line)
    finally:
        binaries.reap(process)
    return _Frames(times=np.asarray(times, dtype=float), momentary=np.asarray(values, dtype=float),
                   short_term=np.asarray(short, dtype=float), code=process.returncode,
                   log=log, tail=list(tail))


# --------------------------------------------------------------------------- pass 2


@dataclass(frozen=True)
class Preroll:
    """A pause of the recording played once more before it, for the noise reduction to
    learn the noise from (``denoise``, see :func:`.cleanup.denoise_filter`) before the
    recording starts, then cut off: every pause is cleaned, the one it learns from too.
    ``index`` is the recording's input; the pause is read by seeking a second input."""

    index: int
    path: Path
    start: float
    length: float
    denoise: str


def _program_chains(inputs: list[Path], *, rate: int, layout: str,
                    filters: list[str] | None = None, preroll: Preroll | None = None,
                    preroll_input: int = 0) -> tuple[list[str], str]:
    """Filter chains decoding, cleaning (``filters``, one chain per input) and joining the
    inputs (with the ``preroll`` read from input ``preroll_input``); returns them and the
    joined label."""
    chains, labels = [], []
    filters = filters or [""] * len(inputs)
    for index in range(len(inputs)):
        clean = _format_filter(rate, layout, filters[index])
        if preroll is not None and preroll.index == index:
            length = f"{preroll.length:.3f}"
            chains += [f"[{index}:a:0]{clean}[m{index}]",
                       f"[{preroll_input}:a:0]{clean},atrim=duration={length},"
                       f"apad=whole_dur={length}[p{index}]",
                       f"[p{index}][m{index}]concat=n=2:v=0:a=1,{preroll.denoise},"
                       f"atrim=start={length},asetpts=PTS-STARTPTS[s{index}]"]
        else:
            chains.append(f"[{index}:a:0]{clean}[s{index}]")
        labels.append(f"[s{index}]")
    joined = "".join(labels)
    if len(inputs) > 1:
        chains.append(f"{joined}concat=n={len(inputs)}:v=0:a=1[joined]")
        joined = "[joined]"
    return chains, joined


def _gain_chains(joined: str, envelope_index: int, *, rate: int, layout: str) -> list[str]:
    """Chains multiplying the program by the gain envelope (input ``envelope_index``).

    The 10 Hz envelope is resampled to the audio rate (band-limited, so the gain moves
    smoothly between its points) and copied to every channel before the multiplication.
    """
    spread = ",pan=stereo|c0=c0|c1=c0" if layout == "stereo" else ""
    return [f"[{envelope_index}:a]aresample={rate},aformat=sample_fmts=flt{spread}[gain]",
            f"{joined}[gain]amultiply[levelled]"]


def _envelope_input(envelope: Path) -> list[str]:
    return ["-f", "f32le", "-ar", str(ENVELOPE_RATE), "-ac", "1", "-i", str(envelope)]


def _limiter(ceiling: float) -> str:
    # level=0: alimiter must not raise the level back up after limiting; latency=1 keeps
    # the audio aligned with the chapters.
    return (f"alimiter=limit={10 ** (ceiling / 20):.6f}:attack=5:release=80:level=0"
            f":latency=1")


def calibrate(inputs: list[Path], envelope: Path, *, rate: int, layout: str,
              ceiling: float, windows: tuple[Path, np.ndarray] | None = None,
              step: float = 1.0, filters: list[str] | None = None) -> dict[str, float]:
    """Measure the gain curve with and without the limiter.

    The program (``inputs`` joined, one ffmpeg run) or, given ``windows`` = (recording,
    start times), only ``CALIBRATION_WINDOW`` s of the recording at each start (input
    seeking: nothing else is decoded; ``envelope`` then holds just those windows' gains,
    ``CALIBRATION_WINDOW * ENVELOPE_RATE`` values each) goes through the gain envelope
    and is split three ways into meters: ``u`` unlimited, ``a`` limited, ``b`` limited
    with ``step`` dB more gain.  Returns the three integrated loudnesses.  The windows
    are heard by two ffmpeg runs at once, half each; their meters' 400 ms blocks are
    pooled and gated together, as one run would.
    """
    if windows is None:
        summaries = _calibration_run(calibration_command(
            inputs, envelope, rate=rate, layout=layout, ceiling=ceiling, step=step,
            filters=filters))
        return {name: summaries[name]["lufs"] for name in ("u", "a", "b")}
    recording, starts = windows
    gains = np.fromfile(envelope, dtype="<f4")
    per_window = round(CALIBRATION_WINDOW * ENVELOPE_RATE)
    cut = (len(starts) + 1) // 2
    halves = [(0, cut), (cut, len(starts))] if len(starts) > 1 else [(0, len(starts))]
    commands = []
    for number, (first, stop) in enumerate(halves):
        # Each run's envelope: its windows' gains, then the next ones (or the last held)
        # so the band-limited resampling sees what one run would see.
        part = gains[first * per_window:stop * per_window + 20]
        part = np.concatenate([part, np.full(20, part[-1], dtype="<f4")])
        path = envelope.with_name(f"{envelope.stem}-{number}.f32")
        part.tofile(path)
        commands.append(calibration_command(
            inputs, path, rate=rate, layout=layout, ceiling=ceiling, step=step,
            windows=(recording, starts[first:stop]), framelog=True, filters=filters))
    # Inner job first out: an exception here ends both runs before the pool joins them.
    with ThreadPoolExecutor(max_workers=len(commands)) as pool, binaries.job():
        futures = [pool.submit(contextvars.copy_context().run, _calibration_run, command)
                   for command in commands]
        runs = [future.result() for future in futures]
    return {name: gated_loudness(np.concatenate([run[name]["blocks"] for run in runs]))
            for name in ("u", "a", "b")}


def calibration_command(inputs: list[Path], envelope: Path, *, rate: int, layout: str,
                        ceiling: float, step: float,
                        windows: tuple[Path, np.ndarray] | None = None,
                        framelog: bool = False,
                        filters: list[str] | None = None) -> list[str]:
    """The ffmpeg command line of one calibration run (see :func:`calibrate`).

    ``filters`` are the inputs' cleanup chains; with ``windows``, the recording's is the
    one of the input that is the recording."""
    command = [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "level+info"]
    if windows is None:
        chains, joined = _program_chains(inputs, rate=rate, layout=layout, filters=filters)
        for path in inputs:
            command += [*_input_options(path), "-i", str(path)]
        count = len(inputs)
    else:
        recording, starts = windows
        chains, labels = [], ""
        cleanup = (filters or [""] * len(inputs))[inputs.index(recording)] \
            if recording in inputs else ""
        for index, start in enumerate(starts):
            command += ["-ss", f"{start:.3f}", "-t", str(CALIBRATION_WINDOW),
                        "-i", str(recording)]
            # Exactly one window long each, so the envelope stays in step.  (No 64 KiB
            # packets here: 6 s windows gain nothing, and 30 inputs' queues of them cost
            # 50 MiB more per run.)
            chains.append(f"[{index}:a:0]{_format_filter(rate, layout, cleanup)},"
                          f"atrim=duration={CALIBRATION_WINDOW},"
                          f"apad=whole_dur={CALIBRATION_WINDOW}[w{index}]")
            labels += f"[w{index}]"
        chains.append(f"{labels}concat=n={len(starts)}:v=0:a=1[joined]")
        joined, count = "[joined]", len(starts)
    chains += _gain_chains(joined, count, rate=rate, layout=layout)
    chains.append("[levelled]asplit=3[u][a][b]")
    chains.append(f"[u]{meter(name='u', frames=framelog)}[ou]")
    chains.append(f"[a]{_limiter(ceiling)},{meter(name='a', frames=framelog)}[oa]")
    chains.append(f"[b]volume={step}dB:precision=float,{_limiter(ceiling)},"
                  f"{meter(name='b', frames=framelog)}[ob]")
    command += [*_envelope_input(envelope), "-filter_complex", ";".join(chains)]
    for label in ("ou", "oa", "ob"):
        command += ["-map", f"[{label}]", "-f", "null", "-"]
    return command


def _calibration_run(command: list[str]) -> dict[str, dict]:
    """Run one calibration ffmpeg; per meter its summary and its logged block loudnesses
    (``"blocks"``, empty without a frame log).  Raises AudioError if a meter is missing."""
    done = binaries.run(command, capture_output=True, text=True, errors="replace")
    lines = done.stderr.splitlines()
    summaries = parse_named_summaries(lines)
    if done.returncode != 0 or not {"u", "a", "b"} <= set(summaries):
        detail = "; ".join(ffmpeg_errors(lines)[-3:]) or "no output"
        raise AudioError(f"ffmpeg ({binaries.version()}) failed while calibrating the "
                         f"limiter: {detail}", fix="run `podcast doctor`")
    blocks: dict[str, list[float]] = {"u": [], "a": [], "b": []}
    for line in lines:
        frame = parse_frame(line)
        name = meter_name(line)
        if frame is not None and name in blocks:
            blocks[name].append(frame[1])
    return {name: {**summaries[name], "blocks": np.asarray(blocks[name])}
            for name in ("u", "a", "b")}


def encode_commands(inputs: list[Path], envelope: Path, temp_name: str, *, rate: int,
                    layout: str, channels: int, bitrate: str, ceiling: float,
                    filters: list[str] | None = None,
                    cuts: list[tuple[float, float]] | None = None,
                    preroll: Preroll | None = None,
                    ) -> tuple[list[str], list[str], list[str]]:
    """The three ffmpeg command lines of pass 2 (process, encode, measure).

    ``cuts`` (program seconds, see :mod:`.timeline`) are taken out after the gain curve
    (which runs on the uncut program's time) and before the limiter; the ``preroll``'s
    pause is read by one more input, after the envelope's."""
    chains, joined = _program_chains(inputs, rate=rate, layout=layout, filters=filters,
                                     preroll=preroll, preroll_input=len(inputs) + 1)
    chains += _gain_chains(joined, len(inputs), rate=rate, layout=layout)
    cut = cut_filter(cuts or [], rate)
    chains.append(f"[levelled]{cut + ',' if cut else ''}{_limiter(ceiling)},"
                  f"aformat=sample_fmts=flt[out]")
    process = [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "level+error",
               "-progress", "pipe:2"]
    for path in inputs:
        process += [*_input_options(path), "-i", str(path)]
    process += _envelope_input(envelope)
    if preroll is not None:
        process += ["-ss", f"{preroll.start:.3f}", "-t", f"{preroll.length:.3f}",
                    "-i", str(preroll.path)]
    process += ["-filter_complex", ";".join(chains), "-map", "[out]", "-f", "f32le",
                "-ar", str(rate), "-ac", str(channels), "pipe:1"]
    encode = [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "level+error",
              "-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", "pipe:0",
              "-map", "0:a", "-c:a", "libmp3lame", "-b:a", bitrate,
              "-map_metadata", "-1", "-f", "tee",
              f"[f=mp3:id3v2_version=0:write_id3v1=0]{temp_name}"
              f"|[f=mp3:id3v2_version=0:write_xing=0]pipe:1"]
    measure = [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "level+info",
               "-f", "mp3", "-i", "pipe:0", "-af", meter(peak=True), "-f", "null", "-"]
    return process, encode, measure


def run_encode(commands: tuple[list[str], list[str], list[str]], workdir: Path,
               progress: Callable[[float], None]) -> dict[str, float]:
    """Run the three pass-2 processes joined by pipes; return C's ebur128 summary.

    Whatever interrupts it, all three are ended and reaped before it returns or raises.
    """
    process_cmd, encode_cmd, measure_cmd = commands
    with tempfile.TemporaryFile() as encode_log, tempfile.TemporaryFile() as measure_log:
        started: list[subprocess.Popen] = []
        try:
            a = binaries.popen(process_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            started.append(a)
            b = binaries.popen(encode_cmd, stdin=a.stdout, stdout=subprocess.PIPE,
                               stderr=encode_log, cwd=workdir)
            started.append(b)
            a.stdout.close()  # B owns the pipe now: A gets EPIPE if B dies
            c = binaries.popen(measure_cmd, stdin=b.stdout, stdout=subprocess.DEVNULL,
                               stderr=measure_log)
            started.append(c)
            b.stdout.close()
            errors = _follow_progress(a, progress)
            codes = [a.wait(), b.wait(), c.wait()]
        finally:
            for proc in started:
                binaries.reap(proc)
        encode_text = _read_log(encode_log)
        measure_text = _read_log(measure_log)
    if any(codes):
        detail = "; ".join([*ffmpeg_errors(errors)[-2:],
                            *ffmpeg_errors(encode_text.splitlines())[-2:],
                            *ffmpeg_errors(measure_text.splitlines())[-2:]])
        raise AudioError(f"ffmpeg ({binaries.version()}) failed while mastering: "
                         f"{detail or f'exit codes {codes}'}",
                         fix="run `podcast doctor`; check the free disk space")
    return parse_summary(measure_text.splitlines())


def _follow_progress(process: subprocess.Popen, progress: Callable[[float], None]) -> list[str]:
    """Feed ``-progress`` reports from ``process``'s stderr to ``progress``; return the
    other lines it printed (its errors)."""
    errors: list[str] = []
    for raw in process.stderr:
        line = raw.decode("utf-8", "replace").strip()
        if line.startswith("out_time_us="):
            value = line.split("=", 1)[1]
            if value.isdigit():
                progress(int(value) / 1e6)
        elif "=" not in line or line.startswith("["):
            errors.append(line)
    return errors


def _read_log(handle) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def codec_source(rate: int, layout: str) -> str:
    """The lavfi source :func:`codec_gain` encodes: 4 s of speech-band pink noise."""
    return (f"anoisesrc=d=4:c=pink:r={rate}:a=0.3:seed=3,highpass=f=100,lowpass=f=6000,"
            f"{_format_filter(rate, layout)}")


def codec_gain(*, rate: int, layout: str, bitrate: str) -> float:
    """How much louder (dB, usually negative) the MP3 encoder makes the audio.

    libmp3lame as built into ffmpeg comes out about 0.45 dB quieter than its input, for
    sine, noise and speech alike; measuring it here, on 4 s of speech-band noise with the
    master's own settings, keeps the master on target whatever encoder build is installed.
    """
    source = codec_source(rate, layout)
    base = [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "level+info"]
    with binaries.job():
        reference = binaries.popen(
            [*base, "-f", "lavfi", "-i", source, "-af", meter(), "-f", "null", "-"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace")
        try:
            encoded = binaries.run(
                [*base, "-f", "lavfi", "-i", source, "-c:a", "libmp3lame", "-b:a", bitrate,
                 "-f", "mp3", "pipe:1"], capture_output=True)
            decoded = binaries.run(
                [*base, "-f", "mp3", "-i", "pipe:0", "-af", meter(), "-f", "null", "-"],
                input=encoded.stdout, capture_output=True)
            _out, reference_log = reference.communicate()
        finally:
            binaries.reap(reference)
    encoded_log = encoded.stderr.decode("utf-8", "replace").splitlines()
    decoded_log = decoded.stderr.decode("utf-8", "replace").splitlines()
    if encoded.returncode != 0:
        raise AudioError(f"ffmpeg ({binaries.version()}) cannot encode MP3 at {bitrate}: "
                         f"{'; '.join(ffmpeg_errors(encoded_log)[-3:]) or 'no error message'}",
                         field="audio.bitrate",
                         fix="run `podcast doctor`; use a bitrate such as 96k or 128k")
    failed = next((log for log, code in ((reference_log.splitlines(), reference.returncode),
                                         (decoded_log, decoded.returncode)) if code), None)
    if failed is not None:
        raise AudioError(f"ffmpeg ({binaries.version()}) failed measuring the MP3 "
                         f"encoder's gain: {'; '.join(ffmpeg_errors(failed)[-3:])}",
                         fix="run `podcast doctor`")
    after = parse_summary(decoded_log)["lufs"]
    before = parse_summary(reference_log.splitlines())["lufs"]
    return after - before


def _mp3_duration(path: Path) -> float:
    done = binaries.run([ffprobe(), "-v", "error", "-show_entries", "format=duration",
                         "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                        errors="replace")
    try:
        return float(done.stdout.strip())
    except ValueError:
        detail = "; ".join(ffmpeg_errors(done.stderr.splitlines())) or "no duration"
        raise AudioError(f"the encoded MP3 cannot be read back by {ffprobe()}: {detail}",
                         file=path,
                         fix="run `podcast doctor` to check ffmpeg's MP3 encoder") from None


# --------------------------------------------------------------------------- the steps


@dataclass(frozen=True)
class Program:
    """Intro + interview + outro as one timeline, as the concat filter plays them."""

    parts: list[tuple[str, Analysis]]  # ("intro" | "audio file" | "outro", its analysis)
    times: np.ndarray  # block ends over the whole program (s)
    momentary: np.ndarray
    length: float  # seconds of the whole program
    intro_length: float

    @property
    def main(self) -> Analysis:
        """The interview's own analysis."""
        return next(analysis for what, analysis in self.parts if what == "audio file")

    @property
    def sources(self) -> list[Path]:
        """The input files in playing order."""
        return [analysis.info.path.resolve() for _what, analysis in self.parts]

    @property
    def filters(self) -> list[str]:
        """The cleanup chain of each input, in playing order (empty: none)."""
        return [analysis.filters for _what, analysis in self.parts]

    @classmethod
    def join(cls, parts: list[tuple[str, Analysis]]) -> Program:
        """Lay the analyses end to end (each taking its declared length when known)."""
        times, values, offset, intro = [], [], 0.0, 0.0
        for what, analysis in parts:
            times.append(analysis.times + offset)
            values.append(analysis.momentary)
            length = declared_duration(analysis.info) or analysis.duration
            if what == "intro":
                intro = length
            offset += length
        return cls(parts=parts, times=np.concatenate(times), momentary=np.concatenate(values),
                   length=offset, intro_length=intro)


@dataclass(frozen=True)
class Plan:
    """What pass 2 applies: the gain curve (with the limiter's correction in it)."""

    curve: Levelling
    codec_gain: float
    correction: float
    ceiling: float
    envelope: Path
    timeline: Timeline = field(default_factory=Timeline)
    filters: list[str] = field(default_factory=list)  # pass 2's per input
    preroll: Preroll | None = None  # the noise reduction's, when it learns from a pause


def _check_output(output: Path, overwrite: bool) -> None:
    if output.exists() and not overwrite:
        raise AudioError("the output file already exists", file=output,
                         fix="pass --force to replace it, or choose another -o path")
    if not output.parent.is_dir():
        raise AudioError("the output folder does not exist", file=output.parent,
                         fix="create the folder first, or choose another -o path")


def _analyse_inputs(settings: AudioSettings, episode: Episode, bar: _Progress, *,
                    only_intro: bool = False) -> list[tuple[str, Analysis]]:
    """Probe, then analyse the intro, the interview and the outro, in playing order
    (``only_intro``: the intro alone)."""
    layout, _channels = _channel_layout(settings.channels)
    parts = [("intro", settings.intro), ("audio file", episode.audio),
             ("outro", settings.outro)]
    if only_intro:
        parts = parts[:1]
    infos = [(what, probe(path, what=what)) for what, path in parts if path is not None]
    analyses = []
    for what, info in infos:
        # Only the interview is cleaned: an intro or outro is music, finished already.
        filters = _cleanup(settings, info) if what == "audio file" else ""
        with bar.phase(f"analysing {info.path.name}", declared_duration(info) or 0.0) as update:
            analyses.append((what, analyse(info, rate=settings.sample_rate, layout=layout,
                                           what=what, progress=update, filters=filters)))
    return analyses


def _cleanup(settings: AudioSettings, info: AudioInfo) -> str:
    """The cleanup chain for the recording ``info``: high-pass, and hum notches when
    ``audio.hum`` names a mains frequency or ``auto`` finds one."""
    return cleanup_filter(settings.highpass, resolve_hum(settings.hum, info))


def _check_program(program: Program, episode: Episode) -> None:
    """Refuse an interview without speech and chapters past its end, before anything is
    written."""
    problem = sound_problem(program.main.momentary)
    if problem is not None:
        raise AudioError(f"the audio file {problem}; mastering would only amplify noise",
                         file=episode.audio,
                         fix="check the recording: wrong track, muted microphone, a "
                             "recorder left running, or an empty export")
    problems = chapter_problems(episode, program.main.duration)
    if problems:
        raise ConfigError("; ".join(problems), file=episode.source, field="chapters",
                          fix="correct the chapter start times or use the full recording")


def sound_problem(momentary: np.ndarray) -> str | None:
    """Why a recording (its block loudness series) cannot be mastered, or None.

    Says what it is: digital silence, faint hiss under the -70 LUFS gate, speech far too
    quiet to lift, or noise with no speech in it (nothing rises out of its own floor).
    """
    loud = np.asarray(momentary, dtype=float)
    audible = loud[np.isfinite(loud) & (loud > AUDIBLE)]
    if audible.size == 0:
        return "is silent (no sound at all: digital silence)"
    level = float(energy_loudness(np.mean(block_energy(audible))))
    lufs = gated_loudness(loud)
    profile = speech_profile(loud)
    if not math.isfinite(lufs):
        return (f"holds only faint noise (hiss at {level:.1f} LUFS, under the -70 LUFS "
                f"gate), no speech")
    if not profile.has_speech:
        return (f"holds no speech, only steady noise: nothing in it rises "
                f"{SPEECH_SNR:g} dB above its noise floor ({profile.floor:.1f} LUFS; "
                f"{lufs:.1f} LUFS overall)")
    if lufs < MIN_INPUT_LUFS:
        return (f"is nearly silent ({lufs:.1f} LUFS; bringing it to a podcast's loudness "
                f"would take over {-16 - MIN_INPUT_LUFS:.0f} dB of gain)")
    return None


def program_timeline(settings: AudioSettings, program: Program) -> Timeline:
    """Where the interview's times land in the master: after the intro, less the pauses
    cut to ``audio.max_pause``."""
    if settings.max_pause is None:
        return Timeline(offset=program.intro_length)
    main = program.main
    return Timeline(offset=program.intro_length,
                    cuts=pause_cuts(main.times, main.momentary, settings.max_pause,
                                    offset=program.intro_length))


def episode_timeline(show: Show, episode: Episode) -> Timeline:
    """The :class:`Timeline` :func:`master` gives ``episode`` (for chapters and transcript
    times published beside the MP3), found without mastering: the intro's length, and
    with ``audio.max_pause`` the pass-1 analysis of the interview (the same blocks, so the
    same cuts)."""
    settings = show.audio
    binaries.require()
    with binaries.job():
        parts = _analyse_inputs(settings, episode, _Progress(False),
                                only_intro=settings.max_pause is None)
    if settings.max_pause is None:
        intro = next((analysis for what, analysis in parts if what == "intro"), None)
        return Timeline(offset=(declared_duration(intro.info) or intro.duration)
                        if intro else 0.0)
    return program_timeline(settings, Program.join(parts))


def _level(settings: AudioSettings, program: Program) -> tuple[Levelling, float]:
    """The gain curve aimed off target by the encoder's own gain, and that gain."""
    layout, _channels = _channel_layout(settings.channels)
    encoder = codec_gain(rate=settings.sample_rate, layout=layout, bitrate=settings.bitrate)
    curve = level_gains(program.times, program.momentary, settings.meter_target - encoder)
    return curve, encoder


def _plan(settings: AudioSettings, program: Program, curve: Levelling, encoder: float,
          work: Path, bar: _Progress) -> Plan:
    """Measure what the limiter takes on (part of) the program and write the envelope
    that adds it back (``work/gain.f32``)."""
    layout, _channels = _channel_layout(settings.channels)
    ceiling = settings.true_peak - PEAK_MARGIN
    envelope = work / "gain.f32"
    gain_envelope(curve.times, curve.gains_db, program.length).tofile(envelope)
    starts = calibration_windows(program.main.duration)
    windows, mask, heard_envelope = None, np.ones(program.times.size, dtype=bool), envelope
    if starts is not None:
        # Program time of each window: the recording starts after the intro.
        windows = (program.main.info.path.resolve(), starts)
        mask = window_mask(program.times - program.intro_length, starts)
        grid = (program.intro_length + starts[:, None]
                + np.arange(int(CALIBRATION_WINDOW * ENVELOPE_RATE)) / ENVELOPE_RATE)
        heard_envelope = work / "windows.f32"
        sample_gains(np.append(grid.ravel(), grid[-1, -1] + np.arange(1, 21) / 10),
                     curve.times, curve.gains_db).tofile(heard_envelope)
    with bar.phase("calibrating", 1) as update:
        heard = calibrate(program.sources, heard_envelope, rate=settings.sample_rate,
                          layout=layout, ceiling=ceiling, windows=windows,
                          filters=program.filters)
        update(1)
    predicted = gated_loudness(program.momentary[mask] + curve.gains_db[mask])
    correction = limiter_correction(predicted, heard["u"], heard["a"], heard["b"])
    gain_envelope(curve.times, curve.gains_db + correction, program.length).tofile(envelope)
    return Plan(curve=curve, codec_gain=encoder, correction=correction, ceiling=ceiling,
                envelope=envelope, timeline=program_timeline(settings, program),
                **_denoise_plan(settings, program, work))


def _denoise_plan(settings: AudioSettings, program: Program, work: Path) -> dict:
    """Pass 2's cleanup with the noise reduction (``filters``, ``preroll`` of a Plan).

    The reduction learns the noise from the longest pause the analysis found, played
    before the recording (:class:`Preroll`); with no pause it tracks the noise.  It is in
    pass 2 only: a pause's place is known after the analysis, and removing noise moves
    the gated loudness by hundredths of a LU."""
    filters = program.filters
    if settings.denoise == "off":
        return {"filters": filters, "preroll": None}
    main = program.main
    index = [what for what, _analysis in program.parts].index("audio file")
    stretch = quietest_stretch(main.times, speech_profile(main.momentary).speech)
    commands = work / "denoise.cmd"
    if stretch is None:
        tracked = denoise_filter(settings.denoise, commands)
        filters = [",".join(part for part in (chain, tracked) if part) if number == index
                   else chain for number, chain in enumerate(filters)]
        return {"filters": filters, "preroll": None}
    start, stop = stretch
    preroll = Preroll(index=index, path=main.info.path.resolve(), start=start,
                      length=stop - start,
                      denoise=denoise_filter(settings.denoise, commands, stop - start))
    return {"filters": filters, "preroll": preroll}


def _encode(settings: AudioSettings, program: Program, plan: Plan, temp: Path,
            bar: _Progress, label: str) -> dict[str, float]:
    """Pass 2 into ``temp`` (in its folder); the ebur128 summary of the MP3 written."""
    layout, channels = _channel_layout(settings.channels)
    commands = encode_commands(
        program.sources, plan.envelope, temp.name, rate=settings.sample_rate, layout=layout,
        channels=channels, bitrate=settings.bitrate, ceiling=plan.ceiling,
        filters=plan.filters or program.filters, cuts=plan.timeline.program_cuts(),
        preroll=plan.preroll)
    with bar.phase(f"mastering {label}", program.length) as update:
        return run_encode(commands, temp.parent, update)


def _finish(show: Show, episode: Episode, output: Path, temp: Path, program: Program,
            plan: Plan, measured: dict[str, float]) -> MasterResult:
    """Tag the temp MP3, write its figures beside it, and move both into place."""
    from ..tags import write_tags

    settings = show.audio
    _layout, channels = _channel_layout(settings.channels)
    duration = _mp3_duration(temp)
    tag_size = write_tags(temp, show, episode, duration=duration,
                          timeline=plan.timeline)
    main = program.main
    figures = MasterFigures(
        path=str(output), lufs=measured["lufs"], true_peak=measured.get("peak", -math.inf),
        lra=measured.get("lra", 0.0), duration=round(duration, 3),
        bytes=temp.stat().st_size, tag_size=tag_size, bitrate=settings.bitrate_bps,
        sample_rate=settings.sample_rate, channels=channels,
        target_lufs=settings.meter_target, target_true_peak=settings.true_peak)
    result = MasterResult(
        input={**main.info.to_dict(), "lufs": round(gated_loudness(main.momentary), 2),
               "lra": main.lra, "duration": round(main.duration, 3),
               "intro": program.intro_length},
        output=figures, levelling={**plan.curve.summary(),
                                   "codec_gain_db": round(plan.codec_gain, 2),
                                   "limiter_correction_db": round(plan.correction, 2),
                                   "cuts": [list(cut) for cut in plan.timeline.cuts],
                                   "removed_s": round(plan.timeline.removed, 3)})
    # Both files are complete before either is renamed into place.
    sidecar = temp.with_suffix(".json")
    sidecar.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(temp, output)
    os.replace(sidecar, output.with_suffix(".json"))
    return result


@contextmanager
def _scratch(output: Path) -> Iterator[tuple[Path, Path]]:
    """A private work folder and the hidden temp MP3's path beside ``output``; both (and
    the temp's sidecar) are gone on the way out, whatever ended the block."""
    temp = output.parent / f".podcast-master-{os.getpid()}-{threading.get_ident()}.mp3"
    work = None
    try:
        work = Path(tempfile.mkdtemp(prefix="podcast-master-"))
        yield work, temp
    finally:
        temp.unlink(missing_ok=True)
        temp.with_suffix(".json").unlink(missing_ok=True)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------- entry points


def master(show: Show, episode: Episode, output: Path, *, overwrite: bool = False,
           progress: bool = False) -> MasterResult:
    """Master ``episode``'s audio into the tagged MP3 ``output`` and measure it.

    Also writes the figures beside it as ``output.with_suffix(".json")``.  Raises
    AudioError for a missing, silent, truncated or undecodable input, or an existing
    output without ``overwrite``; ConfigError for a chapter past the end of the audio;
    PodcastError for a missing, broken or too old ffmpeg.  Nothing is left at ``output``
    unless the whole master succeeded, and whatever exception ends it (KeyboardInterrupt,
    SystemExit on SIGTERM included), no ffmpeg it started and no temp file outlives it.
    """
    output = Path(output)
    _check_output(output, overwrite)
    binaries.require()
    bar = _Progress(progress)
    with binaries.job(), _scratch(output) as (work, temp):
        program = Program.join(_analyse_inputs(show.audio, episode, bar))
        _check_program(program, episode)
        curve, encoder = _level(show.audio, program)
        plan = _plan(show.audio, program, curve, encoder, work, bar)
        measured = _encode(show.audio, program, plan, temp, bar, output.name)
        return _finish(show, episode, output, temp, program, plan, measured)


#: The steps :func:`rehearse` runs, in order, as it reports them.
REHEARSAL_STEPS = ("analysis", "encoder gain", "limiter calibration", "encode",
                   "read back", "true-peak measure")


def rehearse(settings: AudioSettings, folder: Path,
             on_step: Callable[[str], None] = lambda _step: None) -> dict[str, float]:
    """Run every ffmpeg step of :func:`master`, with its own command lines, on one second
    of generated audio in ``folder``; return the test MP3's figures.

    ``on_step`` is called with each step's name (:data:`REHEARSAL_STEPS`) as it starts,
    so a caller knows which one an AudioError came from.
    """
    source = write_test_audio(folder / "rehearsal.wav", settings.sample_rate)
    bar = _Progress(False)
    with binaries.job():
        on_step("analysis")
        layout, _channels = _channel_layout(settings.channels)
        info = probe(source, what="test audio")
        # The cleanup with every filter it can use: hum detection runs, and the notches
        # are used even though the test audio does not hum.
        hum = resolve_hum(settings.hum, info) or (None if settings.hum == "off" else 50)
        analysis = analyse(info, rate=settings.sample_rate, layout=layout, what="test audio",
                           filters=cleanup_filter(settings.highpass, hum))
        program = Program.join([("audio file", analysis)])
        on_step("encoder gain")
        curve, encoder = _level(settings, program)
        on_step("limiter calibration")
        plan = _plan(settings, program, curve, encoder, folder, bar)
        on_step("encode")
        temp = folder / "rehearsal.mp3"
        measured = _encode(settings, program, plan, temp, bar, temp.name)
        on_step("read back")
        duration = _mp3_duration(temp)
        on_step("true-peak measure")
        heard = measure(temp)
    return {"lufs": heard.lufs, "true_peak": heard.true_peak, "duration": duration,
            "encode_lufs": measured["lufs"]}


def write_test_audio(path: Path, rate: int, seconds: float = 1.0) -> Path:
    """One second of speech-band noise in syllable-like bursts, around -20 LUFS, as a
    16-bit stereo WAV written with numpy (no ffmpeg involved in making it)."""
    count = int(rate * seconds)
    t = np.arange(count) / rate
    noise = np.random.default_rng(7).standard_normal(count)
    # A gentle band limit (moving average) and a 4 Hz syllable envelope.
    voice = np.convolve(noise, np.ones(4) / 4, mode="same") * np.abs(np.sin(np.pi * 4 * t))
    signal = 0.1 * voice / max(float(np.abs(voice).max()), 1e-9)
    pcm = (np.repeat(signal[:, None], 2, axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return path


def _finite(value):
    """``-inf``/``nan`` are not JSON: write them as null."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


__all__ = [
    "BLOCK", "MIN_INPUT_LUFS", "Analysis", "Levelling", "MasterFigures", "MasterResult",
    "SpeechProfile", "Timeline", "analyse", "calibrate", "calibration_windows",
    "chapter_problems", "episode_timeline",
    "codec_gain", "gain_envelope", "level_gains", "limiter_correction", "master",
    "moving_average", "rehearse", "sound_problem", "speech_profile", "window_mask",
    "write_test_audio",
]
