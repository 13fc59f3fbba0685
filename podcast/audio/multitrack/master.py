"""The master of a multitrack episode: one recording per speaker (and music beds), mixed.

The steps of :func:`podcast.audio.master`, with a mix in the middle:

1. **Analysis**, per track (:mod:`podcast.audio.analysis`): decoded, cleaned (speakers:
   high-pass, hum), its block loudness logged; intro and outro as for one recording.
2. **Alignment** (:mod:`.alignment`): each track's offset against the first host's is
   estimated from the bleed and reported; applied only when asked (``--align``).
3. **Decisions** (:mod:`.decisions`): own speech against each track's floor and the other
   tracks' bleed, per-track levelling to one common level, gates, music ducking, and the
   mix's predicted loudness, from which one offset hits the target.
4. **Calibration, pass 2** (:mod:`.filtergraph`): the mix through the limiter heard to correct
   the loudness it shaves; then decode, clean, multiply each track by its envelope, pan,
   sum, cut long pauses, limit, encode and measure, streaming, as for one recording.
"""

from __future__ import annotations

import math
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import binaries
from ...config import MAX_TRACKS
from ...errors import AudioError, ConfigError
from ...loudness import SAMPLES_FIX, declared_duration, gated_loudness, probe, sample_problem
from ...model import Episode, Show, Track
from ...progress import Phases, Progress
from ...text import clock
from ..analysis import Analysis, analyse, channel_layout
from ..cleanup import denoise_filter, recording_cleanup
from ..denoise import denoised_episode
from ..encoding import (
    CALIBRATION_WINDOW,
    PEAK_MARGIN,
    calibration_windows,
    codec_gain,
    codec_gain_ahead,
    limiter_correction,
    run_encode,
    window_mask,
)
from ..levelling import BLOCK, sound_problem
from ..results import (
    MasterResult,
    chapter_problems,
    check_output,
    coverage_warning,
    scratch,
    tag_and_describe,
    timeline_figures,
    write_result,
)
from ..timeline import Timeline, pause_cuts
from .alignment import MAX_CHANGE, Estimate, estimate_offsets
from .decisions import (
    TrackCurve,
    TrackSeries,
    common_level,
    mix_loudness,
    own_speech,
    place,
    raw_mix_loudness,
    track_curves,
)
from .filtergraph import MAX_MIX_RATE, Bookend, MixTrack, calibrate_mix, process_command

#: The limiter calibration of a long mix hears at most this many windows (each one an
#: input per track).
MIX_CALIBRATION_WINDOWS = 10
#: Descriptors an ffmpeg process holds beside its inputs: standard streams, its libraries'
#: and the output (measured: 6 for ffmpeg 6 mixing 8 tracks; the rest is a margin).
FFMPEG_DESCRIPTORS = 16


@dataclass(frozen=True)
class Placement:
    """Where a track plays: its configured offset, the estimate, the one applied, why, and
    whether the estimate rests on bleed heard both ways (each voice in the other's track:
    the recorders' common clock) or one way (the estimate lines the bleed up with its
    source: the common clock less the bleed's delay)."""

    configured: float
    estimated: float | None
    applied: float
    note: str
    bleed: str | None = None  # "both ways" | "one way"

    def figures(self) -> dict:
        return {"configured_offset": self.configured,
                "estimated_offset": None if self.estimated is None
                else round(self.estimated, 4),
                "estimate_bleed": self.bleed,
                "alignment": self.note}


def bleed_ways(found: Estimate) -> str:
    """How the bleed an estimate rests on was heard: "both ways" or "one way"."""
    return "both ways" if found.peaks == 2 else "one way"


def reference_index(tracks: tuple[Track, ...]) -> int:
    """The track the others are aligned against: the first host's (else first speaker's)."""
    return next((index for index, track in enumerate(tracks) if track.role == "host"),
                next(index for index, track in enumerate(tracks) if track.is_speech))


def placements(tracks: tuple[Track, ...], estimates: list[Estimate | None], *,
               align: bool) -> list[Placement]:
    """Each track's offset: the configured one, or with ``align`` the estimate when it is
    sure and within :data:`.alignment.MAX_CHANGE` of it (a larger move is reported)."""
    reference = reference_index(tracks)
    out = []
    for index, (track, found) in enumerate(zip(tracks, estimates, strict=True)):
        if index == reference or not track.is_speech:
            out.append(Placement(track.offset, None, track.offset,
                                 "reference" if index == reference else "music: not aligned"))
            continue
        if found is None or not found.sure:
            out.append(Placement(track.offset, None, track.offset,
                                 "no estimate: too little bleed to correlate"))
            continue
        estimated = round(float(tracks[reference].offset + found.offset), 4)
        change = estimated - track.offset
        ways = bleed_ways(found)
        # One-way bleed cannot tell the recorders' offset from the bleed's own delay:
        # say so wherever the estimate is shown.
        caveat = "" if ways == "both ways" else " (one-way bleed: includes its delay)"
        if not align:
            note = f"estimated{caveat}, not applied (use --align)"
        elif abs(change) > MAX_CHANGE:
            note = (f"not applied: {change:+.3f} s from the configured offset is more than "
                    f"{MAX_CHANGE:g} s; check it and set `offset: {estimated:.3f}`{caveat}")
        else:
            out.append(Placement(track.offset, estimated, estimated,
                                 f"applied (--align){caveat}", ways))
            continue
        out.append(Placement(track.offset, estimated, track.offset, note, ways))
    return out


def _analyse_tracks(show: Show, episode: Episode, bar: Phases,
                    heard: Episode | None = None) -> list[Analysis]:
    """Pass 1 over each track of ``heard`` (the copies ``audio.denoise: deep`` made; by
    default ``episode``'s own files), named as the user's tracks in ``episode``."""
    settings = show.audio
    layout, _channels = channel_layout(settings.channels)
    analyses = []
    for track, read in zip(episode.tracks, (heard or episode).tracks, strict=True):
        what = f"track {track.file.name}"
        info = probe(read.file, what=what)
        filters = recording_cleanup(settings, info) if track.is_speech else ""
        # Metered at its own rate (the loudness is the same; no resampler to run).
        rate = info.sample_rate if 0 < info.sample_rate <= MAX_MIX_RATE \
            else settings.sample_rate
        with bar.phase(f"analysing {track.file.name}", declared_duration(info) or 0.0) \
                as update:
            analyses.append(analyse(info, rate=rate, layout=layout, what=what,
                                    progress=update, filters=filters))
    return analyses


def _analyse_bookends(show: Show, bar: Phases) -> dict[str, Analysis]:
    settings = show.audio
    layout, _channels = channel_layout(settings.channels)
    out = {}
    for what, path in (("intro", settings.intro), ("outro", settings.outro)):
        if path is None:
            continue
        info = probe(path, what=what)
        with bar.phase(f"analysing {info.path.name}", declared_duration(info) or 0.0) \
                as update:
            out[what] = analyse(info, rate=settings.sample_rate, layout=layout, what=what,
                                progress=update)
    return out


def _check_tracks(episode: Episode, analyses: list[Analysis], length: float) -> None:
    for track, analysis in zip(episode.tracks, analyses, strict=True):
        problem = sample_problem(analysis.info, analysis.momentary, analysis.times)
        if problem is not None:
            raise AudioError(f"the track {problem}", file=track.file, fix=SAMPLES_FIX)
        problem = sound_problem(analysis.momentary) if track.is_speech else None
        if problem is not None:
            raise AudioError(f"the track {problem}; mastering would only amplify noise",
                             file=track.file,
                             fix="check the recording (wrong file, muted microphone), or "
                                 "give a music bed `role: music`")
    problems = chapter_problems(episode, length)
    if problems:
        raise ConfigError("; ".join(problems), file=episode.source, field="chapters",
                          fix="correct the chapter start times or use the full recordings")


def mix_windows(length: float) -> int:
    """How many windows of a mix of ``length`` s the limiter calibration hears."""
    starts = calibration_windows(length)
    return 1 if starts is None else min(len(starts), MIX_CALIBRATION_WINDOWS)


def mix_descriptors(tracks: int, windows: int, bookends: int) -> int:
    """Descriptors the busiest ffmpeg process of a mix holds open: the calibration, which
    reads each track once per window, plus one gain envelope per track (and the intro and
    outro when it hears the mix whole), or pass 2 (each track and envelope once, and the
    bookends), and :data:`FFMPEG_DESCRIPTORS`."""
    calibration = tracks * windows + tracks + (bookends if windows == 1 else 0)
    encode = 2 * tracks + bookends
    return max(calibration, encode) + FFMPEG_DESCRIPTORS


def check_descriptors(episode: Episode, bookends: int, length: float) -> None:
    """Refuse a mix that would run out of file descriptors (``ulimit -n``) before ffmpeg
    opens them: it would fail midway with "Too many open files"."""
    needed = mix_descriptors(len(episode.tracks), mix_windows(length), bookends)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and needed > soft:
        room = "" if hard == resource.RLIM_INFINITY or needed <= hard else (
            f" (the hard limit is {hard}: ask the admin to raise it)")
        raise AudioError(f"mixing {len(episode.tracks)} tracks opens up to {needed} files "
                         f"at once, but this shell allows {soft} (`ulimit -n`)",
                         file=episode.source,
                         fix=f"raise the limit with `ulimit -n {needed}` in the shell that "
                             f"runs podcast, then master again{room}")


@dataclass(frozen=True)
class MixPlan:
    """Everything pass 2 needs, and the figures reported."""

    curves: list[TrackCurve]
    tracks: list[MixTrack]
    bookends: tuple[Bookend | None, Bookend | None]
    length: float
    offset_db: float
    predicted: float
    codec_gain: float
    correction: float
    ceiling: float
    timeline: Timeline


def _mix_tracks(show: Show, episode: Episode, analyses: list[Analysis],
                curves: list[TrackCurve], work: Path) -> list[MixTrack]:
    settings = show.audio
    size = curves[0].series.loud.size
    times = np.maximum(np.arange(1, size + 1) * BLOCK - 2 * BLOCK, 0.0)
    out = []
    for number, (track, analysis, curve) in enumerate(
            zip(episode.tracks, analyses, curves, strict=True)):
        filters = analysis.filters
        if track.is_speech and settings.denoise in ("light", "strong"):  # deep: .denoise
            # Adaptive (tracking) reduction: each track has its own room.
            tracked = denoise_filter(settings.denoise, work / f"denoise-{number}.cmd",
                                     rate=settings.sample_rate)
            filters = ",".join(part for part in (filters, tracked) if part)
        # The file the analysis read: the track, or its `audio.denoise: deep` copy.
        out.append(MixTrack(path=analysis.info.path.resolve(), offset=curve.series.offset,
                            filters=filters, times=times,
                            gains_db=curve.gains_db + track.gain, pan=track.pan,
                            rate=analysis.info.sample_rate))
    return out


def _bookends(bookends: dict[str, Analysis], reference: float
              ) -> tuple[tuple[Bookend | None, Bookend | None], list[np.ndarray]]:
    """Intro and outro at one gain each (their loudness on the speakers' level), and their
    blocks after it."""
    out: list[Bookend | None] = []
    blocks: list[np.ndarray] = []
    for what in ("intro", "outro"):
        analysis = bookends.get(what)
        if analysis is None:
            out.append(None)
            blocks.append(np.zeros(0))
            continue
        loudness = gated_loudness(analysis.momentary)
        gain = reference - loudness if math.isfinite(loudness) else 0.0
        out.append(Bookend(path=analysis.info.path.resolve(), gain_db=gain))
        blocks.append(np.asarray(analysis.momentary, dtype=float) + gain)
    return (out[0], out[1]), blocks


def mix_length(analyses: list[Analysis], offsets: list[float]) -> float:
    """Seconds from the mix's start to the end of its last track (each at its offset)."""
    return max(offset + analysis.duration
               for offset, analysis in zip(offsets, analyses, strict=True))


def _placed(episode: Episode, analyses: list[Analysis], offsets: list[float],
            length: float) -> list[TrackSeries]:
    """Every track's block series at its offset on the mix's grid of 100 ms blocks."""
    size = int(math.ceil(length / BLOCK - 1e-6))
    return [place(track, analysis.times, analysis.momentary, offset, size)
            for track, analysis, offset in zip(episode.tracks, analyses, offsets,
                                               strict=True)]


def plan_mix(show: Show, episode: Episode, analyses: list[Analysis],
             bookends: dict[str, Analysis], offsets: list[float], work: Path,
             bar: Phases) -> MixPlan:
    """Steps 3 and 4 up to pass 2: curves, prediction, limiter calibration."""
    settings = show.audio
    layout, _channels = channel_layout(settings.channels)
    length = mix_length(analyses, offsets)
    series = _placed(episode, analyses, offsets, length)
    curves = track_curves(series)
    speakers = [item for item in series if item.track.is_speech]
    reference = common_level(speakers, own_speech(speakers)[0])
    ends, end_blocks = _bookends(bookends, reference)
    mix = mix_loudness(curves)
    program = np.concatenate([end_blocks[0], mix, end_blocks[1]])
    encoder = codec_gain(rate=settings.sample_rate, layout=layout, bitrate=settings.bitrate)
    offset_db = settings.meter_target - encoder - gated_loudness(program)
    tracks = _mix_tracks(show, episode, analyses, curves, work)
    ceiling = settings.true_peak - PEAK_MARGIN
    starts = calibration_windows(length)
    if starts is None:
        spans, heard_ends, predicted = [(0.0, length)], ends, gated_loudness(
            program + offset_db)
    else:
        starts = np.linspace(0.0, length - CALIBRATION_WINDOW,
                             min(len(starts), MIX_CALIBRATION_WINDOWS))
        spans = [(float(start), CALIBRATION_WINDOW) for start in starts]
        mask = window_mask(_block_ends(series), starts)
        heard_ends, predicted = (None, None), gated_loudness(mix[mask] + offset_db)
    with bar.phase("calibrating", 1) as update:
        heard = calibrate_mix(tracks, spans, work, rate=settings.sample_rate, layout=layout,
                              offset_db=offset_db, ceiling=ceiling, bookends=heard_ends)
        update(1)
    correction = limiter_correction(predicted, heard["a"], heard["b"])
    timeline = _timeline(settings.max_pause, bookends, lambda: series)
    return MixPlan(curves=curves, tracks=tracks, bookends=ends, length=length,
                   offset_db=offset_db + correction, predicted=gated_loudness(
                       program + offset_db), codec_gain=encoder, correction=correction,
                   ceiling=ceiling, timeline=timeline)


def _encode(show: Show, plan: MixPlan, work: Path, temp: Path, bar: Phases,
            label: str) -> dict[str, float]:
    settings = show.audio
    layout, channels = channel_layout(settings.channels)
    command = process_command(plan.tracks, plan.length, work, temp.name,
                              rate=settings.sample_rate, layout=layout, channels=channels,
                              bitrate=settings.bitrate, offset_db=plan.offset_db,
                              ceiling=plan.ceiling, cuts=plan.timeline.program_cuts(),
                              bookends=plan.bookends)
    total = plan.length + plan.timeline.offset
    with bar.phase(f"mastering {label}", total) as update:
        return run_encode(command, temp, update, codec_gain=plan.codec_gain)


def _finish(show: Show, episode: Episode, output: Path, temp: Path, plan: MixPlan,
            places: list[Placement], measured: dict[str, float]) -> MasterResult:
    """Tag the temp MP3, write its figures (per track too) beside it, move both into place."""
    figures = tag_and_describe(show, episode, output, temp, plan.timeline, measured)
    tracks = [{**curve.figures(), **place.figures(),
               "levelling_min_db": _shift(curve.figures()["levelling_min_db"], plan),
               "levelling_max_db": _shift(curve.figures()["levelling_max_db"], plan)}
              for curve, place in zip(plan.curves, places, strict=True)]
    mix = mix_loudness(plan.curves)
    warning = coverage_warning(speech_seconds(plan.curves), figures.duration,
                               _coverage_hint(plan.curves))
    result = MasterResult(
        input={"tracks": len(plan.curves), "lufs": round(gated_loudness(mix), 2),
               "duration": round(plan.length, 3), "intro": plan.timeline.offset},
        output=figures,
        levelling={"offset_db": round(plan.offset_db, 2),
                   "predicted_lufs": round(plan.predicted, 2),
                   "codec_gain_db": round(plan.codec_gain, 2),
                   "limiter_correction_db": round(plan.correction, 2),
                   **timeline_figures(plan.timeline)},
        tracks=tracks, timeline=plan.timeline, warnings=[warning] if warning else [])
    write_result(result, output, temp)
    return result


def speech_seconds(curves: list[TrackCurve]) -> float:
    """Seconds of the mix in which some speaker talks (own speech, bleed taken out)."""
    spoken = np.zeros(curves[0].own.size, dtype=bool)
    for curve in curves:
        if curve.series.track.is_speech:
            spoken |= curve.own
    return float(spoken.sum()) * BLOCK


def _coverage_hint(curves: list[TrackCurve]) -> str:
    """What to check when little of the mix is speech: the music track that plays longest
    past the last speech, when one does, else the recordings' lengths."""
    spoken = [np.flatnonzero(curve.own) for curve in curves if curve.series.track.is_speech]
    speech_end = max(((found[-1] + 1) * BLOCK for found in spoken if found.size), default=0.0)
    music = [((np.flatnonzero(curve.series.present)[-1] + 1) * BLOCK, curve.series.track)
             for curve in curves
             if not curve.series.track.is_speech and curve.series.present.any()]
    if music:
        end, track = max(music, key=lambda item: item[0])
        if end > speech_end + 60:
            return (f"the music track {track.file.name} plays until "
                    f"{clock(end, hours=True)}, the speech ends at "
                    f"{clock(speech_end, hours=True)}: check its length or trim it")
    return "check the tracks' lengths (a recorder left running?) or trim them"


def _shift(value: float | None, plan: MixPlan) -> float | None:
    """A track's levelling (dB) with the mix's common offset: the gain its speech got."""
    return None if value is None else round(value + plan.offset_db, 2)


def master_tracks(show: Show, episode: Episode, output: Path, *, overwrite: bool = False,
                  progress: Progress | None = None, align: bool = False) -> MasterResult:
    """Master a multitrack ``episode`` into ``output`` (see :func:`podcast.audio.master`;
    ``align``: apply the offsets estimated from the bleed)."""
    output = Path(output)
    if len(episode.tracks) > MAX_TRACKS:  # (the config refuses them; an Episode made else)
        raise ConfigError(f"{len(episode.tracks)} tracks: at most {MAX_TRACKS} can be mixed",
                          file=episode.source, field="audio",
                          fix=f"mix some recordings beforehand to list at most {MAX_TRACKS}")
    check_output(output, overwrite)
    binaries.require()
    bar = Phases(progress)
    with binaries.job(), codec_gain_ahead(show.audio), scratch(output) as (work, temp):
        # audio.denoise: deep, the speech tracks read from their denoised copies; the
        # figures and errors keep naming the user's tracks (``episode``).
        heard = denoised_episode(show.audio, episode, work, bar)
        analyses = _analyse_tracks(show, episode, bar, heard)
        bookends = _analyse_bookends(show, bar)
        estimates = estimate_offsets([analysis.info.path for analysis in analyses],
                                     reference_index(episode.tracks))
        places = placements(episode.tracks, estimates, align=align)
        offsets = [place.applied for place in places]
        _check_tracks(episode, analyses, mix_length(analyses, offsets))
        check_descriptors(episode, len(bookends), mix_length(analyses, offsets))
        plan = plan_mix(show, episode, analyses, bookends, offsets, work, bar)
        measured = _encode(show, plan, work, temp, bar, output.name)
        return _finish(show, episode, output, temp, plan, places, measured)


def mix_timeline(show: Show, episode: Episode) -> Timeline:
    """The :class:`Timeline` :func:`master_tracks` gives a multitrack ``episode`` with its
    configured offsets (for chapters and transcript times published beside the MP3)."""
    bar = Phases(None)
    offsets = [track.offset for track in episode.tracks]

    def series() -> list[TrackSeries]:
        analyses = _analyse_tracks(show, episode, bar)
        return _placed(episode, analyses, offsets, mix_length(analyses, offsets))

    return _timeline(show.audio.max_pause, _analyse_bookends(show, bar), series)


def _timeline(max_pause: float | None, bookends: dict[str, Analysis],
              series: Callable[[], list[TrackSeries]]) -> Timeline:
    """After the intro, less the mix's pauses cut to ``max_pause``; ``series`` (the placed
    tracks) is asked for only when there are pauses to cut."""
    intro = 0.0
    if "intro" in bookends:
        intro = declared_duration(bookends["intro"].info) or bookends["intro"].duration
    if max_pause is None:
        return Timeline(offset=intro)
    placed = series()
    return Timeline(offset=intro, cuts=pause_cuts(
        _block_ends(placed), raw_mix_loudness(placed), max_pause, offset=intro))


def _block_ends(series: list[TrackSeries]) -> np.ndarray:
    """End times (s) of the mix grid's 100 ms blocks."""
    return np.arange(1, series[0].loud.size + 1) * BLOCK

