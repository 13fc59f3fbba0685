"""Charts for the stats report, drawn with matplotlib's Agg renderer (no display needed).

Figures are built with ``matplotlib.figure.Figure`` directly rather than ``pyplot``, so
nothing is registered globally and a chart can be drawn from any thread.  Output is
PNG or SVG bytes; PNG metadata and SVG ids are fixed so the same data gives the same file.

matplotlib is imported by the functions that draw, never at the top: importing it costs
about half a second, which the table and JSON reports (and :class:`Panel`, which the
report builds without drawing) must not pay.  The axes sit at fixed margins in inches
(:func:`_place_axes`): matplotlib's automatic layout cost as much as drawing the charts.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from podcast.model import Target

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ACTUAL_COLOUR = "#1f5f8b"
TARGET_COLOUR = "#d9822b"
BAR_COLOUR = "#4a90c2"
# The projection takes the colour of the verdict, as in the HTML table.
ON_TRACK_COLOUR = "#2b7a3d"
BEHIND_COLOUR = "#b5541a"


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


def save(figure: Figure, fmt: str) -> bytes:
    """The figure as ``png`` or ``svg`` bytes, reproducible for the same input."""
    import matplotlib

    buffer = io.BytesIO()
    # The hash salt fixes SVG element ids; without it they change on every run.
    with matplotlib.rc_context({"svg.hashsalt": "podcast-stats", "svg.fonttype": "path"}):
        if fmt == "svg":
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        else:
            figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


#: Fixed margins around the axes, in inches: room for 6-digit tick labels and the y
#: label on the left, two-line date ticks (or ticks and an x label) below, a title above.
LEFT_MARGIN = 0.95
RIGHT_MARGIN = 0.2
TITLE_MARGIN = 0.4
EDGE_MARGIN = 0.15
DATE_AXIS_MARGIN = 0.6
LABELLED_AXIS_MARGIN = 0.65
#: Between two stacked panels: the upper one's date ticks, then the lower one's title.
PANEL_GAP = 0.8


def _place_axes(figure: Figure, rows: int, *, left: float, bottom: float,
                top: float = TITLE_MARGIN) -> None:
    """Axes at fixed margins (inches), ``rows`` stacked :data:`PANEL_GAP` apart, instead
    of the automatic layout's measuring of every label."""
    width, height = figure.get_size_inches()
    gap = PANEL_GAP
    axes_height = (height - top - bottom - gap * (rows - 1)) / rows
    figure.subplots_adjust(left=left / width, right=1 - RIGHT_MARGIN / width,
                           bottom=bottom / height, top=1 - top / height,
                           hspace=gap / axes_height if rows > 1 else 0.0)


#: Below this many days of data, the date axis ticks whole days (matplotlib's automatic
#: one would tick hours: a one-day history showed one bar on an hourly axis).
SHORT_SPAN_DAYS = 8


def _date_axis(axes, days: Sequence[date] = ()) -> None:
    """Dates on the x axis; a short history gets a day of margin either side and whole
    days as ticks (the axis's span decides: a target's chart reaches its deadline)."""
    from matplotlib.dates import (
        AutoDateLocator,
        ConciseDateFormatter,
        DateFormatter,
        DayLocator,
        date2num,
    )

    if days and (max(days) - min(days)).days < SHORT_SPAN_DAYS:
        left, right = axes.get_xlim()
        axes.set_xlim(min(left, date2num(min(days) - timedelta(days=1))),
                      max(right, date2num(max(days) + timedelta(days=1))))
    left, right = axes.get_xlim()
    if right - left <= SHORT_SPAN_DAYS + 2:  # matplotlib's date unit is the day
        axes.xaxis.set_major_locator(DayLocator())
        axes.xaxis.set_major_formatter(DateFormatter("%d %b\n%Y"))
        return
    locator = AutoDateLocator(minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))


#: When the actuals reach less than this share of the goal, the line hugs the axis at the
#: goal's scale: an inset redraws it at its own scale so early progress shows.
ZOOM_BELOW = 0.25


def _needs_zoom(totals: Sequence[int], goal: int) -> bool:
    return goal > 0 and 0 < max(totals) < ZOOM_BELOW * goal


def _zoom_inset(axes, days: Sequence[date], totals: Sequence[int], label: str) -> None:
    """The actuals alone, scaled to themselves, in the upper left (under the goal line)."""
    from matplotlib.dates import AutoDateLocator, DateFormatter, DayLocator

    inset = axes.inset_axes([0.06, 0.33, 0.36, 0.45])
    inset.plot(days, totals, color=ACTUAL_COLOUR, linewidth=1.8)
    inset.set_ylim(0, max(totals) * 1.15)
    inset.set_title(f"zoom: {label} so far", fontsize=8, loc="left", y=1.0)
    inset.tick_params(labelsize=7)
    inset.grid(True, color="#eeeeee")
    _date_axis(inset, days)
    if not isinstance(inset.xaxis.get_major_locator(), DayLocator):
        # No offset text ("2026-Nov") under the inset: it would sit on the main chart.
        locator = AutoDateLocator(minticks=2, maxticks=5)
        inset.xaxis.set_major_locator(locator)
        inset.xaxis.set_major_formatter(DateFormatter("%d %b"))
    _count_axis(inset)
    inset.set_facecolor("white")


def plain(text: str) -> str:
    """``text`` shown as typed: matplotlib would read ``$...$`` as TeX maths (and fail)."""
    return text.replace("$", r"\$")


def _count_axis(axes) -> None:
    from matplotlib.ticker import MaxNLocator

    # Whole-number ticks only: "1.5 downloads" means nothing.
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.yaxis.set_major_formatter(lambda value, _pos: f"{value:,.0f}")


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


def _draw_target(axes, panel: Panel) -> None:
    """The goal level, the deadline, and the projection ending on the projected day.

    No ramp from the first day: a launch spike would put the curve above it while the
    recent pace misses the goal.  What matters is where today's pace leads.
    """
    target = panel.target
    assert target is not None  # drawn only for a panel with a target
    axes.axhline(target.goal, color=TARGET_COLOUR, linewidth=1,
                 label=f"goal: {target.goal:,} by {target.by}")
    axes.axvline(target.by, color=TARGET_COLOUR, linewidth=1, linestyle=":")
    colour = ON_TRACK_COLOUR if panel.on_track else BEHIND_COLOUR
    for i, segment in enumerate(panel.projection):
        axes.plot([day for day, _ in segment], [value for _, value in segment], color=colour,
                  linestyle="--", linewidth=1.8,
                  label=_projection_label(panel) if i == 0 else None)
    if isinstance(panel.projected, date) and (panel.end is None
                                              or panel.projected <= panel.end):
        axes.plot([panel.projected], [target.goal], "o", color=colour, markersize=6)
        axes.annotate(f"projected {panel.projected}", (panel.projected, target.goal),
                      textcoords="offset points", xytext=(-4, 6), ha="right",
                      fontsize=8, color=colour)


def progress_figure(panels: Sequence[Panel]) -> Figure:
    """Running totals against their goal, one panel per target, with the projection.

    The dashed line is the targets table's projection (the 28-day pace continued from
    today) and ends on its projected day: right of the dotted deadline means behind.
    A listeners panel shows each month's own listeners, back to 0 on each 1st.
    """
    from matplotlib.figure import Figure

    count = max(len(panels), 1)
    figure = Figure(figsize=(8, 3.2 * count))
    axes_list = figure.subplots(count, 1, squeeze=False)[:, 0]
    _place_axes(figure, count, left=LEFT_MARGIN, bottom=DATE_AXIS_MARGIN)
    for axes, panel in zip(axes_list, panels, strict=False):
        monthly = panel.metric == "listeners"
        label = "listeners in the month (UTC)" if monthly else "downloads"
        title = plain(panel.title)
        if panel.series:
            days = [day for day, _ in panel.series]
            totals = [total for _, total in panel.series]
            axes.plot(days, totals, color=ACTUAL_COLOUR, linewidth=2,
                      label=label if monthly else f"cumulative {label}")
            if panel.target is not None:
                _draw_target(axes, panel)
                title += f" — {_status(panel)}"
                axes.set_xlim(days[0], (panel.end or days[-1]) + timedelta(days=1))
                # Room above the goal for its label and the projected point.
                axes.set_ylim(top=max(panel.target.goal, max(totals)) * 1.15)
                if _needs_zoom(totals, panel.target.goal):
                    _zoom_inset(axes, days, totals, label)
            axes.legend(loc="lower right" if panel.target is not None else "best",
                        frameon=False, fontsize=8)
            _date_axis(axes, days)
        else:
            axes.text(0.5, 0.5, "no downloads yet", ha="center", va="center",
                      transform=axes.transAxes, color="#777777")
        axes.set_title(title, loc="left", fontsize=11, y=1.0)
        axes.set_ylabel(label)
        axes.set_ylim(bottom=0)
        axes.grid(True, color="#e5e5e5")
        _count_axis(axes)
    return figure


def daily_figure(days: Sequence[tuple[date, int]], title: str = "Downloads per day") -> Figure:
    """Downloads per UTC day as bars."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3))
    axes = figure.subplots()
    _place_axes(figure, 1, left=LEFT_MARGIN, bottom=DATE_AXIS_MARGIN,
                top=TITLE_MARGIN if title else EDGE_MARGIN)
    if days:
        # (matplotlib's stubs leave out dates, which its unit converters take)
        axes.bar([day for day, _ in days], [n for _, n in days],  # type: ignore[arg-type]
                 color=BAR_COLOUR, width=0.8)
        _date_axis(axes, [day for day, _ in days])
    else:
        axes.text(0.5, 0.5, "no downloads in this period", ha="center", va="center",
                  transform=axes.transAxes, color="#777777")
    if title:
        axes.set_title(plain(title), loc="left", fontsize=11, y=1.0)
    axes.set_ylabel("downloads")
    axes.grid(True, axis="y", color="#e5e5e5")
    _count_axis(axes)
    return figure


MEDIAN_COLOUR = "#222222"


def pacing_figure(curves: Sequence[tuple[str, Sequence[int]]],
                  median_line: Sequence[float | None]) -> Figure:
    """Each episode's cumulative downloads by day since its own release (day 1 = the
    publication day), overlaid, with the show's median episode as a dashed reference.

    ``curves``: (label, cumulative downloads on day 1, 2, ...) per episode.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(8, 3.6))
    axes = figure.subplots()
    _place_axes(figure, 1, left=LEFT_MARGIN, bottom=LABELLED_AXIS_MARGIN, top=EDGE_MARGIN)
    drawn = [(label, curve) for label, curve in curves if curve]
    for label, curve in drawn:
        axes.plot(range(1, len(curve) + 1), curve, linewidth=1.6, marker="o",
                  markersize=2.5, label=plain(label))
    points = [(day, value) for day, value in enumerate(median_line, 1) if value is not None]
    if points:
        axes.plot([d for d, _ in points], [v for _, v in points], color=MEDIAN_COLOUR,
                  linestyle="--", linewidth=2.2, label="median episode")
    if drawn:
        # Cumulative curves rise steeply on the left: the lower right is free.
        axes.legend(loc="lower right", frameon=False, fontsize=8)
        axes.set_xlim(left=1)
    else:
        axes.text(0.5, 0.5, "no episode out yet", ha="center", va="center",
                  transform=axes.transAxes, color="#777777")
    axes.set_xlabel("day since release (release day = 1)")
    axes.set_ylabel("cumulative downloads")
    axes.set_ylim(bottom=0)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, color="#e5e5e5")
    _count_axis(axes)
    return figure
