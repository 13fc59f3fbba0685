"""`podcast stats import`: platform exports -> plays per platform, episode and day.

Exports are written here in the layouts the platforms use (Spotify for Creators: a CSV
with the day, the episode's title and its plays and streams; Apple Podcasts Connect: a
tab-delimited report with the episode's GUID and plays), then made hostile: a BOM, titles
holding commas, localised numbers, repeated lines, a re-import, an overlapping export,
and broken files.  The stored figures are read back from the database and compared with
sums the test computes from what it wrote.
"""

from __future__ import annotations

import codecs
import json
import random
import unicodedata
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from stats_fixtures import podcast_cli

from podcast.cli import main
from podcast.config import load_episodes, load_show
from podcast.stats.platforms import parse_day, parse_plays

#: A title holding a comma and quotes, so the export must quote it.
COMMA_TITLE = 'Sonia Mamin, le salon devient "phygital"'
DAYS = [date(2026, 11, 10) + timedelta(days=i) for i in range(10)]
#: Thousands written as spreadsheets of several locales write them.
LOCALISED = (lambda n: f"{n:,}".replace(",", " "),        # French: 1 234
             lambda n: f"{n:,}".replace(",", "\u202f"),   # French, narrow no-break space
             lambda n: f"{n:,}".replace(",", "."),        # German: 1.234
             lambda n: f"{n:,}",                          # English: 1,234 (quoted)
             lambda n: f"{n:,}".replace(",", "'"),        # Swiss: 1'234
             str)


@pytest.fixture
def show(demo_show: Path) -> Path:
    episode = demo_show.parent / "episodes" / "001-sonia-mamin" / "episode.md"
    text = episode.read_text()
    episode.write_text(text.replace('title: "Sonia Mamin : le salon devient phygital"',
                                    "title: 'Sonia Mamin, le salon devient \"phygital\"'"))
    return demo_show


def episodes(config: Path) -> dict[str, tuple[str, str]]:
    """slug -> (guid, title)."""
    return {e.slug: (e.guid, e.title) for e in load_episodes(load_show(config))}


def stored(config: Path) -> dict[tuple[str, str, date], int]:
    """What the database holds: (platform, guid, day) -> plays."""
    con = duckdb.connect(str(config.parent / ".podcast" / "stats.duckdb"), read_only=True)
    try:
        return {(p, g, d): n for p, g, d, n in con.execute(
            "SELECT platform, guid, day, plays FROM platform_plays").fetchall()}
    finally:
        con.close()


def run(config: Path, *args: str):
    return CliRunner().invoke(main, ["--config", str(config), *args])


def spotify_csv(figures: dict[tuple[str, date], int], titles: dict[str, str],
                seed: int = 1) -> str:
    """A Spotify for Creators export: Date, Episode, Plays, Streams; localised numbers."""
    rng = random.Random(seed)
    lines = ["Date,Episode,Plays,Streams"]
    for (slug, day), plays in sorted(figures.items()):
        plays_text = rng.choice(LOCALISED)(plays)
        title = '"' + titles[slug].replace('"', '""') + '"'
        lines.append(f'{day.isoformat()},{title},"{plays_text}",{plays // 2}')
    return "\r\n".join(lines) + "\r\n"


def figures_for(slugs, days, seed: int) -> dict[tuple[str, date], int]:
    rng = random.Random(seed)
    return {(slug, day): rng.randint(0, 25_000) for slug in slugs for day in days}


def test_a_spotify_export_with_bom_commas_and_localised_numbers_is_stored_exactly(
        show: Path, tmp_path: Path) -> None:
    known = episodes(show)
    titles = {slug: title for slug, (_, title) in known.items()}
    assert titles["001-sonia-mamin"] == COMMA_TITLE
    figures = figures_for(known, DAYS, seed=2)
    text = spotify_csv(figures, titles)
    # The same line twice (an export pasted twice), and an episode that is not the show's.
    first_data_line = text.splitlines()[1]
    text += first_data_line + "\r\n" + '2026-11-12,"Bonus, hors série",777,1\r\n'
    path = tmp_path / "spotify.csv"
    path.write_bytes(codecs.BOM_UTF8 + text.encode())
    output = podcast_cli(show, "stats", "import", "spotify", str(path))

    expected = {("spotify", known[slug][0], day): n for (slug, day), n in figures.items()}
    assert stored(show) == expected
    assert "1 repeated line counted once" in output
    assert "unmatched: 1 row, 777 plays" in output and "'Bonus, hors série'" in output
    data = json.loads(podcast_cli(show, "stats", "report", "--format", "json"))
    assert data["platforms"] == [{"platform": "spotify", "plays": sum(figures.values()),
                                  "in_listens": True}]

    # Importing the very same export again changes nothing.
    podcast_cli(show, "stats", "import", "spotify", str(path))
    assert stored(show) == expected


def test_an_overlapping_export_replaces_the_days_it_covers_never_adds(
        show: Path, tmp_path: Path) -> None:
    known = episodes(show)
    titles = {slug: title for slug, (_, title) in known.items()}
    first = figures_for(known, DAYS[:6], seed=3)
    later = figures_for(["002-marc-olivier", "003-claire-dubois"], DAYS[4:], seed=4)
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(spotify_csv(first, titles))
    b.write_text(spotify_csv(later, titles, seed=9))
    podcast_cli(show, "stats", "import", "spotify", str(a))
    podcast_cli(show, "stats", "import", "spotify", str(b))
    expected = {("spotify", known[slug][0], day): n
                for (slug, day), n in (first | later).items()}
    assert stored(show) == expected
    # Both again, in one command, in the same order: the later file wins, as before.
    podcast_cli(show, "stats", "import", "spotify", str(a), str(b))
    assert stored(show) == expected
    total = sum(n for (_, _, day), n in expected.items() if day <= DAYS[5])
    data = json.loads(podcast_cli(show, "stats", "report", "--format", "json", "--until",
                                  DAYS[5].isoformat()))
    assert data["platforms"][0]["plays"] == total


def test_an_apple_report_by_guid_and_a_generic_csv_are_stored_by_platform(
        show: Path, tmp_path: Path) -> None:
    known = episodes(show)
    apple = figures_for(known, DAYS[:3], seed=5)
    lines = ["Date\tEpisode GUID\tEpisode Title\tPlays\tListeners\tEngaged Listeners"]
    lines += [f"{day}\t{known[slug][0]}\tignored title\t{n}\t{n // 2}\t{n // 3}"
              for (slug, day), n in apple.items()]
    report = tmp_path / "apple.txt"
    report.write_text("\n".join(lines) + "\n")
    output = podcast_cli(show, "stats", "import", "apple", str(report))
    assert "never added to `listens`" in output

    # A YouTube export in French with semicolons, mapped by the options.
    youtube = figures_for(["004-lea-fontaine"], DAYS[:2], seed=6)
    rows = ["Jour;Titre de la vidéo;Vues;Durée"]
    rows += [f"{day};{known[slug][1]};{n:,};12:00".replace(",", " ")
             for (slug, day), n in youtube.items()]
    path = tmp_path / "youtube.csv"
    path.write_text("\n".join(rows) + "\n")
    podcast_cli(show, "stats", "import", "csv", str(path), "--platform", "YouTube",
                "--plays-column", "Vues", "--episode-column", "Titre de la vidéo")

    expected = {("apple", known[slug][0], day): n for (slug, day), n in apple.items()}
    expected |= {("youtube", known[slug][0], day): n for (slug, day), n in youtube.items()}
    assert stored(show) == expected
    data = json.loads(podcast_cli(show, "stats", "report", "--format", "json"))
    assert data["listens"] == {"total": sum(youtube.values()), "downloads": 0,
                               "youtube": sum(youtube.values())}


def test_each_row_is_matched_by_guid_else_exact_title_never_by_a_near_title(
        show: Path, tmp_path: Path) -> None:
    known = episodes(show)
    marc_guid, marc_title = known["002-marc-olivier"]
    lea_guid, lea_title = known["004-lea-fontaine"]
    claire_guid, claire_title = known["003-claire-dubois"]
    path = tmp_path / "apple.txt"
    path.write_text("\n".join([
        "Date\tEpisode GUID\tEpisode Title\tPlays",
        f"2026-11-10\t{marc_guid}\tan old title\t11",   # GUID wins over the title
        f"2026-11-10\t\t{lea_title}\t22",               # no GUID: the exact title
        f"2026-11-10\tunknown-guid\t{claire_title}\t33",  # a GUID of no episode: title
        f"2026-11-10\t\t{lea_title.upper()}\t44",       # a near title: never guessed
        f"2026-11-10\t\t{marc_title} \t55",             # outer spaces only: the title
    ]) + "\n")
    result = run(show, "stats", "import", "apple", str(path))
    # Marc is named twice on one day (by GUID, then by title): refused, nothing stored.
    assert result.exit_code == 1 and "lines 2 and 6" in result.output
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    output = podcast_cli(show, "stats", "import", "apple", str(path))
    day = date(2026, 11, 10)
    assert stored(show) == {("apple", marc_guid, day): 11, ("apple", lea_guid, day): 22,
                            ("apple", claire_guid, day): 33}
    assert "unmatched: 1 row, 44 plays" in output and repr(lea_title.upper()) in output

    # A title column holding a GUID names that episode too (GUID first, then title).
    other = tmp_path / "spotify.csv"
    # A title written decomposed (e + combining accent, as macOS may) is the same title.
    decomposed = unicodedata.normalize("NFD", claire_title)
    assert decomposed != claire_title
    other.write_text(f"Date,Episode,Plays\n2026-11-11,{claire_guid},7\n"
                     f"2026-11-12,{decomposed},8\n")
    podcast_cli(show, "stats", "import", "spotify", str(other))
    assert stored(show)[("spotify", claire_guid, date(2026, 11, 11))] == 7
    assert stored(show)[("spotify", claire_guid, date(2026, 11, 12))] == 8


def test_an_unknown_layout_lists_its_columns_and_the_options(show: Path,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("When,Show,Count\n2026-11-10,x,3\n")
    result = run(show, "stats", "import", "csv", str(path), "--platform", "deezer")
    assert result.exit_code == 1
    assert "'When', 'Show', 'Count'" in result.output
    for option in ("--date-column", "--plays-column", "--episode-column"):
        assert option in result.output
    # A column named by an option that the file does not have.
    result = run(show, "stats", "import", "spotify", str(path), "--plays-column", "Plays")
    assert result.exit_code == 1 and "no column 'Plays'" in result.output
    assert "'When', 'Show', 'Count'" in result.output


@pytest.mark.parametrize(("content", "message"), [
    (b"", "is empty"),
    (b"\n\n  \n", "is empty"),
    (b"Date,Episode,Plays\n", "header but no rows"),
    ("Date,Episode,Plays\n2026-11-10,Épisode,3\n".encode("latin-1"), "not UTF-8"),
    (b"Date,Episode,Plays\n2026-11-10,x,1,234\n", "line 2 has 4 values for 3 columns"),
    (b"Date,Episode,Plays\n2026-11-10,x,12.5\n", "is not a number of plays"),
    (b"Date,Episode,Plays\n2026-11-10,x,-3\n", "is not a number of plays"),
    (b"Date,Episode,Plays\n2026-11-10,x,\n", "is not a number of plays"),
    (b"Date,Episode,Plays\n10/11/2026,x,3\n", "is not a date"),
    (b"Date,Episode,Plays\n2026-11-10,,3\n", "no episode"),
    (b"Date,Episode,Plays\n2026-11-10,x,3\n2026-11-10,x,4\n", "lines 2 and 3"),
    (b"Date,Episode,Plays\n2026-11-10,\"x,3\n", "not valid CSV"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not"),
])
def test_broken_exports_are_clear_errors_and_store_nothing(
        show: Path, tmp_path: Path, content: bytes, message: str) -> None:
    good = tmp_path / "good.csv"
    good.write_text("Date,Episode,Plays\n2026-11-10,"
                    f"{episodes(show)['002-marc-olivier'][1]},5\n")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    result = run(show, "stats", "import", "spotify", str(good), str(bad))
    assert result.exit_code == 1, result.output
    assert message in result.output and "fix:" in result.output
    assert "Traceback" not in result.output
    assert not (show.parent / ".podcast" / "stats.duckdb").exists() or not stored(show)


def test_utf16_exports_and_missing_platform_names(show: Path, tmp_path: Path) -> None:
    known = episodes(show)
    path = tmp_path / "excel.txt"
    text = f"Date\tEpisode\tPlays\r\n2026-11-10\t{known['002-marc-olivier'][1]}\t1 234\r\n"
    path.write_bytes(text.encode("utf-16"))  # with its BOM, as Excel writes "Unicode text"
    podcast_cli(show, "stats", "import", "csv", str(path), "--platform", "Amazon Music")
    assert stored(show) == {("amazon", known["002-marc-olivier"][0], date(2026, 11, 10)): 1234}
    result = run(show, "stats", "import", "csv", str(path))
    assert result.exit_code == 1 and "--platform" in result.output
    result = run(show, "stats", "import", "spotify", str(path), "--platform", "apple")
    assert result.exit_code == 1 and "contradicts" in result.output


def test_numbers_and_dates_as_documented() -> None:
    for text, value in (("1234", 1234), ("1 234", 1234), ("1\u00a0234", 1234),
                        ("1.234", 1234), ("1,234", 1234), ("1'234", 1234),
                        ("1.234.567", 1234567), (" 0 ", 0)):
        assert parse_plays(text) == value, text
    for text in ("12.5", "1,5", "1.234,5", "1 234.567", "1,23", "-4", "", "1e3", "12 34"):
        assert parse_plays(text) is None, text
    assert parse_day("2026-11-10") == parse_day("2026/11/10") == date(2026, 11, 10)
    assert parse_day("2026-11-10T00:00:00Z") == date(2026, 11, 10)
    for text in ("10/11/2026", "11/10/2026", "2026-02-30", "Nov 10, 2026", ""):
        assert parse_day(text) is None, text
