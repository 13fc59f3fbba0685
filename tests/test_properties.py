"""Property-based tests (hypothesis): rules that must hold for *every* input, not just examples.

- The front-matter parser returns exactly what was written, whatever the text, line endings
  or byte-order mark, and any text at all either parses or gives a clear ConfigError.
- ``load_episode`` keeps any printable title, guest name and chapter list as typed.
- The log parsers and the IAB counting rules: counts match an independent model of the
  rules, never depend on line order or on how lines are split into files, and are the
  same whichever of the three log formats carries the requests.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from podcast.config import load_episode, load_show, split_front_matter
from podcast.errors import ConfigError
from podcast.model import Catalog, Media, Show
from podcast.stats.ingest import ingest_sources
from podcast.stats.sources import expand_sources
from podcast.stats.store import load_downloads, rejected_counts

REPO = Path(__file__).resolve().parent.parent
EPISODE_MD = Path("episode.md")

# Text a user can type in a title: any printable character, including quotes, colons,
# '#', '---', emoji and right-to-left scripts (control characters are rejected on purpose).
printable = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029\x85"),
    min_size=1, max_size=60,
).map(str.strip).filter(bool)

# Scalar YAML values that survive ``safe_dump`` -> ``safe_load`` unchanged.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**9, 10**9), printable,
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
front_matter = st.dictionaries(
    st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True),
    st.one_of(scalars, st.lists(scalars, max_size=4)),
    max_size=8,
)
body_text = st.text(max_size=300)


def _document(data: dict, body: str) -> str:
    return "---\n" + yaml.safe_dump(data, allow_unicode=True, sort_keys=False) + "---\n" + body


# --- the front-matter parser ---------------------------------------------------------------


@given(data=front_matter, body=body_text)
def test_front_matter_round_trips_whatever_was_written(data: dict, body: str) -> None:
    parsed, notes = split_front_matter(_document(data, body), EPISODE_MD)
    assert parsed == data
    assert notes == body.strip()


@given(data=front_matter, body=body_text)
def test_line_endings_and_byte_order_mark_change_nothing(data: dict, body: str) -> None:
    assume("\r" not in body)
    unix = split_front_matter(_document(data, body), EPISODE_MD)
    windows = split_front_matter("\ufeff" + _document(data, body).replace("\n", "\r\n"),
                                 EPISODE_MD)
    assert windows[0] == unix[0]
    assert windows[1].replace("\r\n", "\n") == unix[1]


@given(st.text(max_size=400))
def test_any_text_parses_or_gives_a_clear_config_error(text: str) -> None:
    try:
        data, notes = split_front_matter(text, EPISODE_MD)
    except ConfigError as exc:
        assert str(EPISODE_MD) in str(exc)  # the message names the file
    else:
        assert isinstance(data, dict) and isinstance(notes, str)


@given(year=st.integers(1000, 9999), month=st.integers(0, 99), day=st.integers(0, 99))
def test_impossible_dates_in_front_matter_are_config_errors(year: int, month: int,
                                                            day: int) -> None:
    """YAML turns ``2026-13-45`` into a date and Python rejects it: that must not escape
    as a raw ValueError traceback."""
    text = f"---\ntitle: x\npublished: {year}-{month:02d}-{day:02d}\n---\nnotes\n"
    try:
        data, _ = split_front_matter(text, EPISODE_MD)
    except ConfigError as exc:
        assert "published" in str(exc) or "YAML" in str(exc)
    else:
        assert "published" in data


@given(st.sampled_from([
    '!!python/object/apply:os.system ["touch {marker}"]',
    '!!python/object/new:subprocess.check_output [["touch", "{marker}"]]',
    "!!python/name:os.system",
]))
@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_yaml_tags_never_run_code(tag: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        marker = Path(folder) / "pwned"
        text = f"---\ntitle: {tag.format(marker=marker)}\n---\n"
        with pytest.raises(ConfigError):
            split_front_matter(text, EPISODE_MD)
        assert not marker.exists()


# --- load_episode -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def show_dir() -> Path:
    """One private copy of the demo show for the whole module (hypothesis runs many times)."""
    folder = Path(tempfile.mkdtemp(prefix="props-show-"))
    shutil.copytree(REPO / "assets", folder / "assets")
    shutil.copy(REPO / "podcast.yaml", folder / "podcast.yaml")
    (folder / "episodes").mkdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


chapter_starts = st.lists(st.integers(0, 5 * 3600), min_size=0, max_size=6, unique=True).map(
    sorted)


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


@given(title=printable, guests=st.lists(printable, max_size=3), starts=chapter_starts,
       chapter_titles=st.lists(printable, min_size=6, max_size=6), notes=body_text)
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_load_episode_keeps_what_the_producer_typed(show_dir: Path, title: str,
                                                    guests: list[str], starts: list[int],
                                                    chapter_titles: list[str],
                                                    notes: str) -> None:
    show = load_show(show_dir / "podcast.yaml")
    folder = Path(tempfile.mkdtemp(dir=show_dir / "episodes"))
    episode_dir = folder.parent / "ep-1"
    try:
        shutil.rmtree(episode_dir, ignore_errors=True)
        folder.rename(episode_dir)
        (episode_dir / "interview.wav").write_bytes(b"RIFF")
        data = {
            "title": title,
            "published": "2026-11-24T07:00:00+01:00",
            "audio": "interview.wav",
            "guests": [{"name": name} for name in guests],
            "chapters": [{"start": _clock(s), "title": t}
                         for s, t in zip(starts, chapter_titles, strict=False)],
        }
        (episode_dir / "episode.md").write_text(_document(data, notes), encoding="utf-8")
        episode = load_episode(show, episode_dir)
    finally:
        shutil.rmtree(episode_dir, ignore_errors=True)
    assert episode.title == title
    assert [g.name for g in episode.guests] == guests
    assert all(g.role == "guest" for g in episode.guests)
    assert [c.start for c in episode.chapters] == [float(s) for s in starts]
    assert [c.title for c in episode.chapters] == chapter_titles[: len(starts)]
    # episode.md is read as text: "\r\n" and a lone "\r" end a line like "\n" (as in
    # Markdown itself), so the notes are what was typed with its line endings made "\n".
    assert episode.notes == notes.replace("\r\n", "\n").replace("\r", "\n").strip()


# --- access logs and the IAB counting rules -------------------------------------------------
#
# Generated requests are written out as real log files (combined, S3 server access log,
# CloudFront) and read by the real ingest (DuckDB).  The expected downloads come from an
# independent model of the README's counting rules written below in plain Python.

SHORT = Media(slug="ep-short", key="media/ep-short-111111111111.mp3", bytes=300_000,
              sha256="1" * 64, duration=25.0, tag_size=20_000, bitrate=96_000,
              input_hash="a")
LONG = Media(slug="ep-long", key="media/ep-long-222222222222.mp3", bytes=2_000_000,
             sha256="2" * 64, duration=160.0, tag_size=50_000, bitrate=96_000, input_hash="b")
CATALOG = Catalog(media={m.slug: m for m in (SHORT, LONG)})
#: ID3 tag + one minute of audio, or the whole file when shorter (SPEC "Counting rules").
THRESHOLD = {SHORT.key: SHORT.bytes, LONG.key: LONG.tag_size + 96_000 // 8 * 60}
APPS = ("AppleCoreMedia/1.0.0.21E236 (iPhone; U; CPU OS 17_4 like Mac OS X; fr_fr)",
        "Podcasts/1650.20 CFNetwork/1410.1 Darwin/22.6.0",
        "Spotify/8.9.10 iOS/17.4 (iPhone15,2)", "AntennaPod/3.4.0")
BOTS = ("Googlebot/2.1 (+http://www.google.com/bot.html)", "atc/1.0 watchOS/10.4 (Watch6,2)")
DAYS = (date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22))
BUCKET = "show-bucket"


@dataclass(frozen=True)
class Request:
    """One logged request, before it is written in any log format."""

    day: date
    listener: int  # who: an address (v4 or v6) and an agent
    key: str
    method: str
    status: int
    sent: int
    v6_suffix: int  # IPv6 listeners change their low 64 bits; the /64 stays

    @property
    def ip(self) -> str:
        if self.listener % 2:
            return f"198.51.100.{self.listener}"
        return f"2001:db8:0:{self.listener:x}::{self.v6_suffix >> 16:x}:{self.v6_suffix & 0xFFFF:x}"

    @property
    def agent(self) -> str:
        return (BOTS + APPS)[self.listener % (len(BOTS) + len(APPS))]


requests_strategy = st.lists(st.builds(
    Request,
    day=st.sampled_from(DAYS),
    listener=st.integers(1, 12),
    key=st.sampled_from([SHORT.key, SHORT.key, LONG.key, LONG.key, "feed.xml"]),
    method=st.sampled_from(["GET"] * 6 + ["HEAD"]),
    status=st.sampled_from([200, 200, 206, 206, 206, 304, 404]),
    sent=st.one_of(st.just(2), st.integers(0, 2_000_000), st.sampled_from(
        [SHORT.bytes, LONG.bytes, THRESHOLD[LONG.key], THRESHOLD[LONG.key] - 1])),
    v6_suffix=st.integers(1, 2**32 - 1),  # two hextets: 2**32 would write a 5-digit one
), min_size=1, max_size=60)


def expected_downloads(requests: list[Request]) -> Counter:
    """The README's counting rules (IAB v2.x), modelled directly: downloads per (day, episode)."""
    sent: Counter = Counter()
    for r in requests:
        if r.method != "GET" or r.status not in (200, 206) or r.key not in THRESHOLD:
            continue
        if r.agent in BOTS or (r.status == 206 and r.sent <= 2):
            continue
        address = r.ip if ":" not in r.ip else r.ip.split("::")[0]  # the /64
        sent[(r.day, r.key, address, r.agent)] += r.sent
    slug = {SHORT.key: SHORT.slug, LONG.key: LONG.slug}
    return Counter((day, slug[key]) for (day, key, _, _), total in sent.items()
                   if total >= THRESHOLD[key])


def _stamp(r: Request, index: int) -> str:
    # One second per line keeps every line unique (two files never have equal content).
    seconds = index % 86400
    return (f"{r.day.strftime('%d/%b/%Y')}:{seconds // 3600:02d}:{seconds // 60 % 60:02d}:"
            f"{seconds % 60:02d} +0000")


def combined_log(requests: list[Request]) -> str:
    return "".join(
        f'{r.ip} - - [{_stamp(r, i)}] "{r.method} /{BUCKET}/{r.key} HTTP/1.1" {r.status} '
        f'{r.sent if r.method == "GET" and r.sent else "-"} "-" "{r.agent}"\n'
        for i, r in enumerate(requests))


def s3_log(requests: list[Request]) -> str:
    lines = []
    for i, r in enumerate(requests):
        error = "NoSuchKey" if r.status == 404 else "-"
        sent = r.sent if r.method == "GET" and r.sent else "-"
        lines.append(
            f"79a5owner {BUCKET} [{_stamp(r, i)}] {r.ip} - REQ{i:08d} "
            f"REST.{r.method}.OBJECT {r.key} \"{r.method} /{BUCKET}/{r.key} HTTP/1.1\" "
            f"{r.status} {error} {sent} 2000000 12 11 \"-\" \"{r.agent}\" - hostid= SigV4 "
            f"ECDHE-RSA-AES128-GCM-SHA256 AuthHeader {BUCKET}.s3.amazonaws.com TLSv1.2 - -\n")
    return "".join(lines)


CLOUDFRONT_FIELDS = ("date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem "
                     "sc-status cs(Referer) cs(User-Agent) cs-uri-query")


def cloudfront_log(requests: list[Request]) -> str:
    lines = ["#Version: 1.0", f"#Fields: {CLOUDFRONT_FIELDS}"]
    for i, r in enumerate(requests):
        clock = _stamp(r, i).split(":", 1)[1].split(" ")[0]
        sent = r.sent if r.method == "GET" else 0
        lines.append("\t".join([
            r.day.isoformat(), clock, "CDG50-C1", str(sent), r.ip, r.method,
            "d111111abcdef8.cloudfront.net", f"/{r.key}", str(r.status), "-",
            quote(r.agent, safe="/;()+,:"), "-"]))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def stats_show() -> Show:
    """A show whose stats database is recreated for every example."""
    folder = Path(tempfile.mkdtemp(prefix="props-stats-"))
    shutil.copytree(REPO / "assets", folder / "assets")
    shutil.copy(REPO / "podcast.yaml", folder / "podcast.yaml")
    yield load_show(folder / "podcast.yaml")
    shutil.rmtree(folder, ignore_errors=True)


def ingest_texts(show: Show, texts: list[str]) -> tuple[list[tuple], dict[str, int]]:
    """Ingest ``texts`` as log files into an empty database: (downloads, rejections).

    The listener-hash key is kept between calls, so equal inputs give equal hashes.
    """
    for path in show.state_dir.glob("stats.duckdb*"):
        path.unlink()
    folder = Path(tempfile.mkdtemp(dir=show.root))
    try:
        paths = []
        for index, text in enumerate(texts):
            paths.append(folder / f"access-{index}.log")
            paths[-1].write_text(text, encoding="utf-8")
        ingest_sources(show, CATALOG, expand_sources([str(p) for p in paths]))
    finally:
        shutil.rmtree(folder)
    downloads = [(d.day, d.slug, d.listener) for d in load_downloads(show, None, None)]
    return downloads, rejected_counts(show, None, None)


def _per_day(downloads: list[tuple]) -> Counter:
    return Counter((day, slug) for day, slug, _ in downloads)


# Each example is a real ingest into a new DuckDB database: few examples, but each one a
# full log file of up to 60 requests.
STATS_SETTINGS = settings(max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])


@pytest.mark.slow
@given(requests=requests_strategy)
@STATS_SETTINGS
def test_ingested_counts_follow_the_counting_rules(stats_show: Show,
                                                   requests: list[Request]) -> None:
    downloads, rejected = ingest_texts(stats_show, [combined_log(requests)])
    assert _per_day(downloads) == expected_downloads(requests)
    assert rejected["not_get"] == sum(r.method != "GET" for r in requests)
    assert rejected["bad_status"] == sum(r.method == "GET" and r.status not in (200, 206)
                                         for r in requests)


@pytest.mark.slow
@given(requests=requests_strategy, seed=st.randoms(use_true_random=False))
@STATS_SETTINGS
def test_counts_never_depend_on_line_order(stats_show: Show, requests: list[Request],
                                           seed) -> None:
    shuffled = list(requests)
    seed.shuffle(shuffled)
    # Same lines, other order: renumbering would change the time stamps, so shuffle text.
    lines = combined_log(requests).splitlines(keepends=True)
    order = sorted(range(len(lines)), key=lambda i: seed.random())
    assert (ingest_texts(stats_show, ["".join(lines[i] for i in order)])
            == ingest_texts(stats_show, ["".join(lines)]))


@pytest.mark.slow
@given(requests=requests_strategy.filter(lambda r: len(r) >= 2), cut=st.floats(0.01, 0.99))
@STATS_SETTINGS
def test_splitting_a_log_file_in_two_changes_nothing(stats_show: Show,
                                                     requests: list[Request],
                                                     cut: float) -> None:
    lines = combined_log(requests).splitlines(keepends=True)
    at = min(max(1, round(len(lines) * cut)), len(lines) - 1)
    whole = ingest_texts(stats_show, ["".join(lines)])
    assert ingest_texts(stats_show, ["".join(lines[:at]), "".join(lines[at:])]) == whole


@pytest.mark.slow
@given(requests=requests_strategy)
@STATS_SETTINGS
def test_the_three_log_formats_count_the_same(stats_show: Show,
                                              requests: list[Request]) -> None:
    expected = expected_downloads(requests)
    for render in (combined_log, s3_log, cloudfront_log):
        downloads, rejected = ingest_texts(stats_show, [render(requests)])
        assert _per_day(downloads) == expected, render.__name__
        assert rejected["not_get"] == sum(r.method != "GET" for r in requests), render.__name__
