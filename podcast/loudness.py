"""Loudness measurement (ITU-R BS.1770 / EBU R128) with ffmpeg's ``ebur128`` meter.

``measure(path)`` runs ``ebur128`` and a 4x-oversampling true-peak meter
(:func:`true_peak_meter`) over the whole file and reads their summaries, so the loudness
agrees with ffmpeg's own meter by construction and the true peak within 0.1 dB.  The
parsing helpers are pure functions (text in, numbers out) and the mastering stage
(``podcast.audio``) reuses them, together with :func:`probe` and :func:`gated_loudness`, the
BS.1770 gating over the 400 ms momentary blocks.

Bad input never reaches the user as an ffmpeg dump: a missing file, a file that is not
audio, and a truncated or corrupt file each raise :class:`AudioError` saying what is wrong.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import binaries
from .errors import AudioError

#: BS.1770 gates: blocks below -70 LUFS never count; then blocks 10 LU below the mean.
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0

#: No 400 ms block of audio within full scale reads louder (a full-scale square wave
#: reads about +3 LUFS, +7 with K-weighting's treble boost on two channels): above it,
#: the samples themselves are out of range.
MAX_BLOCK_LUFS = 12.0
#: The fix for a file whose samples are NaN, infinite or far out of range.
SAMPLES_FIX = ("export it again as 16- or 24-bit PCM (WAV or FLAC), or as float with the "
               "samples within -1..1; play it first: the export is broken")

#: ffmpeg log lines (with ``-v level+...``) that mean the input is damaged, not merely odd.
_DAMAGE = re.compile(
    r"\[(error|fatal)\]|corrupt|Invalid data|Error while decoding|decode_frame\(\) failed"
    r"|Header missing|filesize and duration do not match|invalid residual",
    re.IGNORECASE,
)
#: ``[wav @ 0x55d0] [warning] `` in front of ffmpeg log lines: noise in a user message.
#: Log lines that mean ffmpeg itself cannot run the graph (an option or filter this build
#: lacks): never reported as damage in the user's file.
_TOOL_FAULT = re.compile(r"Error (applying|setting) option|No such filter|Unknown encoder"
                         r"|Error initializing filter|Unrecognized option|Option not found",
                         re.IGNORECASE)
_PREFIX = re.compile(r"^(\[[^\]]* @ 0x[0-9a-f]+\] )?(\[(info|warning|error|fatal)\] )?")
_NUMBER = r"(-?(?:\d+(?:\.\d*)?|inf|nan))"
_FRAME = re.compile(r"\bt:\s*" + _NUMBER + r"\s+TARGET:.*?\bM:\s*" + _NUMBER
                    + r"\s+S:\s*" + _NUMBER)
#: ``[NAME @ 0x55d0]`` (ffmpeg 6) or ``[ebur128@NAME @ 0x55d0]`` (ffmpeg 5.1) before a named
#: meter's lines.
_INSTANCE = re.compile(r"^\[(?:ebur128@)?([^\]@ ]+) @ 0x[0-9a-f]+\]")
_SUMMARY = {
    "lufs": re.compile(r"^\s*I:\s*" + _NUMBER + r" LUFS"),
    "lra": re.compile(r"^\s*LRA:\s*" + _NUMBER + r" LU\b"),
    "lra_low": re.compile(r"^\s*LRA low:\s*" + _NUMBER + r" LUFS"),
    "lra_high": re.compile(r"^\s*LRA high:\s*" + _NUMBER + r" LUFS"),
}
_PEAK_LEVEL = re.compile(r"Peak level dB:\s*" + _NUMBER)
_NONFINITE = re.compile(r"Number of (NaN|Inf)s:\s*" + _NUMBER)


@dataclass(frozen=True)
class Loudness:
    """What a BS.1770 meter reads for a file.

    ``lufs`` is the gated integrated loudness, ``true_peak`` the 4x oversampled peak in
    dBTP (``-inf`` for digital silence), ``lra`` the loudness range in LU (EBU Tech 3342),
    ``duration`` the decoded length in seconds.  ``silent`` is true when no 400 ms block
    reaches the -70 LUFS absolute gate (ffmpeg then reports -70.0 LUFS).
    """

    path: str
    lufs: float
    true_peak: float
    lra: float
    duration: float
    lra_low: float
    lra_high: float
    sample_rate: int
    channels: int
    silent: bool

    def to_dict(self) -> dict:
        """JSON-ready figures; ``-inf`` (silence) becomes ``null``."""
        return {key: _json_number(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class AudioInfo:
    """What ffprobe says about a file's first audio stream, before decoding it."""

    path: Path
    codec: str
    sample_rate: int
    channels: int
    layout: str
    declared_duration: float | None  # from the container header; None when unknown

    def to_dict(self) -> dict:
        """JSON-ready description of the stream."""
        data = asdict(self)
        data["path"] = str(self.path)
        return data


# --------------------------------------------------------------------------- pure helpers


def meter(*, name: str | None = None, frames: bool = False) -> str:
    """The ``ebur128`` filter as every graph here uses it, in a spelling ffmpeg 5.1 and
    later all accept.

    ``name`` makes it ``ebur128@NAME`` (several meters in one graph); ``frames`` logs every
    100 ms block at info level.  (True peak: :func:`true_peak_meter`.)
    Without it the block log goes to verbose level, which ``-v info`` hides: 5.1 refuses
    ``framelog=quiet``.
    """
    return f"ebur128{'@' + name if name else ''}=framelog=" + ("info" if frames else "verbose")


def true_peak_meter(rate: int) -> str:
    """The true-peak meter for audio at ``rate`` Hz, as a filter chain: 4x oversampled
    (BS.1770-4 Annex 2; a polyphase filter of 16 taps a phase where the Annex's has 12),
    then the largest absolute sample of all channels, logged when the stream ends
    (:func:`parse_true_peak`).  ebur128's own (``peak=true``) resamples to 192 kHz in
    double precision, twice the work; on the master's critical path that is a core.
    The oversampling runs in float and the peak is read from float samples: left to
    itself, ffmpeg picked double before it (after ``ebur128``) and 16-bit integers after
    it (for the null muxer), which cost time and cannot read a peak over full scale."""
    return (f"aformat=sample_fmts=flt,aresample={rate * 4}:filter_size=16,"
            f"aformat=sample_fmts=flt,astats=measure_perchannel=none:measure_overall=Peak_level")


def full_meter(rate: int) -> str:
    """Loudness (:func:`meter`) then true peak (:func:`true_peak_meter`) of audio at
    ``rate`` Hz, as one ``-af`` chain: the loudness meter passes the audio on unchanged."""
    return f"{meter()},{true_peak_meter(rate)}"


def parse_true_peak(lines: Iterable[str]) -> float:
    """The true peak (dBTP) :func:`true_peak_meter` logged: its last report (ffmpeg may
    configure a graph twice and log an empty first run).  ValueError if there is none."""
    found = None
    for line in lines:
        match = _PEAK_LEVEL.search(line)
        if match:
            found = parse_number(match.group(1))
    if found is None:
        raise ValueError("no true-peak figure in the ffmpeg output")
    return found


def meter_name(line: str) -> str | None:
    """The instance name of a named meter's log line (``u`` from ``[u @ 0x…]`` or
    ``[ebur128@u @ 0x…]``), or None for an unprefixed line."""
    match = _INSTANCE.match(line)
    return match.group(1) if match else None


def parse_number(text: str) -> float:
    """ffmpeg's number text (``-23.5``, ``-inf``, ``nan``) as a float."""
    return float(text)


def parse_frame(line: str) -> tuple[float, float, float] | None:
    """``(t, M, S)`` from one ebur128 frame-log line, or None for any other line.

    ``M`` is the momentary loudness of the 400 ms block ending at ``t`` (one line every
    100 ms, so consecutive blocks overlap by 75 %: exactly the BS.1770 gating blocks).
    """
    match = _FRAME.search(line)
    if match is None:
        return None
    return tuple(parse_number(group) for group in match.groups())  # type: ignore[return-value]


def parse_summary(lines: Iterable[str]) -> dict[str, float]:
    """The figures of ebur128's closing ``Summary:`` block (lufs, lra, lra_low/high, peak).

    Lines before ``Summary:`` are ignored, so the frame log (which also prints ``I:``)
    cannot be mistaken for the result.  Raises ValueError if there is no summary.
    """
    found: dict[str, float] = {}
    in_summary = False
    for line in lines:
        if "Summary:" in line:
            in_summary, found = True, {}
            continue
        if not in_summary:
            continue
        for key, pattern in _SUMMARY.items():
            match = pattern.match(line)
            if match and key not in found:
                found[key] = parse_number(match.group(1))
    if "lufs" not in found:
        raise ValueError("no ebur128 summary in the ffmpeg output")
    return found


def parse_named_summaries(lines: Iterable[str]) -> dict[str, dict[str, float]]:
    """The summaries of several meters in one graph, by instance name (``ebur128@NAME``).

    ffmpeg prefixes only a summary's first line (``[NAME @ 0x55d0] [info] Summary:``, or
    ``[ebur128@NAME @ …]`` in 5.1); the figures follow it.  A name seen twice keeps its last
    summary: ffmpeg 5.1 and 6 configure a ``-filter_complex`` graph twice and log the first,
    empty run's summary (-70 LUFS) before the real one.
    """
    found: dict[str, dict[str, float]] = {}
    name: str | None = None
    block: list[str] = []

    def close() -> None:
        if name is not None:
            try:
                found[name] = parse_summary(["Summary:", *block])
            except ValueError:
                pass

    for line in lines:
        if "Summary:" in line:
            close()
            name, block = meter_name(line) or "", []
        elif name is not None:
            block.append(line)
    close()
    return found


def block_energy(momentary: np.ndarray) -> np.ndarray:
    """Mean-square energy of each block from its loudness: ``L = -0.691 + 10 log10(E)``."""
    return np.power(10.0, (np.asarray(momentary, dtype=float) + 0.691) / 10.0)


def energy_loudness(energy: float | np.ndarray) -> float | np.ndarray:
    """Inverse of :func:`block_energy` (``-inf`` for zero energy)."""
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(energy)


def gated_loudness(momentary: Sequence[float] | np.ndarray) -> float:
    """Integrated loudness of 400 ms / 75 %-overlap blocks with the BS.1770 gates.

    ``momentary`` holds each block's loudness in LUFS.  Blocks below -70 LUFS are dropped,
    then blocks more than 10 LU below the mean energy of the rest.  Returns ``-inf`` when
    no block passes the absolute gate (silence).
    """
    loud = np.asarray(momentary, dtype=float)
    loud = loud[np.isfinite(loud) & (loud > ABSOLUTE_GATE)]
    if loud.size == 0:
        return -math.inf
    energy = block_energy(loud)
    threshold = float(energy_loudness(energy.mean())) + RELATIVE_GATE
    kept = energy[loud > threshold]
    return float(energy_loudness(kept.mean()))


def loudness_range(short_term: Sequence[float] | np.ndarray) -> float:
    """The loudness range (LU, EBU Tech 3342) of a series of 3 s short-term loudnesses
    logged every 100 ms, as ffmpeg's ebur128 computes it.

    Blocks under -70 LUFS are dropped, then those more than 20 LU under the energy mean of
    the rest; the range runs from the 10th to the 95th percentile of what remains, each
    taken as the nearest-rank value (ffmpeg's histogram walk).
    """
    values = np.asarray(short_term, dtype=float)
    values = values[np.isfinite(values) & (values >= ABSOLUTE_GATE)]
    if values.size == 0:
        return 0.0
    gate = float(energy_loudness(np.mean(block_energy(values)))) - 20.0
    values = np.sort(values[values >= gate])
    count = values.size
    low = values[max(int(0.10 * count + 0.5), 1) - 1]
    high = values[max(int(0.95 * count + 0.5), 1) - 1]
    return round(float(high - low), 1)


def range_problem(momentary: Sequence[float] | np.ndarray,
                  times: Sequence[float] | np.ndarray) -> str | None:
    """Why a recording's samples are far beyond full scale, or None: a block reading
    above :data:`MAX_BLOCK_LUFS` cannot come from samples within -1..1 (a float file of
    1e30 reads +596 LUFS).  ``momentary``: the 400 ms blocks, ``times``: their ends (s)."""
    loud = np.asarray(momentary, dtype=float)
    over = loud > MAX_BLOCK_LUFS
    if not over.any():
        return None
    first = int(np.argmax(over))
    return (f"holds samples far beyond full scale (from {float(times[first]):.1f} s, blocks "
            f"read up to {float(np.max(loud[over])):.1f} LUFS; float samples belong in -1..1)")


def parse_sample_counts(lines: Iterable[str]) -> dict[str, float]:
    """``{"nan": N, "inf": N}`` from :func:`nonfinite_command`'s log (absent: 0)."""
    counts = {"nan": 0.0, "inf": 0.0}
    for line in lines:
        match = _NONFINITE.search(line)
        if match:
            counts[match.group(1).lower()] = parse_number(match.group(2))
    return counts


def nonfinite_problem(counts: dict[str, float]) -> str | None:
    """What NaN or infinite samples (:func:`parse_sample_counts`) make of a file, or None."""
    if not counts["nan"] and not counts["inf"]:
        return None
    return (f"holds non-finite samples ({counts['nan']:.0f} NaN, {counts['inf']:.0f} "
            f"infinite): a broken float export, not silence")


def damage_lines(lines: Iterable[str]) -> list[str]:
    """The ffmpeg log lines that say the input is truncated or corrupt."""
    return [_PREFIX.sub("", line).strip() for line in lines if _DAMAGE.search(line)]


def _json_number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- ffmpeg edges


def probe(path: Path, *, what: str = "audio file") -> AudioInfo:
    """Describe the first audio stream of ``path``; AudioError if there is none.

    ``what`` names the file in messages (e.g. ``"intro"``).
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"the {what} does not exist", file=path,
                         fix="check the path, or record/copy the file there")
    done = binaries.run(
        [binaries.ffprobe(), "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=codec_name,sample_rate,channels,channel_layout,duration:format=duration,format_name",
         "-of", "json", str(path)],
        capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["ffprobe failed"])[-1]
        raise AudioError(f"the {what} is not audio that ffmpeg can read ({reason})",
                         file=path, fix="export it again as WAV, FLAC, MP3 or M4A")
    data = json.loads(done.stdout or "{}")
    streams = data.get("streams") or []
    if not streams:
        kind = (data.get("format") or {}).get("format_name", "unknown")
        raise AudioError(f"the {what} is not audio: it holds no audio stream "
                         f"(ffmpeg reads it as {kind!r})", file=path,
                         fix="point to the audio recording, not a video, image or text file")
    stream = streams[0]
    declared = stream.get("duration") or (data.get("format") or {}).get("duration")
    channels = int(stream.get("channels") or 0)
    return AudioInfo(
        path=path,
        codec=str(stream.get("codec_name", "unknown")),
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=channels,
        layout=str(stream.get("channel_layout") or f"{channels} channels"),
        declared_duration=float(declared) if declared not in (None, "N/A") else None,
    )


def check_complete(info: AudioInfo, decoded: float, log: Sequence[str], *,
                   what: str = "audio file") -> None:
    """Raise AudioError if decoding hit damage or stopped well short of the declared length.

    A WAV's header and an MP3's Xing header state the length: a file cut in transfer
    decodes to less.  ffmpeg keeps going over damage, so its warnings are the evidence.
    """
    damage = damage_lines(log)
    short = (info.declared_duration is not None
             and decoded < info.declared_duration - max(0.5, 0.02 * info.declared_duration))
    if damage or short:
        detail = damage[0] if damage else (
            f"it decodes to {decoded:.1f} s but its header says {info.declared_duration:.1f} s")
        raise AudioError(f"the {what} is truncated or corrupt: {detail}", file=info.path,
                         fix="copy or export the file again from the original recording")
    if decoded <= 0:
        raise AudioError(f"the {what} holds no audio samples", file=info.path,
                         fix="export the recording again")


def wav_declared_duration(path: Path) -> float | None:
    """Length in seconds stated by a RIFF/WAVE header's data chunk, or None if not a WAV.

    ffprobe estimates a WAV's duration from the file size, which hides truncation; the
    header's data size does not.  Streaming placeholders (0 or 0xFFFFFFFF) give None.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(head):
        chunk, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        if chunk == b"fmt " and pos + 16 <= len(head):
            byte_rate = int.from_bytes(head[pos + 16:pos + 20], "little")
        if chunk == b"data":
            if size in (0, 0xFFFFFFFF) or byte_rate == 0:
                return None
            return size / byte_rate
        pos += 8 + size + (size & 1)
    return None


def declared_duration(info: AudioInfo) -> float | None:
    """The length the file claims: the WAV header's own figure when there is one."""
    wav = wav_declared_duration(info.path)
    return wav if wav is not None else info.declared_duration


def sample_problem(info: AudioInfo, momentary: Sequence[float] | np.ndarray,
                   times: Sequence[float] | np.ndarray) -> str | None:
    """Why the samples of ``info``'s file are not audio at all, or None, from its block
    loudness series: far beyond full scale (:func:`range_problem`), or NaN or infinite.

    ebur128 reads NaN for blocks of non-finite samples, but now and then for digital
    silence too (its running sums round below zero), so a NaN block in a file whose samples
    are floats as stored (the only ones that can hold NaN) is checked by counting them
    (ffmpeg ``astats``): one more decode, for such files only.
    """
    problem = range_problem(momentary, times)
    if problem is not None or not info.codec.startswith("pcm_f"):
        return problem
    if not np.isnan(np.asarray(momentary, dtype=float)).any():
        return None
    done = binaries.run(
        [binaries.ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "level+info",
         "-i", str(info.path), "-map", "0:a:0", "-af",
         "astats=measure_perchannel=none:measure_overall=Number_of_NaNs+Number_of_Infs",
         "-f", "null", "-"], capture_output=True, text=True, errors="replace")
    return nonfinite_problem(parse_sample_counts(done.stderr.splitlines()))


def measure_command(path: Path, rate: int) -> list[str]:
    """The ffmpeg command line :func:`measure` runs: the loudness and true-peak meters over
    the first audio stream (at ``rate`` Hz), with ``-progress`` on stdout for the decoded
    length."""
    # The block log (frames) too: blocks that read NaN or far above full scale name
    # samples that are not audio (:func:`sample_problem`), which the summary hides.
    chain = f"{meter(frames=True)},{true_peak_meter(rate)}"
    return [binaries.ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "level+info",
            "-progress", "pipe:1", "-i", str(path), "-map", "0:a:0", "-af", chain,
            "-c:a", "pcm_f32le", "-f", "null", "-"]


def measure(path: Path) -> Loudness:
    """Integrated loudness, true peak, loudness range and duration of an audio file.

    Runs ffmpeg's ``ebur128`` and :func:`true_peak_meter` on the first audio stream (all
    channels, BS.1770 channel weights) and reads their summaries.  Raises AudioError for a
    missing, non-audio, truncated or corrupt file, one whose samples are NaN, infinite or
    far out of range, PodcastError for a missing, broken or too
    old ffmpeg.
    """
    path = Path(path)
    binaries.require()
    info = probe(path)
    # A rate ffprobe cannot tell is metered at 192 kHz: 4x of 48 kHz.
    rate = info.sample_rate or 48000
    done = binaries.run(measure_command(path, rate), capture_output=True, text=True,
                        errors="replace")
    log = done.stderr.splitlines()
    if done.returncode != 0:
        raise decode_error(log, path, what="audio file")
    duration = progress_seconds(done.stdout.splitlines())
    full = AudioInfo(**{**asdict(info), "declared_duration": declared_duration(info)})
    # ffmpeg's progress stops at the start of the last packet: allow for one packet.
    check_complete(full, duration + 0.2, log)
    frames = [frame for frame in map(parse_frame, log) if frame is not None]
    problem = sample_problem(info, [frame[1] for frame in frames],
                             [frame[0] for frame in frames])
    if problem is not None:
        raise AudioError(f"the audio file {problem}", file=path, fix=SAMPLES_FIX)
    summary = parse_summary(log)
    return Loudness(
        path=str(path),
        lufs=summary["lufs"],
        true_peak=parse_true_peak(log),
        lra=summary.get("lra", 0.0),
        duration=round(duration, 3),
        lra_low=summary.get("lra_low", -math.inf),
        lra_high=summary.get("lra_high", -math.inf),
        sample_rate=info.sample_rate,
        channels=info.channels,
        silent=summary["lufs"] <= ABSOLUTE_GATE,
    )


def decode_error(log: Sequence[str], path: Path, *, what: str) -> AudioError:
    """The error for an ffmpeg run over ``path`` that failed: the file's damage when
    ffmpeg reported some, else ffmpeg's own last error lines (a filter it refused is a
    tool problem, not the file's) and the fix for each."""
    damage = damage_lines(log)
    if damage and not any(_TOOL_FAULT.search(line) for line in log):
        return AudioError(f"cannot decode the {what}: {damage[0]}", file=path,
                          fix="export it again as WAV, FLAC, MP3 or M4A")
    detail = "; ".join(ffmpeg_errors(log)[-3:]) or "no error message"
    return AudioError(f"ffmpeg ({binaries.find('ffmpeg')}, {binaries.version()}) failed "
                      f"on the {what}: {detail}", file=path,
                      fix="run `podcast doctor`; if it passes, export the file again as "
                          "WAV, FLAC, MP3 or M4A")


def ffmpeg_errors(log: Iterable[str]) -> list[str]:
    """ffmpeg's error and fatal lines (``-v level+…`` output), cleaned of their prefixes,
    each once (ffmpeg repeats an error per packet, and a log's warnings are kept beside
    its tail, which may hold them too); the last non-empty lines when nothing is marked."""
    lines = [line for line in log if line.strip()]
    marked = [line for line in lines if "[error]" in line or "[fatal]" in line]
    return list(dict.fromkeys(_PREFIX.sub("", line).strip()
                              for line in (marked or lines[-2:])))


def progress_seconds(lines: Iterable[str]) -> float:
    """The last ``out_time_us`` of ffmpeg's ``-progress`` output, in seconds (0 if none)."""
    seconds = 0.0
    for line in lines:
        if line.startswith("out_time_us="):
            value = line.split("=", 1)[1].strip()
            if value.lstrip("-").isdigit() and int(value) >= 0:
                seconds = int(value) / 1e6
    return seconds
