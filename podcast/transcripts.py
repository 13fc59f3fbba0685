"""Transcripts: reading timed transcripts (WebVTT, SRT, Podcasting 2.0 JSON), writing them,
and making them by offline speech recognition (``podcast transcribe``, ``transcript: auto``).

Reading: :func:`read_cues` gives a file's cues as written; :func:`merge_turns` joins
consecutive cues of one named speaker into one line, the same for every format (the pages
show turns).  SRT names a speaker with ``Name:`` at the start of a cue, at a change of speaker.

Recognition runs faster-whisper (the optional ``asr`` extra) on the recording (a multitrack
episode: the sum of its speakers' tracks, each word named after the track loudest under it;
one mixed track names nobody).  Cues are cut at a change of speaker, at a sentence end and
to fit two subtitle lines of 32 characters, then moved onto the published timeline (intro,
cut pauses) and written as WebVTT, SRT and JSON into ``.podcast/transcripts/``, cached by
the master's input hash and the model.  A hand-made transcript is never touched.
"""

from __future__ import annotations

import html
import json
import os
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, PodcastError
from .files import atomic_write
from .model import Episode, Show, Timeline, TranscriptionSettings
from .progress import Phases, Progress

if TYPE_CHECKING:  # numpy is imported where audio is decoded (a slow import)
    import numpy as np
    from numpy.typing import NDArray

    Samples = NDArray[np.float32]

#: Subtitle geometry: two lines of 32 characters (the SRT/broadcast rule); the same cue is
#: one WebVTT line of at most 65.
LINE_CHARS = 32
CUE_LINES = 2
#: Voice activity settings measured on interviews: the defaults return one chunk.
VAD = {"min_silence_duration_ms": 500, "speech_pad_ms": 200}
#: Whisper's vocabulary: English-only checkpoints have 51864 tokens, multilingual 51865+.
MULTILINGUAL_VOCABULARY = 51865
#: The generated files, by suffix, with their podcast:transcript type.
FORMATS = {".vtt": "text/vtt", ".srt": "application/x-subrip", ".json": "application/json"}
#: Draft chapters: at least this far apart (s), and titled by this many words.
MIN_CHAPTER = 30.0
TITLE_WORDS = 6
#: The recogniser's audio rate (Whisper works at 16 kHz).
RATE = 16000
#: Longest piece of audio given to the model at once (s): bounds the memory.
WINDOW = 120.0
INSTALL_FIX = "install the speech recognition extra: pip install 'podcast[asr]'"

_CUE_TIME = re.compile(
    r"^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})")
_VOICE = re.compile(r"^<v(?:\.[^\s>]*)?\s+([^>]+)>")
_TAG = re.compile(r"<[^>]*>")
# SRT's convention: "Name: text" at a change of speaker (a name of at most four words).
_SRT_NAME = re.compile(r"^([^\W\d_][\w.'\-]*(?: [\w.'&\-]+){0,3}):\s+(\S.*)$")
_SENTENCE_END = (".", "?", "!")


@dataclass(frozen=True)
class Cue:
    """One timed line of a transcript (seconds); ``end`` is None when a format has none."""

    start: float
    speaker: str | None
    text: str
    end: float | None = None


@dataclass(frozen=True)
class Word:
    """One recognised word (recording seconds) and the speaker whose track was loudest."""

    start: float
    end: float
    text: str
    speaker: str | None = None


@dataclass(frozen=True)
class Transcription:
    """What :func:`transcribe` made: the files (by suffix), the cues on the published
    timeline, the draft chapters file if asked for, and whether it came from the cache."""

    files: dict[str, Path]
    cues: tuple[Cue, ...]
    chapters: Path | None
    cached: bool




# --------------------------------------------------------------------------- reading


def read_cues(text: str, suffix: str) -> tuple[Cue, ...]:
    """The cues of a transcript as written (``.vtt``, ``.srt`` or ``.json``), not merged."""
    if suffix == ".json":
        return _json_cues(text)
    return _timed_cues(text, srt=suffix == ".srt")


def merge_turns(cues: Iterable[Cue]) -> tuple[Cue, ...]:
    """Consecutive cues of one named speaker joined into one line (a turn), as people read
    them; cues with no speaker stay as they are.  The same for every format."""
    out: list[Cue] = []
    for cue in cues:
        if out and cue.speaker is not None and out[-1].speaker == cue.speaker:
            last = out[-1]
            out[-1] = Cue(last.start, last.speaker, f"{last.text} {cue.text}", cue.end)
        else:
            out.append(cue)
    return tuple(out)


def parse_timed_transcript(text: str) -> tuple[Cue, ...]:
    """Turns of a WebVTT or SRT transcript (start, ``<v Speaker>`` or SRT ``Name:``, text)."""
    srt = not text.lstrip("\ufeff").startswith("WEBVTT")
    return merge_turns(_timed_cues(text, srt=srt))


def parse_json_transcript(text: str) -> tuple[Cue, ...]:
    """Turns of a Podcasting 2.0 JSON transcript (``segments``: startTime/speaker/body)."""
    return merge_turns(_json_cues(text))


def _timed_cues(text: str, *, srt: bool) -> tuple[Cue, ...]:
    cues: list[Cue] = []
    speaker: str | None = None
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = block.strip().split("\n")
        for index, line in enumerate(lines):
            match = _CUE_TIME.match(line)
            if not match:
                continue
            body = " ".join(part.strip() for part in lines[index + 1:]).strip()
            voice = _VOICE.match(body)
            plain = html.unescape(_TAG.sub("", body)).strip()
            if voice:
                speaker = html.unescape(voice.group(1).strip())
            elif srt and (named := _SRT_NAME.match(plain)):
                speaker, plain = named.group(1), named.group(2)
            elif not srt:
                speaker = None  # WebVTT names each cue's voice
            if plain:
                cues.append(Cue(_seconds(match.group(1)), speaker, plain,
                                _seconds(match.group(2))))
            break
    return tuple(cues)


def _json_cues(text: str) -> tuple[Cue, ...]:
    try:
        segments = json.loads(text).get("segments") or []
    except (ValueError, AttributeError):
        return ()  # not a transcript we can show; the page still links to the file
    cues = []
    for segment in segments:
        if not isinstance(segment, dict) or not str(segment.get("body", "")).strip():
            continue
        start, end = segment.get("startTime", 0), segment.get("endTime")
        cues.append(Cue(float(start) if isinstance(start, (int, float)) else 0.0,
                        segment.get("speaker") or None, str(segment["body"]).strip(),
                        float(end) if isinstance(end, (int, float)) else None))
    return tuple(cues)


def _seconds(stamp: str) -> float:
    total = 0.0
    for part in stamp.replace(",", ".").split(":"):
        total = total * 60 + float(part)
    return total


# --------------------------------------------------------------------------- writing


def write_vtt(cues: Iterable[Cue]) -> str:
    """WebVTT: one line per cue, the speaker as ``<v Name>``."""
    blocks = ["WEBVTT\n"]
    for number, cue in enumerate(cues, 1):
        voice = f"<v {_escape(cue.speaker)}>" if cue.speaker else ""
        blocks.append(f"{number}\n{_stamp(cue.start, '.')} --> {_stamp(_end(cue), '.')}\n"
                      f"{voice}{_escape(cue.text)}\n")
    return "\n".join(blocks)


def write_srt(cues: Iterable[Cue]) -> str:
    """SRT: at most two lines of 32 characters, ``Name:`` where the speaker changes."""
    blocks, previous = [], None
    for number, cue in enumerate(cues, 1):
        lines = textwrap.wrap(_srt_text(cue, previous), LINE_CHARS)
        previous = cue.speaker
        blocks.append(f"{number}\n{_stamp(cue.start, ',')} --> {_stamp(_end(cue), ',')}\n"
                      + "\n".join(lines) + "\n")
    return "\n".join(blocks)


def write_json(cues: Iterable[Cue]) -> str:
    """Podcasting 2.0 JSON: one segment per cue (speaker only when known)."""
    segments = [{**({"speaker": cue.speaker} if cue.speaker else {}),
                 "startTime": round(cue.start, 3), "endTime": round(_end(cue), 3),
                 "body": cue.text} for cue in cues]
    return json.dumps({"version": "1.0.0", "segments": segments}, ensure_ascii=False,
                      indent=2) + "\n"


WRITERS = {".vtt": write_vtt, ".srt": write_srt, ".json": write_json}


def _srt_text(cue: Cue, previous_speaker: str | None) -> str:
    if cue.speaker and cue.speaker != previous_speaker:
        return f"{cue.speaker}: {cue.text}"
    return cue.text


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _end(cue: Cue) -> float:
    return cue.end if cue.end is not None else cue.start


def _stamp(seconds: float, mark: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{mark}{millis:03d}"


# --------------------------------------------------------------------------- cues from words


def cues_from_words(words: Iterable[Word]) -> tuple[Cue, ...]:
    """Words grouped into cues: a new cue at a change of speaker, after a sentence end, and
    before the text (with SRT's ``Name:``) would need a third line of 32 characters."""
    cues: list[Cue] = []
    current: list[Word] = []

    def flush() -> None:
        if current:
            cues.append(Cue(current[0].start, current[0].speaker,
                            " ".join(word.text for word in current), current[-1].end))
            current.clear()

    for word in words:
        if current and (word.speaker != current[0].speaker
                        or current[-1].text.endswith(_SENTENCE_END)
                        or not _fits(current, word, cues)):
            flush()
        current.append(word)
    flush()
    return tuple(cues)


def _fits(current: list[Word], word: Word, done: list[Cue]) -> bool:
    text = " ".join(w.text for w in [*current, word])
    speaker = current[0].speaker
    if speaker and (not done or done[-1].speaker != speaker):
        text = f"{speaker}: {text}"
    return len(textwrap.wrap(text, LINE_CHARS)) <= CUE_LINES


def on_timeline(cues: Iterable[Cue], timeline: Timeline) -> tuple[Cue, ...]:
    """Cues moved from the recording's times onto the published MP3's (intro, cuts)."""
    return tuple(replace(cue, start=round(timeline(cue.start), 3),
                         end=None if cue.end is None else round(timeline(cue.end), 3))
                 for cue in cues)


# --------------------------------------------------------------------------- draft chapters


def draft_chapters(cues: Iterable[Cue], hosts: set[str] | None, *,
                   min_length: float = MIN_CHAPTER) -> list[tuple[float, str]]:
    """Chapter proposals ``(start, title)``: a host's turn ending in a question starts a
    chapter titled by the question's first words; one closer than ``min_length`` to the
    previous, or titled much like it, is dropped.  ``hosts`` None (speakers unknown): any
    question.  A draft for the producer, never published as it is."""
    chapters: list[tuple[float, str]] = [(0.0, "Introduction")]
    for turn in merge_turns(cues):
        if hosts is not None and turn.speaker not in hosts:
            continue
        if not turn.text.rstrip().endswith("?"):
            continue
        question = re.split(r"(?<=[.!?])\s+", turn.text.strip())[-1]
        title = " ".join(question.rstrip("?").split()[:TITLE_WORDS])
        start, last_title = turn.start, chapters[-1][1]
        if start - chapters[-1][0] < min_length or _similar(title, last_title):
            continue
        chapters.append((start, title))
    return chapters


def _similar(one: str, other: str) -> bool:
    a, b = set(one.lower().split()), set(other.lower().split())
    return bool(a and b) and len(a & b) / len(a | b) > 0.5


def chapters_yaml(chapters: list[tuple[float, str]]) -> str:
    """Draft chapters as ``chapters:`` lines to copy into episode.md (recording times)."""
    lines = ["# Draft chapters from `podcast transcribe --chapters`: check each title and",
             "# time, then copy the list into episode.md.  Times are the recording's.",
             "chapters:"]
    for start, title in chapters:
        minutes, seconds = divmod(start, 60)
        lines.append(f'  - {{start: "{int(minutes)}:{seconds:04.1f}", '
                     f"title: {json.dumps(title, ensure_ascii=False)}}}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the model


def model_source(show: Show, override: str | None) -> str:
    """The model to load: ``--model``, else the show's ``transcription.model``."""
    model = override or show.transcription.model
    if not model:
        raise ConfigError("no speech recognition model is chosen", file=show.config_path,
                          field="transcription.model",
                          fix="set `transcription: {model: small}` in podcast.yaml (a model "
                              "name faster-whisper knows, or a CTranslate2 Whisper folder), "
                              "or pass --model")
    return model


def is_english_only(model: str) -> bool:
    """Whether a model name or CTranslate2 folder is an English-only Whisper (``*.en``, or
    a vocabulary of fewer than 51865 tokens)."""
    path = Path(model).expanduser()
    if path.name.lower().endswith(".en"):
        return True
    if not path.is_dir():
        return False
    size = _vocabulary_size(path)
    return size is not None and size < MULTILINGUAL_VOCABULARY


def _vocabulary_size(folder: Path) -> int | None:
    text_list, json_list = folder / "vocabulary.txt", folder / "vocabulary.json"
    if text_list.is_file():
        return sum(1 for _ in text_list.open(encoding="utf-8", errors="replace"))
    if json_list.is_file():
        return len(json.loads(json_list.read_text(encoding="utf-8")))
    return None


def check_model(show: Show, model: str) -> None:
    """Refuse, before any work, an English-only model on a show not in English."""
    language = show.language.split("-")[0].lower()
    if language != "en" and is_english_only(model):
        raise ConfigError(
            f"{model} is an English-only model and the show's language is "
            f"{show.language}: it would return nothing or invent English",
            file=show.config_path, field="transcription.model",
            fix="choose a multilingual model (a name without `.en`, e.g. `small`, or a "
                "folder of one) in `transcription.model` or with --model")


def preflight(show: Show, model: str | None = None) -> str:
    """The model to use, once it is known to suit the show and the extra is installed:
    checked before any audio is read or mastered."""
    import importlib.util

    source = model_source(show, model)
    check_model(show, source)
    if importlib.util.find_spec("faster_whisper") is None:
        raise PodcastError("speech recognition is not installed (faster-whisper is "
                           "missing)", fix=INSTALL_FIX)
    return source


def load_recogniser(settings: TranscriptionSettings, model: str):
    """A faster-whisper model (raises a PodcastError saying how to install the extra)."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise PodcastError("speech recognition is not installed (faster-whisper is "
                           "missing)", fix=INSTALL_FIX) from None
    path = Path(model).expanduser()
    try:
        return WhisperModel(str(path) if path.is_dir() else model, device=settings.device,
                            compute_type=settings.compute_type,
                            cpu_threads=min(4, os.cpu_count() or 1))
    except (OSError, RuntimeError, ValueError) as error:
        raise ConfigError(f"cannot load the speech recognition model {model}: {error}",
                          field="transcription.model",
                          fix="name a model faster-whisper knows (tiny, base, small, …; "
                              "downloaded once) or a CTranslate2 Whisper folder") from None


# --------------------------------------------------------------------------- recognition


def recognise(recogniser, audio, language: str, duration: float,
              progress: Progress | None = None) -> list[Word]:
    """Words of ``audio`` (a 16 kHz float array) with their times, in recording seconds;
    ``progress`` gets the seconds recognised, as a step named "transcribing".

    The audio goes to the model in windows of at most :data:`WINDOW` s cut in silences:
    faster-whisper's voice detection and features hold the whole input in memory (236 MB
    more for 10 minutes at once, measured), so a long episode would not fit otherwise."""
    words = []
    with Phases(progress).phase("transcribing", duration) as update:
        for first, last in speech_windows(audio):
            segments, _info = recogniser.transcribe(
                audio[first:last], language=language, beam_size=5, word_timestamps=True,
                vad_filter=True, vad_parameters=VAD, condition_on_previous_text=False)
            offset = first / RATE
            for segment in segments:
                words += [Word(round(float(w.start) + offset, 3),
                               round(float(w.end) + offset, 3), w.word.strip())
                          for w in (segment.words or []) if w.word.strip()]
                update(min(segment.end + offset, duration))
    return words


def speech_windows(audio, window: float | None = None) -> list[tuple[int, int]]:
    """``(first, last)`` sample spans of at most ``window`` s that together hold all the
    speech, cut in the middle of silences (voice detection run a minute at a time)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    limit = int((window or WINDOW) * RATE)
    options = VadOptions(**VAD)
    regions: list[list[int]] = []
    for at in range(0, len(audio), 60 * RATE):
        for found in get_speech_timestamps(audio[at:at + 60 * RATE], options):
            start, end = found["start"] + at, found["end"] + at
            if regions and start - regions[-1][1] < VAD["min_silence_duration_ms"] * RATE // 1000:
                regions[-1][1] = end  # one region cut by the minute's edge
            else:
                regions.append([start, end])
    spans: list[list[int]] = []
    for start, end in regions:
        if spans and end - spans[-1][0] <= limit:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    # Each span widened halfway into the silences around it (never past its neighbours).
    edges = [0] + [(a[1] + b[0]) // 2 for a, b in zip(spans[:-1], spans[1:], strict=True)]
    ends = edges[1:] + [len(audio)]
    return [(first, last) for first, last in zip(edges, ends, strict=True)] if spans else []


def name_speakers(words: list[Word], tracks: list[tuple[str | None, Samples]]) -> list[Word]:
    """Each word named after the track (``(name, 16 kHz array)``) loudest under it (None
    when that track has no ``name``)."""
    import numpy as np

    named = []
    for word in words:
        first, last = int(word.start * RATE), max(int(word.end * RATE), int(word.start * RATE) + 1)
        energy = [float(np.mean(np.square(track[first:last]))) if first < len(track) else 0.0
                  for _name, track in tracks]
        named.append(replace(word, speaker=tracks[int(np.argmax(energy))][0]))
    return named


def episode_audio(episode: Episode) -> tuple[Samples, list[tuple[str | None, Samples]]]:
    """The audio to recognise (16 kHz mono) and, for a multitrack episode, each speaker's
    ``(name, track)`` placed at its offset: their sum is recognised, the tracks name the
    words (music beds are left out of both)."""
    import numpy as np
    from faster_whisper import decode_audio

    if not episode.is_multitrack:
        return decode_audio(str(episode.audio), sampling_rate=RATE), []
    placed: list[tuple[str | None, Samples]] = []
    for track in episode.tracks:
        if not track.is_speech:
            continue
        samples = decode_audio(str(track.file), sampling_rate=RATE)
        shift = int(round(track.offset * RATE))
        samples = np.concatenate([np.zeros(shift, np.float32), samples]) if shift >= 0 \
            else samples[-shift:]
        placed.append((track.name, samples))
    length = max(len(samples) for _name, samples in placed)
    mix = np.zeros(length, np.float32)
    for _name, samples in placed:
        mix[:len(samples)] += samples
    return mix, placed


# --------------------------------------------------------------------------- the command


def transcribe(show: Show, episode: Episode, *, model: str | None = None,
               chapters: bool = False, timeline: Timeline | None = None,
               progress: Progress | None = None, min_chapter: float = MIN_CHAPTER
               ) -> Transcription:
    """``podcast transcribe``: the episode's transcript as WebVTT, SRT and JSON on the
    published timeline, in ``.podcast/transcripts/`` (made again only when the master's
    inputs or the model change); with ``chapters``, draft chapters written next to
    episode.md as ``chapters.draft.yaml`` (never over an existing one).

    ``timeline``: the master's (publish passes it); else found as mastering would.
    ``progress`` (:data:`podcast.progress.Progress`) follows the recognition.
    """
    source = preflight(show, model)
    draft = episode.folder / "chapters.draft.yaml"
    if chapters and draft.exists():
        raise PodcastError("the draft chapters file exists and may hold your edits",
                           file=draft, fix="rename or delete it, then run again")
    files, words_file = _cache_files(show, episode, source)
    cached = all(path.is_file() for path in [*files.values(), words_file])
    if cached:  # the files are on the published timeline already
        words = [Word(**item) for item in json.loads(words_file.read_text("utf-8"))]
        recorded = cues_from_words(words)
        cues = read_cues(files[".vtt"].read_text("utf-8"), ".vtt")
    else:
        words = _recognise_episode(show, episode, source, progress)
        recorded = cues_from_words(words)
        cues = on_timeline(recorded, timeline if timeline is not None
                           else episode_timeline_for(show, episode))
        _write_all(files, words_file, cues, words)
    return Transcription(files=files, cues=cues, cached=cached,
                         chapters=_write_draft(draft, recorded, episode, min_chapter)
                         if chapters else None)


def cache_location(show: Show, episode: Episode, model: str) -> tuple[Path, str]:
    """The cache folder and file stem of an episode's generated transcript: keyed by the
    master's input hash, the model and the show's language."""
    import hashlib

    from .publish import episode_input_hash

    key = json.dumps([episode_input_hash(show, episode), model, show.language])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return show.state_dir / "transcripts", f"{episode.slug}-{digest}"


def cached_transcript(show: Show, episode: Episode) -> dict[str, Path] | None:
    """The generated transcript files of the episode's current inputs and the show's model
    when the cache holds them all (a dry run reads them instead of recognising)."""
    files, words_file = _cache_files(show, episode, model_source(show, None))
    return files if all(path.is_file() for path in [*files.values(), words_file]) else None


def _cache_files(show: Show, episode: Episode, model: str) -> tuple[dict[str, Path], Path]:
    folder, stem = cache_location(show, episode, model)
    return ({suffix: folder / f"{stem}{suffix}" for suffix in FORMATS},
            folder / f"{stem}.words.json")


def episode_timeline_for(show: Show, episode: Episode) -> Timeline:
    """The master's timeline: the cached master's when there is one, else found as
    mastering would find it (intro, cut pauses)."""
    from .audio import episode_timeline
    from .publish import cached_master, episode_input_hash

    master = cached_master(show, episode, episode_input_hash(show, episode))
    return master.timeline if master is not None else episode_timeline(show, episode)


def _recognise_episode(show: Show, episode: Episode, model: str,
                       progress: Progress | None) -> list[Word]:
    recogniser = load_recogniser(show.transcription, model)
    audio, tracks = episode_audio(episode)
    language = show.language.split("-")[0].lower()
    words = recognise(recogniser, audio, language, len(audio) / RATE, progress)
    return name_speakers(words, tracks) if tracks else words


def _write_all(files: dict[str, Path], words_file: Path, cues: tuple[Cue, ...],
               words: list[Word]) -> None:
    """The three files, then the words (the cache's completion mark), each atomically."""
    from dataclasses import asdict

    for suffix, writer in WRITERS.items():
        _write_text(files[suffix], writer(cues))
    _write_text(words_file,
                json.dumps([asdict(word) for word in words], ensure_ascii=False) + "\n")


def _write_draft(path: Path, cues: tuple[Cue, ...], episode: Episode,
                 min_length: float) -> Path:
    names = {track.name for track in episode.tracks if track.role == "host" and track.name}
    speakers = {cue.speaker for cue in cues}
    hosts = names if names and speakers & names else None
    _write_text(path, chapters_yaml(draft_chapters(cues, hosts, min_length=min_length)))
    return path


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, text.encode("utf-8"))
