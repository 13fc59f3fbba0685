"""Charts for the stats report, laid out by pure functions from the data.

Each chart is a :class:`~podcast.stats.canvas.Chart` of plain shapes in pixels: plot
frames and their scales, whole-number and date ticks, titles, a legend under the plot
(never over the data).  :mod:`podcast.stats.canvas` writes it as SVG (the page) or PNG.
No plotting library is involved: importing and laying out matplotlib's figures cost the
page a second of CPU.

Text widths are estimated (:func:`~podcast.stats.canvas.text_width`, generous for
sans-serif fonts) since no font is measured here: titles and legend labels are shortened
with "…" to fit (tests/test_stats_html.py checks the result with Chromium's own fonts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from podcast.model import Target
from podcast.stats.canvas import (
    INK,
    Box,
    Chart,
    Dot,
    Label,
    Stroke,
    fit,
    text_width,
)

ACTUAL_COLOUR = "#1f5f8b"
TARGET_COLOUR = "#6a4c93"  # purple: apart from the verdict colours of the projection
BAR_COLOUR = "#4a90c2"
# The projection takes the colour of the verdict, as in the HTML table.
ON_TRACK_COLOUR = "#2b7a3d"
BEHIND_COLOUR = "#b5541a"
MEDIAN_COLOUR = "#222222"
MUTED = "#555f6b"  # 6.5:1 on white: tick labels and notes stay readable
GRID = "#e5e5e5"
AXIS = "#8a939c"
#: One colour per episode of the pacing chart (matplotlib's tab10 without its grey).
EPISODE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                   "#e377c2", "#bcbd22", "#17becf")


@dataclass(frozen=True)
class Panel:
    """One target (or the plain download total): its running total, its goal and the
    projection the targets table states (see :func:`podcast.stats.targets.projection_path`).
    """

    title: str
    metric: str  # downloads | listeners
    series: Sequence[tuple[date, int]]  # running total per day, from the first day
    target: Target | None = None
    projection: Sequence[Sequence[tuple[date, float]]] = field(default=())  # segments
    projected: date | str | None = None  # the table's Projected: a date, reached, never
    pace_28d: float = 0.0
    on_track: bool = False
    end: date | None = None  # the chart's last day (past the deadline and projection)


# --- scales and ticks --------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """A plot area in pixels and the data ranges it shows."""

    left: float
    top: float
    width: float
    height: float
    x_range: tuple[float, float]
    y_range: tuple[float, float]

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def x(self, value: float) -> float:
        low, high = self.x_range
        return self.left + (value - low) / (high - low) * self.width

    def y(self, value: float) -> float:
        low, high = self.y_range
        return self.bottom - (value - low) / (high - low) * self.height

    def line(self, points: Sequence[tuple[float, float]], colour: str, width: float,
             dash: tuple[float, ...] = ()) -> Stroke:
        """The data ``points`` as a stroke, cut at the frame's left and right edges."""
        inside = clip_x(points, *self.x_range)
        return Stroke(tuple((self.x(x), self.y(y)) for x, y in inside), colour, width, dash)


def clip_x(points: Sequence[tuple[float, float]], low: float,
           high: float) -> list[tuple[float, float]]:
    """The part of a polyline between ``low`` and ``high`` on x (points sorted by x)."""
    result: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        a, b = max(x0, low), min(x1, high)
        if a > b or x1 == x0:
            continue
        for x in (a, b):
            point = (x, y0 + (y1 - y0) * (x - x0) / (x1 - x0))
            if not result or result[-1] != point:
                result.append(point)
    if len(points) == 1 and low <= points[0][0] <= high:
        result.append(points[0])
    return result


def count_step(top: float, most: int = 6) -> int:
    """The whole-number tick step (1, 2 or 5 × 10^k) giving at most ``most`` steps to
    ``top``: "1.5 downloads" means nothing."""
    for power in range(16):
        for factor in (1, 2, 5):
            step = factor * 10**power
            if top / step <= most:
                return step
    return 10**16


def count_ticks(low: float, high: float, most: int = 6) -> list[int]:
    """Whole-number ticks inside ``[low, high]``."""
    step = count_step(high - low, most)
    first = math.ceil(low / step) * step
    return list(range(first, int(math.floor(high)) + 1, step))


def count_top(largest: float) -> float:
    """The top of a count axis: a little room above the largest value (at least 1)."""
    return max(largest * 1.08, 1.0)


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
          "Dec")


def date_ticks(first: date, last: date, most: int = 8) -> list[tuple[date, str, str]]:
    """Ticks between two days: (day, label, second line).  Whole days, weeks or months by
    the span; the second line names the year under the first tick and where it changes
    (a short history is ticked by day, never by hour)."""
    span = (last - first).days
    days: list[date] = []
    for step in (1, 2, 7, 14):
        if span / step <= most:
            start = first if step < 7 else first + timedelta(days=-first.weekday() % 7)
            days = [start + timedelta(days=n) for n in range(0, span + 1, step)
                    if start + timedelta(days=n) <= last]
            break
    else:
        for months in (1, 2, 3, 6, 12, 24, 60):
            if span / (30.4 * months) <= most:
                days = _month_starts(first, last, months)
                break
    ticks, year, by_day = [], None, _by_day(days)
    for day in days:
        label = f"{day.day} {MONTHS[day.month - 1]}" if by_day else MONTHS[day.month - 1]
        ticks.append((day, label, str(day.year) if day.year != year else ""))
        year = day.year
    return ticks


def _by_day(days: Sequence[date]) -> bool:
    return len(days) < 2 or any(day.day != 1 for day in days) or (days[1] - days[0]).days < 28


def _month_starts(first: date, last: date, every: int) -> list[date]:
    year, month = first.year, first.month
    if first.day != 1:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    result = []
    while date(year, month, 1) <= last:
        if (month - 1) % every == 0:
            result.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return result


# --- drawing helpers ---------------------------------------------------------------------

TICK_SIZE = 12
TITLE_SIZE = 15
LEGEND_SIZE = 12
LEGEND_ROW = 18
WIDTH = 800
LEFT = 88  # y tick labels up to "400,000" and the upright y label
RIGHT = 20
TITLE_ROOM = 36
DATE_ROOM = 40  # two-line date ticks under the plot
NUMBER_ROOM = 44  # one line of ticks and the x axis's label


def _grid_and_counts(chart: Chart, frame: Frame, size: float = TICK_SIZE,
                     vertical: Sequence[float] = ()) -> None:
    """Horizontal grid lines at the count ticks with their labels on the left, and
    vertical ones at ``vertical`` (data x values)."""
    for value in count_ticks(*frame.y_range):
        y = frame.y(value)
        chart.shapes.append(Stroke(((frame.left, y), (frame.right, y)), GRID))
        chart.shapes.append(Label(frame.left - 5, y + size * 0.35, f"{value:,}", size, MUTED,
                                  "end"))
    for at in vertical:
        x = frame.x(at)
        chart.shapes.append(Stroke(((x, frame.top), (x, frame.bottom)), GRID))


def _date_labels(chart: Chart, frame: Frame, ticks: Sequence[tuple[date, str, str]],
                 size: float = TICK_SIZE) -> None:
    for day, label, year in ticks:
        x = frame.x(day.toordinal())
        chart.shapes.append(Stroke(((x, frame.bottom), (x, frame.bottom + 4)), AXIS))
        # A label at the right edge is moved in to stay on the canvas.
        middle = min(x, WIDTH - 2 - text_width(label, size) / 2)
        # Low enough to clear the "0" of the count axis at the left edge.
        chart.shapes.append(Label(middle, frame.bottom + 8 + size, label, size, MUTED,
                                  "middle"))
        if year:
            chart.shapes.append(Label(middle, frame.bottom + 10 + 2 * size, year, size, MUTED,
                                      "middle"))


def _axes_lines(chart: Chart, frame: Frame) -> None:
    """The left and bottom axis lines, over what the plot drew."""
    chart.shapes.append(Stroke(((frame.left, frame.top), (frame.left, frame.bottom),
                                (frame.right, frame.bottom)), AXIS))


def _y_label(chart: Chart, frame: Frame, text: str) -> None:
    chart.shapes.append(Label(16, frame.top + frame.height / 2, text, TICK_SIZE, INK,
                              "middle", upright=True))


def _title(chart: Chart, frame: Frame, top: float, text: str, status: str = "") -> None:
    """The chart's name, shortened to fit; the ``status`` after it is never cut off."""
    room = WIDTH - frame.left - RIGHT - text_width(status, TITLE_SIZE)
    chart.shapes.append(Label(frame.left, top + 24, fit(text, TITLE_SIZE, room) + status,
                              TITLE_SIZE, INK, bold=True))


def _message(chart: Chart, frame: Frame, text: str) -> None:
    """Said in the middle of an empty plot."""
    chart.shapes.append(Label(frame.left + frame.width / 2, frame.top + frame.height / 2,
                              text, 14, MUTED, "middle"))


@dataclass(frozen=True)
class Key:
    """One legend entry: a sample of the line (or a dot) and what it is."""

    label: str
    colour: str
    width: float = 2.0
    dash: tuple[float, ...] = ()
    dot: bool = False


def legend_rows(keys: Sequence[Key], columns: int) -> int:
    return math.ceil(len(keys) / columns) if keys else 0


def _legend(chart: Chart, keys: Sequence[Key], left: float, top: float,
            columns: int = 1) -> None:
    """Entries in ``columns`` under the plot (never over the data), row by row."""
    column_width = (WIDTH - left - RIGHT) / columns
    rows = legend_rows(keys, columns)
    for i, key in enumerate(keys):
        x = left + (i // rows) * column_width
        y = top + (i % rows) * LEGEND_ROW + LEGEND_ROW / 2
        chart.shapes.append(Stroke(((x, y), (x + 24, y)), key.colour, key.width, key.dash))
        if key.dot:
            chart.shapes.append(Dot(x + 12, y, 2.5, key.colour))
        chart.shapes.append(Label(x + 30, y + LEGEND_SIZE * 0.35,
                                  fit(key.label, LEGEND_SIZE, column_width - 36),
                                  LEGEND_SIZE, INK))


# --- the progress chart ------------------------------------------------------------------

PLOT_HEIGHT = 210
PANEL_GAP = 18
#: When the actuals reach less than this share of the goal, the line hugs the axis at the
#: goal's scale: an inset redraws it at its own scale so early progress shows.
ZOOM_BELOW = 0.25


def _needs_zoom(totals: Sequence[int], goal: int) -> bool:
    return goal > 0 and 0 < max(totals) < ZOOM_BELOW * goal


def _status(panel: Panel) -> str:
    if panel.projected == "reached":
        return "reached"
    return "on track" if panel.on_track else "behind"


def _projection_label(panel: Panel) -> str:
    label = f"at the 28-day pace ({panel.pace_28d:,.1f}/day): "
    if isinstance(panel.projected, date):
        off = panel.end is not None and panel.projected > panel.end
        return label + f"reached {panel.projected}" + (" (off the chart)" if off else "")
    return label + "never reached"


def _series_label(panel: Panel) -> str:
    return "listeners in the month (UTC)" if panel.metric == "listeners" else "downloads"


def _panel_keys(panel: Panel) -> list[Key]:
    monthly = panel.metric == "listeners"
    label = _series_label(panel)
    if not panel.series:
        return []
    keys = [Key(label if monthly else f"cumulative {label}", ACTUAL_COLOUR, 2.5)]
    if panel.target is not None:
        keys.append(Key(f"goal: {panel.target.goal:,} by {panel.target.by}", TARGET_COLOUR,
                        1.5))
        keys.append(Key(f"deadline: {panel.target.by}", TARGET_COLOUR, 1.5, (2, 3)))
        if panel.projection:
            colour = ON_TRACK_COLOUR if panel.on_track else BEHIND_COLOUR
            keys.append(Key(_projection_label(panel), colour, 2.0, (7, 4)))
    return keys


def _panel_height(panel: Panel) -> float:
    return (TITLE_ROOM + PLOT_HEIGHT + DATE_ROOM + LEGEND_ROW * len(_panel_keys(panel))
            + PANEL_GAP)


def _panel_days(panel: Panel) -> tuple[date, date]:
    """The first and last day a panel shows: a short history gets a day either side."""
    first, last = panel.series[0][0], panel.series[-1][0]
    if panel.target is not None:
        return first, (panel.end or last) + timedelta(days=1)
    if (last - first).days < 8:
        return first - timedelta(days=1), last + timedelta(days=1)
    return first, last


def _draw_target(chart: Chart, frame: Frame, panel: Panel) -> None:
    """The goal level, the deadline, and the projection ending on the projected day.

    No ramp from the first day: a launch spike would put the curve above it while the
    recent pace misses the goal.  What matters is where today's pace leads.
    """
    target = panel.target
    assert target is not None  # drawn only for a panel with a target
    y = frame.y(target.goal)
    chart.shapes.append(Stroke(((frame.left, y), (frame.right, y)), TARGET_COLOUR, 1.5))
    deadline = target.by.toordinal()
    if frame.x_range[0] <= deadline <= frame.x_range[1]:
        x = frame.x(deadline)
        chart.shapes.append(Stroke(((x, frame.top), (x, frame.bottom)), TARGET_COLOUR, 1.5,
                                   (2, 3)))
    colour = ON_TRACK_COLOUR if panel.on_track else BEHIND_COLOUR
    for segment in panel.projection:
        points = [(day.toordinal(), value) for day, value in segment]
        chart.shapes.append(frame.line(points, colour, 2.0, (7, 4)))
    if isinstance(panel.projected, date) and (panel.end is None
                                              or panel.projected <= panel.end):
        x = frame.x(panel.projected.toordinal())
        chart.shapes.append(Dot(x, y, 4, colour))
        chart.shapes.append(Label(x - 6, y - 7, f"projected {panel.projected}", 12, colour,
                                  "end"))


def _zoom_inset(chart: Chart, frame: Frame, panel: Panel) -> None:
    """The actuals alone, scaled to themselves, in the upper left (under the goal line)."""
    totals = [total for _, total in panel.series]
    first, last = panel.series[0][0], panel.series[-1][0]
    if first == last:
        first, last = first - timedelta(days=1), last + timedelta(days=1)
    top = count_top(max(totals))
    labels = [f"{value:,}" for value in count_ticks(0, top, 4)]
    room = max(text_width(label, 10) for label in labels) + 8
    left = frame.left + 0.05 * frame.width
    outer = Box(left, frame.top + 0.16 * frame.height, 0.45 * frame.width,
                0.56 * frame.height, "#ffffff", "#c5cbd1")
    chart.shapes.append(outer)
    inset = Frame(outer.x + room, outer.y + 20, outer.width - room - 12, outer.height - 40,
                  (first.toordinal(), last.toordinal()), (0, top))
    chart.shapes.append(Label(outer.x + 6, outer.y + 14,
                              fit(f"zoom: {_series_label(panel)} so far", 11, outer.width - 12),
                              11, INK))
    _grid_and_counts(chart, inset, 10)
    ticks = date_ticks(first, last, 4)
    for day, label, _year in ticks:  # no year line: it would sit on the main chart
        x = inset.x(day.toordinal())
        middle = min(x, outer.x + outer.width - 2 - text_width(label, 10) / 2)
        chart.shapes.append(Label(middle, inset.bottom + 15, label, 10, MUTED, "middle"))
    points = [(day.toordinal(), total) for day, total in panel.series]
    chart.shapes.append(inset.line(points, ACTUAL_COLOUR, 2.0))
    _axes_lines(chart, inset)


def _panel(chart: Chart, panel: Panel, top: float) -> None:
    """One panel of the progress chart from ``top`` down."""
    label = _series_label(panel)
    status = f" — {_status(panel)}" if panel.target and panel.series else ""
    totals = [total for _, total in panel.series]
    highest = max([*totals, panel.target.goal if panel.target else 0, 0])
    if panel.series:
        first, last = _panel_days(panel)
    else:
        first = last = date(2000, 1, 1)
    x_range = (float(first.toordinal()), float(max(last.toordinal(), first.toordinal() + 1)))
    frame = Frame(LEFT, top + TITLE_ROOM, WIDTH - LEFT - RIGHT, PLOT_HEIGHT, x_range,
                  (0, count_top(highest)))
    ticks = date_ticks(first, last) if panel.series else []
    _grid_and_counts(chart, frame, vertical=[day.toordinal() for day, _, _ in ticks])
    _title(chart, frame, top, panel.title, status)
    _y_label(chart, frame, label)
    if not panel.series:
        _message(chart, frame, "no downloads yet")
        _axes_lines(chart, frame)
        return
    if panel.target is not None:
        _draw_target(chart, frame, panel)
    points = [(day.toordinal(), total) for day, total in panel.series]
    chart.shapes.append(frame.line(points, ACTUAL_COLOUR, 2.5))
    if len(points) == 1:  # one day: a line of one point would not show
        chart.shapes.append(Dot(frame.x(points[0][0]), frame.y(points[0][1]), 3.5,
                                ACTUAL_COLOUR))
    if panel.target is not None and _needs_zoom(totals, panel.target.goal):
        _zoom_inset(chart, frame, panel)
    _axes_lines(chart, frame)
    _date_labels(chart, frame, ticks)
    _legend(chart, _panel_keys(panel), frame.left, frame.bottom + DATE_ROOM)


def progress_figure(panels: Sequence[Panel]) -> Chart:
    """Running totals against their goal, one panel per target, with the projection.

    The dashed line is the targets table's projection (the 28-day pace continued from
    today) and ends on its projected day: right of the dotted deadline means behind.
    A listeners panel shows each month's own listeners, back to 0 on each 1st.
    """
    shown = list(panels) or [Panel("Cumulative downloads", "downloads", [])]
    height = sum(_panel_height(panel) for panel in shown)
    names = "; ".join(panel.title for panel in shown)
    chart = Chart(WIDTH, math.ceil(height), f"Progress: {names}")
    top = 0.0
    for panel in shown:
        _panel(chart, panel, top)
        top += _panel_height(panel)
    return chart


# --- downloads per day -------------------------------------------------------------------


def daily_figure(days: Sequence[tuple[date, int]], title: str = "Downloads per day") -> Chart:
    """Downloads per UTC day as bars."""
    top = TITLE_ROOM if title else 12
    chart = Chart(WIDTH, int(top + PLOT_HEIGHT + DATE_ROOM + 8), title or "Downloads per day")
    if days:
        first, last = days[0][0], days[-1][0]
        pad = 1.5 if (last - first).days < 8 else 0.6
        x_range = (first.toordinal() - pad, last.toordinal() + pad)
    else:
        x_range = (0.0, 1.0)
    frame = Frame(LEFT, top, WIDTH - LEFT - RIGHT, PLOT_HEIGHT, x_range,
                  (0, count_top(max((n for _, n in days), default=0))))
    _grid_and_counts(chart, frame)
    if title:
        _title(chart, frame, 0, title)
    _y_label(chart, frame, "downloads")
    if not days:
        _message(chart, frame, "no downloads in this period")
        _axes_lines(chart, frame)
        return chart
    for day, n in days:
        x0, x1 = frame.x(day.toordinal() - 0.4), frame.x(day.toordinal() + 0.4)
        if n:
            chart.shapes.append(Box(x0, frame.y(n), x1 - x0, frame.y(0) - frame.y(n),
                                    BAR_COLOUR))
    _axes_lines(chart, frame)
    first, last = days[0][0], days[-1][0]
    if pad > 1:  # a short history: the day either side is ticked too
        first, last = first - timedelta(days=1), last + timedelta(days=1)
    _date_labels(chart, frame, date_ticks(first, last))
    return chart


# --- pacing ------------------------------------------------------------------------------


def pacing_figure(curves: Sequence[tuple[str, Sequence[int]]],
                  median_line: Sequence[float | None]) -> Chart:
    """Each episode's cumulative downloads by day since its own release (day 1 = the
    publication day), overlaid, with the show's median episode as a dashed reference.

    ``curves``: (label, cumulative downloads on day 1, 2, ...) per episode.
    """
    drawn = [(label, curve) for label, curve in curves if curve]
    points = [(day, value) for day, value in enumerate(median_line, 1) if value is not None]
    keys = [Key(label, EPISODE_COLOURS[i % len(EPISODE_COLOURS)], 2.0, dot=True)
            for i, (label, _curve) in enumerate(drawn)]
    if points:
        keys.append(Key("median episode", MEDIAN_COLOUR, 2.5, (7, 4)))
    columns = 1 if len(keys) <= 5 else 2
    top = 12
    height = top + PLOT_HEIGHT + NUMBER_ROOM + 8 + LEGEND_ROW * legend_rows(keys, columns)
    chart = Chart(WIDTH, int(height), "Pacing: cumulative downloads of each episode by day "
                                      "since its release, with the median episode")
    days = max([len(curve) for _, curve in drawn] + [len(points) and points[-1][0], 2])
    highest = max([max(curve) for _, curve in drawn] + [v for _, v in points] + [0])
    frame = Frame(LEFT, top, WIDTH - LEFT - RIGHT, PLOT_HEIGHT, (1, days + 0.5),
                  (0, count_top(highest)))
    x_ticks = [day for day in count_ticks(1, days, 10) if day >= 1]
    _grid_and_counts(chart, frame, vertical=x_ticks)
    _y_label(chart, frame, "cumulative downloads")
    for (_label, curve), key in zip(drawn, keys, strict=False):
        line = list(enumerate(curve, 1))
        chart.shapes.append(frame.line(line, key.colour, 2.0))
        chart.shapes += [Dot(frame.x(x), frame.y(y), 2.0, key.colour) for x, y in line]
    if points:
        chart.shapes.append(frame.line(points, MEDIAN_COLOUR, 2.5, (7, 4)))
    if not drawn:
        _message(chart, frame, "no episode out yet")
    _axes_lines(chart, frame)
    for day in x_ticks:
        x = frame.x(day)
        chart.shapes.append(Stroke(((x, frame.bottom), (x, frame.bottom + 4)), AXIS))
        chart.shapes.append(Label(x, frame.bottom + 5 + TICK_SIZE, str(day), TICK_SIZE,
                                  MUTED, "middle"))
    chart.shapes.append(Label(frame.left + frame.width / 2, frame.bottom + 38,
                              "day since release (release day = 1)", TICK_SIZE, INK, "middle"))
    _legend(chart, keys, frame.left, frame.bottom + NUMBER_ROOM + 4, columns)
    return chart
