"""The station, officer and init commands check what they are given (issue 19, item 6), on
a real SQLite file and, when RONDA_TEST_PG_URL is set, a real PostgreSQL database."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from server.maps.places import store_layer
from sync.identity import create_device_token
from tests.cli_support import db_url_on_both_backends, ronda, said, with_store
from tests.support import PG_URL, reset_postgres

TOKEN = re.compile(r"admin token \(shown once\): (\S+)")


db_url = db_url_on_both_backends()


def import_two_districts(url: str) -> None:
    rows = pd.DataFrame([{"code": "150101", "name": "Lima"}, {"code": "150132", "name": "SJL"}])
    boxes = [shapely.box(-77.04, -12.06, -77.03, -12.05), shapely.box(-77.0, -12.0, -76.9, -11.9)]
    frame = gpd.GeoDataFrame(rows, geometry=boxes, crs="EPSG:4326")
    with_store(url, lambda s: store_layer(s, "districts", frame))


def test_officer_of_a_missing_station_is_refused(db_url: str) -> None:
    answer = ronda(
        db_url, "officer", "add", "of-1", "Ana", "--role", "officer", "--station", "nope"
    )
    assert answer.exit_code != 0
    assert "no station 'nope'" in said(answer)
    assert "of-1" not in ronda(db_url, "officer", "list").output
    assert ronda(db_url, "station", "add", "cms-a", "Comisaría A").exit_code == 0
    ok = ronda(db_url, "officer", "add", "of-1", "Ana", "--role", "officer", "--station", "cms-a")
    assert ok.exit_code == 0, ok.output
    assert "of-1" in ronda(db_url, "officer", "list", "--station", "cms-a").output


@pytest.mark.parametrize("district", ["abc", "15013", "1501321", "15O132", " 150132"])
def test_district_must_be_a_ubigeo(tmp_path: Path, district: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    answer = ronda(url, "station", "add", "cms-a", "A", "--district", district)
    assert answer.exit_code != 0
    assert "6-digit UBIGEO" in said(answer)
    assert "cms-a" not in ronda(url, "station", "list").output


def test_district_must_be_imported_when_districts_are(db_url: str) -> None:
    # Before any district is imported, only the form can be checked.
    assert ronda(db_url, "station", "add", "cms-x", "X", "--district", "999999").exit_code == 0
    import_two_districts(db_url)
    answer = ronda(db_url, "station", "add", "cms-y", "Y", "--district", "999999")
    assert answer.exit_code != 0
    assert "no district 999999 among the 2 imported" in said(answer)
    good = ronda(db_url, "station", "add", "cms-z", "Zárate", "--district", "150132")
    assert good.exit_code == 0, good.output
    listed = ronda(db_url, "station", "list").output
    assert "cms-z" in listed and "150132" in listed and "cms-y" not in listed


def test_remove_refuses_while_something_depends(db_url: str) -> None:
    ronda(db_url, "station", "add", "cms-a", "A")
    ronda(db_url, "officer", "add", "of-1", "Ana", "--role", "officer", "--station", "cms-a")
    refused = ronda(db_url, "station", "remove", "cms-a")
    assert refused.exit_code != 0 and "1 officers" in said(refused)
    with_store(db_url, lambda s: create_device_token(s, "of-1", "phone", 0))
    kept = ronda(db_url, "officer", "remove", "of-1")
    assert kept.exit_code != 0 and "1 devices" in said(kept)
    assert "of-1" in ronda(db_url, "officer", "list").output
    ronda(db_url, "officer", "add", "of-2", "Luis", "--role", "officer", "--station", "cms-a")
    ronda(db_url, "officer", "password", "of-2", "--password", "una clave larga")
    assert ronda(db_url, "officer", "remove", "of-2").exit_code == 0
    assert "of-2" not in ronda(db_url, "officer", "list").output
    assert ronda(db_url, "officer", "remove", "of-2").exit_code != 0  # gone
    assert ronda(db_url, "station", "remove", "nope").exit_code != 0


def test_remove_a_station_nobody_uses(db_url: str) -> None:
    ronda(db_url, "station", "add", "cms-a", "A")
    ronda(db_url, "station", "add", "cms-b", "B")
    assert ronda(db_url, "station", "remove", "cms-b").exit_code == 0
    listed = ronda(db_url, "station", "list").output
    assert "cms-a" in listed and "cms-b" not in listed


def test_init_twice_issues_one_token_unless_asked(db_url: str) -> None:
    first = ronda(db_url, "init")
    assert first.exit_code == 0, first.output
    assert len(TOKEN.findall(first.output)) == 1
    again = ronda(db_url, "init")
    assert again.exit_code == 0
    assert not TOKEN.findall(again.output)
    assert "no new token issued" in said(again)
    more = ronda(db_url, "init", "--new-admin-token")
    assert len(TOKEN.findall(more.output)) == 1
    assert "earlier one(s) still work" in said(more)
    devices = with_store(db_url, lambda s: s.list_devices("admin"))
    assert len(devices) == 2


def test_init_does_not_print_the_database_password(tmp_path: Path) -> None:
    if PG_URL:
        asyncio.run(reset_postgres(PG_URL))
        user, _, rest = PG_URL.partition("@")
        # The test server trusts local connections, so any password works.
        url = f"{user}:Pa55-s3cret@{rest}" if ":" not in user.split("//")[1] else PG_URL
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    answer = ronda(url, "init")
    assert answer.exit_code == 0, answer.output
    assert "Pa55-s3cret" not in answer.output
    if PG_URL:
        assert "***" in answer.output
