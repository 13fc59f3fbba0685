"""The single-track master: any input -> cleaned, levelled, normalised, limited, tagged MP3.

Streaming passes over the audio, so memory does not grow with the episode's length.  Each
step has its module: :mod:`.cleanup` (high-pass, hum notches, noise reduction),
:mod:`.analysis` (pass 1: the loudness of every block), :mod:`.levelling` (noise floor,
speech, the gain curve), :mod:`.encoding` (calibration and pass 2: level, limit, encode,
measure) and :mod:`.timeline` (pause cuts and the times they move); this module runs the
steps in order (:func:`master`); :mod:`.results` holds what it makes.

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
   quiet) and the loudness the limiter shaves off (:func:`calibrate`: the gain curve
   through the limiter, and 1 dB louder, over 6 s windows covering a tenth of a program
   over 2 minutes, all of a shorter one; the windows are heard by two ffmpeg runs at
   once).
   :func:`limiter_correction` turns them into one more gain.
3. **Encode.**  One ffmpeg decodes and cleans (with ``audio.denoise``, the noise
   reduction learns from a pause played before the recording, :class:`Preroll`), applies
   the gain curve (a 10 Hz gain envelope read as another audio input, resampled to the
   audio rate and multiplied in: smooth, per sample), cuts long pauses
   (``audio.max_pause``), limits peaks (``alimiter``, ceiling below the true-peak target),
   encodes CBR MP3 with libmp3lame and meters the very samples it encodes (``ebur128``);
   the encoder's own gain (step 2) added, that is the MP3's loudness (within a few
   hundredths of a LU: tests/test_master_figures.py).  The true peak, which the encoding
   itself moves, is read from the MP3's decoded samples (:mod:`.truepeak`).

Nothing half-made is ever left: the MP3 is written to a hidden temp file in the output's
folder, tagged (:func:`podcast.tags.write_tags`), and renamed into place at the end.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import binaries
from ..errors import AudioError, ConfigError
from ..loudness import (
    SAMPLES_FIX,
    declared_duration,
    gated_loudness,
    measure,
    probe,
    sample_problem,
)
from ..model import AudioSettings, Episode, Show
from ..progress import Phases, Progress
from ..text import clock
from .analysis import Analysis, analyse, channel_layout
from .cleanup import (
    cleanup_filter,
    denoise_filter,
    quietest_stretch,
    recording_cleanup,
    resolve_hum,
)
from .denoise import denoised_episode
from .encoding import (
    CALIBRATION_WINDOW,
    ENVELOPE_RATE,
    PEAK_MARGIN,
    Preroll,
    calibrate,
    calibration_windows,
    codec_gain,
    codec_gain_ahead,
    encode_command,
    gain_envelope,
    limiter_correction,
    mp3_duration,
    run_encode,
    sample_gains,
    window_mask,
)
from .levelling import BLOCK, Levelling, level_gains, sound_problem, speech_profile
from .results import (
    MasterResult,
    chapter_problems,
    check_output,
    coverage_warning,
    scratch,
    tag_and_describe,
    timeline_figures,
    write_result,
)
from .timeline import Timeline, pause_cuts

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
    def voice(self) -> np.ndarray:
        """Where pass 1 heard speech (:mod:`.voice`), per block over the whole program."""
        return np.concatenate([analysis.speech if analysis.speech is not None
                               else np.zeros(analysis.times.size, dtype=bool)
                               for _what, analysis in self.parts])

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


def _analyse_inputs(settings: AudioSettings, episode: Episode, bar: Phases, *,
                    only_intro: bool = False) -> list[tuple[str, Analysis]]:
    """Probe, then analyse the intro, the interview and the outro, in playing order
    (``only_intro``: the intro alone)."""
    layout, _channels = channel_layout(settings.channels)
    parts = [("intro", settings.intro), ("audio file", episode.audio),
             ("outro", settings.outro)]
    if only_intro:
        parts = parts[:1]
    infos = [(what, probe(path, what=what)) for what, path in parts if path is not None]
    analyses = []
    for what, info in infos:
        # Only the interview is cleaned: an intro or outro is music, finished already.
        filters = recording_cleanup(settings, info) if what == "audio file" else ""
        with bar.phase(f"analysing {info.path.name}", declared_duration(info) or 0.0) as update:
            analyses.append((what, analyse(info, rate=settings.sample_rate, layout=layout,
                                           what=what, progress=update, filters=filters)))
    return analyses


def _check_program(program: Program, episode: Episode) -> None:
    """Refuse an interview without speech and chapters past its end, before anything is
    written."""
    for what, analysis in program.parts:
        problem = sample_problem(analysis.info, analysis.momentary, analysis.times)
        if problem is not None:
            # The user's recording, not the copy `audio.denoise: deep` had the master read.
            raise AudioError(f"the {what} {problem}", fix=SAMPLES_FIX,
                             file=episode.audio if what == "audio file" else analysis.info.path)
    problem = sound_problem(program.main.momentary, program.main.speech)
    if problem is not None:
        raise AudioError(f"the audio file {problem}; mastering would only amplify noise",
                         file=episode.audio,
                         fix="check the recording: wrong track, muted microphone, a "
                             "recorder left running, or an empty export")
    problems = chapter_problems(episode, program.main.duration)
    if problems:
        raise ConfigError("; ".join(problems), file=episode.source, field="chapters",
                          fix="correct the chapter start times or use the full recording")


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
    if episode.is_multitrack:
        from .multitrack.master import mix_timeline  # (a one-file show never loads it)

        with binaries.job():
            return mix_timeline(show, episode)
    with binaries.job():
        parts = _analyse_inputs(settings, episode, Phases(None),
                                only_intro=settings.max_pause is None)
    if settings.max_pause is None:
        intro = next((analysis for what, analysis in parts if what == "intro"), None)
        return Timeline(offset=(declared_duration(intro.info) or intro.duration)
                        if intro else 0.0)
    return program_timeline(settings, Program.join(parts))


def _level(settings: AudioSettings, program: Program) -> tuple[Levelling, float]:
    """The gain curve aimed off target by the encoder's own gain, and that gain."""
    layout, _channels = channel_layout(settings.channels)
    encoder = codec_gain(rate=settings.sample_rate, layout=layout, bitrate=settings.bitrate)
    curve = level_gains(program.times, program.momentary, settings.meter_target - encoder,
                        voice=program.voice)
    return curve, encoder


def _plan(settings: AudioSettings, program: Program, curve: Levelling, encoder: float,
          work: Path, bar: Phases) -> Plan:
    """Measure what the limiter takes on (part of) the program and write the envelope
    that adds it back (``work/gain.f32``)."""
    layout, _channels = channel_layout(settings.channels)
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
    correction = limiter_correction(predicted, heard["a"], heard["b"])
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
    if settings.denoise in ("off", "deep"):  # deep ran before the analysis (.denoise)
        return {"filters": filters, "preroll": None}
    main = program.main
    index = [what for what, _analysis in program.parts].index("audio file")
    stretch = quietest_stretch(main.times, speech_profile(main.momentary, main.speech).speech)
    commands = work / "denoise.cmd"
    if stretch is None:
        tracked = denoise_filter(settings.denoise, commands, rate=settings.sample_rate)
        filters = [",".join(part for part in (chain, tracked) if part) if number == index
                   else chain for number, chain in enumerate(filters)]
        return {"filters": filters, "preroll": None}
    start, stop = stretch
    preroll = Preroll(index=index, path=main.info.path.resolve(), start=start,
                      length=stop - start,
                      denoise=denoise_filter(settings.denoise, commands, stop - start,
                                             rate=settings.sample_rate))
    return {"filters": filters, "preroll": preroll}


def _encode(settings: AudioSettings, program: Program, plan: Plan, temp: Path,
            bar: Phases, label: str) -> dict[str, float]:
    """Pass 2 into ``temp`` (in its folder); the MP3's figures (:func:`run_encode`)."""
    layout, channels = channel_layout(settings.channels)
    command = encode_command(
        program.sources, plan.envelope, temp.name, rate=settings.sample_rate, layout=layout,
        channels=channels, bitrate=settings.bitrate, ceiling=plan.ceiling,
        filters=plan.filters or program.filters, cuts=plan.timeline.program_cuts(),
        preroll=plan.preroll)
    with bar.phase(f"mastering {label}", program.length) as update:
        return run_encode(command, temp, update, codec_gain=plan.codec_gain)


def _coverage_hint(program: Program) -> str:
    """What to check when little of a master is speech: an intro or outro longer than the
    recording, else the recording itself."""
    what, longest = max(program.parts, key=lambda part: part[1].duration)
    if what != "audio file":
        return (f"the {what} {longest.info.path.name} lasts "
                f"{clock(longest.duration, hours=True)}, the recording "
                f"{clock(program.main.duration, hours=True)}: check its length or trim it")
    return ("check the recording's length (a recorder left running?) or trim it; "
            "`audio.max_pause` shortens long pauses")


def _finish(show: Show, episode: Episode, output: Path, temp: Path, program: Program,
            plan: Plan, measured: dict[str, float]) -> MasterResult:
    """Tag the temp MP3, write its figures beside it, and move both into place."""
    main = program.main
    # Described as the user recorded it, not as the copy `audio.denoise: deep` made.
    recording = main.info if main.info.path == episode.audio else \
        probe(episode.audio, what="audio file")
    figures = tag_and_describe(show, episode, output, temp, plan.timeline, measured)
    speech = float(speech_profile(main.momentary, main.speech).speech.sum()) * BLOCK
    warning = coverage_warning(speech, figures.duration, _coverage_hint(program))
    result = MasterResult(
        input={**recording.to_dict(), "lufs": round(gated_loudness(main.momentary), 2),
               "lra": main.lra, "duration": round(main.duration, 3),
               "intro": program.intro_length},
        output=figures, levelling={**plan.curve.summary(),
                                   "codec_gain_db": round(plan.codec_gain, 2),
                                   "limiter_correction_db": round(plan.correction, 2),
                                   **timeline_figures(plan.timeline)},
        timeline=plan.timeline, warnings=[warning] if warning else [])
    write_result(result, output, temp)
    return result


# --------------------------------------------------------------------------- entry points


def master(show: Show, episode: Episode, output: Path, *, overwrite: bool = False,
           progress: Progress | None = None, align: bool = False) -> MasterResult:
    """Master ``episode``'s audio into the tagged MP3 ``output`` and measure it.

    Also writes the figures beside it as ``output.with_suffix(".json")``.  Raises
    AudioError for a missing, silent, truncated or undecodable input, or an existing
    output without ``overwrite``; ConfigError for a chapter past the end of the audio;
    PodcastError for a missing, broken or too old ffmpeg.  Nothing is left at ``output``
    unless the whole master succeeded, and whatever exception ends it (KeyboardInterrupt,
    SystemExit on SIGTERM included), no ffmpeg it started and no temp file outlives it.

    A multitrack episode (``audio:`` a list of tracks) is mixed by
    :func:`.multitrack.master.master_tracks`; ``align`` applies the track offsets it
    estimates from the bleed (they are reported either way).  ``progress`` is called as
    each step advances (:data:`podcast.progress.Progress`).
    """
    if episode.is_multitrack:
        from .multitrack.master import master_tracks  # (a one-file show never loads it)

        return master_tracks(show, episode, output, overwrite=overwrite, progress=progress,
                             align=align)
    output = Path(output)
    check_output(output, overwrite)
    binaries.require()
    bar = Phases(progress)
    with binaries.job(), codec_gain_ahead(show.audio), scratch(output) as (work, temp):
        heard = denoised_episode(show.audio, episode, work, bar)  # audio.denoise: deep
        program = Program.join(_analyse_inputs(show.audio, heard, bar))
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
    bar = Phases(None)
    with binaries.job():
        on_step("analysis")
        layout, _channels = channel_layout(settings.channels)
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
        duration = mp3_duration(temp)
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
