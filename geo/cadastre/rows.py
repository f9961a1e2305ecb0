"""A cadastral file's rows as the kind builders read them, and their links to stored layers.

:class:`Source` holds the file's frame, cleaned geometries, column mapping and the city's
stored layers; :meth:`Source.rows` walks the rows that kept a geometry with the mapped
columns a builder asks for; :func:`link` places each feature in its district and AA.HH.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.cadastre import values as V
from geo.cadastre.errors import InvalidValueError


@dataclass
class Source:
    """One file's rows (geometries already cleaned) and the stored layers they link to."""

    frame: gpd.GeoDataFrame
    geoms: list[Any]
    columns: dict[str, str | None]
    districts: gpd.GeoDataFrame | None
    aa_hh: gpd.GeoDataFrame | None
    manzanas: gpd.GeoDataFrame | None
    invalid: str

    def column(self, field: str) -> list[Any]:
        """The values of the file's column mapped to ``field`` (None everywhere if unmapped)."""
        column = self.columns[field]
        return self.frame[column].tolist() if column is not None else [None] * len(self.frame)

    def rows(self, values: Iterable[Any], *fields: str) -> Iterator[tuple[Any, ...]]:
        """``(row, value, *field values)`` of every row whose ``value`` (geometry or point) is
        there; rows left without one were dropped or repaired away by the cleaning."""
        for i, (value, *rest) in enumerate(
            zip(values, *(self.column(f) for f in fields), strict=True)
        ):
            if value is not None:
                yield (i, value, *rest)

    def drop(self, row: int, name: Any, reason: str) -> dict[str, Any]:
        """The record of a dropped row, or the error when bad rows are refused."""
        if self.invalid == "refuse":
            raise InvalidValueError(f"row {row} ({name}): {reason}", {"row": row, "reason": reason})
        return {"row": row, "name": None if name is None else str(name), "reason": reason}


def containing(
    points: np.ndarray, polygons: gpd.GeoDataFrame | None, codes: list[str]
) -> list[int | None]:
    """Index of the polygon holding each point (lowest code on shared borders), or None."""
    out: list[int | None] = [None] * len(points)
    if polygons is None or polygons.empty:
        return out
    tree = shapely.STRtree(np.asarray(polygons.geometry.values))
    ok = np.flatnonzero([p is not None for p in points])
    if not len(ok):
        return out
    pts, polys = tree.query(points[ok], predicate="intersects")
    for p, k in zip(pts.tolist(), polys.tolist(), strict=True):
        i = int(ok[p])
        current = out[i]
        if current is None or codes[k] < codes[current]:
            out[i] = int(k)
    return out


def districts_of(points: np.ndarray, districts: gpd.GeoDataFrame | None) -> list[str | None]:
    """The district code holding each point, or None."""
    if districts is None or districts.empty:
        return [None] * len(points)
    codes = districts["code"].astype(str).tolist()
    return [None if k is None else codes[k] for k in containing(points, districts, codes)]


class AahhIndex:
    """The stored AA.HH.: by code, by name (per district), and by area."""

    def __init__(self, aa_hh: gpd.GeoDataFrame) -> None:
        self.frame = aa_hh.reset_index(drop=True)
        self.codes = self.frame["code"].astype(str).tolist()
        self.district = [
            None if d is None or pd.isna(d) else str(d)
            for d in self.frame.get("district_code", [None] * len(self.frame))
        ]
        self.by_code = {V.key(c): i for i, c in enumerate(self.codes)}
        self.by_name: dict[str, list[int]] = {}
        for i, name in enumerate(self.frame["name"].astype(str)):
            bare, _ = V.settlement(name)
            self.by_name.setdefault(V.key(bare or name), []).append(i)

    def named(self, value: Any, district: str | None) -> tuple[int | None, bool]:
        """(entry, ambiguous) for a code or a name in the file's column."""
        raw = V.text(value)
        if raw is None:
            return None, False
        if V.key(raw) in self.by_code:
            return self.by_code[V.key(raw)], False
        bare, _ = V.settlement(raw)
        found = self.by_name.get(V.key(bare or raw), [])
        if district is not None:
            found = [i for i in found if self.district[i] == district] or found
        if len(found) == 1:
            return found[0], False
        return None, len(found) > 1


def points_of(geoms: list[Any]) -> np.ndarray:
    """A representative point inside each geometry (a point stays itself)."""
    arr = np.array(geoms, dtype=object)
    ok = np.array([g is not None for g in geoms], dtype=bool)
    out = np.full(len(geoms), None, dtype=object)
    if ok.any():
        out[ok] = shapely.point_on_surface(arr[ok])
    return out


@dataclass
class Linked:
    """Each feature's point, district by containment, and the AA.HH. it lies in."""

    index: AahhIndex
    points: np.ndarray
    placed: list[str | None]
    inside: list[int | None]


def link(src: Source) -> Linked:
    """Place the features of a manzanas or lotes file (the AA.HH. must be stored)."""
    assert src.aa_hh is not None
    index = AahhIndex(src.aa_hh)
    points = points_of(src.geoms)
    placed = districts_of(points, src.districts)
    return Linked(index, points, placed, containing(points, index.frame, index.codes))


def aahh_entry(
    index: AahhIndex, raw: Any, district: str | None, inside: int | None
) -> tuple[int | None, str]:
    """The AA.HH. named in the row's column, else the one the feature lies in."""
    entry, ambiguous = index.named(raw, district)
    if entry is not None:
        return entry, ""
    if inside is not None and (V.text(raw) is None or ambiguous):
        return inside, ""
    if V.text(raw) is not None:
        return None, "ambiguous_aahh" if ambiguous else "unknown_aahh"
    return None, "outside_every_aahh"
