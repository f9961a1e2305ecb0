"""``ronda import osm`` into the store, and re-import replacing a city's gazetteer; on SQLite
and, when RONDA_TEST_PG_URL is set, PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from fixtures.osm_extract import helsinki_pbf
from geo.osm.build import import_osm
from server.cli import main
from server.maps.places import boundaries_to_frame
from sync.store.sql import SQLStore
from tests.cli_support import db_url_on_both_backends, geocode, ronda, with_store

# Kamppi and the station quarter: part of the extract
BOX = "24.925,60.165,24.942,60.172"


db_url = db_url_on_both_backends()


def layers(url: str) -> dict[str, set[str]]:
    async def go(store: SQLStore) -> dict[str, set[str]]:
        names = ("districts", "streets", "landmarks", "addresses")
        return {n: {b.code for b in await store.boundaries(n)} for n in names}

    return with_store(url, go)


def districts(url: str) -> gpd.GeoDataFrame:
    async def go(store: SQLStore) -> gpd.GeoDataFrame:
        return boundaries_to_frame(await store.boundaries("districts"))

    return with_store(url, go)


@pytest.mark.slow
def test_import_then_reimport_replaces_the_gazetteer(db_url: str) -> None:
    assert ronda(db_url, "db", "upgrade").exit_code == 0
    path = str(helsinki_pbf())
    first = ronda(db_url, "import", "osm", path, "-o", "district_name=Helsinki", "--bbox", BOX)
    assert first.exit_code == 0, first.output
    before = layers(db_url)
    small_area = float(shapely.area(districts(db_url).geometry.values).sum())
    assert before["districts"] == {"osm"}  # no districts yet: the extract became one
    assert before["streets"] and before["addresses"]
    r = geocode(db_url, "Mannerheimintie con Kaivokatu")
    assert r["components"]["source"] == "intersection" and r["confidence"] >= 0.9
    # Pohjoisesplanadi lies east of the box: not there yet
    assert geocode(db_url, "Pohjoisesplanadi con Unioninkatu")["quality"] == "failed"

    again = ronda(db_url, "import", "osm", path)
    assert again.exit_code == 0, again.output
    after = layers(db_url)
    assert after["districts"] == {"osm"}  # made again, from the whole extract
    assert float(shapely.area(districts(db_url).geometry.values).sum()) > small_area
    assert len(after["streets"]) > len(before["streets"])  # the whole extract now
    fresh = import_osm(path)
    assert after["streets"] == set(fresh.streets["code"])  # nothing left of the first import
    assert after["addresses"] == set(fresh.addresses["code"])
    r = geocode(db_url, "Pohjoisesplanadi con Unioninkatu")
    assert r["components"]["source"] == "intersection"


def test_a_bad_bbox_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    answer = CliRunner().invoke(
        main, ["--db", url, "import", "osm", str(helsinki_pbf()), "--bbox", "1,2,3"]
    )
    assert answer.exit_code != 0 and "min_lon,min_lat,max_lon,max_lat" in answer.output
