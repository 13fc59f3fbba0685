"""Calibration and pass 2 of a master: the MP3 encoder's own gain, what the limiter takes,
and the one ffmpeg that decodes, cleans, levels, limits, encodes and meters what it encodes.
"""

from __future__ import annotations

import contextvars
import functools
import math
import resource
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import binaries
from ..binaries import ffmpeg, ffprobe
from ..errors import AudioError
from ..loudness import (
    ffmpeg_errors,
    gated_loudness,
    loudness_range,
    meter,
    meter_name,
    parse_frame,
    parse_named_summaries,
)
from ..model import AudioSettings
from .analysis import channel_layout, follow_log, format_filter, input_options
from .levelling import (
    BLOCK,
)
from .timeline import cut_filter
from .truepeak import true_peak

#: Sample rate (Hz) of the gain envelope handed to ffmpeg.
ENVELOPE_RATE = 10


#: The limiter calibration listens to the whole of a recording up to this long (s) ...
CALIBRATION_WHOLE = 120.0


#: ... and to a tenth of a longer one in windows of CALIBRATION_WINDOW seconds, evenly
#: spread, between this many and this many windows (10 minutes: 10 windows, half an hour
#: and longer: 30), read by seeking so the rest is not even decoded.  Its cost follows
#: what it hears (3 minutes: 1.3 CPU-s); hearing 6 of an hour moved the master by 0.01 LU.
CALIBRATION_WINDOWS_MIN = 10


CALIBRATION_WINDOWS = 30


CALIBRATION_WINDOW = 6.0


#: Samples per frame handed to a null muxer after a meter (see :func:`calibration_command`).
SINK_FRAME = 65536
#: The calibration's meters: the gain curve limited (``a``), and limited with one step
#: more gain (``b``).
METERS = ("a", "b")
#: The largest correction (dB) the calibration may apply; more means something is off.
MAX_CORRECTION = 4.0
#: The limiter's ceiling sits this far below the true-peak target: alimiter limits
#: sample peaks, and MP3 encoding adds inter-sample overshoot.
PEAK_MARGIN = 1.2


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


def limiter_correction(predicted: float, limited: float, limited_louder: float, *,
                       step: float = 1.0) -> float:
    """The extra gain (dB) that puts the limited master on the predicted loudness.

    From the calibration windows: ``predicted`` is what the gain curve should give there,
    ``limited`` what it gives through the limiter, ``limited_louder`` the same with
    ``step`` dB more gain.  Limiting loses more the louder it is driven, so the
    correction is solved on the line through the two limited measurements (its slope
    kept in [0, 0.8] so it always converges).  What the curve gives unlimited is not
    needed: its error and the limiter's loss add up to ``predicted - limited``.
    """
    slope = float(np.clip((limited + step - limited_louder) / step, 0.0, 0.8))
    correction = (predicted - limited) / (1.0 - slope)
    return float(np.clip(correction, -MAX_CORRECTION, MAX_CORRECTION))


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
        clean = format_filter(rate, layout, filters[index])
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


def envelope_input(envelope: Path) -> list[str]:
    """The ffmpeg input options reading a gain envelope (10 Hz mono float32) file."""
    return ["-f", "f32le", "-ar", str(ENVELOPE_RATE), "-ac", "1", "-i", str(envelope)]


def limiter_filter(ceiling: float) -> str:
    """The ``alimiter`` filter holding sample peaks under ``ceiling`` dBFS."""
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
    and is split two ways into meters: ``a`` limited, ``b`` limited with ``step`` dB
    more gain.  Returns their integrated loudnesses.  The windows are heard by two ffmpeg
    runs at once, half each; their meters' 400 ms blocks are pooled and gated together,
    as one run would.
    """
    if windows is None:
        run = calibration_run(calibration_command(
            inputs, envelope, rate=rate, layout=layout, ceiling=ceiling, step=step,
            framelog=True, filters=filters))
        return blocks_loudness([run])
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
        futures = [pool.submit(contextvars.copy_context().run, calibration_run, command)
                   for command in commands]
        runs = [future.result() for future in futures]
    return blocks_loudness(runs)


def blocks_loudness(runs: list[dict[str, dict]]) -> dict[str, float]:
    """The integrated loudness of each calibration meter (:data:`METERS`), its logged
    blocks pooled over ``runs`` and gated: to the hundredth, where a summary gives tenths
    (the correction would be a tenth off)."""
    return {name: gated_loudness(np.concatenate([run[name]["blocks"] for run in runs]))
            for name in METERS}


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
            command += [*input_options(path), "-i", str(path)]
        count = len(inputs)
    else:
        recording, starts = windows
        chains, labels = [], ""
        cleanup = (filters or [""] * len(inputs))[inputs.index(recording)] \
            if recording in inputs else ""
        for index, start in enumerate(starts):
            command += ["-ss", f"{start:.3f}", "-t", str(CALIBRATION_WINDOW),
                        *input_options(recording, large_packets=False), "-i", str(recording)]
            # Exactly one window long each, so the envelope stays in step.  (Not in 64 KiB
            # packets: 6 s gain nothing, and 30 inputs' queues of them cost 50 MiB more.)
            chains.append(f"[{index}:a:0]{format_filter(rate, layout, cleanup)},"
                          f"atrim=duration={CALIBRATION_WINDOW},"
                          f"apad=whole_dur={CALIBRATION_WINDOW}[w{index}]")
            labels += f"[w{index}]"
        chains.append(f"{labels}concat=n={len(starts)}:v=0:a=1[joined]")
        joined, count = "[joined]", len(starts)
    chains += _gain_chains(joined, count, rate=rate, layout=layout)
    meters, output = calibration_meters("[levelled]", ceiling=ceiling, step=step,
                                        framelog=framelog)
    return [*command, *envelope_input(envelope), "-filter_complex",
            ";".join([*chains, *meters]), *output]


def calibration_meters(label: str, *, ceiling: float, step: float, framelog: bool = True
                       ) -> tuple[list[str], list[str]]:
    """The calibration's two meters (:data:`METERS`) of the audio ``label``: their filter
    chains, and the output options that run them."""
    # Meter a's audio goes to the null muxer ffmpeg needs, in large frames of doubles (the
    # meter's own format): fewer packets for ffmpeg 6's muxer thread, no conversion.
    # Meter b's ends in the graph (anullsink): no second encoder, muxer and thread.
    chains = [f"{label}asplit=2[a][b]",
              f"[a]{limiter_filter(ceiling)},{meter(name='a', frames=framelog)},"
              f"asetnsamples=n={SINK_FRAME}:p=0[oa]",
              f"[b]volume={step}dB:precision=float,{limiter_filter(ceiling)},"
              f"{meter(name='b', frames=framelog)},anullsink"]
    return chains, ["-map", "[oa]", "-c:a", "pcm_f64le", "-f", "null", "-"]


def calibration_run(command: list[str]) -> dict[str, dict]:
    """Run one calibration ffmpeg; per meter its summary and its logged block loudnesses
    (``"blocks"``, empty without a frame log).  Raises AudioError if a meter is missing."""
    done = binaries.run(command, capture_output=True, text=True, errors="replace")
    lines = done.stderr.splitlines()
    summaries = parse_named_summaries(lines)
    if done.returncode != 0 or not set(METERS) <= set(summaries):
        detail = "; ".join(ffmpeg_errors(lines)[-3:]) or "no output"
        raise AudioError(f"ffmpeg ({binaries.version()}) failed while calibrating the "
                         f"limiter: {detail}", fix="run `podcast doctor`")
    blocks: dict[str, list[float]] = {name: [] for name in METERS}
    for line in lines:
        frame = parse_frame(line)
        name = meter_name(line)
        if frame is not None and name in blocks:
            blocks[name].append(frame[1])
    return {name: {**summaries[name], "blocks": np.asarray(blocks[name])}
            for name in METERS}


def encode_command(inputs: list[Path], envelope: Path, temp_name: str, *, rate: int,
                   layout: str, channels: int, bitrate: str, ceiling: float,
                   filters: list[str] | None = None,
                   cuts: list[tuple[float, float]] | None = None,
                   preroll: Preroll | None = None) -> list[str]:
    """Pass 2's ffmpeg command line: decode, clean, level, cut, limit, then encode (see
    :func:`finish_command`).

    ``cuts`` (program seconds, see :mod:`.timeline`) are taken out after the gain curve
    (which runs on the uncut program's time) and before the limiter; the ``preroll``'s
    pause is read by one more input, after the envelope's."""
    chains, joined = _program_chains(inputs, rate=rate, layout=layout, filters=filters,
                                     preroll=preroll, preroll_input=len(inputs) + 1)
    chains += _gain_chains(joined, len(inputs), rate=rate, layout=layout)
    cut = cut_filter(cuts or [], rate)
    chains.append(f"[levelled]{cut + ',' if cut else ''}{limiter_filter(ceiling)}[limited]")
    options: list[str] = []
    for path in inputs:
        options += [*input_options(path), "-i", str(path)]
    options += envelope_input(envelope)
    if preroll is not None:
        options += ["-ss", f"{preroll.start:.3f}", "-t", f"{preroll.length:.3f}",
                    "-i", str(preroll.path)]
    return finish_command(options, chains, "[limited]", temp_name, rate=rate,
                          channels=channels, bitrate=bitrate)


def finish_command(options: list[str], chains: list[str], label: str, temp_name: str, *,
                   rate: int, channels: int, bitrate: str) -> list[str]:
    """One ffmpeg command line from its inputs (``options``) and filter ``chains``: the
    finished audio ``label`` encoded as CBR MP3 into ``temp_name`` (no tags: they come
    after), and the very samples the encoder takes measured on the way (``ebur128``, every
    block logged; :func:`run_encode` reads them)."""
    chains = [*chains, f"{label}aformat=sample_fmts=flt,asplit=2[out][tometer]",
              # The meter's audio ends in the graph (anullsink): no second output, so no
              # encoder, muxer and thread for it.
              f"[tometer]{meter(frames=True)},anullsink"]
    return [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "level+info",
            *options, "-filter_complex", ";".join(chains),
            "-map", "[out]", "-ar", str(rate), "-ac", str(channels), "-c:a", "libmp3lame",
            "-b:a", bitrate, "-map_metadata", "-1", "-id3v2_version", "0",
            "-write_id3v1", "0", "-f", "mp3", temp_name]


def run_encode(command: list[str], temp: Path, progress: Callable[[float], None], *,
               codec_gain: float) -> dict[str, float]:
    """Run pass 2 (``command`` writes ``temp``, named relative to its folder) and return
    the MP3's figures: its loudness (``lufs``: the encoder's input as metered, plus the
    encoder's own gain, :func:`codec_gain`), loudness range (``lra``) and true peak
    (``peak``, read from the MP3 itself by :func:`.truepeak.true_peak`).

    Whatever interrupts it, the ffmpeg is ended and reaped before it returns or raises.
    """
    process = binaries.popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             cwd=temp.parent)
    assert process.stderr is not None  # started with stderr=PIPE
    try:
        log = follow_log(process.stderr, progress)
        code = process.wait()
    finally:
        binaries.reap(process)
    if code:
        lines = [*log.problems, *log.tail]
        problem = resource_problem([code], lines, temp.parent)
        if problem is not None:
            raise problem
        detail = "; ".join(ffmpeg_errors(lines)[-3:]) or f"exit code {code}"
        raise AudioError(f"ffmpeg ({binaries.version()}) failed while mastering: {detail}",
                         fix="run `podcast doctor`; check the free disk space")
    _times, momentary, short_term = log.series()
    return {"lufs": round(gated_loudness(momentary) + codec_gain, 2),
            "lra": loudness_range(short_term), "peak": round(true_peak(temp), 2)}


def resource_problem(codes: list[int], log: list[str], folder: Path) -> AudioError | None:
    """The error for pass 2 stopped by a limit while writing the MP3 into ``folder``, or
    None: the file-size limit (``ulimit -f``: ffmpeg killed by SIGXFSZ, or "File too
    large"), the open-file limit ("Too many open files") or a full disk ("No space left on
    device").  The meter's figures printed after such a failure are no reason to give."""
    text = "\n".join(log)
    folder = folder.resolve()
    if -signal.SIGXFSZ in codes or "File too large" in text:
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        size = "unlimited" if limit == resource.RLIM_INFINITY else f"{limit} bytes"
        return AudioError(f"the file-size limit of this shell ({size}, `ulimit -f`) stopped "
                          f"ffmpeg writing the MP3 in this folder", file=folder,
                          fix="raise it with `ulimit -f unlimited` (or ask the admin to) "
                              "and master again")
    if "Too many open files" in text:  # (a mix checks its need before: a safety net)
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return AudioError(f"ffmpeg ran out of file descriptors (`ulimit -n` is {soft})",
                          file=folder, fix=f"raise the limit with `ulimit -n {2 * soft}` in "
                                           f"the shell that runs podcast, then master again")
    if "No space left on device" in text:
        free = shutil.disk_usage(folder).free
        return AudioError(f"the disk is full: no space left to write the MP3 in this folder "
                          f"({free / 1e6:.1f} MB free)", file=folder,
                          fix="free some space on that disk, or write elsewhere with -o")
    return None


def codec_source(rate: int, layout: str) -> str:
    """The lavfi source :func:`codec_gain` encodes: 4 s of speech-band pink noise."""
    return (f"anoisesrc=d=4:c=pink:r={rate}:a=0.3:seed=3,highpass=f=100,lowpass=f=6000,"
            f"{format_filter(rate, layout)}")


_CODEC_GAIN_LOCK = threading.Lock()


def codec_gain(*, rate: int, layout: str, bitrate: str) -> float:
    """How much louder (dB, usually negative) the MP3 encoder makes the audio.

    libmp3lame as built into ffmpeg comes out about 0.45 dB quieter than its input, for
    sine, noise and speech alike; measuring it here, on 4 s of speech-band noise with the
    master's own settings, keeps the master on target whatever encoder build is installed.
    Measured once per ffmpeg binary and settings in a process (``publish`` masters
    several episodes with the same ones, side by side: the first measures, the others
    wait for it).
    """
    with _CODEC_GAIN_LOCK:
        return _measured_codec_gain(ffmpeg(), rate, layout, bitrate)


@contextmanager
def codec_gain_ahead(settings: AudioSettings) -> Iterator[None]:
    """Measure :func:`codec_gain` for the show's ``settings`` in a thread while the block
    runs (open it inside :func:`binaries.job`): its two short ffmpeg runs go on beside
    the analysis, and the block's own call then finds the value.  A failure is left to
    that call, which measures again and raises it.  The thread is waited for on the way
    out."""
    layout, _channels = channel_layout(settings.channels)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(contextvars.copy_context().run, codec_gain, rate=settings.sample_rate,
                    layout=layout, bitrate=settings.bitrate)
        yield


@functools.lru_cache(maxsize=16)
def _measured_codec_gain(_program: str, rate: int, layout: str, bitrate: str) -> float:
    source = codec_source(rate, layout)
    base = [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "level+info"]
    with binaries.job():
        # One run meters the noise as it encodes it (the meter ends in the graph), the
        # next meters the MP3 decoded: two ffmpeg starts, not three.
        encoded = binaries.run(
            [*base, "-f", "lavfi", "-i", source, "-filter_complex",
             f"[0:a]asplit=2[mp3][heard];[heard]{meter(frames=True)},anullsink",
             "-map", "[mp3]", "-c:a", "libmp3lame", "-b:a", bitrate, "-f", "mp3",
             "pipe:1"], capture_output=True)
        decoded = binaries.run(
            [*base, "-f", "mp3", "-i", "pipe:0", "-af", meter(frames=True), "-f", "null",
             "-"],
            input=encoded.stdout, capture_output=True)
    encoded_log = encoded.stderr.decode("utf-8", "replace").splitlines()
    decoded_log = decoded.stderr.decode("utf-8", "replace").splitlines()
    if encoded.returncode != 0:
        raise AudioError(f"ffmpeg ({binaries.version()}) cannot encode MP3 at {bitrate}: "
                         f"{'; '.join(ffmpeg_errors(encoded_log)[-3:]) or 'no error message'}",
                         field="audio.bitrate",
                         fix="run `podcast doctor`; use a bitrate such as 96k or 128k")
    if decoded.returncode != 0:
        raise AudioError(f"ffmpeg ({binaries.version()}) failed measuring the MP3 "
                         f"encoder's gain: {'; '.join(ffmpeg_errors(decoded_log)[-3:])}",
                         fix="run `podcast doctor`")
    return _logged_loudness(decoded_log) - _logged_loudness(encoded_log)


def _logged_loudness(log: list[str]) -> float:
    """The integrated loudness of a meter's logged blocks: to the hundredth, where its
    summary gives tenths (a tenth off here would be a tenth off every master)."""
    frames = [frame for frame in map(parse_frame, log) if frame is not None]
    return gated_loudness([frame[1] for frame in frames])


def mp3_duration(path: Path) -> float:
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
