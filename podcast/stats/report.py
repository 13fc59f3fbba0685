"""Download reports (``podcast stats report``): table, JSON, CSV, PNG chart and HTML page.

The counting itself happens at ingest (IAB v2: one download per episode, listener and UTC
day); this module only adds up the stored :class:`~podcast.model.Download` rows:

- ``downloads``: the downloads whose day lies in ``[since, until]`` (both inclusive);
- ``listeners``: distinct ``Download.listener`` over the same period;
- per episode, ``day_1`` / ``day_7`` / ``day_30``: downloads in the episode's first 1, 7
  and 30 UTC days, the publication day being day 1.  This is the industry's standard way
  to compare episodes of different ages.  It ignores ``since`` (an episode's first week is
  its first week whatever the report period) and is ``null`` while the window is still
  open on the report's last day, so a young episode is never compared on partial numbers;
- ``all_time``: every download of the episode up to ``until``.

``--by`` adds ``rows`` keyed by the dimension.  An episode with two guests counts in both
guests' rows, so guest rows may add up to more than the total.

Pure functions over ``list[Download]`` do the work; :func:`report` loads and writes.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from podcast.config import load_episodes
from podcast.errors import PodcastError
from podcast.files import atomic_write
from podcast.model import Download, Episode, Show

# ``from podcast.stats import targets`` could give the package's forwarding function rather
# than the module, so import the names from the module itself.
from podcast.stats.targets import align, all_progress, cumulative, progress_dict, relevant

if TYPE_CHECKING:
    from podcast.stats.charts import Panel

REJECT_REASONS = ("bots", "below_threshold", "not_get", "bad_status", "malformed",
                  "unknown_object")
#: What each rejection reason means, for people.
REASON_LABELS = {
    "bots": "from bots and crawlers",
    "below_threshold": "too little audio (less than a minute)",
    "not_get": "not a GET (HEAD and other methods)",
    "bad_status": "failed or unchanged (not 200/206)",
    "malformed": "unreadable log lines",
    "unknown_object": "not an episode file",
}
DIMENSIONS = ("episode", "day", "app", "guest", "country", "source")
FIRST_DAYS = (1, 7, 30)
NO_GUEST = "(no guest)"
UNKNOWN_COUNTRY = "unknown"
HTML_TEMPLATE = "stats_report.html.j2"


@dataclass(frozen=True)
class EpisodeStats:
    """One episode's numbers in a report."""

    slug: str
    guid: str | None  # None for downloads of an episode folder that no longer exists
    title: str
    published: date | None  # UTC day of publication
    downloads: int
    listeners: int
    first_days: dict[int, int | None]  # {1: n, 7: n, 30: None}; None = window still open
    all_time: int


@dataclass(frozen=True)
class Report:
    """Everything one report shows, independent of the output format."""

    show_title: str
    since: date | None  # the period actually covered (given, or first day with data)
    until: date | None
    downloads: int
    listeners: int
    episodes: tuple[EpisodeStats, ...]
    rejected: dict[str, int]
    by: str | None = None
    rows: tuple[dict, ...] = ()
    daily: tuple[tuple[date, int], ...] = field(default=())  # every day of the period


# --- pure computations ----------------------------------------------------------------


def in_period(downloads: Iterable[Download], since: date | None,
              until: date | None) -> list[Download]:
    """The downloads whose UTC day lies in ``[since, until]``; None leaves a side open."""
    return [d for d in downloads
            if (since is None or d.day >= since) and (until is None or d.day <= until)]


def publication_day(episode: Episode) -> date:
    """The UTC calendar day an episode went out (downloads are counted in UTC days)."""
    return episode.published.astimezone(UTC).date()


def first_days(downloads: Iterable[Download], published: date | None,
               as_of: date) -> dict[int, int | None]:
    """Downloads in the first 1, 7 and 30 days from publication (publication day = day 1).

    A window that has not closed by ``as_of`` is None rather than a partial count.
    """
    if published is None:
        return {n: None for n in FIRST_DAYS}
    days = [d.day for d in downloads]
    counts: dict[int, int | None] = {}
    for n in FIRST_DAYS:
        last = published + timedelta(days=n - 1)
        counts[n] = sum(1 for day in days if published <= day <= last) if last <= as_of else None
    return counts


def episode_stats(all_downloads: Sequence[Download], episodes: Sequence[Episode],
                  since: date | None, until: date | None, as_of: date) -> list[EpisodeStats]:
    """Per-episode numbers, newest episode first.

    ``all_downloads`` holds everything up to ``until`` (for all-time and first-days
    counts); the period ``[since, until]`` is applied here.  Episodes with no downloads
    are listed with zeros if they are out by ``as_of``; downloads of slugs without an
    episode folder are listed too, titled by their slug.
    """
    by_slug: dict[str, list[Download]] = defaultdict(list)
    for d in all_downloads:
        by_slug[d.slug].append(d)
    known = {e.slug: e for e in episodes}
    slugs = [e.slug for e in episodes if publication_day(e) <= as_of or e.slug in by_slug]
    slugs += sorted(s for s in by_slug if s not in known)

    result = []
    for slug in slugs:
        episode = known.get(slug)
        everything = by_slug.get(slug, [])
        period = in_period(everything, since, until)
        published = publication_day(episode) if episode else None
        result.append(EpisodeStats(
            slug=slug,
            guid=episode.guid if episode else None,
            title=episode.title if episode else slug,
            published=published,
            downloads=len(period),
            listeners=len({d.listener for d in period}),
            first_days=first_days(everything, published, as_of),
            all_time=len(everything),
        ))
    # Newest first: that is the episode marketing asks about; unknown slugs go last.
    result.sort(key=lambda s: (s.published is not None, s.published or date.min, s.slug),
                reverse=True)
    return result


def _counted(groups: dict[str, list[Download]], total: int) -> list[tuple[str, int, int, float]]:
    """(key, downloads, listeners, share %) per group, most downloads first."""
    rows = [(key, len(items), len({d.listener for d in items}),
             round(100 * len(items) / total, 1) if total else 0.0)
            for key, items in groups.items()]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows


def daily_counts(downloads: Iterable[Download], since: date | None,
                 until: date | None) -> list[tuple[date, int]]:
    """Downloads on every day of the period, days without downloads included as 0."""
    counts = Counter(d.day for d in downloads)
    if not counts and (since is None or until is None):
        return []
    start = since or min(counts)
    end = until or max(counts)
    series = []
    day = start
    while day <= end:
        series.append((day, counts.get(day, 0)))
        day += timedelta(days=1)
    return series


def rows_by(dimension: str, downloads: Sequence[Download], episodes: Sequence[Episode],
            since: date | None = None, until: date | None = None) -> list[dict]:
    """The period's downloads grouped by ``dimension``, one dict per row.

    The first key of each row is the dimension; then ``downloads``, ``listeners`` and,
    except per day, ``share`` (percent of the period's downloads).
    """
    if dimension not in DIMENSIONS:
        raise PodcastError(f"cannot group by {dimension!r}", field="--by",
                           fix="use one of: " + ", ".join(DIMENSIONS))
    total = len(downloads)
    if dimension == "day":
        listeners: dict[date, set[str]] = defaultdict(set)
        for d in downloads:
            listeners[d.day].add(d.listener)
        return [{"day": day.isoformat(), "downloads": n, "listeners": len(listeners[day])}
                for day, n in daily_counts(downloads, since, until)]

    groups: dict[str, list[Download]] = defaultdict(list)
    if dimension == "episode":
        titles = {e.slug: e.title for e in episodes}
        for d in downloads:
            groups[d.slug].append(d)
        return [{"episode": key, "title": titles.get(key, key), "downloads": n,
                 "listeners": people, "share": share}
                for key, n, people, share in _counted(groups, total)]
    if dimension == "guest":
        guests = {e.slug: [p.name for p in e.guests] or [NO_GUEST] for e in episodes}
        episode_count: dict[str, set[str]] = defaultdict(set)
        for d in downloads:
            for name in guests.get(d.slug, [NO_GUEST]):
                groups[name].append(d)
                episode_count[name].add(d.slug)
        return [{"guest": key, "episodes": len(episode_count[key]), "downloads": n,
                 "listeners": people, "share": share}
                for key, n, people, share in _counted(groups, total)]
    for d in downloads:
        key = {"app": d.app, "country": d.country or UNKNOWN_COUNTRY,
               "source": d.source}[dimension]
        groups[key or "unknown"].append(d)
    return [{dimension: key, "downloads": n, "listeners": people, "share": share}
            for key, n, people, share in _counted(groups, total)]


def build_report(all_downloads: Sequence[Download], episodes: Sequence[Episode],
                 rejected: dict[str, int], *, show_title: str = "", by: str | None = None,
                 since: date | None = None, until: date | None = None,
                 as_of: date) -> Report:
    """The whole report from stored downloads (everything up to ``until``).

    ``as_of`` is the last day the numbers can speak for: ``until`` when given, else today.
    """
    period = in_period(all_downloads, since, until)
    days = sorted({d.day for d in period})
    return Report(
        show_title=show_title,
        since=since or (days[0] if days else None),
        until=until or (days[-1] if days else None),
        downloads=len(period),
        listeners=len({d.listener for d in period}),
        episodes=tuple(episode_stats(all_downloads, episodes, since, until, as_of)),
        rejected={reason: int(rejected.get(reason, 0)) for reason in REJECT_REASONS},
        by=by,
        rows=tuple(rows_by(by, period, episodes, since, until)) if by else (),
        daily=tuple(daily_counts(period, since, until)),
    )


# --- formats ---------------------------------------------------------------------------


def episode_dict(stats: EpisodeStats) -> dict:
    """One episode as JSON-ready data."""
    return {
        "slug": stats.slug,
        "guid": stats.guid,
        "title": stats.title,
        "published": stats.published.isoformat() if stats.published else None,
        "downloads": stats.downloads,
        "listeners": stats.listeners,
        **{f"day_{n}": stats.first_days[n] for n in FIRST_DAYS},
        "all_time": stats.all_time,
    }


def to_json(report: Report) -> str:
    """The SPEC's JSON document (``rows`` only with ``--by``)."""
    data: dict = {
        "metric": "downloads",
        "window": "utc-day",
        "since": report.since.isoformat() if report.since else None,
        "until": report.until.isoformat() if report.until else None,
        "total": {"downloads": report.downloads, "listeners": report.listeners},
        "episodes": [episode_dict(e) for e in report.episodes],
        "rejected": dict(report.rejected),
    }
    if report.by:
        data["by"] = report.by
        data["rows"] = list(report.rows)
    return json.dumps(data, indent=2, ensure_ascii=False)


#: What makes a spreadsheet read a cell as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value):
    """``value`` as a spreadsheet shows it: text starting like a formula (an episode title
    or a guest name is enough) gets a leading ``'``, which spreadsheets hide."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(report: Report) -> str:
    """The ``--by`` rows, or the episodes, as CSV with a header line (formula-safe)."""
    records = list(report.rows) if report.by else [episode_dict(e) for e in report.episodes]
    if report.by and not records:
        records_header = [report.by, "downloads", "listeners"]
    else:
        records_header = list(records[0]) if records else list(episode_dict(
            EpisodeStats("", None, "", None, 0, 0, dict.fromkeys(FIRST_DAYS), 0)))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=records_header, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: _text_cell(value) for key, value in record.items()}
                     for record in records)
    return buffer.getvalue().rstrip("\n")


def _n(value: int | float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}%"
    return f"{value:,}"


def _clip(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _period(report: Report) -> str:
    if report.since is None:
        return "no downloads yet"
    return f"{report.since.isoformat()} to {report.until.isoformat()}"


def to_table(report: Report) -> str:
    """Aligned plain text for people: totals, then the episodes or the ``--by`` rows."""
    lines = [
        f"{report.show_title or 'Downloads'} — {_period(report)}",
        "IAB downloads: one per episode, listener and UTC day.",
        f"Downloads: {report.downloads:,}    Listeners: {report.listeners:,}",
        "",
    ]
    if report.by:
        if report.rows:
            header = [key.capitalize() for key in report.rows[0]]
            rows = [[_clip(str(v)) if not isinstance(v, (int, float)) else _n(v)
                     for v in row.values()] for row in report.rows]
            numeric = {i for i, v in enumerate(report.rows[0].values())
                       if isinstance(v, (int, float))}
            lines += align([header, *rows], numeric)
        else:
            lines.append(f"No downloads by {report.by} in this period.")
    elif report.episodes:
        header = ["Episode", "Published", "Downloads", "Listeners", "Day 1", "Day 7",
                  "Day 30", "All time"]
        rows = [[_clip(e.title), e.published.isoformat() if e.published else "—",
                 _n(e.downloads), _n(e.listeners), *(_n(e.first_days[n]) for n in FIRST_DAYS),
                 _n(e.all_time)] for e in report.episodes]
        lines += align([header, *rows], {2, 3, 4, 5, 6, 7})
        lines.append("Day 1/7/30: downloads in the episode's first days (— = not over yet).")
    else:
        lines.append("No episodes yet.")
    lines += ["", "Requests not counted:" if any(report.rejected.values())
              else "Requests not counted: none."]
    lines += [f"  {n:>9,}  {REASON_LABELS[reason]}"
              for reason, n in report.rejected.items() if n]
    return "\n".join(lines)


# --- HTML ------------------------------------------------------------------------------


def _data_uri(svg: bytes) -> str:
    # An SVG inside <img> cannot run scripts or pull resources, whatever text it holds.
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def progress_panels(all_downloads: Sequence[Download], show_targets: Sequence,
                    end: date) -> list[Panel]:
    """One chart panel per target (or the plain download total when there is none)."""
    # matplotlib loads slowly: only pay for it when a chart is drawn.
    from podcast.stats import charts

    if not all_downloads:
        start = end
    else:
        start = min(d.day for d in all_downloads)
    if not show_targets:
        series = cumulative(all_downloads, "downloads", start, end)
        return [charts.Panel("Cumulative downloads", "downloads",
                             series if all_downloads else [])]
    panels = []
    for target in show_targets:
        counted = relevant(all_downloads, target)
        series = cumulative(counted, target.metric, start, end)
        panels.append(charts.Panel(target.name, target.metric,
                                   series if all_downloads else [], target))
    return panels


def html_report(report: Report, all_downloads: Sequence[Download], show_targets: Sequence,
                episodes: Sequence[Episode], as_of: date) -> str:
    """The self-contained HTML page: totals, episodes, every breakdown, targets, charts.

    ``all_downloads`` is everything up to the report's end, as for :func:`build_report`.
    """
    # Loaded here, not at the top: the package may import this module eagerly, and the
    # ingest command should not pay for jinja2 and matplotlib.
    from podcast.site import template_environment
    from podcast.stats import charts

    period = in_period(all_downloads, report.since, report.until)
    breakdowns = {dim: rows_by(dim, period, episodes, report.since, report.until)
                  for dim in ("app", "guest", "country", "day")}
    progress = all_progress(show_targets, all_downloads, as_of)
    panels = progress_panels(all_downloads, show_targets, as_of)
    environment = template_environment()
    return environment.get_template(HTML_TEMPLATE).render(
        report=report,
        episodes=[episode_dict(e) for e in report.episodes],
        first_days=FIRST_DAYS,
        reason_labels=REASON_LABELS,
        breakdowns=breakdowns,
        targets=[progress_dict(p) for p in progress],
        progress_chart=_data_uri(charts.save(charts.progress_figure(panels), "svg")),
        daily_chart=_data_uri(charts.save(charts.daily_figure(report.daily, title=""), "svg")),
        as_of=as_of.isoformat(),
        period=_period(report),
    )


# --- files -----------------------------------------------------------------------------


def check_writable(path: Path, option: str | None = None) -> None:
    """Fail early, with the fix, if ``path`` cannot be written (no folder, or a folder)."""
    folder = path.parent
    if not folder.is_dir():
        raise PodcastError("the folder does not exist", file=folder, field=option,
                           fix=f"create it first (mkdir -p {folder}) or pick another path")
    if path.is_dir():
        raise PodcastError("is a folder, not a file name", file=path, field=option,
                           fix=f"name a file inside it, e.g. {path / 'report.html'}")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder: never half-written."""
    check_writable(path)
    atomic_write(path, data)


def chart_format(path: Path) -> str:
    """``png`` or ``svg`` from the file name; anything else is a clear error."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("png", "svg"):
        raise PodcastError(f"cannot draw a chart as {path.suffix or 'a file without suffix'}",
                           file=path, field="--chart", fix="name the file *.png or *.svg")
    return suffix


def report(show: Show, *, fmt: str = "table", by: str | None = None,
           since: date | None = None, until: date | None = None,
           chart: Path | None = None, html: Path | None = None) -> str:
    """``podcast stats report``: the report text, and the chart / HTML files if asked."""
    # Imported here so the pure functions above work without the database layer.
    from podcast.stats.store import load_downloads, rejected_counts

    if since and until and since > until:
        raise PodcastError(f"--since {since} is after --until {until}", field="--since",
                           fix="swap the two dates")
    if by is not None and by not in DIMENSIONS:
        raise PodcastError(f"cannot group by {by!r}", field="--by",
                           fix="use one of: " + ", ".join(DIMENSIONS))
    # Fail before any work on a path that cannot be written.
    if chart is not None:
        chart_format(chart)
        check_writable(chart, "--chart")
    if html is not None:
        check_writable(html, "--html")
    as_of = until or datetime.now(UTC).date()
    episodes = load_episodes(show)
    all_downloads = load_downloads(show, None, until)
    rejected = rejected_counts(show, since, until)
    result = build_report(all_downloads, episodes, rejected, show_title=show.title, by=by,
                          since=since, until=until, as_of=as_of)

    if chart is not None:
        from podcast.stats import charts

        panels = progress_panels(all_downloads, show.targets, as_of)
        write_atomic(chart, charts.save(charts.progress_figure(panels), chart_format(chart)))
    if html is not None:
        page = html_report(result, all_downloads, show.targets, episodes, as_of)
        write_atomic(html, page.encode("utf-8"))

    if fmt == "json":
        return to_json(result)
    if fmt == "csv":
        return to_csv(result)
    return to_table(result)
