"""Helpers shared by the sync and server tests: stores, people, and change builders."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.clock import HybridClock
from sync.identity import create_device_token
from sync.store.base import Store
from sync.store.records import Identity, Officer, Station
from sync.store.sql import SQLStore
from sync.wire_json import canonical_json

PG_URL = os.environ.get("RONDA_TEST_PG_URL")


def store_params() -> list[str]:
    return ["sqlite", "postgres"] if PG_URL else ["sqlite"]


async def reset_postgres(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from sync.store.sql_tables import metadata

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await engine.dispose()


async def open_store(kind: str, tmp_path: Path) -> AsyncGenerator[Store, None]:
    if kind == "postgres":
        assert PG_URL
        await reset_postgres(PG_URL)
        store: SQLStore = SQLStore(PG_URL)
    else:
        store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@dataclass
class People:
    officer_a: Identity
    officer_a2: Identity
    chief_a: Identity
    officer_b: Identity
    analyst: Identity
    admin: Identity
    tokens: dict[str, str]


async def seed_people(store: Store) -> People:
    """Two stations, officers of each role, one device (and token) each."""
    await store.put_station(Station("st-a", "Comisaría A", "150101"))
    await store.put_station(Station("st-b", "Comisaría B", "150102"))
    staff = [
        Officer("off-a", "Ana Quispe", "officer", "st-a"),
        Officer("off-a2", "Luis Mamani", "officer", "st-a"),
        Officer("chief-a", "Rosa Huamán", "chief", "st-a"),
        Officer("off-b", "Jorge Flores", "officer", "st-b"),
        Officer("analyst", "Carmen Rojas", "analyst", None),
        Officer("admin", "Admin", "admin", None),
    ]
    identities: dict[str, Identity] = {}
    tokens: dict[str, str] = {}
    for officer in staff:
        await store.put_officer(officer)
        device, token = await create_device_token(store, officer.id, f"phone-{officer.id}", 0)
        identities[officer.id] = Identity(
            device.id, device.name, officer.id, officer.role, officer.station_id
        )
        tokens[officer.id] = token
    return People(
        identities["off-a"],
        identities["off-a2"],
        identities["chief-a"],
        identities["off-b"],
        identities["analyst"],
        identities["admin"],
        tokens,
    )


def new_id() -> str:
    return uuid.uuid4().hex


def incident(
    record_id: str,
    clock: HybridClock,
    fields: dict[str, Any] | None = None,
    base_seq: int = 0,
    pii: dict[str, Any] | None = None,
    op: str = "upsert",
) -> dict[str, Any]:
    change: dict[str, Any] = {
        "collection": "incidents",
        "id": record_id,
        "op": op,
        "hlc": str(clock.tick()),
        "base_seq": base_seq,
    }
    if op == "upsert":
        change["fields"] = fields or {
            "category": "robo",
            "occurred_at": "2026-11-20T22:15:00-05:00",
        }
    if pii is not None:
        change["pii"] = pii
    return change


def log_entry(
    device_id: str,
    n: int,
    prev_hash: str,
    clock: HybridClock,
    body: dict[str, Any] | None = None,
    entry_id: str | None = None,
) -> dict[str, Any]:
    """A correctly hashed patrol-log entry."""
    body = body or {"kind": "note", "at": "2026-11-20T22:15:00-05:00", "text": f"entrada {n}"}
    entry: dict[str, Any] = {
        "collection": "patrol_logs",
        "id": entry_id or new_id(),
        "op": "append",
        "hlc": str(clock.tick()),
        "n": n,
        "prev_hash": prev_hash,
        "body": body,
    }
    material = {k: entry[k] for k in ("body", "hlc", "id", "n", "prev_hash")}
    material["device_id"] = device_id
    entry["hash"] = hashlib.sha256(canonical_json(material)).hexdigest()
    return entry


def batch(changes: list[dict[str, Any]], batch_id: str | None = None) -> dict[str, Any]:
    return {"batch_id": batch_id or new_id(), "changes": changes}


def count_groups(engine: Any) -> list[int]:
    """The sizes of the groups ``engine``'s group commit writes from now on, in order."""
    groups: list[int] = []
    write = engine._group._write

    async def counted(take: Any) -> list[Any]:
        def counted_take() -> list[Any]:
            group: list[Any] = take()
            groups.append(len(group))
            return group

        answers: list[Any] = await write(counted_take)
        return answers

    engine._group._write = counted
    return groups
