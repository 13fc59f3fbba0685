"""The ffmpeg side of a multitrack master: each track placed on the mix's timeline, cleaned,
multiplied by its own gain envelope (levelling x gate, or ducking), panned, and summed.

Every track is one more input of one ffmpeg process and its envelope (10 Hz float32)
another, so the mix streams like a single recording: memory does not grow with the
length, and only by a few filter buffers per track.  The same chains feed the limiter
calibration (the whole mix, or windows of it read by seeking) and pass 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...binaries import ffmpeg
from ..analysis import format_filter, input_options
from ..encoding import (
    ENVELOPE_RATE,
    blocks_loudness,
    calibration_meters,
    calibration_run,
    envelope_input,
    finish_command,
    limiter_filter,
    sample_gains,
)
from ..timeline import cut_filter


@dataclass(frozen=True)
class MixTrack:
    """One track as the mix plays it: the file, where it starts (s of the mix; negative:
    its first seconds are dropped), its cleanup chain, its gain curve (dB at ``times``,
    seconds of the mix), its stereo place (-1..1) and its sample rate (Hz, when known)."""

    path: Path
    offset: float
    filters: str
    times: np.ndarray
    gains_db: np.ndarray
    pan: float = 0.0
    rate: int | None = None


#: Tracks recorded at one rate up to this (Hz) are mixed at it and resampled once.
MAX_MIX_RATE = 48000


def mix_rate(tracks: list[MixTrack], rate: int) -> int:
    """The rate the tracks are mixed at: theirs when they share one (the mix is then
    resampled once to the output's ``rate``, not every track), else ``rate``."""
    rates = {track.rate for track in tracks}
    common = rates.pop() if len(rates) == 1 else None
    return common if common is not None and common <= MAX_MIX_RATE else rate


@dataclass(frozen=True)
class Bookend:
    """An intro or outro played before or after the mix at one gain (dB)."""

    path: Path
    gain_db: float


def pan_filter(pan: float) -> str:
    """Constant-power stereo placement (``pan`` -1 left .. 1 right), loudness kept: the two
    channels' gains ``l, r`` have ``l^2 + r^2 = 2`` (1 and 1 in the middle)."""
    angle = (pan + 1.0) * math.pi / 4.0
    left, right = math.sqrt(2) * math.cos(angle), math.sqrt(2) * math.sin(angle)
    return f"pan=stereo|c0={left:.6f}*c0|c1={right:.6f}*c1"


def _placement(track: MixTrack, start: float, length: float, rate: int,
               windowed: bool) -> tuple[list[str], str]:
    """Input options and chain tail playing ``track`` from ``start`` s of the mix for
    ``length`` s (padded with silence where it has no audio)."""
    position = start - track.offset
    options: list[str] = []
    chain = []
    if position > 0:
        options += ["-ss", f"{position:.6f}"]
        if windowed:
            options += ["-t", f"{length:.3f}"]
    else:
        late = -position
        if windowed:
            if late >= length:
                options += ["-t", "0.001"]
            else:
                options += ["-t", f"{length - late:.3f}"]
        if late > 0:
            chain.append(f"adelay=delays={round(late * rate)}S:all=1")
    chain += [f"atrim=duration={length:.6f}", f"apad=whole_dur={length:.6f}"]
    if windowed:
        # A window past the track's end reads no audio, so its silence has no time stamp
        # of its own; concat, which plays the windows one after the other, needs one.
        chain.append("asetpts=N/SR/TB")
    return options, ",".join(chain)


def envelope_values(track: MixTrack, spans: list[tuple[float, float]],
                    offset_db: float) -> np.ndarray:
    """The track's gain factors at :data:`ENVELOPE_RATE` over the ``spans`` (start, length)
    played one after the other, 2 s more after the last (held)."""
    grids = [start + np.arange(round(length * ENVELOPE_RATE)) / ENVELOPE_RATE
             for start, length in spans]
    last = spans[-1][0] + spans[-1][1]
    grid = np.concatenate([*grids, last + np.arange(1, 2 * ENVELOPE_RATE + 1) / ENVELOPE_RATE])
    return sample_gains(grid, track.times, track.gains_db + offset_db)


def mix_graph(tracks: list[MixTrack], spans: list[tuple[float, float]], work: Path, *,
              rate: int, layout: str, offset_db: float, bookends: tuple[Bookend | None,
                                                                        Bookend | None]
              = (None, None), tag: str = "mix") -> tuple[list[str], list[str], str]:
    """ffmpeg input options, filter chains and the output label of the mix over ``spans``
    (mix seconds; pass 2 plays one span, the whole mix), every track through its gain
    envelope (written to ``work``) and ``offset_db`` more, with the intro and outro
    ``bookends`` around it.  Inputs: the tracks' spans, then the envelopes, then the
    bookends.  Tracks sharing a sample rate are mixed at it (:func:`mix_rate`) and the
    mix resampled to ``rate`` once."""
    options: list[str] = []
    chains: list[str] = []
    count = 0
    windowed = len(spans) > 1 or spans[0][0] > 0
    placed = []
    output_rate, rate = rate, mix_rate(tracks, rate)
    for number, track in enumerate(tracks):
        labels = ""
        for window, (start, length) in enumerate(spans):
            extra, tail = _placement(track, start, length, rate, windowed)
            # 64 KiB packets only for a whole track: a few seconds gain nothing by them
            # (the calibration's windows each probed 5 MB with them: 3 CPU-s for 30).
            options += [*extra, *input_options(track.path, large_packets=not windowed),
                        "-i", str(track.path)]
            label = f"t{number}w{window}"
            chains.append(f"[{count}:a:0]{format_filter(rate, layout, track.filters)},"
                          f"{tail}[{label}]")
            labels += f"[{label}]"
            count += 1
        if len(spans) > 1:
            chains.append(f"{labels}concat=n={len(spans)}:v=0:a=1[t{number}]")
        else:
            chains.append(f"{labels}anull[t{number}]")
        placed.append(f"[t{number}]")
    spread = ",pan=stereo|c0=c0|c1=c0" if layout == "stereo" else ""
    voices = ""
    for number, track in enumerate(tracks):
        envelope = work / f"{tag}-{number}.f32"
        envelope_values(track, spans, offset_db).tofile(envelope)
        options += envelope_input(envelope)
        place = f",{pan_filter(track.pan)}" if layout == "stereo" and track.pan else ""
        chains += [f"[{count}:a]aresample={rate},aformat=sample_fmts=flt{spread}[g{number}]",
                   f"{placed[number]}[g{number}]amultiply{place}[v{number}]"]
        voices += f"[v{number}]"
        count += 1
    resample = "" if rate == output_rate else f",{format_filter(output_rate, layout)}"
    if len(tracks) > 1:
        chains.append(f"{voices}amix=inputs={len(tracks)}:normalize=0:duration=longest,"
                      f"atrim=duration={sum(length for _start, length in spans):.6f}"
                      f"{resample}[mixed]")
    else:
        chains.append(f"{voices}anull{resample}[mixed]")
    parts = []
    for name, bookend in zip(("intro", "outro"), bookends, strict=True):
        if bookend is None:
            continue
        options += [*input_options(bookend.path), "-i", str(bookend.path)]
        chains.append(f"[{count}:a:0]{format_filter(output_rate, layout)},"
                      f"volume={bookend.gain_db + offset_db:.4f}dB:precision=float[{name}]")
        parts.append(name)
        count += 1
    if parts:
        order = [f"[{part}]" for part in ("intro",) if part in parts] + ["[mixed]"] + \
            [f"[{part}]" for part in ("outro",) if part in parts]
        chains.append(f"{''.join(order)}concat=n={len(order)}:v=0:a=1[program]")
        return options, chains, "[program]"
    return options, chains, "[mixed]"


def calibration_command(tracks: list[MixTrack], spans: list[tuple[float, float]],
                        work: Path, *, rate: int, layout: str, offset_db: float,
                        ceiling: float, step: float, bookends=(None, None)) -> list[str]:
    """One ffmpeg run hearing the mix over ``spans`` two ways: limited (``a``) and
    limited with ``step`` dB more (``b``), each into a meter."""
    options, chains, label = mix_graph(tracks, spans, work, rate=rate, layout=layout,
                                       offset_db=offset_db, bookends=bookends, tag="calib")
    meters, output = calibration_meters(label, ceiling=ceiling, step=step)
    return [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "level+info",
            *options, "-filter_complex", ";".join([*chains, *meters]), *output]


def calibrate_mix(tracks: list[MixTrack], spans: list[tuple[float, float]], work: Path, *,
                  rate: int, layout: str, offset_db: float, ceiling: float,
                  bookends=(None, None), step: float = 1.0) -> dict[str, float]:
    """The integrated loudness of the mix over ``spans`` limited, and limited ``step`` dB
    louder (see :func:`.encoding.limiter_correction`)."""
    return blocks_loudness([calibration_run(calibration_command(
        tracks, spans, work, rate=rate, layout=layout, offset_db=offset_db,
        ceiling=ceiling, step=step, bookends=bookends))])


def process_command(tracks: list[MixTrack], length: float, work: Path, temp_name: str, *,
                    rate: int, layout: str, channels: int, bitrate: str, offset_db: float,
                    ceiling: float, cuts: list[tuple[float, float]],
                    bookends=(None, None)) -> list[str]:
    """Pass 2: the whole mix (and bookends), pauses cut, limited, encoded into
    ``temp_name`` and metered (:func:`.encoding.finish_command`)."""
    options, chains, label = mix_graph(tracks, [(0.0, length)], work, rate=rate,
                                       layout=layout, offset_db=offset_db,
                                       bookends=bookends, tag="gain")
    cut = cut_filter(cuts, rate)
    chains.append(f"{label}{cut + ',' if cut else ''}{limiter_filter(ceiling)}[limited]")
    return finish_command(options, chains, "[limited]", temp_name, rate=rate,
                          channels=channels, bitrate=bitrate)
