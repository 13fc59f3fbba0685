"""Mastering: any input -> cleaned, levelled, normalised, true-peak-limited, tagged CBR MP3.

This package's rooms, each one step or one concern:

- :mod:`.single`: the single-track master, its steps in order (:func:`master`,
  :func:`rehearse`, :func:`episode_timeline`); a multitrack episode is handed to
  :mod:`.multitrack`;
- :mod:`.results`: what a master makes, shared by both: its figures and report, the checks
  before and after, the hidden temp file renamed into place;
- :mod:`.analysis`: pass 1, the loudness of every 100 ms block of an input;
- :mod:`.voice`: where pass 1 hears speech (not music, not noise), every 100 ms;
- :mod:`.cleanup`: high-pass, hum notches, noise reduction;
- :mod:`.levelling`: noise floor, speech, the gain curve; inputs that cannot be mastered;
- :mod:`.encoding`: calibration and pass 2: level, limit, encode, measure;
- :mod:`.timeline`: pause cuts and the times they move (chapters, transcript cues);
- :mod:`.multitrack`: the multitrack master (alignment, decisions, the ffmpeg mix).

The names below are those callers use; each lives in the module named above.
"""

from __future__ import annotations

from .analysis import Analysis, analyse
from .encoding import (
    PEAK_MARGIN,
    calibrate,
    calibration_windows,
    codec_gain,
    gain_envelope,
    limiter_correction,
    window_mask,
)
from .levelling import (
    BLOCK,
    MIN_INPUT_LUFS,
    Levelling,
    SpeechProfile,
    level_gains,
    moving_average,
    sound_problem,
    speech_profile,
)
from .results import (
    MIN_SPEECH_COVERAGE,
    MasterFigures,
    MasterResult,
    chapter_problems,
    coverage_warning,
    tag_and_describe,
    timeline_figures,
)
from .single import (
    REHEARSAL_STEPS,
    Plan,
    Program,
    episode_timeline,
    master,
    program_timeline,
    rehearse,
    write_test_audio,
)
from .timeline import Timeline

__all__ = [
    "BLOCK", "MIN_INPUT_LUFS", "MIN_SPEECH_COVERAGE", "PEAK_MARGIN", "REHEARSAL_STEPS",
    "Analysis", "Levelling", "MasterFigures", "MasterResult", "Plan", "Program",
    "SpeechProfile", "Timeline", "analyse", "calibrate", "calibration_windows",
    "chapter_problems", "codec_gain", "coverage_warning", "episode_timeline",
    "gain_envelope", "level_gains", "limiter_correction", "master", "moving_average",
    "program_timeline", "rehearse", "sound_problem", "speech_profile", "tag_and_describe",
    "timeline_figures", "window_mask", "write_test_audio",
]
