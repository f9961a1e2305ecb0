"""What a read of this wave's diff found: data that could close the map's config script, a
date that overflowed the audit page, and snapshot slots that a burst could all slip past."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from server.settings import Settings
from sync.store.records import Station
from tests.server.conftest import Served, sign_in_web

PASSWORD = "una-clave-larga-1"
EVIL = 'Comisaría A</script><script>alert("x")</script><!--&'


async def _sign_in(served: Served, officer: str) -> None:
    await sign_in_web(served, officer, PASSWORD)


async def test_a_station_name_cannot_close_the_map_config_script(served: Served) -> None:
    await served.store.put_station(Station("st-a", EVIL, "150101"))
    await _sign_in(served, "chief-a")
    page = await served.client.get("/map")
    assert page.status_code == 200
    config = re.search(
        r'<script id="map-config" type="application/json">(.*?)</script>', page.text, re.S
    )
    assert config, "the config script ends before its JSON does"
    assert "<script>alert" not in config.group(1) and "<!--" not in config.group(1)
    assert json.loads(config.group(1))["station_name"] == EVIL  # the name itself, unchanged
    assert page.text.count("<script>alert") == 0


@pytest.mark.parametrize("until", ["9999-12-31", "0001-01-01"])
async def test_audit_dates_at_the_calendar_ends_are_refused_not_a_500(
    served: Served, until: str
) -> None:
    await _sign_in(served, "admin")
    page = await served.client.get("/admin/audit", params={"until": until})
    assert page.status_code < 500


@pytest.fixture
def app_settings() -> Settings:
    settings = Settings(_env_file=None)
    settings.sync.snapshot_streams = 1
    return settings


async def test_a_burst_of_snapshots_gets_one_slot_and_429s(served: Served) -> None:
    """Six phones ask at once with one slot: not all may stream (the slot was taken only
    once the stream started, so a burst all saw the count at zero), each 429 is counted once
    in the metrics, and the slot is free again afterwards."""
    ask = [served.client.get("/v1/sync/snapshot", headers=served.auth(who)) for who in
           ["off-a", "off-a2", "chief-a", "off-b", "analyst", "off-a"]]  # fmt: skip
    answers = await asyncio.gather(*ask)
    statuses = sorted(a.status_code for a in answers)
    assert 200 in statuses and 429 in statuses, statuses
    assert set(statuses) == {200, 429}
    shed = statuses.count(429)
    assert served.app.state.ctx.snapshots == 0
    again = await served.client.get("/v1/sync/snapshot", headers=served.auth("off-a"))
    assert again.status_code == 200
    metrics = (await served.client.get("/metrics")).text
    busy = re.search(r'ronda_errors_total\{code="busy"\} (\S+)', metrics)
    assert busy and float(busy.group(1)) == shed
