"""Download reports (``podcast stats report``): table, JSON, CSV, PNG chart and HTML page.

The counting itself happens at ingest (IAB v2: one download per episode, listener and UTC
day); this module only adds up the stored :class:`~podcast.model.Download` rows:

- ``downloads``: the downloads whose day lies in ``[since, until]`` (both inclusive);
- ``listeners_by_month``: distinct ``Download.listener`` in each UTC calendar month of the
  period (the part of it inside the period).  Listener hashes are keyed per UTC month
  (see :mod:`podcast.stats.store`), so a listener is only recognisable within one month:
  the months are shown side by side and never added up, since their sum would count
  every returning listener once per month;
- per episode, ``day_1`` / ``day_3`` / ``day_7`` / ``day_30``: downloads in the episode's
  first 1, 3, 7 and 30 UTC days, the publication day being day 1.  This is the industry's
  standard way to compare episodes of different ages.  It ignores ``since`` (an episode's
  first week is its first week whatever the report period) and is ``null`` while the
  window is still open on the report's last day, so a young episode is never compared on
  partial numbers;
- **pacing**: each episode's cumulative downloads on each day since its release (day 1 =
  publication day, up to :data:`PACING_DAYS`), the show's *median episode* (on each day,
  the median of the episodes old enough to have that day; drawn only where at least two
  are) and, per episode, how it compares with that median at its own age
  (``vs_median``: percent above or below);
- ``all_time``: every download of the episode up to ``until``.

``--by`` adds ``rows`` keyed by the dimension (``--by day`` rows count the listeners of
that day).  An episode with two guests counts in both
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
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING

import podcast.stats.platforms as platform_figures
from podcast.config import load_episodes
from podcast.errors import PodcastError
from podcast.files import atomic_write
from podcast.model import Download, Episode, Show
from podcast.share import code_from_name
from podcast.stats.agents import friendly_name, is_library_bot
from podcast.stats.apps import platform_groups, with_platforms
from podcast.stats.targets import (
    Progress,
    align,
    all_progress,
    cumulative,
    month_end,
    month_of,
    progress,
    progress_dict,
    projection_path,
    relevant,
    relevant_plays,
)

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
    "unknown_object": "not an episode file (or one for another host or bucket)",
}
#: Where what was not counted is shown, in this order: the rejection reasons, with the
#: 2-byte range probes apart from "too little audio".
NOT_COUNTED_ORDER = ("bots", "library_bots", "probes", "below_threshold", "not_get", "bad_status",
                     "unknown_object", "malformed")
NOT_COUNTED_LABELS = REASON_LABELS | {
    "probes": "2-byte range probes (an app checking the file, no audio)",
    "library_bots": "from media libraries OPAWG lists as bots (bare okhttp…)",
}
#: The bot policy as a report states it, per ``stats.library_bots`` (podcast.yaml).
BOT_POLICY = {
    "drop": ("Bot policy: bots and crawlers are never counted (IAB v2); media libraries "
             "that OPAWG's lists mark as bots (bare okhttp, ffmpeg's Lavf…: no app named) "
             "are not counted either, as OP3 does (podcast.yaml stats: library_bots: drop, "
             "the default; write count to count them)."),
    "count": ("Bot policy: bots and crawlers are never counted (IAB v2); media libraries "
              "that OPAWG's lists mark as bots (bare okhttp, ffmpeg's Lavf…) ARE counted "
              "here (podcast.yaml stats: library_bots: count), unlike OPAWG and OP3."),
}
#: Reasons whose lines belong to an episode's requester: also given in requester-days.
PER_DAY_REASONS = ("bots", "library_bots", "probes", "below_threshold")
DIMENSIONS = ("episode", "day", "app", "guest", "country", "source", "device", "bot",
              "via")
FIRST_DAYS = (1, 3, 7, 30)
#: The pacing chart and comparison cover an episode's first days since release.
PACING_DAYS = 30
#: A median of fewer episodes than this is no "typical episode" to compare with.
MEDIAN_MIN_EPISODES = 2
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
    listeners_by_month: dict[str, int]  # {"2026-11": n}: distinct within each UTC month
    first_days: dict[int, int | None]  # {1: n, 7: n, 30: None}; None = window still open
    all_time: int
    pacing: tuple[int, ...] = ()  # cumulative downloads on day 1, 2, ... since release
    pace: Pace | None = None  # compared with the median episode at the same age


@dataclass(frozen=True)
class Pace:
    """An episode against the show's median episode at the same age (days since release)."""

    age: int  # the day compared: the episode's age, at most PACING_DAYS
    downloads: int  # the episode's cumulative downloads on that day
    median: float | None  # the median episode's; None when too few episodes are that old
    vs_median: float | None  # percent above (+) or below (-) the median; None if no median


@dataclass(frozen=True)
class Report:
    """Everything one report shows, independent of the output format."""

    show_title: str
    since: date | None  # the period actually covered (given, or first day with data)
    until: date | None
    downloads: int
    listeners_by_month: dict[str, int]  # every UTC month of the period, in order
    episodes: tuple[EpisodeStats, ...]
    rejected: dict[str, int]
    by: str | None = None
    rows: tuple[dict, ...] = ()
    daily: tuple[tuple[date, int], ...] = field(default=())  # every day of the period
    not_counted: tuple[dict, ...] = ()  # see not_counted_rows
    bots: tuple[dict, ...] = ()  # see bot_rows
    bot_policy: str = ""  # BOT_POLICY's statement of the show's policy
    via: tuple[dict, ...] = ()  # see via_rows
    median_pacing: tuple[float | None, ...] = ()  # the median episode, day 1, 2, ...
    guests: tuple[dict, ...] = ()  # see guest_reach: the guests fair to age
    via_names: dict[str, str] = field(default_factory=dict)  # guest_codes: code -> name
    # Imported platform figures (``podcast stats import``) in the period, when any exist:
    # plays per platform ([{"platform", "plays", "in_listens"}]), ``listens`` = downloads
    # + the plays of platforms that never download from the host, by source, and each
    # episode's plays per platform (slug -> {platform: plays}).
    platforms: tuple[dict, ...] = ()
    listens: dict[str, int] | None = None
    episode_plays: dict[str, dict[str, int]] = field(default_factory=dict)


# --- pure computations ----------------------------------------------------------------


def months_between(since: date | None, until: date | None) -> list[str]:
    """Every month from ``since``'s to ``until``'s, both included; none without both."""
    if since is None or until is None:
        return []
    months, year, month = [], since.year, since.month
    while (year, month) <= (until.year, until.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def listeners_by_month(downloads: Iterable[Download], months: Sequence[str]) -> dict[str, int]:
    """Distinct listeners in each of ``months`` (0 where none came).

    Counted per month because a hash only means one listener within its month: a
    returning listener has another hash the next month, so a cross-month set would count
    them twice.
    """
    seen: dict[str, set[str]] = {month: set() for month in months}
    for d in downloads:
        seen.setdefault(month_of(d.day), set()).add(d.listener)
    return {month: len(seen[month]) for month in sorted(seen)}


def _months(downloads: Sequence[Download], since: date | None,
            until: date | None) -> list[str]:
    """The months a period covers: given by its ends, or by the days that have data."""
    days = [d.day for d in downloads]
    return months_between(since or (min(days) if days else None),
                          until or (max(days) if days else None))


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


def pacing_curve(days: Iterable[date], published: date, as_of: date,
                 horizon: int = PACING_DAYS) -> list[int]:
    """Cumulative downloads on each day since release: element ``n - 1`` counts the
    downloads of days 1 to ``n`` (publication day = day 1), for the days that have ended
    by ``as_of`` (its own day included, as in :func:`first_days`), at most ``horizon``."""
    age = min((as_of - published).days + 1, horizon)
    per_day = Counter((day - published).days + 1 for day in days if day >= published)
    curve, running = [], 0
    for n in range(1, age + 1):
        running += per_day.get(n, 0)
        curve.append(running)
    return curve


def median_curve(curves: Iterable[Sequence[int]]) -> list[float | None]:
    """The show's median episode: on each day since release, the median of the curves
    that reach that day; None where fewer than :data:`MEDIAN_MIN_EPISODES` do."""
    curves = list(curves)
    length = max((len(c) for c in curves), default=0)
    result: list[float | None] = []
    for i in range(length):
        values = [c[i] for c in curves if len(c) > i]
        result.append(float(median(values)) if len(values) >= MEDIAN_MIN_EPISODES else None)
    return result


def pace(curve: Sequence[int], median_line: Sequence[float | None]) -> Pace | None:
    """The episode on its last day in ``curve`` against the median on that same day."""
    if not curve:
        return None
    age, value = len(curve), curve[-1]
    middle = median_line[age - 1] if len(median_line) >= age else None
    vs = round(100 * (value - middle) / middle, 1) if middle else None
    return Pace(age=age, downloads=value, median=middle, vs_median=vs)


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
    months = _months(in_period(all_downloads, since, until), since, until)
    known = {e.slug: e for e in episodes}
    slugs = [e.slug for e in episodes if publication_day(e) <= as_of or e.slug in by_slug]
    slugs += sorted(s for s in by_slug if s not in known)

    result = []
    for slug in slugs:
        episode = known.get(slug)
        everything = by_slug.get(slug, [])
        period = in_period(everything, since, until)
        published = publication_day(episode) if episode else None
        curve = (pacing_curve([d.day for d in everything], published, as_of)
                 if published else [])
        result.append(EpisodeStats(
            slug=slug,
            guid=episode.guid if episode else None,
            title=episode.title if episode else slug,
            published=published,
            downloads=len(period),
            listeners_by_month=listeners_by_month(period, months),
            first_days=first_days(everything, published, as_of),
            all_time=len(everything),
            pacing=tuple(curve),
        ))
    middle = median_curve(s.pacing for s in result)
    result = [replace(s, pace=pace(s.pacing, middle)) for s in result]
    # Newest first: that is the episode marketing asks about; unknown slugs go last.
    result.sort(key=lambda s: (s.published is not None, s.published or date.min, s.slug),
                reverse=True)
    return result


def _counted(groups: dict[str, list[Download]], total: int,
             months: Sequence[str]) -> list[tuple[str, int, dict[str, int], float]]:
    """(key, downloads, listeners by month, share %) per group, most downloads first."""
    rows = [(key, len(items), listeners_by_month(items, months),
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

    The first key of each row is the dimension; then ``downloads``, the listeners and,
    except per day, ``share`` (percent of the period's downloads).  Day rows have
    ``listeners`` (that day's); the others ``listeners_by_month``, one count per UTC
    month of the period, since their listeners cannot be told apart across months.
    App and device rows have a ``platform`` after the key (:mod:`podcast.stats.apps`).
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

    months = _months(downloads, since, until)
    groups: dict[str, list[Download]] = defaultdict(list)
    if dimension == "episode":
        titles = {e.slug: e.title for e in episodes}
        for d in downloads:
            groups[d.slug].append(d)
        return [{"episode": key, "title": titles.get(key, key), "downloads": n,
                 "listeners_by_month": people, "share": share}
                for key, n, people, share in _counted(groups, total, months)]
    if dimension == "guest":
        guests = {e.slug: [p.name for p in e.guests] or [NO_GUEST] for e in episodes}
        episode_count: dict[str, set[str]] = defaultdict(set)
        for d in downloads:
            for name in guests.get(d.slug, [NO_GUEST]):
                groups[name].append(d)
                episode_count[name].add(d.slug)
        return [{"guest": key, "episodes": len(episode_count[key]), "downloads": n,
                 "listeners_by_month": people, "share": share}
                for key, n, people, share in _counted(groups, total, months)]
    if dimension in ("bot", "via"):  # not rows of downloads: bot_rows, via_rows
        raise ValueError(f"rows_by cannot group downloads by {dimension!r}")
    for d in downloads:
        key = {"app": d.app, "country": d.country or UNKNOWN_COUNTRY,
               "source": d.source, "device": d.device}[dimension]
        groups[key or "unknown"].append(d)
    rows = [{dimension: key, "downloads": n, "listeners_by_month": people, "share": share}
            for key, n, people, share in _counted(groups, total, months)]
    # Apps and devices come with their platform (Apple's agents together): see apps.py.
    return with_platforms(dimension, rows) if dimension in ("app", "device") else rows


def bot_rows(bot_names: Sequence[tuple[str, int, int, int]]) -> list[dict]:
    """``--by bot``: each bot by name, its requests of episodes, its bot-days (one per
    episode, bot address and agent, and UTC day: the same unit as a download) and how
    many episodes it fetched; ``share`` is of all bot requests."""
    total = sum(row[1] for row in bot_names)
    return [{"bot": name, "requests": requests, "bot_days": days, "episodes": episodes,
             "share": round(100 * requests / total, 1) if total else 0.0,
             "rule": "library_bots" if is_library_bot(name) else "bots"}
            for name, requests, days, episodes in bot_names]


def via_rows(all_downloads: Sequence[Download], visits: dict[str, dict],
             since: date | None, until: date | None) -> list[dict]:
    """``--by via``: what each share link (``podcast share``) brought in the period.

    Per code: ``page_visits`` (visitors of the episode page opened through the link, one
    per page, visitor and UTC day), ``downloads`` (downloads whose audio request carried
    the code, or came from the page opened through it) and ``new_listeners`` (listeners
    not seen before in that UTC month: their first download of the month came through
    the link, on its first day).  ``all_downloads`` holds everything up to ``until``, so
    a listener seen earlier in the month is never new.  ``visits`` is
    :func:`podcast.stats.store.page_visits`.
    """
    first: dict[tuple[str, str], date] = {}
    for d in all_downloads:
        key = (month_of(d.day), d.listener)
        first[key] = min(first.get(key, d.day), d.day)
    downloads: dict[str, int] = defaultdict(int)
    episodes: dict[str, set[str]] = defaultdict(set)
    new: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for d in in_period(all_downloads, since, until):
        if d.via is None:
            continue
        downloads[d.via] += 1
        episodes[d.via].add(d.slug)
        key = (month_of(d.day), d.listener)
        if first[key] == d.day:
            new[d.via].add(key)
    codes = set(downloads) | set(visits)
    rows = [{"via": code, "page_visits": visits.get(code, {}).get("visits", 0),
             "downloads": downloads.get(code, 0), "new_listeners": len(new.get(code, ())),
             "episodes": len(episodes.get(code, set())
                             | visits.get(code, {}).get("episodes", set()))}
            for code in codes]
    rows.sort(key=lambda r: (-r["new_listeners"], -r["downloads"], -r["page_visits"],
                             r["via"]))
    return rows


def guest_codes(episodes: Sequence[Episode]) -> dict[str, str]:
    """{share-link code: guest's name} for every guest (``podcast share``'s codes)."""
    return {code: guest.name for episode in episodes for guest in episode.guests
            if (code := code_from_name(guest.name))}


def guest_reach(guest_rows: Sequence[dict], stats: Sequence[EpisodeStats],
                episodes: Sequence[Episode], via: Sequence[dict]) -> list[dict]:
    """Guests by reach, fair to age: each ``rows_by("guest")`` row with
    ``vs_median_percent`` (the mean, over the guest's episodes, of each one against the
    show's median episode at the same age: an old episode gains nothing from its age),
    and what the guest's own share link (``link``, the code ``podcast share`` made from
    their name) brought: ``link_visits``, ``link_downloads``, ``link_new_listeners``.

    Ordered by the new listeners their link brought, then by how their episodes pace:
    all-time downloads would rank the oldest episode first whatever its guest did.
    """
    pace_of = {s.slug: s.pace for s in stats}
    slugs: dict[str, list[str]] = defaultdict(list)
    for episode in episodes:
        for name in [p.name for p in episode.guests] or [NO_GUEST]:
            slugs[name].append(episode.slug)
    links = {row["via"]: row for row in via}
    result = []
    for row in guest_rows:
        name = row["guest"]
        paces = [p.vs_median for slug in slugs.get(name, [])
                 if (p := pace_of.get(slug)) is not None and p.vs_median is not None]
        code = code_from_name(name) or None if name != NO_GUEST else None
        link = links.get(code, {})
        result.append(row | {
            "vs_median_percent": round(sum(paces) / len(paces), 1) if paces else None,
            "link": code, "link_visits": link.get("page_visits", 0),
            "link_downloads": link.get("downloads", 0),
            "link_new_listeners": link.get("new_listeners", 0)})
    result.sort(key=lambda r: (-r["link_new_listeners"], r["vs_median_percent"] is None,
                               -(r["vs_median_percent"] or 0.0), -r["downloads"], r["guest"]))
    return result


def not_counted_rows(rejected: dict[str, int], extra: dict | None,
                     library_bots: str = "drop") -> list[dict]:
    """What was not counted, in lines and, for an episode's requesters, requester-days.

    ``extra`` is :func:`podcast.stats.store.not_counted`.  The 2-byte probes, counted
    with "too little audio" in ``rejected``, get their own row: an app checking a file is
    no listener who gave up.  ``listener_days`` is None where lines have no requester
    (unreadable lines, other files, HEAD and failed requests).  The libraries OPAWG marks
    as bots (``library_bots``, dropped by default) come apart from the other bots when
    they removed lines; the bots row states the policy (``policy``).
    """
    known = extra is not None
    extra = extra or {}
    probe_lines, probe_days = extra.get("probes", (0, None))
    lines = {reason: int(rejected.get(reason, 0)) for reason in REJECT_REASONS}
    lines["probes"] = probe_lines
    lines["below_threshold"] = max(lines["below_threshold"] - probe_lines, 0)
    days = {"bots": extra.get("bots", (0, None))[1], "probes": probe_days,
            "below_threshold": extra.get("below_threshold", (0, None))[1]} if known else {}
    library = [row for row in extra.get("bot_names", []) if is_library_bot(row[0])]
    lines["library_bots"] = sum(row[1] for row in library)
    lines["bots"] = max(lines["bots"] - lines["library_bots"], 0)
    if known:  # a requester has one agent, so one name: the bot-days split by name
        days["library_bots"] = sum(row[2] for row in library)
        days["bots"] = max((days["bots"] or 0) - days["library_bots"], 0)
    order = [reason for reason in NOT_COUNTED_ORDER
             if reason != "library_bots" or lines["library_bots"]]
    policy = {"policy": BOT_POLICY.get(library_bots, BOT_POLICY["drop"])}
    return [{"reason": reason, "label": NOT_COUNTED_LABELS[reason], "lines": lines[reason],
             "listener_days": days.get(reason),
             **(policy if reason in ("bots", "library_bots") else {})}
            for reason in order]


def _rows(by: str, period: Sequence[Download], episodes: Sequence[Episode],
          since: date | None, until: date | None, not_counted: dict | None) -> list[dict]:
    if by == "bot":
        return bot_rows((not_counted or {}).get("bot_names", []))
    return rows_by(by, period, episodes, since, until)


def build_report(all_downloads: Sequence[Download], episodes: Sequence[Episode],
                 rejected: dict[str, int], *, show_title: str = "", by: str | None = None,
                 since: date | None = None, until: date | None = None,
                 as_of: date, not_counted: dict | None = None,
                 visits: dict[str, dict] | None = None,
                 library_bots: str = "drop",
                 plays: Sequence[platform_figures.Play] = ()) -> Report:
    """The whole report from stored downloads (everything up to ``until``).

    ``as_of`` is the last day the numbers can speak for: ``until`` when given, else today.
    ``not_counted``: :func:`podcast.stats.store.not_counted` for the period (requester-
    days and bot names; without it, what was not counted is given in lines only).
    ``visits``: :func:`podcast.stats.store.page_visits` for the period (share links).
    ``library_bots``: the show's ``stats.library_bots`` policy, which the report states.
    ``plays``: the imported platform figures (with slugs), any period: see
    :func:`platform_parts`.
    """
    period = in_period(all_downloads, since, until)
    days = sorted({d.day for d in period})
    stats = episode_stats(all_downloads, episodes, since, until, as_of)
    shared = via_rows(all_downloads, visits or {}, since, until)
    reach = guest_reach(rows_by("guest", period, episodes, since, until), stats, episodes,
                        shared)
    return Report(
        show_title=show_title,
        since=since or (days[0] if days else None),
        until=until or (days[-1] if days else None),
        downloads=len(period),
        listeners_by_month=listeners_by_month(period, _months(period, since, until)),
        episodes=tuple(stats),
        rejected={reason: int(rejected.get(reason, 0)) for reason in REJECT_REASONS},
        by=by,
        rows=tuple(shared if by == "via" else reach if by == "guest" else
                   _rows(by, period, episodes, since, until, not_counted)) if by else (),
        guests=tuple(reach),
        via_names=guest_codes(episodes),
        via=tuple(shared),
        not_counted=tuple(not_counted_rows(rejected, not_counted, library_bots)),
        bot_policy=BOT_POLICY.get(library_bots, BOT_POLICY["drop"]),
        bots=tuple(bot_rows((not_counted or {}).get("bot_names", []))),
        daily=tuple(daily_counts(period, since, until)),
        median_pacing=tuple(median_curve(e.pacing for e in stats)),
        **platform_parts(len(period), plays, since, until),
    )


def platform_parts(downloads: int, plays: Sequence[platform_figures.Play],
                   since: date | None, until: date | None) -> dict:
    """The report's platform fields: plays per platform in ``[since, until]`` (every
    platform ever imported, 0 where it has none in the period), ``listens`` (downloads
    plus the plays of the platforms that never download from the host) and each
    episode's plays per platform.  Empty when nothing was ever imported."""
    if not plays:
        return {}
    period = platform_figures.in_period(plays, since, until)
    totals = platform_figures.by_platform(period)
    names = sorted({p.platform for p in plays}, key=lambda n: (-totals.get(n, 0), n))
    per_episode: dict[str, dict[str, int]] = defaultdict(dict)
    for p in period:
        if p.slug is not None:
            per_episode[p.slug][p.platform] = per_episode[p.slug].get(p.platform, 0) + p.plays
    listens = platform_figures.listens(downloads, period)
    listens.update({name: 0 for name in names
                    if platform_figures.in_listens(name) and name not in listens})
    return {"platforms": tuple({"platform": name, "plays": totals.get(name, 0),
                                "in_listens": platform_figures.in_listens(name)}
                               for name in names),
            "listens": listens, "episode_plays": dict(per_episode)}


def episode_listens(report: Report, slug: str, downloads: int) -> dict:
    """An episode's platform columns: ``plays_<platform>`` each, and its ``listens``."""
    mine = report.episode_plays.get(slug, {})
    columns = {f"plays_{row['platform']}": mine.get(row["platform"], 0)
               for row in report.platforms}
    added = sum(n for name, n in mine.items() if platform_figures.in_listens(name))
    return {**columns, "listens": downloads + added}


# --- formats ---------------------------------------------------------------------------


def episode_dict(stats: EpisodeStats) -> dict:
    """One episode as JSON-ready data."""
    return {
        "slug": stats.slug,
        "guid": stats.guid,
        "title": stats.title,
        "published": stats.published.isoformat() if stats.published else None,
        "downloads": stats.downloads,
        "listeners_by_month": dict(stats.listeners_by_month),
        **{f"day_{n}": stats.first_days[n] for n in FIRST_DAYS},
        "all_time": stats.all_time,
        **pace_dict(stats.pace),
    }


def month_listeners(report: Report) -> int | None:
    """The month's listeners when the period is exactly one UTC calendar month (the 1st
    to its last day), else None: a part of a month is not "the month's" figure, and
    several months' listeners cannot be added up."""
    if report.since is None or report.until is None:
        return None
    first = report.since.replace(day=1)
    if report.since != first or report.until != month_end(first):
        return None
    return report.listeners_by_month.get(month_of(first), 0)


def pace_dict(p: Pace | None) -> dict:
    """The comparison with the median episode as flat JSON-ready fields."""
    return {"age_days": p.age if p else None,
            "median_at_age": p.median if p else None,
            "vs_median_percent": p.vs_median if p else None}


def percent_text(value: float | None) -> str:
    """``+25%`` / ``-8%``; ``—`` for no figure."""
    return "—" if value is None else f"{value:+.0f}%"


def via_label(code: str, names: dict[str, str]) -> str:
    """A share-link code as people read it: ``Sonia Mamin (sonia-mamin)`` for a guest's."""
    return f"{names[code]} ({code})" if code in names else code


def vs_median_text(p: Pace | None) -> str:
    """``+25% (day 7)``; ``—`` when there is no median to compare with."""
    if p is None or p.vs_median is None:
        return "—"
    return f"{p.vs_median:+.0f}% (day {p.age})"


def pacing_dict(report: Report) -> dict:
    """The pacing curves: cumulative downloads on day 1, 2, ... since each release, and
    the median episode's (null where fewer than two episodes are that old)."""
    return {"days": PACING_DAYS,
            "median": list(report.median_pacing),
            "episodes": {e.slug: list(e.pacing) for e in report.episodes if e.pacing}}


def to_json(report: Report) -> str:
    """The SPEC's JSON document (``rows`` only with ``--by``).

    ``listener_window`` says what a listener count spans: one UTC calendar month, hence
    ``listeners_by_month`` (one entry per month of the period) and ``total.listeners``
    only when the period is exactly one calendar month (else null, never a sum).
    """
    data: dict = {
        "metric": "downloads",
        "window": "utc-day",
        "listener_window": "utc-month",
        "since": report.since.isoformat() if report.since else None,
        "until": report.until.isoformat() if report.until else None,
        "total": {"downloads": report.downloads, "listeners": month_listeners(report)},
        "listeners_by_month": [{"month": month, "listeners": n}
                               for month, n in report.listeners_by_month.items()],
        "episodes": [episode_dict(e) for e in report.episodes],
        "pacing": pacing_dict(report),
        "rejected": dict(report.rejected),
        "not_counted": list(report.not_counted),
    }
    if report.by:
        data["by"] = report.by
        data["rows"] = list(report.rows)
    if report.platforms:
        data["platforms"] = list(report.platforms)
        data["listens"] = dict(report.listens or {})
        for record, stats in zip(data["episodes"], report.episodes, strict=True):
            record.update(episode_listens(report, stats.slug, stats.downloads))
    return json.dumps(data, indent=2, ensure_ascii=False)


#: What makes a spreadsheet read a cell as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value):
    """``value`` as a spreadsheet shows it: text starting like a formula (an episode title
    or a guest name is enough) gets a leading ``'``, which spreadsheets hide."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def flat(record: dict) -> dict:
    """A row with ``listeners_by_month`` spread into one ``listeners_YYYY-MM`` column per
    month, for the formats that have no nesting (CSV, the text table)."""
    out = {}
    for key, value in record.items():
        if key == "listeners_by_month":
            out.update({f"listeners_{month}": n for month, n in value.items()})
        else:
            out[key] = value
    return out


def _empty_row(report: Report) -> dict:
    """A row of zeros with the columns the report's rows have (for an empty table)."""
    months = dict.fromkeys(report.listeners_by_month, 0)
    if not report.by:
        return episode_dict(EpisodeStats("", None, "", None, 0, months,
                                          dict.fromkeys(FIRST_DAYS), 0))
    if report.by == "day":
        return {"day": "", "downloads": 0, "listeners": 0}
    if report.by == "bot":
        return {"bot": "", "requests": 0, "bot_days": 0, "episodes": 0, "share": 0.0,
                "rule": ""}
    if report.by == "via":
        return {"via": "", "page_visits": 0, "downloads": 0, "new_listeners": 0,
                "episodes": 0}
    if report.by == "guest":
        return {"guest": "", "episodes": 0, "downloads": 0, "listeners_by_month": months,
                "share": 0.0, "vs_median_percent": None, "link": None, "link_visits": 0,
                "link_downloads": 0, "link_new_listeners": 0}
    platform = {"platform": ""} if report.by in ("app", "device") else {}
    return {report.by: "", **platform, "downloads": 0, "listeners_by_month": months,
            "share": 0.0}


def to_csv(report: Report) -> str:
    """The ``--by`` rows, or the episodes, as CSV with a header line (formula-safe).

    Listeners come as one ``listeners_YYYY-MM`` column per UTC month of the period.
    """
    records = [flat(r) for r in
               (report.rows if report.by else [episode_dict(e) for e in report.episodes])]
    if report.platforms and report.by in (None, "episode"):
        # Each episode's plays per platform and listens, after its downloads' columns.
        records = [r | episode_listens(report, r.get("slug") or r["episode"], r["downloads"])
                   for r in records]
    records_header = list(records[0] if records else flat(_empty_row(report)))
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
    if report.since is None or report.until is None:  # (both set, or neither)
        return "no downloads yet"
    return f"{report.since.isoformat()} to {report.until.isoformat()}"


#: Said under the share-link rows.
VIA_NOTE = ("Page visits: visitors of the episode page opened through the link (one per "
            "page, visitor and UTC day). Downloads: started from that page. New listeners: "
            "not seen before in that UTC month, their first download of the month came "
            "through the link.")
#: Said under apps and devices grouped by platform (see podcast.stats.apps).
PLATFORM_NOTES = {
    "app": "Platforms first, then (indented) the apps they are made of: Apple's listeners "
           "come as Apple Podcasts and as Apple's media player (AppleCoreMedia), which "
           "that app streams through.",
    "device": "Platforms first, then (indented) their devices: Apple's own apps name no "
              "device (iPhone, iPad or Mac: the app does not say); other apps say which.",
}
#: Said under the guests: how they are ranked, fair to age.
GUEST_NOTE = ("Guests by reach, fair to age: ranked by the new listeners their own share "
              "link (podcast share) brought, then by Vs median, their episodes against "
              "the show's median episode at the same age (the mean when several), never "
              "by all-time downloads, which the oldest episode wins. An episode with "
              "several guests counts for each of them.")
#: Said when most countries are unknown: the logs were ingested without a GeoIP database.
GEOIP_HINT = ("Country unknown: the logs were read without a GeoIP database. The country "
              "is looked up when a log is read (addresses are never stored), so give one "
              "to the ingest: podcast stats ingest --geoip FILE.mmdb LOG… (a MaxMind-"
              "format country database, e.g. GeoLite2-Country or DB-IP's free "
              "IP-to-Country Lite); logs read before stay unknown.")
#: Said wherever listener numbers are shown: what one counts, and why months stay apart.
LISTENERS_NOTE = ("Listeners: distinct listeners within one UTC calendar month. Listener "
                  "IDs change every month, so months are never added up.")


def month_span(month: str, since: date | None, until: date | None) -> str:
    """``2026-11``, or ``2026-11 (from the 15th)`` / ``(to the 10th)`` / ``(15-20)`` when
    the period covers only part of the month: a partial month's listeners are fewer."""
    first = date.fromisoformat(month + "-01")
    last = month_end(first)
    start = since if since and since > first else first
    end = until if until and until < last else last
    if (start, end) == (first, last):
        return month
    if end == last:
        return f"{month} (from the {_ordinal(start.day)})"
    if start == first:
        return f"{month} (to the {_ordinal(end.day)})"
    return f"{month} ({start.day}-{end.day})"


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def listeners_line(report: Report) -> str:
    """``Listeners: 1,234 in 2026-11 · 567 in 2026-12 (to the 15th)``: each month's own."""
    if not report.listeners_by_month:
        return "Listeners: 0"
    return "Listeners: " + " · ".join(
        f"{n:,} in {month_span(month, report.since, report.until)}"
        for month, n in report.listeners_by_month.items())


def _header(key: str) -> str:
    """A column heading: ``listeners_2026-11`` reads as its month (see the note)."""
    if key.startswith("listeners_"):
        return key.removeprefix("listeners_")
    return key.capitalize().replace("_", " ")


def _rows_table(records: Sequence[dict]) -> list[str]:
    """Flat rows as aligned text: numbers right, text left."""
    header = [_header(key) for key in records[0]]
    rows = [[_clip(str(v)) if not isinstance(v, (int, float)) else _n(v)
             for v in row.values()] for row in records]
    numeric = {i for i, v in enumerate(records[0].values()) if isinstance(v, (int, float))}
    return align([header, *rows], numeric)


def to_table(report: Report) -> str:
    """Aligned plain text for people: totals, then the episodes or the ``--by`` rows.

    Listener columns are headed by their month (``2026-11``), explained under the table.
    """
    lines = [
        f"{report.show_title or 'Downloads'} — {_period(report)}",
        "IAB downloads: one per episode, listener and UTC day.",
        f"Downloads: {report.downloads:,}    {listeners_line(report)}",
        "",
    ]
    if report.by:
        if report.rows:
            lines += _rows_table([flat(r) for r in _display_rows(report.by, report.rows,
                                                                 report.via_names)])
            lines += rows_notes(report.by, report.rows)
        else:
            what = {"bot": "requests from bots",
                    "via": "share links used (podcast share)"}.get(
                report.by, f"downloads by {report.by}")
            lines.append(f"No {what} in this period.")
    elif report.episodes:
        header = ["Episode", "Published", "Downloads", *report.listeners_by_month,
                  *(f"Day {n}" for n in FIRST_DAYS), "All time", "Vs median"]
        rows = [[_clip(e.title), e.published.isoformat() if e.published else "—",
                 _n(e.downloads), *(_n(n) for n in e.listeners_by_month.values()),
                 *(_n(e.first_days[n]) for n in FIRST_DAYS), _n(e.all_time),
                 vs_median_text(e.pace)]
                for e in report.episodes]
        lines += align([header, *rows], set(range(2, len(header))))
        lines.append("Day 1/3/7/30: downloads in the episode's first days (— = not over "
                     "yet).")
        lines.append("Vs median: cumulative downloads against the show's median episode "
                     "at the same age (day N since release).")
        if report.listeners_by_month:
            lines.append("YYYY-MM columns: listeners in that month.")
    else:
        lines.append("No episodes yet.")
    lines.append(LISTENERS_NOTE)
    lines += platforms_table(report)
    lines.append("")
    lines += not_counted_table(report.not_counted)
    return "\n".join(lines)


def rows_notes(by: str, rows: Sequence[dict]) -> list[str]:
    """What the text table says under ``--by`` rows."""
    if by == "bot":
        return ["Bot-days: one per episode, bot (address and agent) and UTC day, the unit "
                "of a download. Bots are never counted."]
    if by == "via":
        return [VIA_NOTE]
    notes = []
    if by in ("app", "device"):
        notes.append(PLATFORM_NOTES[by])
    if by == "guest":
        notes.append(GUEST_NOTE)
    if by == "country" and (hint := geoip_hint(rows)):
        notes.append(hint)
    if by != "day":
        notes.append("YYYY-MM columns: listeners in that month.")
    return notes


def geoip_hint(rows: Sequence[dict]) -> str | None:
    """How to get countries, when most downloads have none (no GeoIP database at ingest)."""
    unknown = sum(r["downloads"] for r in rows if r.get("country") == UNKNOWN_COUNTRY)
    total = sum(r["downloads"] for r in rows)
    if not total or unknown * 2 < total:
        return None
    return GEOIP_HINT


def _display_rows(by: str, rows: Sequence[dict], names: dict[str, str]) -> list[dict]:
    """Rows as people read them: apps and devices as platforms, each followed by its parts
    indented (``  Apple Podcasts``) under their friendly names; a guest's share-link code
    with the guest's name (``names``: :func:`guest_codes`); guests' pace as ``+25%``."""
    if by == "via":
        return [row | {"via": via_label(row["via"], names)} for row in rows]
    if by == "guest":  # the reach first, as on the page
        return [{"guest": row["guest"], "episodes": row["episodes"],
                 "vs_median": percent_text(row["vs_median_percent"]),
                 "new_via_link": row["link_new_listeners"],
                 "link_visits": row["link_visits"], "downloads": row["downloads"],
                 "listeners_by_month": row["listeners_by_month"], "share": row["share"]}
                for row in rows]
    if by not in ("app", "device"):
        return [_named(row) for row in rows]
    records = []
    for group in platform_groups(by, rows):
        records.append({by: group["platform"], "downloads": group["downloads"],
                        "listeners_by_month": group["listeners_by_month"],
                        "share": group["share"]})
        records += [{by: "  " + part["label"], "downloads": part["downloads"],
                     "listeners_by_month": part["listeners_by_month"],
                     "share": part["share"]} for part in group["parts"]]
    return records


def _named(row: dict) -> dict:
    """An app row as people read it: the list's name replaced by its friendly name."""
    return row | {"app": friendly_name(row["app"])} if "app" in row else row


#: Said wherever platform plays are shown: what they are, and why Apple is not added.
PLATFORMS_NOTE = ("Plays: each platform's own count from its dashboard export (podcast stats "
                  "import), not IAB downloads. Listens = downloads + the plays of platforms "
                  "that never download from the host (Spotify, YouTube…); Apple Podcasts "
                  "downloads from the host, so its listens are in the downloads already.")


def listens_text(listens: dict[str, int]) -> str:
    """``Listens: 1,234 = 1,000 downloads + 234 spotify plays``."""
    parts = [f"{listens['downloads']:,} downloads"] + [
        f"{n:,} {name} plays" for name, n in listens.items()
        if name not in ("total", "downloads")]
    return f"Listens: {listens['total']:,} = " + " + ".join(parts)


def platforms_table(report: Report) -> list[str]:
    """The imported platform figures and the listens total; nothing when none exist."""
    if not report.platforms or report.listens is None:  # (both set, or neither)
        return []
    table = [["Platform plays", "Plays", "In listens"]]
    table += [[f"  {row['platform']}", _n(row["plays"]),
               "yes" if row["in_listens"] else "no (in the downloads)"]
              for row in report.platforms]
    return ["", listens_text(report.listens), *align(table, {1}), PLATFORMS_NOTE]


def not_counted_table(rows: Sequence[dict]) -> list[str]:
    """The not-counted rows that have lines, in lines and listener-days."""
    shown = [row for row in rows if row["lines"] or row["listener_days"]]
    # The bot policy is said whatever it removed (BOT_POLICY, on the bots rows).
    policy = [row["policy"] for row in rows if row.get("policy")][:1]
    if not shown:
        return ["Requests not counted: none.", *policy]
    table = [["Requests not counted", "Lines", "Listener-days"]]
    table += [[f"  {row['label']}", _n(row["lines"]), _n(row["listener_days"])]
              for row in shown]
    return [*align(table, {1, 2}),
            "Listener-days: one per episode, requester (address and agent) and UTC day, "
            "as a download; — where lines have no listener.", *policy]


# --- HTML ------------------------------------------------------------------------------


def _data_uri(svg: bytes) -> str:
    # An SVG inside <img> cannot run scripts or pull resources, whatever text it holds.
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def chart_end(p: Progress, start: date) -> date:
    """The last day a target's chart shows: past the deadline and the projected day, but
    not so far that the history shrinks to a sliver (the legend then names the date)."""
    horizon = max(p.today, p.target.by)
    end = horizon + timedelta(days=7)
    if isinstance(p.projected, date) and p.projected > horizon:
        room = timedelta(days=max((horizon - start).days // 2, 30))
        end = min(p.projected + timedelta(days=7), horizon + room)
    return end


def progress_panels(all_downloads: Sequence[Download], show_targets: Sequence,
                    end: date, plays: Sequence[platform_figures.Play] = ()) -> list[Panel]:
    """One chart panel per target (or the plain download total when there is none).

    ``end`` is today for the targets: each panel carries that day's progress, so the
    chart draws the very projection the targets table states.
    """
    # Imported here: the text reports never lay out a chart.
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
        series = cumulative(counted, target.metric, start, end,
                            relevant_plays(plays, target))
        p = progress(target, all_downloads, end, plays)
        last = chart_end(p, start)
        panels.append(charts.Panel(
            target.name, target.metric, series if all_downloads else [], target,
            projection=projection_path(p, last), projected=p.projected,
            pace_28d=p.pace_28d, on_track=p.on_track, end=last))
    return panels


def _pace_title(p: Pace | None) -> str:
    if p is None or p.median is None:
        return ""
    return f"day {p.age}: {p.downloads:,} downloads, median episode {p.median:,.1f}"


def pacing_figure(report: Report):
    """The pacing overlay of the report's episodes, oldest first (as they came out)."""
    from podcast.stats import charts

    curves = [(_clip(e.title, 80), e.pacing) for e in reversed(report.episodes) if e.pacing]
    return charts.pacing_figure(curves, report.median_pacing)


def html_report(report: Report, all_downloads: Sequence[Download], show_targets: Sequence,
                episodes: Sequence[Episode], as_of: date,
                plays: Sequence[platform_figures.Play] = ()) -> str:
    """The self-contained HTML page: totals, episodes, every breakdown, targets, charts.

    ``all_downloads`` is everything up to the report's end, as for :func:`build_report`.
    """
    # Loaded here, not at the top: the package may import this module eagerly, and the
    # ingest command should not pay for jinja2.  The charts are SVG written directly
    # (podcast.stats.charts): the page never imports matplotlib.
    from podcast.site import template_environment
    from podcast.stats import charts
    from podcast.stats.canvas import svg

    period = in_period(all_downloads, report.since, report.until)
    breakdowns = html_breakdowns(report, period, episodes)
    progress = all_progress(show_targets, all_downloads, as_of, plays)
    panels = progress_panels(all_downloads, show_targets, as_of, plays)
    environment = template_environment()
    return environment.get_template(HTML_TEMPLATE).render(
        report=report,
        episodes=[episode_dict(e) | {"vs_median_text": vs_median_text(e.pace),
                                     "pace_title": _pace_title(e.pace)}
                  | (episode_listens(report, e.slug, e.downloads) if report.platforms else {})
                  for e in report.episodes],
        platforms_note=PLATFORMS_NOTE,
        first_days=FIRST_DAYS,
        reason_labels=REASON_LABELS,
        breakdowns=breakdowns,
        targets=[progress_dict(p) for p in progress],
        progress_chart=_data_uri(svg(charts.progress_figure(panels))),
        daily_chart=_data_uri(svg(charts.daily_figure(report.daily, title=""))),
        pacing_chart=_data_uri(svg(pacing_figure(report))),
        pacing_days=PACING_DAYS,
        as_of=as_of.isoformat(),
        period=_period(report),
        listener_months=[(month, month_span(month, report.since, report.until))
                         for month in report.listeners_by_month],
        listeners_note=LISTENERS_NOTE,
        via_note=VIA_NOTE,
        via=[row | {"label": report.via_names.get(row["via"])} for row in report.via],
        platform_notes=PLATFORM_NOTES,
        guest_note=GUEST_NOTE,
        geoip_hint=geoip_hint(breakdowns["country"]),
    )


def html_breakdowns(report: Report, period: Sequence[Download],
                    episodes: Sequence[Episode]) -> dict[str, list[dict]]:
    """The page's breakdowns: apps and devices as platforms with their parts
    (:func:`podcast.stats.apps.platform_groups`), the guests by reach with their pace as
    text, countries and days as rows."""
    rows = {dim: rows_by(dim, period, episodes, report.since, report.until)
            for dim in ("app", "device", "country", "day")}
    guests = [row | {"vs_median_text": percent_text(row["vs_median_percent"])}
              for row in report.guests]
    return {"app": platform_groups("app", rows["app"]),
            "device": platform_groups("device", rows["device"]),
            "guest": guests, "country": rows["country"], "day": rows["day"]}


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
    from podcast.stats.store import (
        load_downloads,
        load_plays,
        not_counted,
        page_visits,
        rejected_counts,
    )

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
    plays = platform_figures.with_slugs(load_plays(show, None, until), episodes)
    result = build_report(all_downloads, episodes, rejected, show_title=show.title, by=by,
                          since=since, until=until, as_of=as_of,
                          not_counted=not_counted(show, since, until),
                          library_bots=show.stats.library_bots,
                          visits=page_visits(show, since, until), plays=plays)

    if chart is not None:
        from podcast.stats import charts
        from podcast.stats.canvas import save

        panels = progress_panels(all_downloads, show.targets, as_of, plays)
        write_atomic(chart, save(charts.progress_figure(panels), chart_format(chart)))
    if html is not None:
        page = html_report(result, all_downloads, show.targets, episodes, as_of, plays)
        write_atomic(html, page.encode("utf-8"))

    if fmt == "json":
        return to_json(result)
    if fmt == "csv":
        return to_csv(result)
    return to_table(result)
