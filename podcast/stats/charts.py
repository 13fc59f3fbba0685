"""Charts for the stats report, drawn with matplotlib's Agg renderer (no display needed).

Figures are built with ``matplotlib.figure.Figure`` directly rather than ``pyplot``, so
nothing is registered globally and a chart can be drawn from any thread.  Output is
PNG or SVG bytes; PNG metadata and SVG ids are fixed so the same data gives the same file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import matplotlib
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from podcast.model import Target

ACTUAL_COLOUR = "#1f5f8b"
TARGET_COLOUR = "#d9822b"
BAR_COLOUR = "#4a90c2"


@dataclass(frozen=True)
class Panel:
    """One target (or the plain download total): its running total and its goal line."""

    title: str
    metric: str  # downloads | listeners
    series: Sequence[tuple[date, int]]  # running total per day, from the first day
    target: Target | None = None


def save(figure: Figure, fmt: str) -> bytes:
    """The figure as ``png`` or ``svg`` bytes, reproducible for the same input."""
    buffer = io.BytesIO()
    # The hash salt fixes SVG element ids; without it they change on every run.
    with matplotlib.rc_context({"svg.hashsalt": "podcast-stats", "svg.fonttype": "path"}):
        if fmt == "svg":
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        else:
            figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _date_axis(axes) -> None:
    locator = AutoDateLocator(minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def plain(text: str) -> str:
    """``text`` shown as typed: matplotlib would read ``$...$`` as TeX maths (and fail)."""
    return text.replace("$", r"\$")


def _count_axis(axes) -> None:
    # Whole-number ticks only: "1.5 downloads" means nothing.
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes.yaxis.set_major_formatter(lambda value, _pos: f"{value:,.0f}")


def progress_figure(panels: Sequence[Panel]) -> Figure:
    """Running totals against their target lines, one panel per target.

    A target line runs from 0 on the first day of data to the goal on ``target.by``: the
    steady pace that meets the goal exactly.  Above the line is ahead of schedule.
    """
    count = max(len(panels), 1)
    figure = Figure(figsize=(8, 3.2 * count), layout="constrained")
    axes_list = figure.subplots(count, 1, squeeze=False)[:, 0]
    for axes, panel in zip(axes_list, panels, strict=False):
        label = "distinct listeners" if panel.metric == "listeners" else "downloads"
        if panel.series:
            days = [day for day, _ in panel.series]
            totals = [total for _, total in panel.series]
            axes.plot(days, totals, color=ACTUAL_COLOUR, linewidth=2,
                      label=f"cumulative {label}")
            if panel.target is not None:
                axes.plot([days[0], panel.target.by], [0, panel.target.goal],
                          color=TARGET_COLOUR, linestyle="--", linewidth=1.5,
                          label=f"target: {panel.target.goal:,} by {panel.target.by}")
                axes.axhline(panel.target.goal, color=TARGET_COLOUR, linewidth=0.5)
            axes.legend(loc="upper left", frameon=False)
            _date_axis(axes)
        else:
            axes.text(0.5, 0.5, "no downloads yet", ha="center", va="center",
                      transform=axes.transAxes, color="#777777")
        axes.set_title(plain(panel.title), loc="left", fontsize=11)
        axes.set_ylabel(label)
        axes.set_ylim(bottom=0)
        axes.grid(True, color="#e5e5e5")
        _count_axis(axes)
    return figure


def daily_figure(days: Sequence[tuple[date, int]], title: str = "Downloads per day") -> Figure:
    """Downloads per UTC day as bars."""
    figure = Figure(figsize=(8, 3), layout="constrained")
    axes = figure.subplots()
    if days:
        axes.bar([day for day, _ in days], [n for _, n in days], color=BAR_COLOUR,
                 width=0.8)
        _date_axis(axes)
    else:
        axes.text(0.5, 0.5, "no downloads in this period", ha="center", va="center",
                  transform=axes.transAxes, color="#777777")
    if title:
        axes.set_title(plain(title), loc="left", fontsize=11)
    axes.set_ylabel("downloads")
    axes.grid(True, axis="y", color="#e5e5e5")
    _count_axis(axes)
    return figure
