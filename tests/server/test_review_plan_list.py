"""Listing patrol plans is scoped before it is cut (review fix), on SQLite and PostgreSQL.

Plans were found through the newest 500 ``publish_plan`` audit events of the whole city and
only then filtered by the caller's stations: once other stations had published 500 plans
after a chief's own, the chief's plan (today's included) was no longer listed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server import plans
from sync.engine import SyncEngine
from sync.protocol_plans import PlanBody
from sync.store.base import Store
from sync.store.records import Identity, Officer
from tests.support import open_store, seed_people, store_params

CELL = "8928308280fffff"  # a resolution 9 H3 cell


@pytest.fixture(params=store_params())
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async for opened in open_store(request.param, tmp_path):
        yield opened


def body(day: str) -> PlanBody:
    assignment = {"sector": "s1", "shift": "06-14", "minutes": 20, "cells": [CELL]}
    return PlanBody.model_validate({"date": day, "assignments": [assignment]})


@pytest.mark.slow
async def test_own_plan_listed_after_many_of_other_stations(store: Store) -> None:
    people = await seed_people(store)
    await store.put_officer(Officer("chief-b", "Pedro Salas", "chief", "st-b"))
    chief_b = Identity("phone-chief-b", "phone", "chief-b", "chief", "st-b")
    engine = SyncEngine(store)
    own = await plans.publish(engine, people.chief_a, body("2026-12-03"))
    for _ in range(plans.LIST_LIMIT):
        await plans.publish(engine, chief_b, body("2026-12-03"))
    listed = await plans.plans(engine, people.chief_a, "2026-12-03")
    assert [p["id"] for p in listed] == [own["id"]]
    assert [p["id"] for p in await plans.plans(engine, people.chief_a, None)] == [own["id"]]
