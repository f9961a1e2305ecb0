"""Streaming read of an OpenStreetMap extract (.osm.pbf / .osm / .osm.bz2) with pyosmium.

One pass over the file keeps only what the gazetteer needs: named highways (node ids and
coordinates in flat arrays, not Python objects per node), address points (nodes, and
buildings by the mean of their nodes), and named POIs of the landmark kinds. Node locations
for ways come from libosmium's node-location index, which is the one memory cost that grows
with the whole file (see ``docs/geo.md``, memory budget).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import osmium

from geo.errors import UnreadableFileError

Progress = Callable[[str, int, int], None]

#: Highways that carry street names people use in addresses (not footways, tracks, links).
STREET_HIGHWAYS = frozenset(
    {
        "motorway",
        "trunk",
        "primary",
        "secondary",
        "tertiary",
        "unclassified",
        "residential",
        "living_street",
        "pedestrian",
        "service",
        "road",
    }
)
#: Alternative names kept as aliases: OSM's own alias keys, then any ``name:xx`` language.
ALIAS_KEYS = ("alt_name", "old_name", "official_name", "short_name", "loc_name")
BRIDGE_KEYS = ("bridge", "tunnel")


@dataclass
class OsmWay:
    """One named highway: its name, aliases, and a slice of the flat node arrays."""

    osm_id: int
    name: str
    aliases: tuple[str, ...]
    highway: str
    start: int
    end: int
    layered: bool  # bridge or tunnel: a geometric crossing there is not an intersection


@dataclass
class OsmData:
    """What one pass over the file found; coordinates in degrees (lon, lat)."""

    ways: list[OsmWay] = field(default_factory=list)
    refs: array[int] = field(default_factory=lambda: array("q"))
    lons: array[float] = field(default_factory=lambda: array("d"))
    lats: array[float] = field(default_factory=lambda: array("d"))
    # address points: (osm type+id, street, housenumber, lon, lat)
    addresses: list[tuple[str, str, str, float, float]] = field(default_factory=list)
    # POIs: (osm type+id, kind, name, aliases, lon, lat)
    pois: list[tuple[str, str, str, tuple[str, ...], float, float]] = field(default_factory=list)
    city_centre: tuple[float, float] | None = None  # a place=city/town node, if any
    bytes_read: int = 0
    seconds: float = 0.0


def poi_kind(tags: osmium.osm.TagList) -> str | None:
    """The landmark kind (the Spanish word the parser knows) of a POI's tags, or None."""
    amenity = tags.get("amenity")
    if amenity in ("school", "college", "university", "kindergarten"):
        return "colegio"
    if amenity == "marketplace" or tags.get("shop") == "mall":
        return "mercado"
    if amenity == "place_of_worship":
        return "iglesia"
    if amenity == "police":
        return "comisaria"
    if amenity in ("hospital", "clinic"):
        return "hospital"
    if tags.get("leisure") in ("park", "garden"):
        return "parque"
    if tags.get("place") == "square" or (
        tags.get("highway") == "pedestrian" and tags.get("area") == "yes"
    ):
        return "plaza"
    return None


def aliases_of(tags: osmium.osm.TagList, name: str) -> tuple[str, ...]:
    """Alternative names: alt_name/old_name/... (``;``-separated lists) and ``name:xx``."""
    out: list[str] = []
    for key in ALIAS_KEYS:
        for part in (tags.get(key) or "").split(";"):
            if part.strip():
                out.append(part.strip())
    for tag in tags:
        if tag.k.startswith("name:") and len(tag.k) <= 8 and tag.v.strip():
            out.append(tag.v.strip())
    seen = {name}
    return tuple(a for a in out if not (a in seen or seen.add(a)))  # type: ignore[func-returns-value]


def _rchar() -> int:
    """Bytes this process has read so far (Linux), for a progress bar by file position."""
    try:
        with open("/proc/self/io", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def read_osm(
    path: str | Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    progress: Progress | None = None,
    node_index: str = "flex_mem",
) -> OsmData:
    """Read ``path`` once; keep named streets, address points and landmark POIs.

    ``bbox`` = (min lon, min lat, max lon, max lat) keeps points inside and ways with at
    least one node inside. ``node_index`` is a libosmium index map name: ``flex_mem``
    (default, RAM), or ``sparse_file_array,/tmp/nodes.idx`` to keep node locations on disk.
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableFileError("file not found", {"path": str(path)})
    size = path.stat().st_size
    data = OsmData()
    x0, y0, x1, y1 = bbox if bbox else (-180.0, -90.0, 180.0, 90.0)

    def inside(lon: float, lat: float) -> bool:
        return x0 <= lon <= x1 and y0 <= lat <= y1

    started, base = time.perf_counter(), _rchar()
    last = 0.0
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations(node_index)
            .with_filter(
                osmium.filter.KeyFilter(
                    "highway", "addr:housenumber", "amenity", "leisure", "place", "shop"
                )
            )
        )
        for n, obj in enumerate(processor):
            if progress is not None and n % 2048 == 0 and time.perf_counter() - last > 0.2:
                last = time.perf_counter()
                progress("read", min(_rchar() - base, size), size)
            if isinstance(obj, osmium.osm.Node):
                _node(data, obj, inside)
            elif isinstance(obj, osmium.osm.Way):
                _way(data, obj, inside)
    except RuntimeError as exc:  # libosmium's parse and I/O errors
        raise UnreadableFileError(
            "not a readable OSM file", {"path": str(path), "reason": str(exc)}
        ) from exc
    data.bytes_read = size
    data.seconds = time.perf_counter() - started
    if progress is not None:
        progress("read", size, size)
    return data


def _node(data: OsmData, node: osmium.osm.Node, inside: Callable[[float, float], bool]) -> None:
    tags = node.tags
    if not node.location.valid():
        return
    lon, lat = node.location.lon, node.location.lat
    if not inside(lon, lat):
        return
    if tags.get("place") in ("city", "town") and data.city_centre is None:
        data.city_centre = (lon, lat)
    oid = f"n{node.id}"
    _address(data, oid, tags, lon, lat)
    _poi(data, oid, tags, lon, lat)


def _address(data: OsmData, oid: str, tags: osmium.osm.TagList, lon: float, lat: float) -> None:
    number, street = tags.get("addr:housenumber"), tags.get("addr:street") or tags.get("addr:place")
    if number and street:
        data.addresses.append((oid, street, number, lon, lat))


def _poi(data: OsmData, oid: str, tags: osmium.osm.TagList, lon: float, lat: float) -> None:
    name = tags.get("name")
    if not name:
        return
    kind = poi_kind(tags)
    if kind is not None:
        data.pois.append((oid, kind, name, aliases_of(tags, name), lon, lat))


def _way(data: OsmData, way: osmium.osm.Way, inside: Callable[[float, float], bool]) -> None:
    tags = way.tags
    name = tags.get("name")
    highway = tags.get("highway")
    street = bool(name) and highway in STREET_HIGHWAYS and tags.get("area") != "yes"
    if not (street or "addr:housenumber" in tags or (name and poi_kind(tags))):
        return  # footways, unnamed roads, buildings without an address: nothing to keep
    coords = []
    try:
        for nd in way.nodes:
            coords.append((nd.ref, nd.lon, nd.lat))
    except osmium.InvalidLocationError:
        coords = [(nd.ref, nd.lon, nd.lat) for nd in way.nodes if nd.location.valid()]
    if len(coords) < 2 or not any(inside(lon, lat) for _, lon, lat in coords):
        return
    if street:
        assert name is not None and highway is not None
        start = len(data.refs)
        for ref, lon, lat in coords:
            data.refs.append(ref)
            data.lons.append(lon)
            data.lats.append(lat)
        layered = any(tags.get(k) not in (None, "no") for k in BRIDGE_KEYS)
        data.ways.append(
            OsmWay(way.id, name, aliases_of(tags, name), highway, start, len(data.refs), layered)
        )
        return
    # closed ways (buildings, parks, schools): their mean node position
    pts = coords[:-1] if coords[0][0] == coords[-1][0] else coords
    lon = sum(c[1] for c in pts) / len(pts)
    lat = sum(c[2] for c in pts) / len(pts)
    _address(data, f"w{way.id}", tags, lon, lat)
    _poi(data, f"w{way.id}", tags, lon, lat)
