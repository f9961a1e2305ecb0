"""Property: whatever the schedule, devices converge and no concurrent loser goes unlogged.

Random schedules of edits by 2–4 devices of one station on a handful of shared incidents,
pushes, pulls, lost answers (the batch is sent again later), duplicate deliveries and old
pushes delivered again, against the real app and engine on real SQLite (promises 2, 3, 4).
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.app import create_app
from server.settings import Settings
from sync.client import Offline, RetryPolicy, SyncClient
from sync.clock import HybridClock, now_ms
from sync.engine import SyncEngine
from sync.identity import create_device_token
from sync.simulate import server_view
from sync.store.records import Officer, Station
from sync.store.sql import SQLStore
from tests.support import batch, incident, new_id, seed_people

INCIDENTS = 3
FIELDS = {
    "status": ["open", "closed", "referred"],
    "description": ["moto roja", "dos sujetos", "sin novedad"],
    "category": ["robo", "hurto"],
}


@dataclass
class Net(httpx.AsyncBaseTransport):
    """One device's network: can lose the next push answer, deliver twice, or replay old."""

    inner: httpx.AsyncBaseTransport
    device: int
    pushes: list[tuple[int, bytes, bytes]]  # every push the server answered, shared
    lose_next: bool = False
    dup_next: bool = False
    sent: list[tuple[httpx.URL, httpx.Headers, bytes]] = field(default_factory=list)

    async def _send(self, method: str, url: httpx.URL, headers: Any, body: bytes) -> httpx.Response:
        request = httpx.Request(method, url, headers=headers, content=body)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        if url.path.endswith("/push") and response.status_code == 200:
            self.pushes.append((self.device, body, content))
        kept = [(k, v) for k, v in response.headers.items() if k != "content-encoding"]
        return httpx.Response(response.status_code, headers=kept, content=content)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self._send(request.method, request.url, request.headers, body)
        is_push = request.url.path.endswith("/push")
        if is_push:
            self.sent.append((request.url, request.headers, body))
        if self.dup_next:
            self.dup_next = False
            response = await self._send(request.method, request.url, request.headers, body)
        if is_push and self.lose_next:
            self.lose_next = False
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    async def replay_old(self, which: int) -> None:
        if self.sent:
            url, headers, body = self.sent[which % len(self.sent)]
            await self._send("POST", url, headers, body)


async def _no_sleep(_: float) -> None:
    return None


Step = tuple[Any, ...]
edits = st.tuples(
    st.just("edit"),
    st.integers(0, 3),
    st.integers(0, INCIDENTS - 1),
    st.sampled_from(sorted(FIELDS)),
    st.integers(0, 2),
)
actions = st.tuples(
    st.sampled_from(["push", "pull", "sync", "lose", "dup", "stale"]),
    st.integers(0, 3),
    st.integers(0, 10),
)
schedules = st.tuples(st.integers(2, 4), st.lists(st.one_of(edits, actions), max_size=30))


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(schedules)
def test_devices_converge_and_every_loser_is_logged(schedule: tuple[int, list[Step]]) -> None:
    devices, steps = schedule
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_scenario(Path(tmp), devices, steps))


async def _scenario(root: Path, count: int, steps: list[Step]) -> None:
    store = SQLStore(f"sqlite+aiosqlite:///{root / 'server.db'}", sqlite_synchronous="NORMAL")
    await store.open()
    app_settings = Settings()
    app_settings.server.log_level = "error"
    app = create_app(app_settings, store)
    app.state.ctx.places.loaded()  # the store is opened here, not by the app's lifespan
    asgi = httpx.ASGITransport(app=app)
    pushes: list[tuple[int, bytes, bytes]] = []
    nets, clients = [], []
    try:
        await store.put_station(Station("st-a", "Comisaría A"))
        for i in range(count):
            await store.put_officer(Officer(f"of-{i}", f"Agente {i}", "officer", "st-a"))
            _, token = await create_device_token(store, f"of-{i}", f"phone-{i}", now_ms())
            nets.append(Net(asgi, i, pushes))
            clients.append(
                SyncClient(
                    root / f"device-{i}.db",
                    "http://ronda.test",
                    token,
                    transport=nets[-1],
                    retry=RetryPolicy(attempts=1),
                    sleep=_no_sleep,
                )
            )
        ids = [clients[0].create_incident({"category": "robo", "occurred_at": _AT}) for _ in "abc"]
        for client in clients:
            await client.sync()
        for step in steps:
            await _run(step, ids, clients, nets)
        for net in nets:
            net.lose_next = net.dup_next = False
        await _quiesce(clients)
        await _check(store, clients, ids, pushes)
    finally:
        for client in clients:
            await client.aclose()
        await store.close()


_AT = "2026-11-20T22:15:00-05:00"


async def _run(step: Step, ids: list[str], clients: list[SyncClient], nets: list[Net]) -> None:
    kind, who = step[0], step[1] % len(clients)
    client, net = clients[who], nets[who]
    if kind == "edit":
        _, _, record, name, value = step
        client.update_incident(ids[record], {name: FIELDS[name][value % len(FIELDS[name])]})
        return
    if kind == "lose":
        net.lose_next = True
    elif kind == "dup":
        net.dup_next = True
    elif kind == "stale":
        await net.replay_old(step[2])
        return
    try:
        if kind == "pull":
            await client.pull()
        elif kind == "push":
            await client.push()
        else:
            await client.sync()
    except Offline:
        pass  # the answer was lost: the batch stays written down and goes again later


async def _quiesce(clients: list[SyncClient]) -> None:
    for _ in range(2):
        for client in clients:
            await client.sync()
    assert all(c.pending_count() == 0 for c in clients)
    for client in clients:
        await client.pull()


async def _check(
    store: SQLStore,
    clients: list[SyncClient],
    ids: list[str],
    pushes: list[tuple[int, bytes, bytes]],
) -> None:
    final = await server_view(clients[0])
    for client in clients:
        assert client.rejected() == []
        view = await server_view(client)
        assert view == final  # everyone in the station sees the same records
        for record_id in ids:
            assert client.incident(record_id) == view[("incidents", record_id)]
    writes = _accepted_writes(pushes, [c.device_id for c in clients])
    conflicts = [c for _, c in await store.conflicts(None, 0, 100_000)]
    logged = {(c.record_id, c.field, c.losing_hlc, c.losing_device) for c in conflicts}
    for w in writes:
        current = final[("incidents", w["id"])]["fields"].get(w["field"])
        if current == w["value"] or (w["id"], w["field"], w["hlc"], w["device"]) in logged:
            continue
        assert _knowingly_replaced(w, writes), f"lost without a conflict entry: {w}"
    known = {(w["id"], w["field"], w["hlc"], w["device"], orjson.dumps(w["value"])) for w in writes}
    for c in conflicts:  # and the log invents nothing
        assert (
            c.record_id,
            c.field,
            c.losing_hlc,
            c.losing_device,
            c.losing_value.encode(),
        ) in known


def _accepted_writes(
    pushes: list[tuple[int, bytes, bytes]], device_ids: list[str]
) -> list[dict[str, Any]]:
    """Every field value the server took, with the seq it first got (from the answers)."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for device, body, answer in pushes:
        changes = orjson.loads(body)["changes"]
        for result in orjson.loads(answer)["results"]:
            if result["status"] == "rejected":
                continue
            change = changes[result["index"]]
            for name, value in change.get("fields", {}).items():
                key = (change["hlc"], device_ids[device], name)
                out.setdefault(
                    key,
                    {
                        "id": change["id"],
                        "field": name,
                        "value": value,
                        "hlc": change["hlc"],
                        "device": device_ids[device],
                        "base_seq": change["base_seq"],
                        "seq": result["seq"],
                    },
                )
    return list(out.values())


def _knowingly_replaced(w: dict[str, Any], writes: list[dict[str, Any]]) -> bool:
    """Overwritten later by its own device, or by a device that had seen it."""
    for o in writes:
        if (o["id"], o["field"]) != (w["id"], w["field"]) or (o["hlc"], o["device"]) <= (
            w["hlc"],
            w["device"],
        ):
            continue
        if o["device"] == w["device"] or o["base_seq"] >= w["seq"]:
            return True
    return False


async def test_the_same_older_change_again_logs_no_conflict(tmp_path: Path) -> None:
    store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 's.db'}", sqlite_synchronous="NORMAL")
    await store.open()
    try:
        people = await seed_people(store)
        engine = SyncEngine(store)
        clock = HybridClock()
        rid = new_id()
        first = incident(rid, clock, {"category": "robo", "occurred_at": _AT, "status": "open"})
        second = incident(rid, clock, {"status": "closed"})
        await engine.push(people.officer_a, batch([first]))
        await engine.push(people.officer_a, batch([second]))
        again = orjson.loads((await engine.push(people.officer_a, batch([first]))).answer)
        assert again["results"][0]["conflicts"] == 0
        assert await store.conflicts(None, 0, 100) == []
    finally:
        await store.close()
