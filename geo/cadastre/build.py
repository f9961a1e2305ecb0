"""Cadastral layers from a clerk's file: AA.HH./urbanizaciones, manzanas and lotes.

:func:`import_cadastre` reads a GeoJSON, GeoPackage or Shapefile (reprojected from its CRS to
EPSG:4326 by :func:`geo.importer.read_layer`), maps its columns (:mod:`geo.cadastre.mapping`),
validates geometries and values, links each manzana and lote to its AA.HH. (and each lote to
its manzana) and returns a :class:`CadastreSet` in the store's layer format. Nothing is
persisted here.

Layers (store name: columns):

- ``aa_hh``: code, name (without its type), type (``AA.HH.``, ``Urb.`` ...), district_code;
  polygons.
- ``manzanas``: code (``<aa_hh_code>-<mz>``), name (the manzana), aa_hh_code, mz,
  district_code; polygons (parts of one manzana drawn apart are joined).
- ``lotes``: code (``<aa_hh_code>-<mz>-<lt>``), aa_hh_code, mz, lt, district_code; the
  lote's point: a representative point inside its polygon (``shapely.point_on_surface``),
  or the point itself when the file has points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.boundaries import check_not_empty, invalid_row_error, repair_polygonal
from geo.cadastre.errors import CoordinatesError, MissingLayerError
from geo.cadastre.kinds import KIND_TABLE
from geo.cadastre.mapping import KINDS, fields_of, resolve
from geo.cadastre.rows import Source
from geo.errors import GeoError
from geo.importer import read_layer

Progress = Callable[[str, int, int], None]
STORE_LAYER = {"aahh": "aa_hh", "manzanas": "manzanas", "lotes": "lotes"}
NEAR_DISTRICT_DEG = 0.01  # ~1 km: a file wholly farther than this from the city is refused


@dataclass
class CadastreSet:
    """A validated cadastral layer ready to store.

    ``columns``: the file's column used for each field (None: not in the file).
    ``repaired``/``dropped``: ``{"row", "name", "reason"}`` of rows fixed or left out.
    """

    kind: str
    frame: gpd.GeoDataFrame
    source: str
    source_crs: str
    columns: dict[str, str | None]
    repaired: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def layer(self) -> str:
        """The store layer it replaces (``aa_hh``, ``manzanas``, ``lotes``)."""
        return STORE_LAYER[self.kind]

    @property
    def districts(self) -> set[str | None]:
        """Districts the layer covers (None: features outside every district)."""
        return {None if pd.isna(d) else str(d) for d in self.frame["district_code"]}

    @property
    def covers(self) -> tuple[str, set[str | None]]:
        """What a re-import replaces: (property, values). AA.HH. by district (a municipality
        sends its district); manzanas and lotes by AA.HH., so a file of one urbanización
        does not remove the lotes of the district's others."""
        if self.kind == "aahh":
            return "district_code", self.districts
        return "aa_hh_code", {str(c) for c in self.frame["aa_hh_code"]}

    def summary(self) -> str:
        """One paragraph for the command line."""
        used = ", ".join(f"{k}={v}" for k, v in self.columns.items() if v is not None)
        return (
            f"{self.kind}: {len(self.frame):,} features from {self.source} (CRS {self.source_crs});"
            f" columns {used}; {len(self.repaired)} repaired, {len(self.dropped)} dropped"
        )


def import_cadastre(
    path: str | Path,
    kind: str,
    mapping: dict[str, str] | None = None,
    *,
    districts: gpd.GeoDataFrame | None = None,
    aa_hh: gpd.GeoDataFrame | None = None,
    manzanas: gpd.GeoDataFrame | None = None,
    crs: Any = None,
    layer: str | None = None,
    invalid: str = "repair",
    progress: Progress | None = None,
) -> CadastreSet:
    """Read and validate one cadastral layer (see the module docstring).

    ``districts``, ``aa_hh``, ``manzanas``: the city's layers already stored (standard
    columns, EPSG:4326), used to place features in districts and to link manzanas and lotes
    to their AA.HH. by containment when the file has no column saying so. ``crs`` is used
    only when the file declares none. ``invalid``: ``"repair"`` (fix or drop bad rows and
    list them) or ``"refuse"`` (raise on the first).
    """
    fields_of(kind)
    if invalid not in ("repair", "refuse"):
        raise GeoError(f"unknown invalid-geometry policy {invalid!r}", {"invalid": invalid})
    if kind != "aahh" and (aa_hh is None or aa_hh.empty):
        raise MissingLayerError(
            f"{kind}: import the AA.HH./urbanizaciones first "
            "(ronda import cadastre FILE --kind aahh)",
            {"needs": "aa_hh"},
        )
    frame, source_crs = read_layer(path, layer=layer, crs=crs, progress=progress)
    frame = frame.reset_index(drop=True)
    columns = resolve(kind, mapping or {}, [c for c in frame.columns if c != frame.geometry.name])
    _check_coordinates(frame, districts, source_crs)
    spec = KIND_TABLE[kind]
    geoms, repaired, dropped = _clean(frame, spec.geometries, invalid)
    src = Source(frame, geoms, columns, districts, aa_hh, manzanas, invalid)
    out, more = spec.build(src)
    dropped += more
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=4326)
    check_not_empty(out, kind)
    dropped.sort(key=lambda d: d["row"])
    return CadastreSet(kind, out, str(path), source_crs, columns, repaired, dropped)


# -- validation ---------------------------------------------------------------------------


def _check_coordinates(
    frame: gpd.GeoDataFrame, districts: gpd.GeoDataFrame | None, source_crs: str
) -> None:
    """Refuse a file whose features cannot be in the city: a wrong or missing CRS puts UTM
    metres where degrees belong (or the whole layer somewhere else)."""
    present = frame.geometry[frame.geometry.notna() & ~frame.geometry.is_empty]
    if present.empty:
        return
    x0, y0, x1, y1 = (float(v) for v in present.total_bounds)
    bounds = [round(v, 6) for v in (x0, y0, x1, y1)]
    hint = "is the CRS right? Peruvian cadastres are often UTM 18S (EPSG:32718), 17S or 19S"
    finite = bool(np.isfinite([x0, y0, x1, y1]).all())
    if not (finite and x0 >= -180 and x1 <= 180 and y0 >= -90 and y1 <= 90):
        raise CoordinatesError(
            f"coordinates out of range after reading as {source_crs}; {hint}",
            {"bounds": bounds, "crs": source_crs},
        )
    if districts is None or districts.empty:
        return
    city = shapely.union_all(np.asarray(districts.geometry.values))
    area = shapely.buffer(city, NEAR_DISTRICT_DEG)
    if not bool(shapely.intersects(area, shapely.box(x0, y0, x1, y1))):
        raise CoordinatesError(
            f"the layer lies outside the city's districts (read as {source_crs}); {hint}",
            {"bounds": bounds, "crs": source_crs, "districts_bounds": list(districts.total_bounds)},
        )


def _clean(
    frame: gpd.GeoDataFrame, allowed: tuple[int, ...], invalid: str
) -> tuple[list[Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Geometries, with invalid polygons repaired (``make_valid``) or the row dropped."""
    geoms = list(frame.geometry.values)
    repaired: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for i, geom in enumerate(geoms):
        reason = None
        if geom is None:
            reason = "missing_geometry"
        elif shapely.is_empty(geom):
            reason = "empty_geometry"
        elif shapely.get_type_id(geom) not in allowed:
            reason = f"wrong_geometry_type:{geom.geom_type}"
        elif not shapely.is_valid(geom):
            reason = "invalid"
        if reason is None:
            continue
        if invalid == "refuse":
            raise invalid_row_error(i, None, None, reason)
        fixed = repair_polygonal(geom) if reason == "invalid" else None
        if fixed is None:
            geoms[i] = None
            dropped.append({"row": i, "name": None, "reason": reason})
        else:
            geoms[i] = fixed
            repaired.append({"row": i, "name": None, "reason": shapely.is_valid_reason(geom)})
    return geoms, repaired, dropped


__all__ = ["KINDS", "STORE_LAYER", "CadastreSet", "import_cadastre"]
