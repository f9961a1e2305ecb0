"""Data of the chief's map, in the signed-in officer's scope.

The map draws streets, sectors, incidents, hotspot cells, density, districts and tracks
from the vector tiles of ``/tiles`` (session cookie; the tile URLs carry the filters), and
asks this module only for what tiles cannot say: each tiled layer's count, why it is
empty, and the short lists the panel shows (``/web/data/meta/{layer}.json``). The counts
come from the same cached feature tables the tiles are cut from, so they agree.

The GeoJSON layers (``/web/data/{layer}.geojson``) stay for the layers no tile has
(emerging hotspots, patrol dosage) and for scripts; their statistics are the same.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h3
import numpy as np
import shapely
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from geo.analysis.density import compute_density
from geo.analysis.dosage import compute_dosage
from geo.analysis.emerging import compute_emerging
from geo.analysis.hotspots import compute_hotspots
from geo.grid.cells import unproject
from server.context import ctx
from server.maps.layerdata import MIN_GI_INCIDENTS
from server.routes.common import json_response
from server.web import glyphs
from server.web.filters import MAP_ROLES, MapView, map_view, previous_period, window_query
from server.web.i18n import EMPTY_REASONS
from server.web.render import page_language
from server.web.sessions import require_web
from sync.errors import InvalidRequest, NotFound
from sync.store.records import PointQuery

BASE_LAYERS = ("districts", "sectors", "stations", "streets")
GEOJSON = "application/geo+json"
NO_STORE = {"Cache-Control": "private, no-store"}
MIN_DENSITY_INCIDENTS = 2


def collection(features: list[dict[str, Any]], **meta: Any) -> Response:
    body = {"type": "FeatureCollection", "features": features, **meta}
    answer = json_response(body, headers=NO_STORE)
    answer.headers["content-type"] = GEOJSON
    return answer


def explained(request: Request, code: str, **values: Any) -> Response:
    """An empty layer and why it is empty, in the page's language: the map shows the reason
    instead of a silent blank ("0 hotspots" with too few incidents for Gi*, no patrols)."""
    text = EMPTY_REASONS[page_language(request)][code].format(**values)
    return collection([], reason={"code": code, "text": text, **values})


def hexagon(cell: int) -> dict[str, Any]:
    ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(h3.int_to_str(int(cell)))]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


SCOPED_LAYERS = ("streets", "sectors")  # many features, of use only near one's own stations
MARGIN_DEG = 0.01  # about 1 km around the station areas: the streets just across the border


async def _scope_box(
    request: Request, stations: tuple[str, ...]
) -> tuple[float, float, float, float] | None:
    areas = [
        shapely.from_wkb(b.geometry)
        for b in await ctx(request).store.boundaries("stations")
        if b.code in stations
    ]
    if not areas:
        return None
    w, s, e, n = shapely.total_bounds(areas).tolist()
    return w - MARGIN_DEG, s - MARGIN_DEG, e + MARGIN_DEG, n + MARGIN_DEG


async def _base_features(request: Request, layer: str) -> list[dict[str, Any]]:
    """A boundary layer's features; streets and sectors only around the stations the signed-in
    officer may see (a chief's first view carried all 13,134 streets of the city: 200 KB)."""
    user = await require_web(request)
    stations = None
    if layer in SCOPED_LAYERS and user.who.role in MAP_ROLES:
        stations = ctx(request).engine.scope(user.who).station_ids
    cache = request.app.state.__dict__.setdefault("web_base_layers", {})
    key = (layer, stations)
    if key not in cache:
        items = await ctx(request).store.boundaries(layer)
        geometries = [shapely.from_wkb(b.geometry) for b in items]
        box = await _scope_box(request, stations) if stations is not None else None
        if box is not None:
            inside = shapely.intersects(geometries, shapely.box(*box))
            kept = [(b, g) for b, g, keep in zip(items, geometries, inside, strict=True) if keep]
        else:
            kept = list(zip(items, geometries, strict=True))
        cache[key] = [
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(g),
                "properties": {"code": b.code, "name": b.name},
            }
            for b, g in kept
        ]
    return list(cache[key])


async def base_layer(request: Request) -> Response:
    """A boundary layer as drawn under the data (any signed-in officer)."""
    layer = request.path_params["layer"]
    if layer not in BASE_LAYERS:
        await require_web(request)
        raise NotFound("no such layer", {"layer": layer})
    answer = collection(await _base_features(request, layer))
    answer.headers["Cache-Control"] = "private, max-age=3600"
    answer.headers["Vary"] = "Cookie"  # streets and sectors differ by who is signed in
    return answer


async def incidents(request: Request) -> Response:
    view = await map_view(request)
    limit = ctx(request).settings.web.max_map_points
    cols = await ctx(request).store.points(
        view.query, ("id", "category", "occurred_s", "lon", "lat", "station_id")
    )
    n = cols["id"].size
    keep = slice(max(n - limit, 0), n)  # ordered by seq: the newest last
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
            "properties": {"id": i, "category": c, "t": int(t)},
        }
        for i, c, t, x, y in zip(
            cols["id"][keep].tolist(),
            cols["category"][keep].tolist(),
            cols["occurred_s"][keep].tolist(),
            cols["lon"][keep].tolist(),
            cols["lat"][keep].tolist(),
            strict=True,
        )
    ]
    if n == 0:
        return explained(request, "no_incidents", n=0)
    return collection(features, total=n, shown=len(features))


async def _hotspot_input(request: Request) -> tuple[MapView, dict[str, np.ndarray]]:
    view = await map_view(request)
    cols = await ctx(request).store.points(view.query, ("lon", "lat", "occurred_s", "category"))
    return view, cols


def _hotspots(cols: dict[str, np.ndarray]) -> Any:
    zero = np.zeros(cols["lon"].size, dtype=np.int64)
    return compute_hotspots(cols["lon"], cols["lat"], cols["occurred_s"], zero)


def _too_few(request: Request, n: int, minimum: int, code: str) -> Response:
    if n == 0:
        return explained(request, "no_incidents", n=0)
    return explained(request, code, n=n, min=minimum)


async def hotspots(request: Request) -> Response:
    _, cols = await _hotspot_input(request)
    n = int(cols["lon"].size)
    if n < MIN_GI_INCIDENTS:
        return _too_few(request, n, MIN_GI_INCIDENTS, "too_few_for_gi")
    result = await asyncio.to_thread(_hotspots, cols)
    features = [
        {
            "type": "Feature",
            "geometry": hexagon(cell),
            "properties": {"gi_bin": int(b), "z": round(float(z), 2), "count": int(n)},
        }
        for cell, b, z, n in zip(result.cells, result.gi_bin, result.z, result.counts, strict=True)
        if b != 0
    ]
    if not features:
        return explained(request, "no_significant_cells", n=n)
    return collection(features, resolution=result.spec.resolution, n=result.n_incidents)


async def emerging(request: Request) -> Response:
    view, cols = await _hotspot_input(request)
    since, until = view.window
    slices = max(4, min(52, (until - since) // (7 * 86_400)))
    n = int(cols["lon"].size)
    if n < MIN_GI_INCIDENTS:
        return _too_few(request, n, MIN_GI_INCIDENTS, "too_few_for_gi")
    zero = np.zeros(cols["lon"].size, dtype=np.int64)
    result = await asyncio.to_thread(
        compute_emerging,
        cols["lon"],
        cols["lat"],
        cols["occurred_s"],
        zero,
        end=until,
        n_slices=int(slices),
        slice_s=(until - since) // int(slices),
    )
    names = result.pattern_names()
    features = [
        {"type": "Feature", "geometry": hexagon(cell), "properties": {"pattern": str(p)}}
        for cell, p in zip(result.cells, names, strict=True)
        if p != "no pattern"
    ]
    if not features:
        return explained(request, "no_pattern", n=n)
    return collection(features, patterns=list(result.patterns))


async def density(request: Request) -> Response:
    _, cols = await _hotspot_input(request)
    n = int(cols["lon"].size)
    if n < MIN_DENSITY_INCIDENTS:
        return _too_few(request, n, MIN_DENSITY_INCIDENTS, "too_few_incidents")
    span = max(float(np.ptp(cols["lon"])), float(np.ptp(cols["lat"]))) * 111_000
    cell_m = float(max(100.0, np.ceil(span / 150 / 50) * 50))
    zero = np.zeros(cols["lon"].size, dtype=np.int64)
    grid = await asyncio.to_thread(
        compute_density, cols["lon"], cols["lat"], cols["occurred_s"], zero, cell_m=cell_m
    )
    return collection(_density_features(grid), cell_m=cell_m)


def _density_features(grid: Any) -> list[dict[str, Any]]:
    dens = grid.density
    top = float(dens.max())
    if top <= 0:
        return []
    rows, cols = np.nonzero(dens >= top * 0.08)
    x0, y1 = grid.bounds[0], grid.bounds[3]
    xs = x0 + cols * grid.cell_m
    ys = y1 - rows * grid.cell_m
    lon0, lat0 = unproject(xs, ys, grid.epsg)
    lon1, lat1 = unproject(xs + grid.cell_m, ys - grid.cell_m, grid.epsg)
    out = []
    # .tolist(): numpy scalars are not JSON (this layer answered 500 on every request)
    corners = zip(lon0.tolist(), lat0.tolist(), lon1.tolist(), lat1.tolist(), strict=True)
    for (a, b, c, d), v in zip(corners, (dens[rows, cols] / top).tolist(), strict=True):
        ring = [[a, b], [c, b], [c, d], [a, d], [a, b]]
        out.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"v": round(float(v), 3)},
            }
        )
    return out


async def districts(request: Request) -> Response:
    view = await map_view(request)
    store = ctx(request).store
    cols = await store.points(view.query, ("district",))
    codes, counts = np.unique(cols["district"].astype(str), return_counts=True)
    by_code = dict(zip(codes.tolist(), counts.tolist(), strict=True))
    features = []
    for b in await store.boundaries("districts"):
        n = int(by_code.get(b.code, 0))
        pop = float(b.props.get("population") or 0)
        rate = round(n * 10_000 / pop, 2) if pop > 0 else None
        features.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(shapely.from_wkb(b.geometry)),
                "properties": {"code": b.code, "name": b.name, "count": n, "rate": rate},
            }
        )
    return collection(features)


async def _tracks(request: Request) -> tuple[MapView, dict[str, np.ndarray]]:
    view = await map_view(request)
    query = PointQuery(view.query.station_ids, *view.window)
    return view, await ctx(request).store.tracks(query)


async def tracks(request: Request) -> Response:
    _, cols = await _tracks(request)
    features = []
    device, t = cols["device_id"], cols["at_s"]
    if device.size:
        cut = np.flatnonzero((device[1:] != device[:-1]) | (np.diff(t) > 1800)) + 1
        for part in np.split(np.arange(device.size), cut):
            if part.size < 2:
                continue
            line = np.column_stack([cols["lon"][part], cols["lat"][part]]).round(6).tolist()
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": line},
                    "properties": {"officer": str(cols["officer_id"][part[0]])},
                }
            )
    if not features:
        return explained(request, "no_patrols")
    return collection(features)


async def dosage(request: Request) -> Response:
    view, cols = await _tracks(request)
    if cols["at_s"].size < 2:
        return explained(request, "no_patrols")
    points = await ctx(request).store.points(view.query, ("lon", "lat", "occurred_s", "category"))
    n = int(points["lon"].size)
    if n < MIN_GI_INCIDENTS:
        return _too_few(request, n, MIN_GI_INCIDENTS, "too_few_for_gi")
    hot = await asyncio.to_thread(_hotspots, points)
    if not np.any(hot.gi_bin > 0):
        return explained(request, "no_hotspots_for_dosage")
    result = await asyncio.to_thread(
        compute_dosage,
        cols["officer_id"],
        cols["at_s"],
        cols["lon"],
        cols["lat"],
        cols["station_id"],
        hotspots=hot,
    )
    minutes: dict[int, float] = {}
    for cell, m in zip(result.cells.tolist(), result.minutes.tolist(), strict=True):
        minutes[cell] = minutes.get(cell, 0.0) + m
    if result.spec.kind != "h3":
        raise InvalidRequest("dosage is drawn on H3 cells only")
    features = [
        {"type": "Feature", "geometry": hexagon(c), "properties": {"minutes": round(m, 1)}}
        for c, m in minutes.items()
    ]
    return collection(features)


async def summary(request: Request) -> Response:
    """Incidents per category in the period and in the one before it (the map's comparison),
    both cut at Lima midnight like every period of the map."""
    view = await map_view(request)
    c = ctx(request)
    offset = c.settings.public.utc_offset_minutes * 60
    before = previous_period(view.since, view.until)
    periods = []
    for since, until, query in (
        (view.since, view.until, view.query),
        (*before, window_query(view, *before, offset)),
    ):
        cols = await c.store.points(query, ("category",))
        cats, counts = np.unique(cols["category"].astype(str), return_counts=True)
        periods.append(
            {
                "since": since.isoformat(),
                "until": until.isoformat(),
                "total": int(cols["category"].size),
                "by_category": dict(zip(cats.tolist(), counts.tolist(), strict=True)),
            }
        )
    return json_response({"period": periods[0], "previous": periods[1]}, headers=NO_STORE)


routes = [
    *glyphs.routes,  # the map's label glyphs (server/web/glyphs.py)
    Route("/web/data/base/{layer}.geojson", base_layer, methods=["GET"]),
    Route("/web/data/incidents.geojson", incidents, methods=["GET"]),
    Route("/web/data/hotspots.geojson", hotspots, methods=["GET"]),
    Route("/web/data/emerging.geojson", emerging, methods=["GET"]),
    Route("/web/data/density.geojson", density, methods=["GET"]),
    Route("/web/data/districts.geojson", districts, methods=["GET"]),
    Route("/web/data/tracks.geojson", tracks, methods=["GET"]),
    Route("/web/data/dosage.geojson", dosage, methods=["GET"]),
    Route("/web/data/summary.json", summary, methods=["GET"]),
]
