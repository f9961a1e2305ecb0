"""The MVT encoder: spec details checked on raw commands and with mapbox_vector_tile."""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely

from geo.tiles import mvt
from geo.tiles.layers import encode_geometries


def _decode(body: bytes) -> dict[str, Any]:
    layers: dict[str, Any] = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    return layers


def test_varints_and_zigzag() -> None:
    raw, n = mvt.varints(np.array([0, 1, 127, 128, 300, 2**35]))
    assert raw.tobytes() == b"".join(mvt.varint(v) for v in (0, 1, 127, 128, 300, 2**35))
    assert n.tolist() == [1, 1, 1, 2, 2, 6]
    assert mvt.zigzag(np.array([0, -1, 1, -2, 2])).tolist() == [0, 1, 2, 3, 4]


def test_points_and_properties_round_trip() -> None:
    rng = np.random.default_rng(42)
    x, y = rng.uniform(-60, 4150, 500), rng.uniform(-60, 4150, 500)
    cats = rng.choice(np.array(["robo", "hurto", None], dtype=object), 500)
    body = mvt.tile([mvt.layer("p", mvt.points(x, y), {"c": cats, "n": np.arange(500)})])
    feats = _decode(body)["p"]["features"]
    assert len(feats) == 500
    for f, px, py, c, i in zip(feats, x, y, cats, range(500), strict=True):
        assert f["geometry"]["coordinates"] == [round(px), round(py)]
        assert f["properties"].get("c") == c and f["properties"]["n"] == i


def test_polygon_winding_holes_and_degenerate_rings() -> None:
    # Exterior given counter-clockwise on screen, hole clockwise: both must be flipped.
    outer = [(0, 0), (0, 100), (100, 100), (100, 0), (0, 0)]
    hole = [(20, 20), (40, 20), (40, 40), (20, 40), (20, 20)]
    tiny = shapely.Polygon([(500, 500), (500.2, 500.1), (500.1, 500.3)])  # rounds to nothing
    geoms = np.array([shapely.Polygon(outer, [hole]), tiny], dtype=object)
    body = mvt.tile([encode_geometries("a", geoms, {"k": np.array(["x", "y"], dtype=object)})])
    feats = _decode(body)["a"]["features"]
    assert len(feats) == 1 and feats[0]["properties"] == {"k": "x"}
    ext, inner = feats[0]["geometry"]["coordinates"]

    def area(ring: list[list[float]]) -> float:
        r = np.array(ring, dtype=float)
        return float(np.sum(r[:-1, 0] * r[1:, 1] - r[1:, 0] * r[:-1, 1]) / 2)

    assert area(ext) > 0 > area(inner)  # y down: exterior clockwise on screen


def test_geometry_commands_are_deltas_with_a_fresh_cursor_per_feature() -> None:
    g = mvt.paths(np.array([10, 20, 30, 5, 6]), np.array([10, 10, 20, 5, 9]), np.array([3, 2]),
                  np.array([0, 1]), 2)  # fmt: skip
    assert g.tokens.tolist()[:8] == [9, 20, 20, 2 | (2 << 3), 20, 0, 20, 20]
    assert g.tokens.tolist()[8:] == [9, 10, 10, 2 | (1 << 3), 2, 8]


def test_clipping_to_the_buffered_tile() -> None:
    line = shapely.LineString([(-1000, 100), (5000, 100)])
    body = mvt.tile([encode_geometries("l", np.array([line], dtype=object), {}, buffer=64)])
    coords = _decode(body)["l"]["features"][0]["geometry"]["coordinates"]
    assert coords == [[-64, 100], [4160, 100]]
