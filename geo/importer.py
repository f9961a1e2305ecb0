"""Import boundary layers from GeoJSON, GeoPackage or Shapefile (through geopandas/pyogrio).

Each ``import_*`` function reads one file, reprojects it to EPSG:4326, maps the caller's
column names onto ours, repairs (or refuses) bad geometries and returns a validated
:class:`~geo.boundaries.BoundarySet`. Nothing is persisted here.

Geometry policy (``invalid=``):

- ``"repair"`` (default): invalid polygons go through ``shapely.make_valid`` keeping only the
  polygonal parts and are listed in ``BoundarySet.repaired``; rows with no geometry (null or
  empty), or nothing usable after repair, cannot be repaired and are listed in
  ``BoundarySet.dropped``.
- ``"refuse"``: the first such row raises :class:`~geo.errors.InvalidGeometryError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from geo.boundaries import (
    STANDARD_COLUMNS,
    BoundarySet,
    InvalidPolicy,
    Kind,
    check_not_empty,
    check_unique_codes,
    invalid_row_error,
    repair_polygonal,
)
from geo.errors import (
    GeoError,
    MissingColumnError,
    UnknownCrsError,
    UnreadableFileError,
    UnsupportedFormatError,
)

#: ``progress(stage, done, total)``; stages are read, reproject, validate, done.
Progress = Callable[[str, int, int], None]

SUPPORTED_SUFFIXES = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
}
POLYGONAL = (3, 6)  # shapely type ids: Polygon, MultiPolygon
LINEAR = (1, 5)  # LineString, MultiLineString
_VALIDATE_CHUNK = 500


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def read_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: Any = None,
    progress: Progress | None = None,
) -> tuple[gpd.GeoDataFrame, str]:
    """Read a vector file and return it in EPSG:4326 with the source CRS as a string.

    ``crs`` is used only when the file declares none; a file with no CRS and no ``crs``
    raises ``unknown_crs`` rather than guessing.
    """
    report = progress or _no_progress
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UnsupportedFormatError(
            f"{path.name}: unsupported format (use GeoJSON, GeoPackage or Shapefile)",
            {"path": str(path), "supported": sorted(SUPPORTED_SUFFIXES)},
        )
    if not path.exists():
        raise UnreadableFileError(f"{path}: no such file", {"path": str(path)})
    report("read", 0, 1)
    try:
        frame = gpd.read_file(path, engine="pyogrio", layer=layer)
    except Exception as exc:  # pyogrio raises several types; all mean "cannot read"
        raise UnreadableFileError(
            f"{path.name}: cannot read ({type(exc).__name__})",
            {"path": str(path), "reason": str(exc)},
        ) from exc
    report("read", 1, 1)
    source_crs = _resolve_crs(frame, crs, path)
    report("reproject", 0, 1)
    frame = frame.set_crs(source_crs, allow_override=True)
    if not source_crs.equals(CRS.from_epsg(4326)):
        frame = frame.to_crs(4326)
    report("reproject", 1, 1)
    return frame, source_crs.to_string()


def _resolve_crs(frame: gpd.GeoDataFrame, crs: Any, path: Path) -> CRS:
    if frame.crs is not None:
        return CRS.from_user_input(frame.crs)
    if crs is None:
        raise UnknownCrsError(
            f"{path.name} declares no coordinate reference system; pass crs= (e.g. 'EPSG:32718')",
            {"path": str(path)},
        )
    try:
        return CRS.from_user_input(crs)
    except CRSError as exc:
        raise UnknownCrsError(f"unknown CRS {crs!r}", {"crs": str(crs)}) from exc


def _require_columns(frame: gpd.GeoDataFrame, mapping: dict[str, str | None]) -> None:
    available = [c for c in frame.columns if c != frame.geometry.name]
    for option, column in mapping.items():
        if column is not None and column not in frame.columns:
            raise MissingColumnError(
                f"column {column!r} ({option}) is not in the file",
                {"column": column, "option": option, "available": available},
            )


def _clean_geometries(
    frame: gpd.GeoDataFrame,
    names: pd.Series,
    codes: pd.Series,
    allowed: tuple[int, ...],
    invalid: InvalidPolicy,
    report: Progress,
) -> tuple[list[Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Validate geometries; returns (geometries or None for dropped rows, repaired, dropped)."""
    geoms = list(frame.geometry.values)
    total = len(geoms)
    type_ids = shapely.get_type_id(geoms)
    valid = shapely.is_valid(geoms)
    repaired: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for i in range(total):
        if i % _VALIDATE_CHUNK == 0:
            report("validate", i, total)
        geom = geoms[i]
        if geom is not None and not shapely.is_empty(geom) and type_ids[i] in allowed and valid[i]:
            continue
        info = {"row": i, "code": codes.iloc[i], "name": names.iloc[i]}
        reason = _problem(geom, type_ids[i], allowed)
        if invalid == "refuse":
            raise invalid_row_error(i, info["name"], info["code"], reason)
        fixed = repair_polygonal(geom) if allowed == POLYGONAL and reason == "invalid" else None
        if fixed is None:
            geoms[i] = None
            dropped.append({**info, "reason": reason})
        else:
            geoms[i] = fixed
            repaired.append({**info, "reason": shapely.is_valid_reason(geom)})
    report("validate", total, total)
    return geoms, repaired, dropped


def _problem(geom: Any, type_id: int, allowed: tuple[int, ...]) -> str:
    if geom is None:
        return "missing_geometry"
    if shapely.is_empty(geom):
        return "empty_geometry"
    if type_id not in allowed:
        return f"wrong_geometry_type:{shapely.get_type_id(geom)}"
    return "invalid"


def _as_codes(values: pd.Series, width: int | None) -> pd.Series:
    out = values.map(_code_str)
    if width:
        out = out.map(lambda c: c.zfill(width) if c.isdigit() else c)
    return out


def _code_str(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # shapefiles store numeric codes as floats
    return str(value).strip()


def build_set(
    kind: Kind,
    path: str | Path,
    columns: dict[str, str | None],
    *,
    layer: str | None = None,
    crs: Any = None,
    invalid: InvalidPolicy = "repair",
    code_width: int | None = None,
    progress: Progress | None = None,
) -> BoundarySet:
    """Shared implementation of the ``import_*`` functions.

    ``columns`` maps each standard column of ``kind`` to the source column (or None when the
    file has no such column; ``code`` and ``name`` are required).
    """
    if invalid not in ("repair", "refuse"):
        raise GeoError(f"unknown invalid-geometry policy {invalid!r}", {"invalid": invalid})
    report = progress or _no_progress
    frame, source_crs = read_layer(path, layer=layer, crs=crs, progress=report)
    _require_columns(frame, {f"{k}_column": v for k, v in columns.items()})
    frame = frame.reset_index(drop=True)
    codes = _as_codes(frame[columns["code"]], code_width)
    names = frame[columns["name"]].astype(str)
    allowed = LINEAR if kind == "streets" else POLYGONAL
    geoms, repaired, dropped = _clean_geometries(frame, names, codes, allowed, invalid, report)
    out = pd.DataFrame({"code": codes, "name": names})
    for std in STANDARD_COLUMNS[kind][2:]:
        src = columns.get(std)
        out[std] = frame[src] if src is not None else None
    result = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    result = result[result.geometry.notna()].copy()
    result.index.name = "source_row"
    _normalise_columns(result, kind)
    check_not_empty(result, kind)
    check_unique_codes(result, kind)
    report("done", len(result), len(result))
    return BoundarySet(kind, result, str(path), source_crs, repaired, dropped)


def _normalise_columns(frame: gpd.GeoDataFrame, kind: str) -> None:
    if kind == "districts":
        frame["population"] = pd.to_numeric(frame["population"], errors="coerce").astype("Int64")
    if kind == "streets":
        for col in ("from_left", "to_left", "from_right", "to_right"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    for col in ("district_code", "station_code"):
        if col in frame.columns:
            frame[col] = frame[col].map(lambda v: None if v is None or pd.isna(v) else _code_str(v))


def import_districts(
    path: str | Path,
    *,
    code_column: str = "IDDIST",
    name_column: str = "NOMBDIST",
    population_column: str | None = None,
    code_width: int | None = 6,
    **options: Any,
) -> BoundarySet:
    """Import district polygons; defaults fit INEI files (UBIGEO in ``IDDIST``).

    Numeric codes are zero-padded to ``code_width`` digits (UBIGEO ``070105``, not ``70105``).
    ``options``: ``layer``, ``crs`` (used only if the file has none), ``invalid``
    (``"repair"``/``"refuse"``), ``progress``.
    """
    cols = {"code": code_column, "name": name_column, "population": population_column}
    return build_set("districts", path, cols, code_width=code_width, **options)


def import_stations(
    path: str | Path,
    *,
    code_column: str = "code",
    name_column: str = "name",
    district_column: str | None = None,
    **options: Any,
) -> BoundarySet:
    """Import police-station jurisdiction polygons (one row per comisaría)."""
    cols = {"code": code_column, "name": name_column, "district_code": district_column}
    return build_set("stations", path, cols, **options)


def import_sectors(
    path: str | Path,
    *,
    code_column: str = "code",
    name_column: str = "name",
    station_column: str | None = "station_code",
    **options: Any,
) -> BoundarySet:
    """Import patrol-sector polygons, each optionally tied to its station."""
    cols = {"code": code_column, "name": name_column, "station_code": station_column}
    return build_set("sectors", path, cols, **options)


def import_streets(
    path: str | Path,
    *,
    code_column: str = "code",
    name_column: str = "name",
    type_column: str | None = None,
    district_column: str | None = None,
    from_left_column: str | None = None,
    to_left_column: str | None = None,
    from_right_column: str | None = None,
    to_right_column: str | None = None,
    **options: Any,
) -> BoundarySet:
    """Import street segments (lines) with optional house-number ranges per side."""
    cols = {
        "code": code_column,
        "name": name_column,
        "street_type": type_column,
        "district_code": district_column,
        "from_left": from_left_column,
        "to_left": to_left_column,
        "from_right": from_right_column,
        "to_right": to_right_column,
    }
    return build_set("streets", path, cols, **options)
