"""Progress toward the audience targets of podcast.yaml (``podcast stats targets``).

A target is a goal to reach by a date, over every episode or a subset: ``downloads`` (all
downloads so far) or ``listeners`` (distinct listeners **in one UTC calendar month**:
listener hashes are keyed per month, see :mod:`podcast.stats.store`, so a listener can
only be recognised within a month and a cross-month total would count returning
listeners once per month).  For each target we say where the show stands and whether the
recent pace gets it there in time.  A ``listens`` target counts like ``downloads``, with the
plays imported from the platforms that never download from the host added in (Spotify,
YouTube…; never Apple Podcasts, whose listens are downloads already: see
:mod:`podcast.stats.platforms`), on the day the platform reports them.  One model of the
future serves the table, the verdict sentence and the chart (:func:`projection_path`): the
28-day pace, continued.

- the *running total* on a day: downloads up to that day; for listeners, the listeners of
  that day's month up to that day (it starts again from 0 on the 1st);
- ``now``: the running total on ``today``;
- ``value``: downloads: ``now``; listeners: the best month so far (``value_month``),
  the current one included, since the goal is met as soon as one month meets it;
- ``pace_needed``: what each remaining day must bring: downloads, what is left divided by
  the whole days between ``today`` and ``by``; listeners, the lowest daily pace at which
  a month (the rest of the current one, or a later one starting by ``by``) reaches the
  goal by ``by``;
- ``pace_7d`` / ``pace_28d``: the average daily gain of the running total over the last
  7 / 28 *complete* days, i.e. the days before ``today`` (logs arrive late, so today's
  count is partial).  A listener's gain is counted on the first day seen in that month;
- ``projected``: the day the goal is reached if the running total keeps growing at the
  28-day pace (listeners: the current month from ``now``, later months from 0);
  ``"reached"`` when it already is; ``"never"`` when nothing came in for 28 days, the
  goal is more than ten years away, or (listeners) no month is long enough at that pace;
- ``on_track``: reached, or projected on or before ``by``.

Everything here is a pure function of ``list[Download]`` (and the imported ``Play`` rows)
except :func:`targets`, which loads them from the stats store.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from podcast.model import Download, Show, Target
from podcast.stats.platforms import Play, in_listens

#: Recent windows the pace is measured over, in days.
SHORT_WINDOW = 7
LONG_WINDOW = 28
#: A projection further out than this is "never": nobody plans a show in centuries (and
#: dates stop at year 9999).
HORIZON_DAYS = 10 * 365


@dataclass(frozen=True)
class Progress:
    """Where one target stands on a given day."""

    target: Target
    today: date
    now: int  # the running total on today (listeners: this month's so far)
    value: int
    percent: float  # of the goal, one decimal
    remaining: int
    days_left: int  # whole days from today to target.by, 0 once it has passed
    pace_needed: float | None  # per day; None when the deadline has passed unreached
    pace_7d: float
    pace_28d: float
    projected: date | str  # a date, "reached" or "never"
    reached_on: date | None  # the day the running total first met the goal
    on_track: bool
    value_month: str | None = None  # listeners: the month ``value`` counts
    by_month: dict[str, int] = field(default_factory=dict)  # listeners of each month
    # listens: ``now`` by source ({"downloads": n, "spotify": n}), and the plays of
    # platforms already in the downloads (Apple), shown but never added
    parts: dict[str, int] = field(default_factory=dict)
    not_added: dict[str, int] = field(default_factory=dict)

    @property
    def monthly(self) -> bool:
        """Whether the running total starts again each month (a listeners target)."""
        return self.target.metric == "listeners"


def month_of(day: date) -> str:
    """``YYYY-MM``: the UTC month a listener hash is valid in."""
    return f"{day.year:04d}-{day.month:02d}"


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def relevant(downloads: Iterable[Download], target: Target) -> list[Download]:
    """The downloads a target counts: all, or those of its ``episodes`` subset."""
    if not target.episodes:
        return list(downloads)
    wanted = set(target.episodes)
    return [d for d in downloads if d.slug in wanted]


def relevant_plays(plays: Iterable[Play], target: Target) -> list[Play]:
    """The imported plays a ``listens`` target adds: those of platforms that never
    download from the host, of every episode or of the target's ``episodes``."""
    wanted = set(target.episodes)
    return [p for p in plays if in_listens(p.platform) and (not wanted or p.slug in wanted)]


def daily_gain(downloads: Iterable[Download], metric: str,
               plays: Iterable[Play] = ()) -> dict[date, int]:
    """How much the running total of ``metric`` grows on each day that has data.

    Downloads count one each; listeners count on the first day they are seen in a month
    (keyed by month too: a hash means one listener only within its month); listens are
    the downloads plus ``plays`` (already filtered by :func:`relevant_plays`).
    """
    gain: dict[date, int] = {}
    if metric == "listeners":
        first_seen: dict[tuple[str, str], date] = {}
        for d in downloads:
            key = (month_of(d.day), d.listener)
            seen = first_seen.get(key)
            if seen is None or d.day < seen:
                first_seen[key] = d.day
        for day in first_seen.values():
            gain[day] = gain.get(day, 0) + 1
    else:
        for d in downloads:
            gain[d.day] = gain.get(d.day, 0) + 1
    if metric == "listens":
        for p in plays:
            gain[p.day] = gain.get(p.day, 0) + p.plays
    return gain


def cumulative(downloads: Iterable[Download], metric: str, start: date,
               end: date, plays: Iterable[Play] = ()) -> list[tuple[date, int]]:
    """The running total of ``metric`` on every day from ``start`` to ``end`` inclusive.

    Data before ``start`` is already included in the first day's total.  For listeners
    the total is that month's, back to 0 on each 1st.
    """
    gain = daily_gain(downloads, metric, plays)
    monthly = metric == "listeners"
    return [(day, running_on(gain, day, monthly)) for day in _days(start, end)]


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def value_on(gain: dict[date, int], day: date) -> int:
    """The sum of the gains up to the end of ``day`` (every month)."""
    return sum(n for d, n in gain.items() if d <= day)


def running_on(gain: dict[date, int], day: date, monthly: bool) -> int:
    """The running total at the end of ``day``: since the 1st of its month if monthly."""
    first = day.replace(day=1) if monthly else date.min
    return sum(n for d, n in gain.items() if first <= d <= day)


def by_month(gain: dict[date, int], today: date) -> dict[str, int]:
    """Listeners of each month up to ``today`` (a gain is a listener's first day there)."""
    months: dict[str, int] = {}
    for day in sorted(gain):
        if day <= today:
            months[month_of(day)] = months.get(month_of(day), 0) + gain[day]
    return months


def _reached_on(gain: dict[date, int], goal: int, monthly: bool) -> date | None:
    """The first day the running total met ``goal``."""
    running, month = 0, None
    for day in sorted(gain):
        if monthly and month_of(day) != month:
            running, month = 0, month_of(day)
        running += gain[day]
        if running >= goal:
            return day
    return None


def _next_months(day: date, count: int) -> list[tuple[date, date]]:
    """(first day, last day) of the ``count`` months after ``day``'s."""
    months = []
    for _ in range(count):
        first = month_end(day) + timedelta(days=1)
        months.append((first, month_end(first)))
        day = first
    return months


def project(now: int, goal: int, today: date, pace: float, monthly: bool) -> date | str:
    """The day the running total reaches ``goal`` growing by ``pace`` a day from ``now``.

    Monthly totals continue this month and restart at 0 on each 1st; if none of the
    next two months (one has 31 days) gets there, no month ever will at that pace.
    """
    if now >= goal:
        return "reached"
    if pace <= 0 or (goal - now) / pace > HORIZON_DAYS:
        return "never"
    day = today + timedelta(days=math.ceil((goal - now) / pace))
    if not monthly or day <= month_end(today):
        return day
    for first, last in _next_months(today, 2):
        day = first + timedelta(days=math.ceil(goal / pace) - 1)
        if day <= last:
            return day
    return "never"


def needed_pace(now: int, goal: int, today: date, by: date, monthly: bool) -> float | None:
    """The daily gain that reaches ``goal`` by ``by``; None once ``by`` has passed.

    Monthly: the lowest among the rest of this month and the later months that start by
    ``by`` (each only up to ``by``).
    """
    if now >= goal:
        return 0.0
    if by <= today:
        return None
    if not monthly:
        return (goal - now) / (by - today).days
    days_left = (min(month_end(today), by) - today).days
    options = [(goal - now) / days_left] if days_left > 0 else []
    # Month lengths repeat within a year: twelve months show every case.
    options += [goal / ((min(last, by) - first).days + 1)
                for first, last in _next_months(today, 12) if first <= by]
    return min(options) if options else None


def pace(gain: dict[date, int], today: date, window: int) -> float:
    """Average daily gain over the ``window`` complete days before ``today``."""
    yesterday = today - timedelta(days=1)
    return (value_on(gain, yesterday)
            - value_on(gain, yesterday - timedelta(days=window))) / window


def listens_parts(downloads: Sequence[Download], plays: Sequence[Play],
                  today: date) -> tuple[dict[str, int], dict[str, int]]:
    """A listens total up to ``today`` by source, and the plays not added (platforms in
    the logs already).  ``downloads`` and ``plays`` are the target's own."""
    parts = {"downloads": sum(1 for d in downloads if d.day <= today)}
    not_added: dict[str, int] = {}
    for p in plays:
        if p.day <= today:
            into = parts if in_listens(p.platform) else not_added
            into[p.platform] = into.get(p.platform, 0) + p.plays
    return parts, not_added


def progress(target: Target, downloads: Sequence[Download], today: date,
             plays: Sequence[Play] = ()) -> Progress:
    """Progress of one target on ``today`` from every download ingested so far (and,
    for ``listens``, every platform figure imported)."""
    monthly = target.metric == "listeners"
    counted = relevant(downloads, target)
    added = relevant_plays(plays, target) if target.metric == "listens" else []
    gain = daily_gain(counted, target.metric, added)
    now = running_on(gain, today, monthly)
    months = by_month(gain, today) if monthly else {}
    value, value_month = now, None
    if months:
        # The best month, the latest of equals: a month meeting the goal meets the target.
        value_month = max(months, key=lambda m: (months[m], m))
        value = months[value_month]
    remaining = max(target.goal - value, 0)
    pace_28d = pace(gain, today, LONG_WINDOW)
    reached_on = _reached_on({d: n for d, n in gain.items() if d <= today}, target.goal,
                             monthly) if remaining == 0 else None
    projected = "reached" if remaining == 0 else project(now, target.goal, today, pace_28d,
                                                          monthly)
    pace_needed = 0.0 if remaining == 0 else needed_pace(now, target.goal, today,
                                                          target.by, monthly)
    on_track = remaining == 0 or (isinstance(projected, date) and projected <= target.by)
    parts: dict[str, int] = {}
    not_added: dict[str, int] = {}
    if target.metric == "listens":
        wanted = set(target.episodes)
        parts, not_added = listens_parts(
            counted, [p for p in plays if not wanted or p.slug in wanted], today)
    return Progress(
        target=target, today=today, now=now, value=value,
        percent=round(100 * value / target.goal, 1), remaining=remaining,
        days_left=max((target.by - today).days, 0), pace_needed=pace_needed,
        pace_7d=pace(gain, today, SHORT_WINDOW), pace_28d=pace_28d,
        projected=projected, reached_on=reached_on, on_track=on_track,
        value_month=value_month, by_month=months, parts=parts, not_added=not_added,
    )


def projection_path(p: Progress, end: date) -> list[list[tuple[date, float]]]:
    """The projection the table states, as line segments for the chart.

    From ``(today, now)`` the running total grows by the 28-day pace until the projected
    day (or ``end``, whichever is first); a monthly total restarts at 0 on each 1st, so
    it is one segment per month.  Empty once the goal is reached.
    """
    if p.projected == "reached" or end <= p.today:
        return []
    stop = min(p.projected, end) if isinstance(p.projected, date) else end
    segments, first, level = [], p.today, float(p.now)
    while first <= stop:
        last = min(month_end(first), stop) if p.monthly else stop
        segments.append([(first, level), (last, level + p.pace_28d * (last - first).days)])
        first, level = last + timedelta(days=1), p.pace_28d
    return segments


def verdict(p: Progress) -> str:
    """The target's state in one sentence, with the numbers that make it.

    e.g. "Behind: 72/day over the last 7 days, 148/day needed to reach 40,000 downloads
    by 2027-03-31; at the 28-day pace (95/day), reached on 2027-05-12."
    """
    t = p.target
    unit = "listens" if t.metric == "listens" else "downloads"
    goal = f"{t.goal:,} listeners in a month" if p.monthly else f"{t.goal:,} {unit}"
    if p.reached_on is not None:
        where = f" (in {month_of(p.reached_on)})" if p.monthly else ""
        return f"Reached on {p.reached_on.isoformat()}{where}: {goal}, due by {t.by}."
    if p.pace_needed is None:
        head = f"Missed: the deadline {t.by} has passed, {p.value:,} of {goal}"
    else:
        head = (f"{'On track' if p.on_track else 'Behind'}: "
                f"{_number(p.pace_7d, 1)}/day over the last 7 days, "
                f"{_number(p.pace_needed, 1)}/day needed to reach {goal} by {t.by}")
    if p.monthly:
        head += f" ({month_of(p.today)} so far: {p.now:,})"
    if isinstance(p.projected, date):
        future = f"reached on {p.projected.isoformat()}"
    else:
        future = "never reached"
    return f"{head}; at the 28-day pace ({_number(p.pace_28d, 1)}/day), {future}."


def all_progress(targets: Iterable[Target], downloads: Sequence[Download],
                 today: date, plays: Sequence[Play] = ()) -> list[Progress]:
    """Progress of every target, in the order of podcast.yaml."""
    return [progress(t, downloads, today, plays) for t in targets]


def parts_text(p: Progress) -> str:
    """``12,345 downloads + 3,456 spotify plays (apple 789 plays in the downloads
    already, not added)``: where a listens total comes from."""
    text = " + ".join([f"{p.parts.get('downloads', 0):,} downloads"]
                      + [f"{n:,} {name} plays" for name, n in p.parts.items()
                         if name != "downloads"])
    if p.not_added:
        text += " (not added, in the downloads already: " + ", ".join(
            f"{n:,} {name} plays" for name, n in p.not_added.items()) + ")"
    return text


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def progress_dict(p: Progress) -> dict:
    """One target's progress as plain JSON-ready data (dates ISO)."""
    t = p.target
    return {
        "name": t.name,
        "metric": t.metric,
        "goal": t.goal,
        "by": t.by.isoformat(),
        "episodes": list(t.episodes) or "all",
        "value": p.value,
        **({"value_month": p.value_month, "now": p.now,
            "listeners_by_month": dict(p.by_month)} if p.monthly else {}),
        **({"parts": dict(p.parts), "not_added": dict(p.not_added)}
           if t.metric == "listens" else {}),
        "percent": p.percent,
        "remaining": p.remaining,
        "days_left": p.days_left,
        "pace_needed": _rate(p.pace_needed),
        "pace_7d": _rate(p.pace_7d),
        "pace_28d": _rate(p.pace_28d),
        "projected": p.projected.isoformat() if isinstance(p.projected, date) else p.projected,
        "reached_on": p.reached_on.isoformat() if p.reached_on else None,
        "on_track": p.on_track,
        "verdict": verdict(p),
    }


def to_json(progresses: Sequence[Progress], today: date) -> str:
    """``{"today": ..., "targets": [...]}``, indented for people and stable for diffs."""
    return json.dumps({"today": today.isoformat(),
                       "targets": [progress_dict(p) for p in progresses]},
                      indent=2, ensure_ascii=False)


def _number(value: float | None, decimals: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{decimals}f}"


def to_table(progresses: Sequence[Progress], today: date) -> str:
    """An aligned plain-text table, one line per target, with a legend."""
    if not progresses:
        return (f"Targets on {today.isoformat()}: none set.\n"
                "Add a `targets:` list to podcast.yaml, e.g.\n"
                "  targets:\n    - {name: Season 1, metric: downloads, goal: 40000, "
                "by: 2027-06-30}")
    header = ["Target", "Metric", "Goal", "Now", "Done", "Left", "By", "Need/day",
              "7d/day", "28d/day", "Projected", "On track"]
    rows = []
    for p in progresses:
        t = p.target
        projected = p.projected.isoformat() if isinstance(p.projected, date) else p.projected
        if p.reached_on:
            projected = f"reached {p.reached_on.isoformat()}"
        rows.append([
            t.name + ("" if not t.episodes else f" ({len(t.episodes)} ep.)"),
            t.metric, _number(t.goal),
            _number(p.value) + (f" ({p.value_month})" if p.value_month else ""),
            f"{p.percent:.1f}%",
            _number(p.remaining), t.by.isoformat(),
            "passed" if p.pace_needed is None else _number(p.pace_needed, 1),
            _number(p.pace_7d, 1), _number(p.pace_28d, 1), projected,
            "yes" if p.on_track else "NO",
        ])
    numeric = {2, 3, 4, 5, 7, 8, 9}
    lines = [f"Targets on {today.isoformat()}", ""]
    lines += align([header, *rows], numeric)
    lines += ["", "Need/day: what each remaining day must bring. 7d/28d: average per day "
                  "over the last 7/28 complete days.",
              "Projected: when the goal is met at the 28-day pace."]
    if any(p.monthly for p in progresses):
        lines.append("listeners: distinct listeners within one UTC calendar month (listener "
                     "IDs change monthly, so months are never added up); Now: the best month.")
    if any(p.target.metric == "listens" for p in progresses):
        lines.append("listens: IAB downloads + plays reported by the platforms that never "
                     "download from the host (Spotify, YouTube…; not Apple Podcasts, in the "
                     "downloads already).")
    lines.append("")
    for p in progresses:
        lines.append(f"{p.target.name}: {verdict(p)}")
        if p.by_month:
            lines.append("  listeners per month: " + ", ".join(
                f"{month} {n:,}" for month, n in p.by_month.items()))
        if p.target.metric == "listens":
            lines.append(f"  listens: {parts_text(p)}")
    return "\n".join(lines)


def align(rows: Sequence[Sequence[str]], numeric: set[int]) -> list[str]:
    """Pad columns to equal width: numbers to the right, text to the left."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
                 for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return lines


def targets(show: Show, *, today: date, fmt: str = "table") -> str:
    """``podcast stats targets``: progress of every target of ``show`` on ``today``."""
    # Imported here so the pure functions above work without the database layer.
    from podcast.config import load_episodes
    from podcast.stats.platforms import with_slugs
    from podcast.stats.store import load_downloads, load_plays

    downloads = load_downloads(show, None, today)
    plays = (with_slugs(load_plays(show, None, today), load_episodes(show))
             if any(t.metric == "listens" for t in show.targets) else [])
    progresses = all_progress(show.targets, downloads, today, plays)
    return to_json(progresses, today) if fmt == "json" else to_table(progresses, today)
