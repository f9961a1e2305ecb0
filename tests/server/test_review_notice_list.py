"""Review fixes for notices (issue 14 item 4), on SQLite and PostgreSQL.

A notice to a district has one record per station; listing notices for an analyst (all
stations) must still give ``limit`` notices, not ``limit * 4`` station copies' worth.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.engine import SyncEngine
from sync.notices import notices_for, post_notice
from sync.protocol_notices import NoticeDraft
from sync.store.base import Store
from sync.store.records import Station
from tests.support import People, open_store, seed_people, store_params

STATIONS = 10  # more copies per notice than the old "limit * 4" rows hold for limit 2


@pytest.fixture(params=store_params())
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async for opened in open_store(request.param, tmp_path):
        yield opened


async def test_analyst_lists_as_many_notices_as_asked(store: Store) -> None:
    people: People = await seed_people(store)
    for i in range(STATIONS):
        await store.put_station(Station(f"st-d{i}", f"Comisaría D{i}", "150199"))
    engine = SyncEngine(store)
    now = int(datetime.now(UTC).timestamp() * 1000)
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    posted = []
    for n in range(3):
        draft = NoticeDraft.model_validate(
            {"text": f"Aviso {n}", "category": "robo", "expires_at": expires, "district": "150199"}
        )
        posted.append((await post_notice(engine, people.analyst, draft, now)).notice_id)
    found = await notices_for(engine, people.analyst, include_ended=False, limit=2)
    assert [n.notice_id for n in found] == [posted[2], posted[1]]
    assert all(len(n.stations) == STATIONS for n in found)
    everything = await notices_for(engine, people.analyst, include_ended=True, limit=10)
    assert sorted(n.notice_id for n in everything) == sorted(posted)
