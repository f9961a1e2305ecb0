"""Vectorised placement of points: district, station jurisdiction, patrol sector, H3 cell.

Rules (the same for every layer):

- A point is *inside* a polygon when the polygon covers it (interior or boundary).
- On a shared border, or where sloppy data makes polygons overlap, the polygon with the
  **lowest code** (string order) wins, so every point gets exactly one answer.
- A point covered by no polygon but within ``tolerance_m`` (default 250 m) of one is assigned
  to the nearest (ties again to the lowest code) and flagged ``nearest``; farther away it is
  ``outside`` and gets no code. Non-finite coordinates are flagged ``missing``.

The lookup itself, and how it is fast, is :class:`geo.placement.polygons.PolygonIndex`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import h3
import numpy as np

from geo.boundaries import BoundarySet
from geo.errors import InvalidInputError
from geo.grid.cells import h3_cells
from geo.placement.polygons import FLAG_NAMES, OUT, PolygonIndex


@dataclass
class Placement:
    """Per-point answers, all arrays of the input length.

    ``district``/``station``/``sector`` hold codes (None where unplaced); ``h3_cell`` holds
    uint64 H3 indexes (0 where coordinates are missing); ``flag`` is the district layer's
    flag (inside/nearest/outside/missing); each layer applies the same rules on its own,
    so ``station_flag`` and ``sector_flag`` are given too.
    """

    district: np.ndarray
    station: np.ndarray
    sector: np.ndarray
    h3_cell: np.ndarray
    flag: np.ndarray
    station_flag: np.ndarray
    sector_flag: np.ndarray

    def h3_hex(self) -> np.ndarray:
        """H3 cells as hex strings (None where missing)."""
        return np.array([h3.int_to_str(int(c)) if c else None for c in self.h3_cell], dtype=object)


def _layer_arrays(layer: BoundarySet | gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    frame = layer.frame if isinstance(layer, BoundarySet) else layer
    return np.asarray(frame.geometry.values, dtype=object), frame["code"].to_numpy(dtype=str)


class Placer:
    """Places points on districts, station jurisdictions, patrol sectors and H3 cells."""

    def __init__(
        self,
        districts: PolygonIndex,
        stations: PolygonIndex | None = None,
        sectors: PolygonIndex | None = None,
        h3_resolution: int | None = 9,
        tolerance_m: float = 250.0,
    ) -> None:
        self.districts = districts
        self.stations = stations
        self.sectors = sectors
        self.h3_resolution = h3_resolution
        self.tolerance_m = tolerance_m

    @classmethod
    def from_layers(
        cls,
        districts: BoundarySet | gpd.GeoDataFrame,
        stations: BoundarySet | gpd.GeoDataFrame | None = None,
        sectors: BoundarySet | gpd.GeoDataFrame | None = None,
        h3_resolution: int | None = 9,
        tolerance_m: float = 250.0,
    ) -> Placer:
        """Build from layers with a ``code`` column and polygon geometries in EPSG:4326."""

        def index(layer: Any) -> PolygonIndex | None:
            return None if layer is None else PolygonIndex(*_layer_arrays(layer), tolerance_m)

        dist = index(districts)
        assert dist is not None
        return cls(dist, index(stations), index(sectors), h3_resolution, tolerance_m)

    def place(self, lons: Any, lats: Any, *, with_h3: bool = True) -> Placement:
        """Place many points at once (arrays of equal length, degrees EPSG:4326)."""
        lon = np.ascontiguousarray(lons, dtype=np.float64)
        lat = np.ascontiguousarray(lats, dtype=np.float64)
        if lon.shape != lat.shape or lon.ndim != 1:
            raise InvalidInputError(
                "lons and lats must be 1-d arrays of the same length",
                {"lons": list(lon.shape), "lats": list(lat.shape)},
            )
        district, dflag = self.districts.assign(lon, lat)
        station, sflag = self._optional(self.stations, lon, lat)
        sector, cflag = self._optional(self.sectors, lon, lat)
        cells = self.h3_cells(lon, lat) if with_h3 else np.zeros(len(lon), dtype=np.uint64)
        return Placement(
            district,
            station,
            sector,
            cells,
            FLAG_NAMES[dflag],
            FLAG_NAMES[sflag],
            FLAG_NAMES[cflag],
        )

    def _optional(self, index: PolygonIndex | None, lon: Any, lat: Any) -> tuple[Any, Any]:
        if index is None:
            return np.full(len(lon), None, dtype=object), np.full(len(lon), OUT, dtype=np.int8)
        return index.assign(lon, lat)

    def h3_cells(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """H3 cells (uint64) at the placer's resolution; 0 for non-finite coordinates.

        Vectorised (``geo.grid.cells.h3_cells``: the H3 lattice in numpy, equal to
        ``h3.latlng_to_cell`` on every point, tested), several times a Python loop's speed.
        """
        if self.h3_resolution is None:
            return np.zeros(len(lon), dtype=np.uint64)
        finite = np.isfinite(lon) & np.isfinite(lat)
        if finite.all():  # the usual case: no copies (H3 indexes are positive: view as uint64)
            return h3_cells(lon, lat, self.h3_resolution).view(np.uint64)
        out = np.zeros(len(lon), dtype=np.uint64)
        ok = np.flatnonzero(finite)
        if ok.size:
            out[ok] = h3_cells(lon[ok], lat[ok], self.h3_resolution).astype(np.uint64)
        return out

    def place_one(self, lon: float, lat: float) -> dict[str, Any]:
        """Place a single point; returns codes, flags and the H3 cell as a hex string."""
        p = self.place(np.array([lon], dtype=float), np.array([lat], dtype=float))
        cell = int(p.h3_cell[0])
        return {
            "district": p.district[0],
            "station": p.station[0],
            "sector": p.sector[0],
            "h3_cell": h3.int_to_str(cell) if cell else None,
            "flag": p.flag[0],
            "station_flag": p.station_flag[0],
            "sector_flag": p.sector_flag[0],
        }
