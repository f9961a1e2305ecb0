"""Server-drawn SVG for the public page: the monthly trend (the cell map is ``cell_map``).

No script and no image service: the page is readable with JavaScript off, on any phone.
The chart is drawn in a phone-sized coordinate system (``WIDTH`` units, text ``FONT``
units): on a 390 px phone it is drawn at about its own size, so its text stays at about
``FONT`` CSS pixels, and on a desktop it only grows. The legend sits under the plot, one
line per series, inside the picture, so nothing is cut on a narrow screen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#b8860b", "#a6761d", "#666")
WIDTH = 360  # user units; about a phone's content width in CSS pixels
FONT = 13  # user units; ≥ 12 CSS px wherever the chart is drawn ≥ 333 px wide
CHAR = 0.62  # a generous average glyph width (em) of the page's sans-serif fonts
LINE = FONT + 7


def text_width(text: str, size: float = FONT) -> float:
    """An over-estimate of a label's drawn width, for layout without font metrics."""
    return len(text) * size * CHAR


def nice_top(value: float) -> tuple[int, int]:
    """A round axis top ≥ value and its tick step (1, 2 or 5 × 10^n, at most 4 steps)."""
    value = max(value, 1)
    for power in range(0, 12):
        for base in (1, 2, 5):
            step = base * 10**power
            if step * 4 >= value:
                return step * math.ceil(value / step), step
    return int(value), int(value)


@dataclass(frozen=True)
class Frame:
    """Where the plot sits in the picture and how values map onto it."""

    n: int  # months
    top_value: int
    left: float
    top: float = FONT + 12
    plot_h: float = 170
    right: float = 14

    def x(self, i: int) -> float:
        plot_w = WIDTH - self.left - self.right
        return self.left + (plot_w * i / (self.n - 1) if self.n > 1 else plot_w / 2)

    def y(self, v: float) -> float:
        return self.top + self.plot_h * (1 - v / self.top_value)


def trend_svg(
    months: list[str],
    series: dict[str, list[int | None]],
    labels: dict[str, str],
    ticks: list[str],
    title: str,
    desc: str,
    gap_label: str,
    y_label: str,
) -> Markup:
    """A line per series (a withheld month leaves a gap), axes, and the legend under it.

    ``ticks`` are the x labels (one per month, ``""`` for none, a line break before the
    year); ``title`` and ``desc`` give the picture its accessible name and description."""
    values = [v for s in series.values() for v in s if v is not None]
    top_value, step = nice_top(max(values, default=1))
    left = max(text_width(str(top_value)), text_width(y_label) / 2) + 10
    frame = Frame(max(len(months), 1), top_value, left)
    body = _axes(frame, step, ticks, y_label)
    legend_y = frame.top + frame.plot_h + 3 * (FONT + 2) + 14
    names = [escape(labels.get(name, name)) for name in series]
    for k, (name, points) in enumerate(series.items()):
        colour = "#1d232a" if name == "total" else PALETTE[k % len(PALETTE)]
        stroke = 3 if name == "total" else 1.8
        body.extend(_line(points, frame.x, frame.y, colour, stroke, names[k]))
        body.append(_legend_line(legend_y + LINE * k, colour, stroke, names[k], name == "total"))
    rows = len(series)
    if any(v is None for points in series.values() for v in points):
        ly = legend_y + LINE * rows
        body.append(
            f'<line x1="4" x2="10" y1="{ly - 4}" y2="{ly - 4}" stroke="#1d232a" stroke-width="2"/>'
            f'<line x1="20" x2="26" y1="{ly - 4}" y2="{ly - 4}" stroke="#1d232a" '
            f'stroke-width="2"/><text x="32" y="{ly}" class="legend">{escape(gap_label)}</text>'
        )
        rows += 1
    height = legend_y + LINE * (rows - 1) + FONT
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'role="img" aria-labelledby="trend-title trend-desc" class="chart trend-chart" '
        f'font-size="{FONT}" fill="#1d232a">'
        f'<title id="trend-title">{escape(title)}</title>'
        f'<desc id="trend-desc">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _axes(frame: Frame, step: int, ticks: list[str], y_label: str) -> list[str]:
    """The y label, the grid lines with their values, the month labels."""
    out = [f'<text x="2" y="{FONT}" class="axis">{escape(y_label)}</text>']
    for v in range(0, frame.top_value + 1, step):
        yy = frame.y(v)
        out.append(
            f'<line x1="{frame.left:.1f}" x2="{WIDTH - frame.right}" y1="{yy:.1f}" '
            f'y2="{yy:.1f}" stroke="{"#999" if v == 0 else "#ddd"}"/>'
            f'<text x="{frame.left - 5:.1f}" y="{yy + FONT * 0.35:.1f}" '
            f'text-anchor="end">{v}</text>'
        )
    axis_y = frame.top + frame.plot_h + FONT + 6
    for i, tick in enumerate(ticks):
        for line, part in enumerate(tick.split("\n")):
            if part:
                out.append(
                    f'<text x="{frame.x(i):.1f}" y="{axis_y + line * (FONT + 2)}" '
                    f'text-anchor="middle">{escape(part)}</text>'
                )
    return out


def _legend_line(y: float, colour: str, stroke: float, name: str, bold: bool) -> str:
    """One legend entry: a stroke like the series' and its name (squeezed to fit, should a
    name be longer than a phone's width)."""
    weight = ' font-weight="700"' if bold else ""
    room = WIDTH - 36
    fit = f' textLength="{room}" lengthAdjust="spacingAndGlyphs"' if text_width(name) > room else ""
    return (
        f'<line x1="4" x2="26" y1="{y - FONT * 0.35:.1f}" y2="{y - FONT * 0.35:.1f}" '
        f'stroke="{colour}" stroke-width="{stroke + 1}"/>'
        f'<text x="32" y="{y}" class="legend"{weight}{fit}>{name}</text>'
    )


def _line(
    points: list[int | None],
    x: Callable[[int], float],
    y: Callable[[float], float],
    colour: str,
    stroke: float,
    name: str,
) -> list[str]:
    """The runs of a series between its gaps: a polyline each (a dot for a lone month)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(points):
        if v is None:
            runs.append([])
        else:
            runs[-1].append((x(i), y(v)))
    out = []
    for run in runs:
        if len(run) > 1:
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in run)
            out.append(
                f'<polyline points="{pts}" fill="none" stroke="{colour}" '
                f'stroke-width="{stroke}" stroke-linejoin="round"><title>{name}</title></polyline>'
            )
        elif run:
            a, b = run[0]
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>')
    return out
