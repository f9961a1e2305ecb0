"""``ronda import cadastre`` into the store: the three layers, re-import (a district's
features replaced, the others kept), and address-only incidents geocoded again; on SQLite
and, when RONDA_TEST_PG_URL is set, PostgreSQL. Files and expected points come from
tests/geo/test_cadastre.py (drawn there, points computed there with shapely and pyproj)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import Result

from server.app import build_engine
from server.maps.places import load_places
from server.settings import Settings
from sync.clock import HybridClock
from sync.store.records import PullScope
from sync.store.sql import SQLStore
from tests.cli_support import db_url_on_both_backends, geocode, ronda, with_store
from tests.geo.test_cadastre import (
    SETTLEMENTS,
    aahh_file,
    districts_frame,
    inside_point,
    lote_poly,
    lotes_file,
    lotes_rows,
    manzana_poly,
    manzanas_file,
    metres,
    write,
)
from tests.support import batch, incident, new_id, seed_people

db_url = db_url_on_both_backends()


def ok(answer: Result) -> str:
    assert answer.exit_code == 0, answer.output
    return answer.output


def setup_city(url: str, tmp_path: Path, lotes: Any = None) -> None:
    """Districts, then the AA.HH., manzanas and lotes, each with the command."""
    ok(ronda(url, "db", "upgrade"))
    districts = districts_frame().rename(columns={"code": "IDDIST", "name": "NOMBDIST"})
    ok(ronda(url, "import", "districts", str(write(districts, tmp_path / "d.geojson"))))
    aahh = str(write(aahh_file(), tmp_path / "aahh.shp"))
    out = ok(ronda(url, "import", "cadastre", aahh, "--kind", "aahh", "--map", "name=NOMBRE"))
    assert "aa_hh now holds 3 features" in out and "code=COD_HU" in out  # guessed, and said
    manz = str(write(manzanas_file(), tmp_path / "mz.gpkg"))
    ok(ronda(url, "import", "cadastre", manz, "--kind", "manzanas", "--map", "aahh=COD_HU"))
    mapping = tmp_path / "columnas.txt"
    mapping.write_text("lt = NUM_LOTE\nmz = MANZANA\naahh = HAB_URB\n")
    path = str(write(lotes if lotes is not None else lotes_file(), tmp_path / "lotes.gpkg"))
    ok(ronda(url, "import", "cadastre", path, "--kind", "lotes", "--map", str(mapping)))


def stored(url: str, layer: str) -> set[str]:
    async def go(store: SQLStore) -> set[str]:
        return {b.code for b in await store.boundaries(layer)}

    return with_store(url, go)


def at(answer: dict[str, Any]) -> tuple[float, float]:
    assert answer["lon"] is not None, answer
    return answer["lon"], answer["lat"]


X = {code: x for code, _, _, x, _ in SETTLEMENTS}


@pytest.mark.slow
def test_import_then_reimport_one_district(db_url: str, tmp_path: Path) -> None:
    setup_city(db_url, tmp_path)
    assert stored(db_url, "aa_hh") == {"AH-01", "AH-02", "AH-03"}
    assert len(stored(db_url, "lotes")) == 180 and len(stored(db_url, "manzanas")) == 9
    r = geocode(db_url, "Mz B Lote 12 AA.HH. Los Olivos, Comas")
    assert r["components"]["source"] == "lote" and r["confidence"] >= 0.9
    assert metres(at(r), inside_point(lote_poly(X["AH-01"], 1, 12))) < 0.5

    # Comas renumbers Mz. B of Los Olivos (12 -> 112) and sends its lotes only
    comas = [row for row in lotes_rows() if row["HAB_URB"] != "AH-03"]
    for row in comas:
        if row["HAB_URB"] == "AH-01" and row["MANZANA"] == "B":
            row["NUM_LOTE"] += 100
    path = str(write(lotes_file(rows=comas), tmp_path / "comas.gpkg"))
    mapping = "lt=NUM_LOTE,mz=MANZANA,aahh=HAB_URB"
    out = ok(ronda(db_url, "import", "cadastre", path, "--kind", "lotes", "--map", mapping))
    assert "lotes now holds 180 features" in out
    codes = stored(db_url, "lotes")
    assert "AH-01-B-112" in codes and "AH-01-B-12" not in codes
    assert {c for c in codes if c.startswith("AH-03-")} == {
        f"AH-03-{mz}-{lt}" for mz in "ABD" for lt in range(1, 21)
    }  # Ate's lotes stay
    r = geocode(db_url, "Mz B Lote 112 AA.HH. Los Olivos, Comas")
    assert r["components"]["source"] == "lote"
    assert metres(at(r), inside_point(lote_poly(X["AH-01"], 1, 12))) < 0.5
    gone = geocode(db_url, "Mz B Lote 12 AA.HH. Los Olivos, Comas")
    assert gone["components"]["source"] == "manzana" and gone["confidence"] <= 0.5
    assert metres(at(gone), inside_point(manzana_poly(X["AH-01"], 1, "B"))) < 0.5

    # a file of one urbanización replaces its lotes only
    felipe = [row for row in lotes_rows() if row["HAB_URB"] == "AH-02"][:5]
    one = str(write(lotes_file(rows=felipe), tmp_path / "felipe.gpkg"))
    ok(ronda(db_url, "import", "cadastre", one, "--kind", "lotes", "--map", mapping))
    codes = stored(db_url, "lotes")
    assert {c for c in codes if c.startswith("AH-02-")} == {f"AH-02-A-{lt}" for lt in range(1, 6)}
    assert len({c for c in codes if c.startswith("AH-01-")}) == 60

    # AA.HH. are replaced by district: Ate's file leaves Comas' settlements
    ate = aahh_file().iloc[[2]].copy()
    ate["NOMBRE"] = "AA.HH. Los Olivos de Ate"
    path_ate = str(write(ate, tmp_path / "ate.gpkg"))
    ok(ronda(db_url, "import", "cadastre", path_ate, "--kind", "aahh", "--map", "name=NOMBRE"))
    assert stored(db_url, "aa_hh") == {"AH-01", "AH-02", "AH-03"}
    assert geocode(db_url, "Mz. A Lt. 3 AA.HH. Los Olivos de Ate")["confidence"] >= 0.9

    # the whole layer replaced when asked
    args = ("import", "cadastre", path, "--kind", "lotes", "--map", mapping)
    ok(ronda(db_url, *args, "-o", "replace=all"))
    assert not {c for c in stored(db_url, "lotes") if c.startswith("AH-03-")}


def test_mapping_errors_reach_the_clerk(db_url: str, tmp_path: Path) -> None:
    ok(ronda(db_url, "db", "upgrade"))
    aahh = str(write(aahh_file(), tmp_path / "aahh.gpkg"))
    answer = ronda(db_url, "import", "cadastre", aahh, "--kind", "aahh", "--map", "nombre=X")
    assert answer.exit_code != 0 and "unknown_field" in answer.output
    answer = ronda(db_url, "import", "cadastre", aahh)
    assert answer.exit_code != 0 and "--kind" in answer.output
    lotes = str(write(lotes_file(), tmp_path / "lotes.gpkg"))
    answer = ronda(db_url, "import", "cadastre", lotes, "--kind", "lotes")
    assert answer.exit_code != 0 and "missing_layer" in answer.output
    assert stored(db_url, "lotes") == set()


@pytest.mark.slow
def test_reimport_geocodes_address_only_incidents_again(db_url: str, tmp_path: Path) -> None:
    # Mz. C of Los Olivos (Comas) has no lotes yet: its address is known to the manzana only
    setup_city(db_url, tmp_path, lotes=lotes_file(rows=lotes_rows(skip=("AH-01", "C"))))
    rid = new_id()
    text = "Mz. C Lt. 7 AA.HH. Los Olivos, Comas"

    async def push(store: SQLStore) -> None:
        people = await seed_people(store)
        engine = build_engine(Settings(_env_file=None), store)
        places = await load_places(store)
        assert places is not None
        engine.enricher = places.enrich
        fields = {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00"}
        change = incident(rid, HybridClock(), {**fields, "address_text": text})
        await engine.push(people.officer_a, batch([change]))

    async def record(store: SQLStore) -> tuple[int, dict[str, Any]]:
        rows = await store.pull(PullScope(None, "none", ""), 0, 1000)
        docs = [(r.seq, orjson.loads(r.doc)) for r in rows]
        return next((seq, d) for seq, d in docs if d["id"] == rid)

    with_store(db_url, push)
    seq, doc = with_store(db_url, record)
    assert doc["derived"]["quality"] == "block"  # the manzana: its point, at most 0.5
    assert doc["derived"]["confidence"] <= 0.5
    manzana = inside_point(manzana_poly(X["AH-01"], 2, "C"))
    assert metres((doc["derived"]["lon"], doc["derived"]["lat"]), manzana) < 0.5

    path = str(write(lotes_file(), tmp_path / "all.gpkg"))
    mapping = "lt=NUM_LOTE,mz=MANZANA,aahh=HAB_URB"
    out = ok(ronda(db_url, "import", "cadastre", path, "--kind", "lotes", "--map", mapping))
    assert "1 incidents re-derived" in out
    new_seq, doc = with_store(db_url, record)
    assert new_seq > seq  # a new version, which devices pull
    derived = doc["derived"]
    assert derived["source"] == "address" and derived["quality"] == "exact"
    assert derived["district"] == "150110"
    want = inside_point(lote_poly(X["AH-01"], 2, 7))
    assert metres((derived["lon"], derived["lat"]), want) < 0.5
