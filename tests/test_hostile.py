"""Hostile or broken input is refused with ``Error: … fix: …`` (exit 1), never with a hang,
a traceback, an allocation the size of the machine, or a terminal taken over.

Each case runs the `podcast` command in a subprocess, as a user would, on a tiny show made
here (the demo's podcast.yaml and artwork, one episode of four seconds of the demo's speech):

- YAML: an alias bomb (~250 bytes standing for 387 million items) as the value of
  ``type``, ``season`` or ``published``; a ``summary`` nested 5,000 deep; front matter and a
  podcast.yaml over the size limit; a podcast.yaml that is not UTF-8;
- control characters in every field that ends up in XML or an HTTP header;
- JSON transcripts with NaN, 1e999, ``segments: 5`` and other bad shapes, refused before
  anything is uploaded; an ``.html`` transcript published without its scripts;
- an episode folder named with terminal escape sequences;
- show notes of 20 kB of brackets, 780 kB of plain text and 20 MB: every use of them
  (ID3 text, feed description, pages) done in seconds, and right;
- a hypothesis property: any front matter of at most 64 KB is loaded or refused with a
  PodcastError within 10 s and 200 MiB.
"""

from __future__ import annotations

import json
import os
import re
import resource
import select
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from podcast.binaries import ffmpeg
from podcast.config import YAML_MAX_BYTES, YAML_MAX_DEPTH

REPO = Path(__file__).resolve().parent.parent
PODCAST = [sys.executable, "-c", "from podcast.cli import main; main()"]
SLUG = "001-hostile"
#: CPU seconds no refusal comes near (they take well under a second), far below the
#: minutes (or the MemoryError) the issue saw.  CPU time, not wall-clock: a busy machine
#: delays a run but does not make it do more work.
REFUSAL_CPU_SECONDS = 20
#: A run still going after this long has hung (a guard, not a measure of speed).
HANG_SECONDS = 300
#: Address space a refusing run may use: the interpreter and its imports take ~150 MiB of
#: it; an expanded alias bomb would take gigabytes (and die of MemoryError).
ADDRESS_SPACE = 1024 * 1024 * 1024


# --- a tiny show --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    """Four seconds of the demo's interview as WAV, made once by ffmpeg (a steady tone is
    refused by master as held music)."""
    path = tmp_path_factory.mktemp("speech") / "interview.wav"
    subprocess.run([ffmpeg(), "-v", "error", "-i",
                    str(REPO / "episodes" / "003-claire-dubois" / "interview.flac"),
                    "-t", "4", "-ac", "1", str(path)], check=True)
    return path


FRONT_MATTER = {
    "title": "Hostile input",
    "published": "2026-11-09T07:00:00+01:00",
    "audio": "interview.wav",
    "season": "1",
    "number": "1",
    "guests": "\n  - name: Ana Test",
}


@pytest.fixture
def show(tmp_path: Path, speech: Path) -> Path:
    """The demo's podcast.yaml and artwork with one episode, ``SLUG``; returns the config."""
    shutil.copytree(REPO / "assets", tmp_path / "assets")
    shutil.copy(REPO / "podcast.yaml", tmp_path / "podcast.yaml")
    folder = tmp_path / "episodes" / SLUG
    folder.mkdir(parents=True)
    shutil.copy(speech, folder / "interview.wav")
    write_episode(tmp_path / "podcast.yaml")
    return tmp_path / "podcast.yaml"


def write_episode(config: Path, notes: str = "Show notes.", **keys: str) -> Path:
    """episode.md of ``SLUG`` with FRONT_MATTER updated by ``keys`` (YAML source text)."""
    lines = [f"{key}: {value}" for key, value in {**FRONT_MATTER, **keys}.items()]
    path = config.parent / "episodes" / SLUG / "episode.md"
    path.write_text("---\n" + "\n".join(lines) + "\n---\n" + notes + "\n", encoding="utf-8")
    return path


def edit_show(config: Path, old: str, new: str) -> None:
    text = config.read_text(encoding="utf-8")
    assert old in text, f"the demo podcast.yaml changed: {old!r} is not in it"
    config.write_text(text.replace(old, new, 1), encoding="utf-8")


def _bounded() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def podcast(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``podcast --config CONFIG ARGS…`` in the show's folder."""
    return subprocess.run([*PODCAST, "--config", str(config), *args], capture_output=True,
                          text=True, cwd=config.parent, timeout=timeout,
                          env={**os.environ, "PODCAST_DEBUG": ""}, preexec_fn=_bounded)


def _children_cpu() -> float:
    """CPU seconds (user and system) used so far by this process's waited-for children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def assert_refused(config: Path, *words: str, command: tuple[str, ...] = (
        "publish", "--dry-run")) -> str:
    """The command exits 1 within REFUSAL_CPU_SECONDS of CPU time with ``Error: … fix: …``
    naming ``words``; no traceback, nothing but the message.  Returns stderr."""
    before = _children_cpu()
    result = podcast(config, *command, timeout=HANG_SECONDS)
    cpu = _children_cpu() - before
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == 1, output
    assert result.stderr.startswith("Error: "), output
    assert "\n  fix: " in result.stderr, output
    for word in words:
        assert word in result.stderr, f"{word!r} not in {result.stderr!r}"
    assert cpu < REFUSAL_CPU_SECONDS, f"took {cpu:.1f} CPU-s"
    assert len(result.stderr) < 2000, "the message quotes too much of the input"
    return result.stderr


# --- YAML ------------------------------------------------------------------------------------


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A flow list whose last element stands for ``width ** levels`` items (9^9 = 387
    million), in about 250 bytes: each level lists the previous one ``width`` times."""
    names = "abcdefghijklmnopqrstuvwxyz"
    parts = ["&a [" + ",".join(["l"] * width) + "]"]
    for level in range(1, levels):
        parts.append(f"&{names[level]} [" + ",".join([f"*{names[level - 1]}"] * width) + "]")
    return "[" + ",".join(parts) + "]"


@pytest.mark.parametrize("key", ["type", "season", "published"])
def test_an_alias_bomb_in_front_matter_is_refused_at_once(show: Path, key: str) -> None:
    assert len(alias_bomb()) < 300
    path = write_episode(show, **{key: alias_bomb()})
    line = next(number for number, text in enumerate(path.read_text().splitlines(), 1)
                if text.startswith(f"{key}:"))
    stderr = assert_refused(show, "episode.md", f"line {line}: ", "alias")
    assert "l,l" not in stderr  # no expansion reaches the message


def test_an_alias_bomb_in_podcast_yaml_is_refused_at_once(show: Path) -> None:
    edit_show(show, "author: Studio Rencontres", f"author: {alias_bomb()}")
    assert_refused(show, "podcast.yaml", "alias")


def test_a_summary_nested_5000_deep_is_refused_without_a_recursion_error(show: Path) -> None:
    write_episode(show, summary="[" * 5000 + "]" * 5000)
    assert_refused(show, "episode.md", f"more than {YAML_MAX_DEPTH} levels deep")


def test_front_matter_over_the_size_limit_is_refused(show: Path) -> None:
    write_episode(show, summary='"' + "long " * (YAML_MAX_BYTES // 5) + '"')
    assert_refused(show, "episode.md", f"{YAML_MAX_BYTES:,} allowed")


def test_a_podcast_yaml_over_the_size_limit_is_refused(show: Path) -> None:
    edit_show(show, "author: Studio Rencontres",
              "author: Studio Rencontres\n" + "# padding\n" * (YAML_MAX_BYTES // 10))
    assert_refused(show, "podcast.yaml", f"{YAML_MAX_BYTES:,} allowed")


def test_a_podcast_yaml_that_is_not_utf8_is_refused(show: Path) -> None:
    show.write_bytes(show.read_bytes().replace(b"Salons", "Salons \xe9".encode("latin-1")))
    assert_refused(show, "podcast.yaml", "UTF-8")


def test_a_huge_integer_is_refused_with_the_line(show: Path) -> None:
    write_episode(show, number="9" * 5000)
    stderr = assert_refused(show, "episode.md", "digits")
    assert "set_int_max_str_digits" not in stderr  # advice for programmers, not producers


# --- control characters in what goes into XML or HTTP ------------------------------------


@pytest.mark.parametrize(("old", "new", "field"), [
    ("email: studio@example.com", r'email: "studio@example.com\x01"', "email"),
    ("base_url: http://127.0.0.1:8000", r'base_url: "http://127.0.0.1:8000/\x0bx"', "base_url"),
    ("link: https://podcast.example.com", r'link: "https://podcast.example.com\n/x"', "link"),
    ("title: Salons & Rencontres", r'title: "Salons \e[31m& Rencontres"', "title"),
    ("author: Studio Rencontres", r'author: "Studio\x7fRencontres"', "author"),
    ("  - name: Julien Morel", r'  - name: "Julien\x9b2JMorel"', "hosts[0].name"),
    ("    href: https://podcast.example.com/julien",
     r'    href: "https://podcast.example.com/julien\0"', "hosts[0].href"),
])
def test_a_control_character_in_podcast_yaml_is_refused(show: Path, old: str, new: str,
                                                         field: str) -> None:
    edit_show(show, old, new)
    assert_refused(show, "podcast.yaml", f": {field}: ", "control character")


@pytest.mark.parametrize(("key", "value", "field"), [
    ("guid", r'"abc\x00def"', "guid"),
    ("title", r'"Hostile\ttitle\x1b]0;owned\x07"', "title"),
    ("guests", r'[{name: "Ana\u0085Test"}]', "guests[0].name"),
    ("chapters", r'[{start: 0, title: "In\rtro"}]', "chapters[0].title"),
    ("summary", r'"two\nlines are fine, a bell\a is not"', "summary"),
])
def test_a_control_character_in_front_matter_is_refused(show: Path, key: str, value: str,
                                                         field: str) -> None:
    write_episode(show, **{key: value})
    assert_refused(show, "episode.md", f": {field}: ", "control character")


# --- transcripts ---------------------------------------------------------------------------


def segment(start: str = "0.5", end: str = "1.5", body: str = '"Bonjour"') -> str:
    return f'{{"speaker": "Ana", "startTime": {start}, "endTime": {end}, "body": {body}}}'


@pytest.mark.parametrize(("document", "words"), [
    ('{"version": "1.0.0", "segments": [' + segment(start="NaN") + "]}", "NaN"),
    ('{"version": "1.0.0", "segments": [' + segment(end="Infinity") + "]}", "Infinity"),
    ('{"version": "1.0.0", "segments": [' + segment(end="1e999") + "]}", "1e999"),
    ('{"version": "1.0.0", "segments": 5}', '"segments"'),
    ("[1, 2]", '"segments"'),
    ('{"segments": [5]}', "segments[0]"),
    ('{"segments": [' + segment(start='"0:01"') + "]}", "segments[0].startTime"),
    ('{"segments": [' + segment(start="1" + "0" * 400) + "]}", "segments[0].startTime"),
    ('{"segments": [' + segment(start="3", end="2") + "]}", "segments[0].endTime"),
    ('{"segments": [' + segment(start="-1") + "]}", "segments[0].startTime"),
    ('{"segments": [' + segment(body="5") + "]}", "segments[0].body"),
    ('{"segments": [' + "[" * 100_000, "not valid JSON"),
    ('{"segments": [' + segment(), "not valid JSON"),
])
def test_a_broken_json_transcript_is_refused_before_anything_is_uploaded(
        show: Path, document: str, words: str) -> None:
    (show.parent / "episodes" / SLUG / "transcript.json").write_text(document)
    write_episode(show, transcript="transcript.json")
    assert_refused(show, "episode.md", "transcript", "transcript.json", words,
                   command=("publish",))
    assert not (show.parent / "public").exists()  # the storage folder was never made


class _Markup(HTMLParser):
    """Every tag, attribute and text of an HTML document, by the standard library's parser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


HOSTILE_TRANSCRIPT = """<!DOCTYPE html><html><head><title>Transcript</title>
<script>fetch('/steal?c=' + document.cookie)</script><style>body{display:none}</style></head>
<body onload="alert(1)"><h1>Transcript</h1>
<p><b>Ana:</b> Bonjour <a href="javascript:alert(2)">ici</a> et
<a href="https://example.org/notes">là</a>.</p>
<img src="x" onerror="alert(3)"><iframe src="https://evil.example"></iframe>
<svg><script>alert(4)</script></svg><form action="https://evil.example"><input></form>
<p style="position:fixed">Léo : merci &lt;b&gt; !</p></body></html>"""


def test_an_html_transcript_is_published_without_its_scripts(show: Path) -> None:
    (show.parent / "episodes" / SLUG / "transcript.html").write_text(HOSTILE_TRANSCRIPT)
    write_episode(show, transcript="transcript.html")
    result = podcast(show, "publish", "--now", "2026-11-20T12:00:00Z")
    assert result.returncode == 0, result.stdout + result.stderr
    published = list((show.parent / "public" / "media").glob(f"{SLUG}-*.html"))
    assert len(published) == 1
    markup = _Markup()
    markup.feed(published[0].read_text(encoding="utf-8"))
    assert not {"script", "style", "iframe", "svg", "form", "input"} & set(markup.tags)
    assert not [name for name, _ in markup.attributes if name.startswith("on")
                or name in ("style", "action")]
    links = [value for name, value in markup.attributes if name in ("href", "src")]
    assert links and all(re.match(r"(https://|x$)", link) for link in links), links
    text = " ".join("".join(markup.text).split())
    assert "Ana: Bonjour ici et là." in text
    assert "Léo : merci <b> !" in text  # the text is kept, as text
    assert "fetch(" not in text and "alert" not in text


# --- the terminal ------------------------------------------------------------------------


def test_an_escape_sequence_in_a_folder_name_does_not_reach_the_terminal(show: Path) -> None:
    hostile = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\x9b1A\r"
    (show.parent / "episodes" / f"002{hostile}").mkdir()
    stderr = assert_refused(show, "not a valid slug")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", stderr), repr(stderr)


# --- show notes --------------------------------------------------------------------------

#: CPU seconds for each use of the notes (about 1 for 20 MB; quadratic work on them
#: takes minutes).  CPU time: a busy machine delays the test, it does not fail it.
NOTES_CPU_SECONDS = 10


def _notes_cases() -> dict[str, str]:
    words = [f"word{index}" for index in range(130_000)]
    plain = "\n\n".join(" ".join(words[i:i + 13]) for i in range(0, len(words), 13))
    return {
        "20 kB of brackets": "[" * 10_000 + "]" * 10_000,
        "20 kB of link openings": "[a](" * 5_000,
        "780 kB of plain text": plain[:780_000],
        "20 MB of plain text": (plain + "\n\n") * 20,
    }


NOTES = _notes_cases()


def _plain(markdown_text: str) -> list[str]:
    """The words of notes with no markup in them (an independent reading: whitespace)."""
    return markdown_text.split()


@pytest.mark.parametrize("name", list(NOTES))
def test_every_use_of_long_notes_is_fast_and_right(show: Path, name: str) -> None:
    """ID3 text, feed description and page summary of hostile or huge notes, in bounded
    CPU time."""
    from podcast.config import load_episodes, load_show
    from podcast.feed import NotesRenderer
    from podcast.site import summary_text
    from podcast.tags import NOTES_MAX_CHARS, notes_text

    write_episode(show, notes=NOTES[name])
    the_show = load_show(show)
    (episode,) = load_episodes(the_show)
    renderer = NotesRenderer(the_show)

    started = time.process_time()
    tag_text = notes_text(episode.notes)
    tag_seconds = time.process_time() - started
    started = time.process_time()
    description, content = renderer.description(episode, page_url="https://x.example/p")
    summary = summary_text(renderer.notes_html(episode.notes))
    feed_seconds = time.process_time() - started
    assert tag_seconds < NOTES_CPU_SECONDS and feed_seconds < NOTES_CPU_SECONDS, (
        tag_seconds, feed_seconds)

    assert len(tag_text) <= NOTES_MAX_CHARS
    assert len(description.encode("utf-8")) <= 4000
    if name.endswith("plain text"):
        words = _plain(episode.notes)
        kept = tag_text.rstrip("…").split()
        assert kept[:-1] == words[:len(kept) - 1]  # the first words, in order
        assert len(tag_text) > NOTES_MAX_CHARS - 100  # cut near the limit, not far before
        # The feed's full content has every word, in order (then guests and chapters).
        assert re.sub(r"<[^>]*>", " ", content).split()[:len(words)] == words
        assert summary.split()[:5] == words[:5]
    else:  # brackets are text: kept as typed, cut at the limit
        assert set(tag_text.rstrip("…")) <= set(episode.notes)


# --- any front matter: loaded or refused, in bounded time and memory -----------------------

#: CPU seconds for loading one front matter (a few ms; an alias bomb takes minutes).
LOAD_CPU_SECONDS = 10
LOAD_BYTES = 200 * 1024 * 1024
FRONT_MATTER_MAX = 64 * 1024

_WORKER = r"""
import json, sys, time, traceback, tracemalloc
from pathlib import Path
from podcast.config import load_episode, load_show
from podcast.errors import PodcastError

show, folder = load_show(sys.argv[1]), Path(sys.argv[2])
for line in sys.stdin:
    (folder / "episode.md").write_bytes(json.loads(line).encode("utf-8", "surrogatepass"))
    tracemalloc.start()
    started = time.process_time()  # CPU time: the machine's load does not inflate it
    try:
        load_episode(show, folder)
        outcome, detail = "loaded", ""
    except PodcastError as exc:
        outcome, detail = "refused", str(exc)
    except BaseException:
        outcome, detail = "crashed", traceback.format_exc()
    seconds = time.process_time() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"outcome": outcome, "detail": detail, "seconds": seconds,
                      "peak": peak}), flush=True)
"""


class Loader:
    """A process that loads each front matter it is given and says how it went, with the
    CPU time and the peak of Python allocations (tracemalloc); its address space is capped."""

    def __init__(self, config: Path) -> None:
        self.folder = config.parent / "episodes" / SLUG
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(config), str(self.folder)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=_bounded)

    def load(self, text: str) -> dict:
        self.process.stdin.write(json.dumps(text) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], HANG_SECONDS)
        assert ready, f"no answer within {HANG_SECONDS} s (hung) for {text[:200]!r}"
        line = self.process.stdout.readline()
        assert line, f"the loader died on {text[:200]!r}"
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def loader(tmp_path_factory, speech: Path):
    root = tmp_path_factory.mktemp("property")
    shutil.copytree(REPO / "assets", root / "assets")
    shutil.copy(REPO / "podcast.yaml", root / "podcast.yaml")
    (root / "episodes" / SLUG).mkdir(parents=True)
    shutil.copy(speech, root / "episodes" / SLUG / "interview.wav")
    process = Loader(root / "podcast.yaml")
    yield process
    process.close()


_KEYS = ["title", "published", "audio", "season", "number", "type", "explicit", "guests",
         "chapters", "transcript", "guid", "image", "summary", "soundbites", "other"]
_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40),
    st.sampled_from(["interview.wav", "2026-11-09T07:00:00+01:00", "2026-13-45", "0:30",
                     "full", "trailer", "serial", "~", "&a x", "*a", "!!binary eA==",
                     "!!python/object/apply:os.system [id]", "<<", "1e999", ".nan"]))
_value = st.recursive(_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.sampled_from(_KEYS + ["name", "start"]),
                                                 inner, max_size=5)), max_leaves=30)


@st.composite
def _structured(draw) -> str:
    """Front matter with the keys of an episode (a valid core, most of the time) and
    values of any YAML shape, written in the flow style that can nest deepest."""
    data = {"title": "T", "published": "2026-11-09T07:00:00Z", "audio": "interview.wav"}
    if draw(st.integers(0, 3)) == 0:
        data = {}
    data.update(draw(st.dictionaries(st.sampled_from(_KEYS), _value, max_size=4)))
    lines = [f"{key}: {json.dumps(value, default=str)}" for key, value in data.items()]
    return "\n".join(lines)


@st.composite
def _bombs(draw) -> str:
    """Aliases of aliases, deep nesting and long runs, in random sizes."""
    kind = draw(st.sampled_from(["bomb", "deep flow", "deep block", "long", "keys"]))
    size = draw(st.integers(1, 60_000))
    if kind == "bomb":
        key = draw(st.sampled_from(["title", "type", "season", "published", "guests"]))
        return f"{key}: {alias_bomb(draw(st.integers(1, 12)), draw(st.integers(1, 12)))}"
    if kind == "deep flow":
        return "summary: " + "[" * size + "]" * draw(st.integers(0, size))
    if kind == "deep block":
        depth = min(size, 150)
        return "summary:\n" + "".join(" " * (2 * i + 2) + "- \n" for i in range(depth))
    if kind == "long":
        return "title: " + draw(st.sampled_from(["x", "[", "{", "'", '"', "&", "- "])) * size
    return "\n".join(f"k{index}: {index}" for index in range(size // 8))


_yamlish = st.text(st.sampled_from(list("abc:-[]{},&*!|>'\"#? \n\t%@`~.0123456789\\")),
                   max_size=3000)
front_matters = st.one_of(_structured(), _bombs(), _yamlish).filter(
    lambda text: len(text.encode("utf-8", "surrogatepass")) <= FRONT_MATTER_MAX)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(front=front_matters, notes=st.text(max_size=200))
def test_any_front_matter_is_loaded_or_refused_in_bounded_time_and_memory(
        loader: Loader, front: str, notes: str) -> None:
    answer = loader.load(f"---\n{front}\n---\n{notes}")
    event(answer["outcome"])
    assert answer["outcome"] in ("loaded", "refused"), answer["detail"]
    assert answer["seconds"] < LOAD_CPU_SECONDS, answer
    assert answer["peak"] < LOAD_BYTES, answer
    if answer["outcome"] == "refused":
        assert "episode.md" in answer["detail"] and len(answer["detail"]) < 2000, answer
