"""Validated boundary layers (districts, stations, sectors, streets) and metric helpers.

A :class:`BoundarySet` is what the importer returns and what the caller persists: a
GeoDataFrame in EPSG:4326 with our standard column names, plus a record of what was changed on
the way in (repaired geometries, dropped rows) so an administrator can review it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import DuplicateCodeError, EmptyLayerError, InvalidGeometryError

Kind = Literal["districts", "stations", "sectors", "streets"]
InvalidPolicy = Literal["repair", "refuse"]

#: Standard columns of each kind, after mapping (``geometry`` is always there too).
STANDARD_COLUMNS: dict[str, tuple[str, ...]] = {
    "districts": ("code", "name", "population"),
    "stations": ("code", "name", "district_code"),
    "sectors": ("code", "name", "station_code"),
    "streets": (
        "code",
        "name",
        "street_type",
        "district_code",
        "from_left",
        "to_left",
        "from_right",
        "to_right",
    ),
}

# Metres per degree on the WGS84 ellipsoid near the equator; good to ~0.5 % for the
# distances we measure with it (tolerances of a few hundred metres).
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQ = 111_320.0


@dataclass
class BoundarySet:
    """A validated layer ready to persist.

    ``frame`` has the standard columns of ``kind`` plus ``geometry`` (EPSG:4326).
    ``repaired`` and ``dropped`` list ``{"row", "code", "name", "reason"}`` dicts, ``row``
    being the 0-based feature index in the source file.
    """

    kind: Kind
    frame: gpd.GeoDataFrame
    source: str
    source_crs: str
    repaired: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def codes(self) -> np.ndarray:
        """The ``code`` column as a numpy array of str."""
        result: np.ndarray = self.frame["code"].to_numpy(dtype=str)
        return result

    @property
    def geometries(self) -> np.ndarray:
        """The geometries as a shapely array."""
        return np.asarray(self.frame.geometry.values, dtype=object)

    def summary(self) -> dict[str, Any]:
        """Counts for a CLI or an audit log."""
        return {
            "kind": self.kind,
            "source": self.source,
            "source_crs": self.source_crs,
            "rows": len(self.frame),
            "repaired": self.repaired,
            "dropped": self.dropped,
        }


def repair_polygonal(geom: Any) -> Any:
    """Make ``geom`` valid and keep only its polygonal parts (None if nothing is left).

    ``make_valid`` may turn a bow-tie into polygons plus stray lines or points; a boundary
    is an area, so those lower-dimension leftovers are dropped.
    """
    if geom is None or shapely.is_empty(geom):
        return None
    fixed = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(fixed) if shapely.get_type_id(p) in (3, 6)]
    polys = []
    for part in parts:
        polys.extend(shapely.get_parts(part))
    if not polys:
        return None
    merged = shapely.union_all(polys)
    if shapely.get_type_id(merged) not in (3, 6) or shapely.is_empty(merged):
        return None
    return merged


def check_unique_codes(frame: gpd.GeoDataFrame, kind: str) -> None:
    """Refuse a layer where two rows have the same code: placement must be unambiguous."""
    dup = frame["code"][frame["code"].duplicated(keep=False)]
    if len(dup):
        rows = [int(i) for i in dup.index[:20]]
        raise DuplicateCodeError(
            f"{kind}: code {dup.iloc[0]!r} appears more than once",
            {"code": str(dup.iloc[0]), "rows": rows},
        )


def check_not_empty(frame: gpd.GeoDataFrame, kind: str) -> None:
    """Refuse an empty layer with a clear error."""
    if len(frame) == 0:
        raise EmptyLayerError(f"{kind}: no usable rows", {"kind": kind})


def invalid_row_error(row: int, name: Any, code: Any, reason: str) -> InvalidGeometryError:
    """The error raised under the ``refuse`` policy, naming the row."""
    return InvalidGeometryError(
        f"row {row} ({name}): {reason}",
        {"row": row, "name": None if name is None else str(name), "code": code, "reason": reason},
    )


@dataclass(frozen=True)
class LocalMetric:
    """Equirectangular projection around a reference latitude, in metres.

    Fast (pure numpy) and within ~0.5 % of true distance over a city-sized area, which is what
    tolerances and interpolation along streets need. Not for areas spanning many degrees of
    latitude.
    """

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        return M_PER_DEG_LON_EQ * float(np.cos(np.radians(self.lat0)))

    def forward(self, lon: Any, lat: Any) -> tuple[Any, Any]:
        """(lon, lat) degrees -> (x, y) metres."""
        return (np.asarray(lon) - self.lon0) * self.kx, (
            np.asarray(lat) - self.lat0
        ) * M_PER_DEG_LAT

    def inverse(self, x: Any, y: Any) -> tuple[Any, Any]:
        """(x, y) metres -> (lon, lat) degrees."""
        return np.asarray(x) / self.kx + self.lon0, np.asarray(y) / M_PER_DEG_LAT + self.lat0

    def geometry(self, geoms: Any) -> Any:
        """Project shapely geometries to metres."""
        return shapely.transform(geoms, lambda c: np.column_stack(self.forward(c[:, 0], c[:, 1])))

    @classmethod
    def around(cls, geoms: Any) -> LocalMetric:
        """A metric centred on the bounds of ``geoms``."""
        x0, y0, x1, y1 = shapely.total_bounds(geoms)
        return cls((x0 + x1) / 2.0, (y0 + y1) / 2.0)


def haversine_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    """Great-circle distance in metres (vectorised)."""
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
