"""The public page's cell map: the published coarse cells of a month over the districts,
each cell labelled with its published (rounded) count and the districts named, so nothing
needs hovering; shaded in classes the page's legend lists; drawn server-side as SVG.

Only what is published goes in: the month's generalised cells (``[cell, count]`` as
frozen) and the district boundaries. ``zones`` names the districts each cell covers, for the
table that is the map's text equivalent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
import shapely
from markupsafe import Markup, escape

from server.web.charts import FONT, WIDTH, text_width

RAMP = ("#fee8c8", "#fdbb84", "#fc8d59", "#e34a33", "#b30000")
HALO = 'stroke="#fff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"'


@dataclass(frozen=True)
class Zone:
    """A published cell: its count, the classes' index, the districts it covers."""

    cell: str
    count: int
    shade: int
    districts: list[str]


def classes(counts: list[int]) -> list[tuple[int, int]]:
    """Up to five (low, high) count classes over the published counts: one per distinct
    count when there are five or fewer, else the distinct counts split evenly."""
    distinct = sorted(set(counts))
    if not distinct:
        return []
    groups = np.array_split(np.array(distinct), min(len(distinct), len(RAMP)))
    return [(int(g[0]), int(g[-1])) for g in groups]


def zones(
    pairs: list[list[Any]], districts: list[dict[str, Any]], bins: list[tuple[int, int]]
) -> list[Zone]:
    """Each published cell with its class and the districts it overlaps (largest first)."""
    shapes = [shapely.geometry.shape(d["geometry"]) for d in districts]
    out = []
    for cell, count in pairs:
        hexagon = shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)])
        overlaps = [
            (hexagon.intersection(s).area, d["name"])
            for d, s in zip(districts, shapes, strict=True)
        ]
        names = [name for area, name in sorted(overlaps, reverse=True) if area > 0]
        shade = next(i for i, (lo, hi) in enumerate(bins) if lo <= count <= hi)
        out.append(Zone(cell, int(count), shade, names))
    return out


@dataclass(frozen=True)
class View:
    """The map's window (lon/lat bounds, padded) projected onto ``WIDTH`` units across."""

    w: float
    s: float
    e: float
    n: float

    @property
    def k(self) -> float:  # shrink longitudes as at the view's middle latitude
        return float(np.cos(np.radians((self.s + self.n) / 2)))

    @property
    def scale(self) -> float:
        return WIDTH / ((self.e - self.w) * self.k)

    @property
    def height(self) -> float:
        return (self.n - self.s) * self.scale

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.w) * self.k * self.scale, (self.n - lat) * self.scale

    def path(self, geom: Any) -> str:
        polys = getattr(geom, "geoms", [geom])
        rings = [p.exterior.coords for p in polys if hasattr(p, "exterior")]
        return "".join(
            "M" + " ".join("{:.1f},{:.1f}".format(*self.xy(x, y)) for x, y in ring) + "Z"
            for ring in rings
        )


def view_of(shapes: list[Any]) -> View:
    w, s, e, n = shapely.union_all(shapes).bounds
    pad = 0.03 * max(e - w, n - s)
    return View(w - pad, s - pad, e + pad, n + pad)


def cells_svg(districts: list[dict[str, Any]], found: list[Zone], title: str, desc: str) -> Markup:
    """District outlines and names, the cells shaded by class with their counts on them.

    The view is the districts the cells touch (all districts when there is no cell), so a
    station's few cells are not lost in the whole city."""
    shapes = [shapely.geometry.shape(d["geometry"]) for d in districts]
    if not shapes:
        return Markup("")
    touched = {name for z in found for name in z.districts}
    chosen = [s for d, s in zip(districts, shapes, strict=True) if d["name"] in touched] or shapes
    hexagons = [
        shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(z.cell)]) for z in found
    ]
    view = view_of([*chosen, *hexagons])
    # each district's outline once, drawn twice: white under the cells, a line over them
    defs = "".join(
        f'<path id="district-{i}" class="district" d="{view.path(shape)}"/>'
        for i, shape in enumerate(shapes)
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {view.height:.0f}" '
        f'role="img" aria-labelledby="cells-title cells-desc" class="chart cell-map" '
        f'font-size="{FONT}" fill="#1d232a">'
        f'<title id="cells-title">{escape(title)}</title>'
        f'<desc id="cells-desc">{escape(desc)}</desc><defs>{defs}</defs>'
        f'<rect width="{WIDTH}" height="{view.height:.0f}" fill="#eef2f5"/>'
    ]
    out += [f'<use href="#district-{i}" fill="#fff"/>' for i in range(len(shapes))]
    for z, hexagon in zip(found, hexagons, strict=True):
        tip = escape(f"{z.count} · {', '.join(z.districts)}")
        out.append(
            f'<path d="{view.path(hexagon)}" fill="{RAMP[z.shade]}" fill-opacity=".9" '
            f'stroke="#fff" stroke-width=".8" class="cell" data-count="{z.count}">'
            f"<title>{tip}</title></path>"
        )
    out += [
        f'<use href="#district-{i}" fill="none" stroke="#555" stroke-width="1"/>'
        for i in range(len(shapes))
    ]
    out += _labels(districts, shapes, found, hexagons, view)
    out.append("</svg>")
    return Markup("".join(out))


def _labels(
    districts: list[dict[str, Any]],
    shapes: list[Any],
    found: list[Zone],
    hexagons: list[Any],
    view: View,
) -> list[str]:
    """Every cell's count at its centre, then the districts' names, largest district first,
    wherever one fits clear of the labels already placed."""
    out, taken = [], []
    for z, hexagon in zip(found, hexagons, strict=True):
        cx, cy = view.xy(hexagon.centroid.x, hexagon.centroid.y)
        taken.append(_box(cx, cy, str(z.count), FONT))
        out.append(
            f'<text x="{cx:.1f}" y="{cy + FONT * 0.35:.1f}" text-anchor="middle" '
            f'font-weight="700" class="count" {HALO}>{z.count}</text>'
        )
    window = shapely.Polygon(
        [(view.w, view.s), (view.e, view.s), (view.e, view.n), (view.w, view.n)]
    )
    inside = [
        (d["name"], shape.intersection(window)) for d, shape in zip(districts, shapes, strict=True)
    ]
    for name, part in sorted(inside, key=lambda p: -p[1].area):
        place = _place(name, part, view.xy, taken, view.height)
        if place is not None:
            out.append(
                f'<text x="{place[0]:.1f}" y="{place[1]:.1f}" text-anchor="middle" '
                f'font-style="italic" fill="#333" class="name" {HALO}>{escape(name)}</text>'
            )
    return out


def _box(cx: float, cy: float, label: str, size: float) -> tuple[float, float, float, float]:
    half = text_width(label, size) / 2
    return (cx - half, cy - size * 0.8, cx + half, cy + size * 0.5)


def _place(
    name: str,
    shape: Any,
    xy: Any,
    taken: list[tuple[float, float, float, float]],
    height: float,
) -> tuple[float, float] | None:
    """Where a district's name fits (inside the view, clear of every label placed), if
    anywhere: its representative point, or a line above or below it."""
    if shape.is_empty:
        return None
    point = shape.representative_point()
    cx, cy = xy(point.x, point.y)
    for dy in (0.0, -FONT * 1.3, FONT * 1.3):
        box = _box(cx, cy + dy, name, FONT)
        inside = box[0] >= 1 and box[2] <= WIDTH - 1 and box[1] >= 1 and box[3] <= height - 1
        if inside and not any(_overlap(box, other) for other in taken):
            taken.append(box)
            return cx, cy + dy + FONT * 0.35
    return None


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
