"""Progress toward the audience targets of podcast.yaml (``podcast stats targets``).

A target is a goal (downloads or distinct listeners) to reach by a date, over every
episode or a subset.  For each one we say where the show stands and whether the recent
pace gets it there in time:

- ``value``: the metric counted over all downloads up to and including ``today``;
- ``pace_needed``: what is left, divided by the whole days between ``today`` and ``by``;
- ``pace_7d`` / ``pace_28d``: the average daily gain over the last 7 / 28 *complete*
  days, i.e. the days before ``today`` (logs arrive late, so today's count is partial);
- ``projected``: the day the goal is reached at the 28-day pace, ``"reached"`` when it
  already is, ``"never"`` when nothing came in for 28 days or the goal is more than ten
  years away at that pace;
- ``on_track``: reached, or projected on or before ``by``.

For ``listeners`` the gain of a day is the number of listeners seen for the first time
that day, so the running total is the number of distinct listeners so far.

Everything here is a pure function of ``list[Download]`` except :func:`targets`, which
loads the downloads from the stats store.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from podcast.model import Download, Show, Target

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


def relevant(downloads: Iterable[Download], target: Target) -> list[Download]:
    """The downloads a target counts: all, or those of its ``episodes`` subset."""
    if not target.episodes:
        return list(downloads)
    wanted = set(target.episodes)
    return [d for d in downloads if d.slug in wanted]


def daily_gain(downloads: Iterable[Download], metric: str) -> dict[date, int]:
    """How much the running total of ``metric`` grows on each day that has data.

    Downloads count one each; listeners count on the first day they are seen.
    """
    gain: dict[date, int] = {}
    if metric == "listeners":
        first_seen: dict[str, date] = {}
        for d in downloads:
            seen = first_seen.get(d.listener)
            if seen is None or d.day < seen:
                first_seen[d.listener] = d.day
        for day in first_seen.values():
            gain[day] = gain.get(day, 0) + 1
    else:
        for d in downloads:
            gain[d.day] = gain.get(d.day, 0) + 1
    return gain


def cumulative(downloads: Iterable[Download], metric: str, start: date,
               end: date) -> list[tuple[date, int]]:
    """The running total of ``metric`` on every day from ``start`` to ``end`` inclusive.

    Data before ``start`` is already included in the first day's total.
    """
    gain = daily_gain(downloads, metric)
    total = sum(n for day, n in gain.items() if day < start)
    series = []
    day = start
    while day <= end:
        total += gain.get(day, 0)
        series.append((day, total))
        day += timedelta(days=1)
    return series


def value_on(gain: dict[date, int], day: date) -> int:
    """The running total at the end of ``day``."""
    return sum(n for d, n in gain.items() if d <= day)


def progress(target: Target, downloads: Sequence[Download], today: date) -> Progress:
    """Progress of one target on ``today`` from every download ingested so far."""
    gain = daily_gain(relevant(downloads, target), target.metric)
    value = value_on(gain, today)
    remaining = max(target.goal - value, 0)
    yesterday = today - timedelta(days=1)
    pace_7d = (value_on(gain, yesterday)
               - value_on(gain, yesterday - timedelta(days=SHORT_WINDOW))) / SHORT_WINDOW
    pace_28d = (value_on(gain, yesterday)
                - value_on(gain, yesterday - timedelta(days=LONG_WINDOW))) / LONG_WINDOW
    days_left = max((target.by - today).days, 0)

    reached_on = None
    if remaining == 0:
        running = 0
        for day in sorted(gain):
            running += gain[day]
            if running >= target.goal:
                reached_on = day
                break

    projected: date | str
    if remaining == 0:
        projected = "reached"
    elif pace_28d <= 0 or remaining / pace_28d > HORIZON_DAYS:
        projected = "never"
    else:
        projected = today + timedelta(days=math.ceil(remaining / pace_28d))

    if remaining == 0:
        pace_needed: float | None = 0.0
    elif days_left > 0:
        pace_needed = remaining / days_left
    else:
        pace_needed = None

    on_track = remaining == 0 or (isinstance(projected, date) and projected <= target.by)
    return Progress(
        target=target, today=today, value=value,
        percent=round(100 * value / target.goal, 1), remaining=remaining,
        days_left=days_left, pace_needed=pace_needed, pace_7d=pace_7d, pace_28d=pace_28d,
        projected=projected, reached_on=reached_on, on_track=on_track,
    )


def all_progress(targets: Iterable[Target], downloads: Sequence[Download],
                 today: date) -> list[Progress]:
    """Progress of every target, in the order of podcast.yaml."""
    return [progress(t, downloads, today) for t in targets]


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
        "percent": p.percent,
        "remaining": p.remaining,
        "days_left": p.days_left,
        "pace_needed": _rate(p.pace_needed),
        "pace_7d": _rate(p.pace_7d),
        "pace_28d": _rate(p.pace_28d),
        "projected": p.projected.isoformat() if isinstance(p.projected, date) else p.projected,
        "reached_on": p.reached_on.isoformat() if p.reached_on else None,
        "on_track": p.on_track,
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
            t.metric, _number(t.goal), _number(p.value), f"{p.percent:.1f}%",
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
    from podcast.stats.store import load_downloads

    downloads = load_downloads(show, None, today)
    progresses = all_progress(show.targets, downloads, today)
    return to_json(progresses, today) if fmt == "json" else to_table(progresses, today)
