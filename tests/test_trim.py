"""Dead-air trimming (``audio.max_pause``): a 10 s pause becomes 1.5 s, and every chapter
and transcript time after it moves by the same amount, in the MP3's CHAP frames, the
published JSON chapters and the published transcript.

The pause is measured on the master with ffmpeg's meter (the run of 400 ms blocks at the
room-noise level), not with the product's code.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import Passage, interview, momentary_series

from podcast.audio.timeline import Timeline, pause_cuts, retime_transcript
from podcast.config import load_show
from podcast.publish import publish
from podcast.tags import read_tags

pytestmark = pytest.mark.audio

SLUG = "002-marc-olivier"
#: Host 0-20 s, a 10 s pause, the guest 30-50 s.
SESSION = [Passage("host", 0, 20), Passage("phone", 30, 50)]
CHAPTERS = ('  - {start: "0:00", title: "Introduction"}\n'
            '  - {start: "0:35", title: "Après la pause"}\n'
            '  - {start: "0:45", title: "Un conseil"}\n')
VTT = ("WEBVTT\n\n00:00:05.000 --> 00:00:08.000\n<v Julien Morel>Avant.\n\n"
       "00:00:25.000 --> 00:00:26.000\n<v Julien Morel>(silence)\n\n"
       "00:00:36.500 --> 00:00:40.000\n<v Marc Olivier>Après.\n")


@pytest.fixture(scope="module")
def published(tmp_path_factory, request) -> tuple[Path, dict]:
    demo_show = request.getfixturevalue("demo_show_module")
    root = demo_show.parent
    config = demo_show.read_text().replace("  sample_rate: 44100\n",
                                           "  sample_rate: 44100\n  max_pause: 1.5\n")
    demo_show.write_text(config)
    folder = root / "episodes" / SLUG
    interview(folder / "pause.wav", SESSION, {"host": -20.0, "phone": -30.0}, rate=44100,
              channels=1, noise_dbfs=-60.0, noise_color="pink")
    text = (folder / "episode.md").read_text()
    text = text.replace("audio: interview.m4a", "audio: pause.wav")
    text = re.sub(r"chapters:\n(  - .*\n)+", "chapters:\n" + CHAPTERS, text)
    (folder / "episode.md").write_text(text)
    (folder / "transcript.vtt").write_text(VTT)
    show = load_show(demo_show)
    publish(show, [SLUG], dry_run=False, storage_url=None,
            now=datetime(2026, 12, 1, tzinfo=timezone.utc), echo=lambda _line: None)
    manifest = json.loads((root / "public" / ".podcast" / "manifest.json").read_text())
    media = next(entry for entry in manifest["media"] if entry["slug"] == SLUG) \
        if isinstance(manifest["media"], list) else manifest["media"][SLUG]
    return root / "public", media


@pytest.fixture(scope="module")
def demo_show_module(tmp_path_factory) -> Path:
    import shutil

    repo = Path(__file__).resolve().parent.parent
    root = tmp_path_factory.mktemp("trim")
    for name in ("assets", "episodes"):
        shutil.copytree(repo / name, root / name)
    shutil.copy(repo / "podcast.yaml", root / "podcast.yaml")
    return root / "podcast.yaml"


def test_the_10_s_pause_becomes_1_5_s(published):
    public, media = published
    mp3 = public / media["key"]
    # 8.5 s of the 10 s between the passages are gone, and nothing else.
    assert media["duration"] == pytest.approx(50.0 - 8.5, abs=0.15)
    # The silence left is the recording's own silence less those 8.5 s, whole, in one run:
    # blocks at the room tone's level (within 3 dB of the quietest block after the first
    # second), counted in the recording and in the MP3 by the same independent meter.  The
    # pause is measured between speech blocks, so the silence around it is 1.5 s plus the
    # quiet ends of the words either side (about 0.4 s here); the levelling holds the room
    # tone flat there, so the MP3 shows that silence whole.
    recording = public.parent / "episodes" / SLUG / "pause.wav"
    before, after = _longest_silence(recording), _longest_silence(mp3)
    assert len(after) == pytest.approx(len(before) - 85, abs=2)
    assert 1.2 <= len(after) * 0.1 + 0.3 <= 2.2


def _longest_silence(path: Path) -> list[float]:
    """The longest run of 100 ms block ends at the room tone's level after the first second."""
    series = [(t, m) for t, m in momentary_series(path) if t >= 1.0]
    floor = min(m for _t, m in series)
    runs: list[list[float]] = [[]]
    for t, m in series:
        if m <= floor + 3.0:
            runs[-1].append(t)
        elif runs[-1]:
            runs.append([])
    return max(runs, key=len)


def test_chapters_move_with_the_cut_in_the_mp3_and_the_json(published):
    public, media = published
    chapters = read_tags(public / media["key"])["chapters"]
    assert [start for start, _end, _title in chapters] == pytest.approx(
        [0.0, 26.5, 36.5], abs=0.11)
    document = json.loads((public / media["chapters_key"]).read_text())
    assert [c["startTime"] for c in document["chapters"]] == pytest.approx(
        [0.0, 26.5, 36.5], abs=0.11)


def test_transcript_cues_move_with_the_cut(published):
    public, media = published
    text = (public / media["transcript_key"]).read_text()
    cues = re.findall(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})", text)

    def seconds(clock: str) -> float:
        hours, minutes, secs = clock.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(secs)

    starts = [seconds(start) for start, _end in cues]
    assert starts[0] == pytest.approx(5.0)
    assert starts[2] == pytest.approx(36.5 - 8.5, abs=0.11)
    # A cue inside the cut snaps to it: at most the kept room tone after the host.
    assert 20.0 <= starts[1] <= 21.0


def test_the_timeline_maps_and_snaps():
    timeline = Timeline(offset=3.0, cuts=((21.0, 29.0),))
    assert timeline(10.0) == 13.0
    assert timeline(25.0) == 24.0  # inside the cut: at the cut
    assert timeline(35.0) == 30.0
    srt = b"1\n00:00:35,000 --> 00:00:36,000\nx\n"
    assert retime_transcript(srt, ".srt", timeline) == b"1\n00:00:30,000 --> 00:00:31,000\nx\n"
    data = json.dumps({"segments": [{"startTime": 35.0, "endTime": 36.0}]}).encode()
    moved = json.loads(retime_transcript(data, ".json", timeline))
    assert moved["segments"][0] == {"startTime": 30.0, "endTime": 31.0}


def test_dead_air_before_the_first_word_and_after_the_last_is_shortened_too():
    """6 s of room tone, speech 6-20 s, a 10 s pause, speech 30-50 s, 8 s of room tone:
    the pause keeps 0.75 s a side, the ends keep max_pause (1.5 s) next to the speech."""
    times = np.round(np.arange(0.4, 58.0 + 1e-9, 0.1), 3)  # 400 ms blocks, ending at t
    starts = times - 0.4
    speech = ((starts >= 6.0) & (times <= 20.0)) | ((starts >= 30.0) & (times <= 50.0))
    momentary = np.where(speech, -20.0, -62.0) + np.random.default_rng(1).normal(0, 0.5,
                                                                                 times.size)
    cuts = pause_cuts(times, momentary, 1.5)
    assert [edge for cut in cuts for edge in cut] == pytest.approx(
        [0.0, 4.5, 20.8, 29.2, 51.5, 58.0], abs=0.11)
    # With a 0.35 s intro, the cut edges still fall on the master's 100 ms grid.
    for start, end in pause_cuts(times, momentary, 1.5, offset=0.35):
        assert round((start + 0.35) * 10, 6) % 1 == 0 and round((end + 0.35) * 10, 6) % 1 == 0


def _cue_starts(text: str) -> list[float]:
    clocks = re.findall(r"(\d\d):(\d\d):(\d\d\.\d{3}) -->", text)
    return [int(h) * 3600 + int(m) * 60 + float(s) for h, m, s in clocks]


def test_a_new_transcript_moves_by_the_stored_timeline_without_the_masters(published):
    """A CI checkout has no masters: a corrected transcript is published on the timeline
    the manifest recorded for the master (its cut), and nothing is mastered again."""
    public, media = published
    root = public.parent
    folder = root / "episodes" / SLUG
    (folder / "transcript.vtt").write_text(VTT.replace("Après.", "Après la pause."))
    masters = root / ".podcast" / "masters"
    for path in masters.iterdir():
        path.unlink()
    report = publish(load_show(root / "podcast.yaml"), [SLUG], dry_run=False,
                     storage_url=None, now=datetime(2026, 12, 1, tzinfo=timezone.utc),
                     echo=lambda _line: None)
    assert report.mastered == []
    manifest = json.loads((public / ".podcast" / "manifest.json").read_text())
    entry = manifest["media"][SLUG]
    assert entry["key"] == media["key"] and entry["transcript_key"] != media["transcript_key"]
    text = (public / entry["transcript_key"]).read_text()
    assert "Après la pause." in text
    assert _cue_starts(text)[2] == pytest.approx(36.5 - 8.5, abs=0.11)


def test_with_an_intro_the_published_transcript_moves_by_its_length(tmp_path, demo_show):
    """No max_pause, a 2 s intro: the published WebVTT's cues (what a player's captions
    show) start 2 s later than the producer's file, like the chapters."""
    intro = demo_show.parent / "assets" / "intro.wav"
    interview(intro, [Passage("host", 0, 2)], {"host": -20.0}, rate=44100, channels=1)
    demo_show.write_text(demo_show.read_text().replace(
        "  sample_rate: 44100\n", "  sample_rate: 44100\n  intro: assets/intro.wav\n"))
    publish(load_show(demo_show), [SLUG], dry_run=False, storage_url=None,
            now=datetime(2026, 12, 1, tzinfo=timezone.utc), echo=lambda _line: None)
    public = demo_show.parent / "public"
    entry = json.loads((public / ".podcast" / "manifest.json").read_text())["media"][SLUG]
    source = (demo_show.parent / "episodes" / SLUG / "transcript.vtt").read_text()
    published_text = (public / entry["transcript_key"]).read_text()
    assert [start - 2.0 for start in _cue_starts(published_text)] == pytest.approx(
        _cue_starts(source), abs=0.01)
    chapters = json.loads((public / entry["chapters_key"]).read_text())["chapters"]
    assert chapters[0]["startTime"] == pytest.approx(2.0, abs=0.01)
