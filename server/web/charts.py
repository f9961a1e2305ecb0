"""Server-drawn SVG for the public page: the monthly trend and the coarse cell map.

No script and no image service: the page is readable with JavaScript off, on any phone.
"""

from __future__ import annotations

from typing import Any

import h3
import numpy as np
from markupsafe import Markup, escape

PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666")
RAMP = ("#fee8c8", "#fdbb84", "#fc8d59", "#e34a33", "#b30000")


def trend_svg(
    months: list[str], series: dict[str, list[int | None]], labels: dict[str, str]
) -> Markup:
    """A line per series (withheld months leave a gap), with axes and a legend."""
    width, height, left, right, top, bottom = 720, 300, 50, 190, 15, 40
    values = [v for s in series.values() for v in s if v is not None]
    top_value = max(values, default=1) or 1
    n = max(len(months), 1)

    def x(i: int) -> float:
        return left + (width - left - right) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - v / top_value)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" class="trend" width="100%">'
    ]
    for frac in (0, 0.5, 1):
        yy = y(top_value * frac)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">'
            f"{int(top_value * frac)}</text>"
        )
    for i, label in enumerate(months):
        if n <= 12 or i % 2 == 0:
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                f"{escape(label[2:])}</text>"
            )
    for k, (name, points) in enumerate(series.items()):
        colour = "#222" if name == "total" else PALETTE[k % len(PALETTE)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(points):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
        stroke = 3 if name == "total" else 1.5
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                    f'stroke-width="{stroke}"/>'
                )
            elif run:
                cx, cy = run[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
        ly = top + 14 * k
        parts.append(
            f'<rect x="{width - right + 10}" y="{ly}" width="12" height="4" fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{width - right + 28}" y="{ly + 6}">{escape(labels.get(name, name))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def cells_svg(
    districts: list[dict[str, Any]], cells: np.ndarray, counts: np.ndarray, width: int = 520
) -> Markup:
    """District outlines and coarse H3 cells shaded by their (generalised) counts."""
    rings = [_rings(g) for g in (d["geometry"] for d in districts)]
    flat = [pt for rs in rings for r in rs for pt in r]
    if not flat:
        return Markup("")
    lons, lats = np.array([p[0] for p in flat]), np.array([p[1] for p in flat])
    w, e, s, n = lons.min(), lons.max(), lats.min(), lats.max()
    k = np.cos(np.radians((s + n) / 2))
    scale = width / ((e - w) * k)
    height = int((n - s) * scale) + 2

    def path(ring: list[list[float]]) -> str:
        pts = " ".join(f"{(p[0] - w) * k * scale:.1f},{(n - p[1]) * scale:.1f}" for p in ring)
        return f"M{pts}Z"

    top = max(int(counts.max()), 1) if counts.size else 1
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" class="cells">'
    ]
    for cell, count in zip(cells.tolist(), counts.tolist(), strict=True):
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))]
        shade = RAMP[min(int(len(RAMP) * count / (top + 1)), len(RAMP) - 1)]
        out.append(
            f'<path d="{path(ring)}" fill="{shade}" class="cell"><title>{count}</title></path>'
        )
    for d, rs in zip(districts, rings, strict=True):
        for r in rs:
            out.append(
                f'<path d="{path(r)}" class="district"><title>{escape(d["name"])}</title></path>'
            )
    out.append("</svg>")
    return Markup("".join(out))


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry["type"] == "MultiPolygon":
        return [poly[0] for poly in geometry["coordinates"]]
    return []
