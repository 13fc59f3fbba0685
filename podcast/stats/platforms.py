"""Platform-reported plays (``podcast stats import``): exports -> rows per episode and day.

Spotify plays an RSS show from its own cached copy of the audio, so the host's logs see
only Spotify's fetcher (a bot), never its listeners; Apple Podcasts downloads from the host
and is in the logs already.  The platforms' own dashboards count *plays*, which are not
IAB downloads; this module reads their CSV exports so the two can be shown side by side and
added into ``listens`` (downloads + plays of the platforms that never download from the
host: :func:`in_listens`).

Everything here is a pure function of the export's text (or bytes) and the episodes; the
stats store keeps the rows (:func:`podcast.stats.store.replace_plays`).

Decisions, documented in the README ("Platform figures"):

- text: UTF-8 (with or without BOM) or UTF-16/32 with a BOM (Excel's "Unicode text");
  anything else is refused rather than guessed, since titles must match exactly;
- delimiter: comma, semicolon or tab, whichever splits the header into most columns
  (Apple's reports are tab-delimited, European spreadsheets write semicolons);
- plays are whole counts, so a space (also no-break), ``.``, ``,`` or ``'`` between
  groups of three digits is a thousands separator: ``1 234``, ``1.234``, ``1,234`` and
  ``1'234`` are all 1234.  A decimal (``12.5``), a negative or an empty cell is an error;
- dates: ``YYYY-MM-DD`` (a time after it is ignored) or ``YYYY/MM/DD``; ``DD/MM/YYYY``
  and ``MM/DD/YYYY`` cannot be told apart and are refused;
- a row repeated identically is counted once (and said); two different figures for one
  episode and day are an error naming both lines;
- episodes are matched by GUID, else by exact title (Unicode-normalised, outer spaces
  trimmed), never by a near title: the rest is reported as unmatched and not stored.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from podcast.errors import PodcastError
from podcast.model import Episode

#: The kinds of export ``podcast stats import`` reads.
KINDS = ("spotify", "apple", "csv")

#: Platforms whose apps fetch the audio from the show's host: their listens are already
#: IAB downloads in the logs, so their plays are shown but never added to ``listens``.
IN_LOGS = {
    "apple": "Apple Podcasts downloads from your host",
    "overcast": "Overcast downloads from your host",
    "pocketcasts": "Pocket Casts downloads from your host",
    "antennapod": "AntennaPod downloads from your host",
    "podcastaddict": "Podcast Addict downloads from your host",
}

#: Other spellings of a platform's name (lowercase, spaces and punctuation removed).
PLATFORM_ALIASES = {
    "applepodcasts": "apple", "itunes": "apple", "applepodcastsconnect": "apple",
    "spotifyforcreators": "spotify", "spotifyforpodcasters": "spotify",
    "youtubemusic": "youtube", "amazonmusic": "amazon", "audible": "amazon",
}

#: Header names recognised per role (compared lowercase, spaces/underscores collapsed).
DATE_NAMES = ("date", "day", "report date", "jour")
GUID_NAMES = ("episode guid", "guid", "item guid", "episode id guid")
TITLE_NAMES = ("episode title", "episode name", "episode", "title", "name", "épisode")
#: The plays column by preference: Spotify for Creators' key metric is "plays" (since May
#: 2025); "streams" (60 seconds or more) is read when an export has no plays column.
PLAYS_NAMES = {
    "spotify": ("plays", "streams"),
    "apple": ("plays",),
    "csv": ("plays", "streams", "listens", "écoutes"),
}

OPTIONS = "--date-column, --plays-column and --episode-column"
_DELIMITERS = (",", ";", "\t")
#: Thousands separators a plays figure may use between groups of three digits.
_GROUPED = re.compile(r"\d{1,3}(?:([ \u00a0\u202f.,'\u2019])\d{3})(?:\1\d{3})*")
_DAY = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ].*)?")


@dataclass(frozen=True)
class Mapping:
    """Column names given on the command line (None: recognise the export's own)."""

    date: str | None = None
    plays: str | None = None
    episode: str | None = None


@dataclass(frozen=True)
class ExportRow:
    """One data line of an export: a day's plays of one episode."""

    line: int  # 1-based line number in the file (the header is line 1)
    day: date
    plays: int
    episode: str  # the GUID (or, without a GUID column, the title) as the export writes it
    title: str = ""  # the title too, when the export has both columns


@dataclass(frozen=True)
class Export:
    """A parsed export: its rows and how its columns were read."""

    platform: str
    date_column: str
    plays_column: str
    episode_column: str
    title_column: str | None  # a second column, read when the first names no episode
    rows: tuple[ExportRow, ...]
    duplicates: tuple[int, ...] = ()  # lines repeating an earlier line exactly


@dataclass(frozen=True)
class Play:
    """Plays of one episode on one UTC day as a platform reported them."""

    platform: str
    guid: str
    day: date
    plays: int
    slug: str | None = None  # the episode folder, when the GUID is one of the show's


@dataclass(frozen=True)
class Matched:
    """An export's rows matched to the show's episodes."""

    plays: tuple[Play, ...]
    unmatched: dict[str, int] = field(default_factory=dict)  # episode as written -> plays
    unmatched_rows: int = 0


# --- names ------------------------------------------------------------------------------


def platform_name(name: str) -> str:
    """The platform's stored name: lowercase letters and digits (``Apple Podcasts`` ->
    ``apple``); a known other spelling gives its usual name."""
    key = re.sub(r"[\s_.\-]+", "", unicodedata.normalize("NFKC", name).strip().lower())
    if not key or not re.fullmatch(r"[a-z0-9]{1,40}", key):
        raise PodcastError(f"{name!r} is not a platform name", field="--platform",
                           fix="name it in plain letters and digits, e.g. --platform "
                               "youtube")
    return PLATFORM_ALIASES.get(key, key)


def in_listens(platform: str) -> bool:
    """Whether a platform's plays are added to ``listens``: only platforms that never
    download from the host (their listeners are absent from the logs)."""
    return platform not in IN_LOGS


def _key(header: str) -> str:
    return re.sub(r"[\s_]+", " ", unicodedata.normalize("NFC", header).strip().lower())


# --- text -------------------------------------------------------------------------------


def decode(data: bytes, source: str) -> str:
    """The export's text: UTF-8 (BOM or not), or UTF-16/32 with a BOM; else an error."""
    boms = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
            (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
            (codecs.BOM_UTF16_BE, "utf-16"))
    encoding = next((name for bom, name in boms if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise PodcastError(f"is not UTF-8 text (byte {exc.start}: "
                           f"{data[exc.start:exc.start + 1]!r})", file=source,
                           fix="export it again as CSV UTF-8 (in a spreadsheet: Save as "
                               "> CSV UTF-8); titles must match the episodes exactly, so "
                               "podcast does not guess the encoding") from None
    if "\x00" in text:
        raise PodcastError("is not a text file (it holds NUL bytes)", file=source,
                           fix="give the CSV export itself, not a spreadsheet or archive")
    return text


def _delimiter(header: str) -> str:
    counts = {d: len(next(csv.reader([header], delimiter=d))) for d in _DELIMITERS}
    return max(_DELIMITERS, key=lambda d: (counts[d], -_DELIMITERS.index(d)))


def _pick(columns: Sequence[str], given: str | None, names: Iterable[str], option: str,
          source: str) -> str | None:
    """The column playing ``role``: the one named by ``option``, else a known name."""
    by_key = {_key(c): c for c in columns}
    if given is not None:
        if _key(given) not in by_key:
            raise PodcastError(f"has no column {given!r} (given by {option}); its "
                               f"columns are: {_listed(columns)}", file=source, field=option,
                               fix=f"give {option} one of those names")
        return by_key[_key(given)]
    return next((by_key[n] for n in names if n in by_key), None)


def _listed(columns: Sequence[str]) -> str:
    return ", ".join(repr(c) for c in columns) or "(none)"


# --- numbers and dates ------------------------------------------------------------------


def parse_plays(value: str) -> int | None:
    """A plays figure: digits, optionally grouped by thousands (``1 234``, ``1.234``,
    ``1,234``, ``1'234``); None when it is anything else."""
    text = value.strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    if _GROUPED.fullmatch(text):
        return int(re.sub(r"\D", "", text))
    return None


def parse_day(value: str) -> date | None:
    """``YYYY-MM-DD`` or ``YYYY/MM/DD`` (anything after a ``T`` or space ignored)."""
    found = _DAY.fullmatch(value.strip())
    if not found:
        return None
    try:
        return date(*(int(part) for part in found.groups()))
    except ValueError:
        return None


# --- parsing ----------------------------------------------------------------------------


def parse_export(text: str, kind: str, source: str, mapping: Mapping = Mapping(),
                 platform: str | None = None) -> Export:
    """Read an export's text: which columns hold the day, the plays and the episode, and
    every data row.  An unknown layout is an error listing the columns found."""
    name = _platform_of(kind, platform)
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise PodcastError("is empty", file=source,
                           fix="export the plays again: the file has no header and no rows")
    header_line = next(line for line in lines if line.strip())
    delimiter = _delimiter(header_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        records = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise PodcastError(f"is not valid CSV at line {reader.line_num}: {exc}", file=source,
                           fix="export it again; a value holding the delimiter must be "
                               "quoted") from None
    records = [(n, row) for n, row in records if any(cell.strip() for cell in row)]
    header = [cell.strip() for cell in records[0][1]]
    columns = _columns(header, kind, mapping, source)
    rows, duplicates = _rows(records[1:], header, columns, source)
    if not rows:
        raise PodcastError("has a header but no rows of plays", file=source,
                           fix="export a period that has plays")
    date_column, plays_column, episode_column, title_column = columns
    return Export(platform=name, date_column=date_column, plays_column=plays_column,
                  episode_column=episode_column, title_column=title_column,
                  rows=tuple(rows), duplicates=tuple(duplicates))


def _platform_of(kind: str, platform: str | None) -> str:
    if kind not in KINDS:
        raise PodcastError(f"cannot import {kind!r} exports", field="KIND",
                           fix="use one of: " + ", ".join(KINDS))
    if kind == "csv":
        if not platform:
            raise PodcastError("a csv import needs the platform's name", field="--platform",
                               fix="add --platform NAME, e.g. --platform youtube")
        return platform_name(platform)
    if platform and platform_name(platform) != kind:
        raise PodcastError(f"--platform {platform} contradicts `import {kind}`",
                           field="--platform",
                           fix=f"drop --platform, or use `podcast stats import csv "
                               f"--platform {platform}`")
    return kind


def _columns(header: list[str], kind: str, mapping: Mapping,
             source: str) -> tuple[str, str, str, str | None]:
    """(date column, plays column, episode column, title column or None): the episode
    column is the GUID one when the export has both (or the one named by the option)."""
    day = _pick(header, mapping.date, DATE_NAMES, "--date-column", source)
    plays = _pick(header, mapping.plays, PLAYS_NAMES[kind], "--plays-column", source)
    title = None
    if mapping.episode is not None:
        episode = _pick(header, mapping.episode, (), "--episode-column", source)
    else:
        episode = _pick(header, None, GUID_NAMES, "", source)
        title = _pick(header, None, TITLE_NAMES, "", source)
        if episode is None:
            episode, title = title, None
    if day is None or plays is None or episode is None:
        missing = [what for what, column in (("the day", day), ("the plays", plays),
                                             ("the episode (GUID or title)", episode))
                   if column is None]
        raise PodcastError(f"is not a layout podcast knows: no column for "
                           f"{' or '.join(missing)}; its columns are: {_listed(header)}",
                           file=source,
                           fix=f"name the columns with {OPTIONS} (e.g. --plays-column "
                               f"Streams); podcast stores plays per episode and day, so a "
                               f"show-wide export without episodes cannot be imported")
    return day, plays, episode, title


def _rows(records: list[tuple[int, list[str]]], header: list[str],
          columns: tuple[str, str, str, str | None], source: str
          ) -> tuple[list[ExportRow], list[int]]:
    index = {name: header.index(name) for name in columns if name is not None}
    seen: dict[tuple, tuple[int, int, tuple[str, ...]]] = {}
    rows, duplicates = [], []
    for line, cells in records:
        if len(cells) != len(header):
            raise PodcastError(f"line {line} has {len(cells)} values for {len(header)} "
                               "columns", file=source,
                               fix="quote values that hold the delimiter (e.g. "
                                   "\"1,234\"), or export the file again")
        raw = tuple(cell.strip() for cell in cells)
        row = _row(line, raw, index, columns, source)
        key = (row.episode, row.title, row.day)
        if key in seen:
            first_line, first_plays, first_raw = seen[key]
            if raw == first_raw:
                duplicates.append(line)
                continue
            raise PodcastError(f"lines {first_line} and {line} both give the plays of "
                               f"{row.episode!r} on {row.day} ({first_plays:,} and "
                               f"{row.plays:,})", file=source,
                               fix="keep one line per episode and day (add up the "
                                   "lines of a breakdown, e.g. by country, first)")
        seen[key] = (line, row.plays, raw)
        rows.append(row)
    return rows, duplicates


def _row(line: int, raw: tuple[str, ...], index: dict[str, int],
         columns: tuple[str, str, str, str | None], source: str) -> ExportRow:
    day_col, plays_col, episode_col, title_col = columns
    day = parse_day(raw[index[day_col]])
    if day is None:
        raise PodcastError(f"line {line}: {raw[index[day_col]]!r} in column {day_col!r} is "
                           "not a date", file=source, field="--date-column",
                           fix="dates must be YYYY-MM-DD (DD/MM and MM/DD cannot be told "
                               "apart); export with ISO dates or convert the column")
    plays = parse_plays(raw[index[plays_col]])
    if plays is None:
        raise PodcastError(f"line {line}: {raw[index[plays_col]]!r} in column {plays_col!r} "
                           "is not a number of plays", file=source, field="--plays-column",
                           fix="plays are whole numbers (1234, 1 234, 1.234 or 1,234); "
                               "check that the column is the plays")
    episode = unicodedata.normalize("NFC", raw[index[episode_col]])
    title = unicodedata.normalize("NFC", raw[index[title_col]]) if title_col else ""
    if not episode and not title:
        raise PodcastError(f"line {line}: no episode in column {episode_col!r}", file=source,
                           field="--episode-column",
                           fix="every line needs the episode's GUID or title")
    return ExportRow(line=line, day=day, plays=plays, episode=episode, title=title)


# --- matching ---------------------------------------------------------------------------


def episode_of(row: ExportRow, by_guid: dict[str, Episode],
               by_title: dict[str, Episode]) -> Episode | None:
    """The row's episode: the one whose GUID a column gives, else the one whose exact
    title a column gives; None rather than a guess."""
    values = [v for v in (row.episode, row.title) if v]
    return (next((by_guid[v] for v in values if v in by_guid), None)
            or next((by_title[v] for v in values if v in by_title), None))


def match(export: Export, episodes: Sequence[Episode], source: str = "") -> Matched:
    """Each row's episode (:func:`episode_of`); rows naming no episode of the show are
    counted as unmatched, never guessed.  Two lines that name one episode (once by GUID,
    once by title) for the same day are an error, as in the export itself."""
    by_guid = {e.guid.strip(): e for e in episodes}
    by_title = {unicodedata.normalize("NFC", e.title).strip(): e for e in episodes}
    plays: dict[tuple[str, date], tuple[int, Play]] = {}
    unmatched: dict[str, int] = {}
    count = 0
    for row in export.rows:
        episode = episode_of(row, by_guid, by_title)
        if episode is None:
            name = row.episode or row.title
            unmatched[name] = unmatched.get(name, 0) + row.plays
            count += 1
            continue
        key = (episode.guid, row.day)
        if key in plays:
            raise PodcastError(f"lines {plays[key][0]} and {row.line} both give the plays "
                               f"of {episode.slug} on {row.day}", file=source or None,
                               fix="keep one line per episode and day")
        plays[key] = (row.line, Play(export.platform, episode.guid, row.day, row.plays,
                                     episode.slug))
    ordered = sorted((p for _, p in plays.values()), key=lambda p: (p.day, p.guid))
    return Matched(plays=tuple(ordered), unmatched=unmatched, unmatched_rows=count)


# --- figures for reports and targets ----------------------------------------------------


def with_slugs(plays: Iterable[Play], episodes: Sequence[Episode]) -> list[Play]:
    """The stored plays with each one's episode folder (None once the folder is gone)."""
    slugs = {e.guid: e.slug for e in episodes}
    return [Play(p.platform, p.guid, p.day, p.plays, slugs.get(p.guid)) for p in plays]


def in_period(plays: Iterable[Play], since: date | None, until: date | None) -> list[Play]:
    """The plays whose day lies in ``[since, until]`` (None leaves a side open)."""
    return [p for p in plays
            if (since is None or p.day >= since) and (until is None or p.day <= until)]


def by_platform(plays: Iterable[Play]) -> dict[str, int]:
    """Plays per platform, most first (then by name)."""
    totals: dict[str, int] = {}
    for p in plays:
        totals[p.platform] = totals.get(p.platform, 0) + p.plays
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def listens(downloads: int, plays: Iterable[Play]) -> dict[str, int]:
    """``{"total": N, "downloads": N, "spotify": N, …}``: IAB downloads plus the plays of
    the platforms that never download from the host (Apple's are in the downloads)."""
    added = {name: n for name, n in by_platform(plays).items() if in_listens(name)}
    return {"total": downloads + sum(added.values()), "downloads": downloads, **added}


# --- the command ------------------------------------------------------------------------


@dataclass(frozen=True)
class FileResult:
    """What one export brought."""

    source: str
    export: Export
    matched: Matched


@dataclass(frozen=True)
class ImportResult:
    """``podcast stats import``: every export read, and what the store now holds."""

    platform: str
    files: tuple[FileResult, ...]
    stored: int  # figures (episode, day) written
    replaced: int  # of those, figures an earlier import had given

    def summary(self) -> str:
        """What was imported, what was not matched, and how the figures are used."""
        lines = []
        for f in self.files:
            e, m = f.export, f.matched
            days = sorted({r.day for r in e.rows})
            lines.append(f"{f.source}: {_count(len(e.rows), 'row')}, "
                         f"{_count(sum(r.plays for r in e.rows), 'play')} from {days[0]} "
                         f"to {days[-1]} (columns: {e.date_column!r}, "
                         f"{e.plays_column!r}, {e.episode_column!r}"
                         f"{f', {e.title_column!r}' if e.title_column else ''})")
            if e.duplicates:
                lines.append(f"  {_count(len(e.duplicates), 'repeated line')} counted once "
                             "(line " + ", ".join(str(n) for n in e.duplicates) + ")")
            if m.unmatched_rows:
                lines.append(f"  unmatched: {_count(m.unmatched_rows, 'row')}, "
                             f"{_count(sum(m.unmatched.values()), 'play')}, not stored (no episode "
                             "has that GUID or exact title): "
                             + "; ".join(f"{name!r} ({n:,})"
                                         for name, n in sorted(m.unmatched.items())))
        lines.append(f"stored {self.stored:,} {self.platform} figures (episode and day), "
                     f"{self.replaced:,} of them replacing an earlier import's")
        if in_listens(self.platform):
            lines.append(f"{self.platform} plays are the platform's own count, not IAB "
                         "downloads; they are added to downloads in `listens`.")
        else:
            lines.append(f"{self.platform} plays are shown, never added to `listens`: "
                         f"{IN_LOGS[self.platform]}, so its listens are in the downloads.")
        return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def import_files(show, kind: str, paths: Sequence[str], *, mapping: Mapping = Mapping(),
                 platform: str | None = None, state: str | None = None,
                 echo=None) -> ImportResult:
    """Read every export, match its episodes, then store each in the order given (a
    later file's figure for an episode and day replaces an earlier one's).  Nothing is
    stored when any file cannot be read.  ``state``: a store URL the database is fetched
    from first and stored back to after (an import is idempotent, so it may be re-run)."""
    from pathlib import Path

    from podcast.config import load_episodes
    from podcast.stats.store import replace_plays

    episodes = load_episodes(show)
    results = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise PodcastError(f"cannot read the export: {exc.strerror}", file=path,
                               fix="give the path of a CSV file exported from the "
                                   "platform") from None
        export = parse_export(decode(data, path), kind, path, mapping, platform)
        results.append(FileResult(path, export, match(export, episodes, path)))

    def store() -> tuple[int, int]:
        replaced = sum(replace_plays(show, list(r.matched.plays), r.source) for r in results)
        return sum(len(r.matched.plays) for r in results), replaced

    if state:
        from podcast.stats.state import with_state

        stored, replaced = with_state(show, state, store, echo=echo, store_after=True)
    else:
        stored, replaced = store()
    name = results[0].export.platform if results else _platform_of(kind, platform)
    return ImportResult(platform=name, files=tuple(results), stored=stored,
                        replaced=replaced)
