"""A canvas of plain shapes in pixels (strokes, boxes, dots, labels) and its two writers.

:mod:`podcast.stats.charts` lays its charts out as a :class:`Chart` of these shapes; this
module writes one:

- :func:`svg`: a standalone SVG document, text written directly: the HTML page's charts and
  ``--chart FILE.svg``.  It takes milliseconds where importing matplotlib and laying out
  its figures took a second of the page's CPU;
- :func:`png`: the same shapes through matplotlib's Agg renderer, for ``--chart FILE.png``
  only: matplotlib is imported there and nowhere else in the report.

Text is escaped, and the characters XML forbids are dropped, so a hostile title is text in
a well-formed image.  Coordinates are rounded to 0.1 px and nothing depends on the clock:
the same chart gives the same bytes.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

INK = "#1d2733"
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif'


@dataclass(frozen=True)
class Stroke:
    """A line through ``points`` (pixels, y down); ``dash``: on/off lengths, () = solid."""

    points: tuple[tuple[float, float], ...]
    colour: str
    width: float = 1.0
    dash: tuple[float, ...] = ()


@dataclass(frozen=True)
class Box:
    """A rectangle from its top left corner."""

    x: float
    y: float
    width: float
    height: float
    fill: str
    stroke: str | None = None


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    radius: float
    colour: str


@dataclass(frozen=True)
class Label:
    """Text whose baseline starts (``anchor`` start), centres or ends at (x, y);
    ``upright`` text reads bottom to top (a y axis's label)."""

    x: float
    y: float
    text: str
    size: float = 13
    colour: str = INK
    anchor: str = "start"  # start | middle | end
    bold: bool = False
    upright: bool = False


Shape = Stroke | Box | Dot | Label


@dataclass
class Chart:
    """A drawing: its size in pixels, what it shows in words (its accessible name), shapes
    in painting order."""

    width: int
    height: int
    title: str
    shapes: list[Shape] = field(default_factory=list)

    def texts(self) -> list[str]:
        """Every label's text, in order (what a reader of the chart sees)."""
        return [shape.text for shape in self.shapes if isinstance(shape, Label)]


def text_width(text: str, size: float) -> float:
    """The estimated width of ``text`` at ``size`` px: 0.6 em a character, more than most
    sans-serif fonts take, so an estimate that fits does fit."""
    return 0.6 * size * len(text)


def fit(text: str, size: float, room: float) -> str:
    """``text`` shortened with "…" to fit ``room`` pixels at ``size`` px."""
    if text_width(text, size) <= room:
        return text
    keep = max(int(room / (0.6 * size)) - 1, 1)
    return text[:keep].rstrip() + "…"


#: Characters XML forbids even escaped (a hostile title must not break the image).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _svg_shape(shape: Shape) -> str:
    if isinstance(shape, Stroke):
        points = " ".join(f"{_num(x)},{_num(y)}" for x, y in shape.points)
        dash = (f' stroke-dasharray="{" ".join(_num(d) for d in shape.dash)}"'
                if shape.dash else "")
        return (f'<polyline points="{points}" fill="none" stroke="{shape.colour}" '
                f'stroke-width="{_num(shape.width)}"{dash} stroke-linejoin="round"/>')
    if isinstance(shape, Box):
        stroke = f' stroke="{shape.stroke}"' if shape.stroke else ""
        return (f'<rect x="{_num(shape.x)}" y="{_num(shape.y)}" width="{_num(shape.width)}" '
                f'height="{_num(shape.height)}" fill="{shape.fill}"{stroke}/>')
    if isinstance(shape, Dot):
        return (f'<circle cx="{_num(shape.x)}" cy="{_num(shape.y)}" r="{_num(shape.radius)}" '
                f'fill="{shape.colour}"/>')
    weight = ' font-weight="bold"' if shape.bold else ""
    turn = (f' transform="rotate(-90 {_num(shape.x)} {_num(shape.y)})"'
            if shape.upright else "")
    return (f'<text x="{_num(shape.x)}" y="{_num(shape.y)}" font-size="{_num(shape.size)}" '
            f'fill="{shape.colour}" text-anchor="{shape.anchor}"{weight}{turn}>'
            f'{escape(_NOT_XML.sub("", shape.text))}</text>')


def svg(chart: Chart) -> bytes:
    """The chart as a standalone SVG document (UTF-8), its title as its accessible name."""
    title = escape(_NOT_XML.sub("", chart.title))
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             f'<svg xmlns="http://www.w3.org/2000/svg" width="{chart.width}" '
             f'height="{chart.height}" viewBox="0 0 {chart.width} {chart.height}" '
             f'role="img" aria-label={quoteattr(_NOT_XML.sub("", chart.title))} '
             f'font-family={quoteattr(FONT)}>',
             f"<title>{title}</title>",
             f'<rect width="{chart.width}" height="{chart.height}" fill="#ffffff"/>']
    lines += [_svg_shape(shape) for shape in chart.shapes]
    lines.append("</svg>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def png(chart: Chart) -> bytes:
    """The chart as PNG, drawn by matplotlib's Agg renderer from the same shapes."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle, Rectangle
    from matplotlib.transforms import Affine2D

    points = 0.72  # matplotlib sizes lines and text in points: 72 to the inch of 100 px
    figure = Figure(figsize=(chart.width / 100, chart.height / 100), dpi=100,
                    facecolor="white")
    flip = Affine2D().scale(1, -1).translate(0, chart.height)  # our y runs down
    for shape in chart.shapes:
        if isinstance(shape, Stroke):
            line = Line2D([x for x, _ in shape.points], [y for _, y in shape.points],
                          color=shape.colour, linewidth=shape.width * points, transform=flip,
                          solid_joinstyle="round")
            if shape.dash:
                line.set_dashes([d * points for d in shape.dash])
            figure.add_artist(line)
        elif isinstance(shape, Box):
            figure.add_artist(Rectangle((shape.x, shape.y), shape.width, shape.height,
                                        facecolor=shape.fill, transform=flip,
                                        edgecolor=shape.stroke or "none", linewidth=points))
        elif isinstance(shape, Dot):
            figure.add_artist(Circle((shape.x, shape.y), shape.radius, color=shape.colour,
                                     transform=flip))
        else:
            figure.text(shape.x, shape.y, shape.text, transform=flip, fontsize=shape.size * points,
                        color=shape.colour, ha={"start": "left", "end": "right"}.get(
                            shape.anchor, "center"), va="baseline", parse_math=False,
                        fontweight="bold" if shape.bold else "normal",
                        rotation=90 if shape.upright else 0, rotation_mode="anchor")
    buffer = io.BytesIO()
    with rc_context({"lines.scale_dashes": False}):
        figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def save(chart: Chart, fmt: str) -> bytes:
    """The chart as ``png`` or ``svg`` bytes, the same for the same data."""
    return svg(chart) if fmt == "svg" else png(chart)
