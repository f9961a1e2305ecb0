"""Promises 1 and 2 under ``kill -9``: a real server is killed at random moments mid-push.

Each round: three pusher tasks send small batches (new incidents, updates of earlier ones,
patrol-log entries continuing one hash chain) and record what was acknowledged; the server is
killed 50-800 ms after the round's first acknowledgement; it restarts on the same database.
Then, pulling as the station's chief, every acknowledged change must be there with its
acknowledged value, and every batch left unanswered must have committed all or nothing.
Finally the unanswered batches are retried with the same batch ids: one that had committed gets
its stored answer back (``Ronda-Replayed: true``), nothing is duplicated, and the chain goes on
without a gap.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from sync.clock import HybridClock
from tests.server_process import ServerProcess, own_postgres_database, seed_database
from tests.support import People, incident, log_entry, new_id, store_params

pytestmark = pytest.mark.slow

ROUNDS = {"sqlite": 20, "postgres": 10}  # PostgreSQL survives a dead client trivially
STATUSES = ("open", "closed", "referred")


@dataclass
class Sent:
    """One batch as the client sent it, and what it expects it to do."""

    task: str
    body: dict[str, Any]
    marker: str  # an incident this batch creates: its presence tells whether it committed
    updates: dict[str, dict[str, Any]]  # incident id -> description/status/victims it sets
    entries: list[dict[str, Any]]
    answer: bytes | None = None
    committed: bool | None = None  # for an unanswered batch, once known

    @property
    def effective(self) -> bool:
        return self.answer is not None or bool(self.committed)


@dataclass
class Client:
    """The device side, kept across rounds (as a phone keeps its outbox)."""

    people: People
    rng: random.Random
    clock: HybridClock = field(default_factory=HybridClock)
    chain_n: int = 0
    chain_hash: str = ""
    sent: list[Sent] = field(default_factory=list)
    owned: dict[str, list[str]] = field(default_factory=dict)  # task -> incident ids
    seqs: dict[str, int] = field(default_factory=dict)  # acknowledged seq per record id
    counter: int = 0

    def token(self, task: str) -> str:
        return self.people.tokens["off-a2" if task == "inc1" else "off-a"]

    def build(self, task: str) -> Sent:
        """The next batch of ``task``: one new incident, some updates, maybe log entries."""
        changes: list[dict[str, Any]] = []
        updates: dict[str, dict[str, Any]] = {}
        marker = new_id()
        ids = self.owned.setdefault(task, [])
        picks = self.rng.sample(ids, min(len(ids), self.rng.randint(0, 3)))
        for rid in [marker, *picks]:
            values = self._values(rid == marker)
            updates[rid] = values
            fields = {k: v for k, v in values.items() if k != "victims"}
            pii = {"victims": values["victims"]} if "victims" in values else None
            changes.append(incident(rid, self.clock, fields, self.seqs.get(rid, 0), pii))
        ids.append(marker)
        entries = []
        if task == "log":
            for _ in range(self.rng.randint(1, 3)):
                self.chain_n += 1
                device = self.people.officer_a.device_id
                entry = log_entry(device, self.chain_n, self.chain_hash, self.clock)
                self.chain_hash = entry["hash"]
                entries.append(entry)
        body = {"batch_id": new_id(), "changes": changes + entries}
        sent = Sent(task, body, marker, updates, entries)
        self.sent.append(sent)
        return sent

    def _values(self, new: bool) -> dict[str, Any]:
        self.counter += 1
        values: dict[str, Any] = {
            "description": f"cambio {self.counter}",
            "status": self.rng.choice(STATUSES),
        }
        if new:
            values |= {"category": "robo", "occurred_at": "2026-11-20T22:15:00-05:00"}
        if self.rng.random() < 0.3:
            values["victims"] = [{"name": f"Víctima {self.counter}", "dni": "4587123"}]
            values["victims"][0]["dni"] += str(self.counter % 10)
        return values

    def acknowledge(self, sent: Sent, answer: bytes) -> None:
        sent.answer = answer
        for result in orjson.loads(answer)["results"]:
            assert result["status"] in ("applied", "unchanged"), result
            self.seqs[result["id"]] = result["seq"]

    def expected(self) -> dict[str, dict[str, Any]]:
        """Every incident's values after the batches that took effect, in send order."""
        state: dict[str, dict[str, Any]] = {}
        for sent in self.sent:
            if sent.effective:
                for rid, values in sent.updates.items():
                    state.setdefault(rid, {}).update(values)
        return state

    def entries(self) -> dict[str, dict[str, Any]]:
        return {e["id"]: e for s in self.sent if s.effective for e in s.entries}


async def push(http: httpx.AsyncClient, client: Client, sent: Sent) -> httpx.Response:
    headers = {"Authorization": f"Bearer {client.token(sent.task)}"}
    return await http.post("/v1/sync/push", json=sent.body, headers=headers)


async def pusher(
    http: httpx.AsyncClient, client: Client, task: str, first_ack: asyncio.Event
) -> Sent | None:
    """Push batch after batch until the server dies; return the unanswered batch."""
    while True:
        sent = client.build(task)
        try:
            response = await push(http, client, sent)
        except httpx.TransportError:
            return sent
        assert response.status_code == 200, response.text
        client.acknowledge(sent, response.content)
        first_ack.set()


async def pull_all(server: ServerProcess, token: str) -> dict[str, dict[str, Any]]:
    """Every record in the chief's scope, by id, asserting none comes twice."""
    out: dict[str, dict[str, Any]] = {}
    cursor = "0"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        while True:
            response = await http.get(
                "/v1/sync/pull",
                params={"cursor": cursor, "limit": 5000},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200, response.text
            page = response.json()
            for change in page["changes"]:
                assert change["id"] not in out, f"record {change['id']} pulled twice"
                out[change["id"]] = change
            cursor = page["cursor"]
            if not page["has_more"]:
                return out


async def chain_report(server: ServerProcess, client: Client) -> dict[str, Any]:
    device = client.people.officer_a.device_id
    headers = {"Authorization": f"Bearer {client.people.tokens['chief-a']}"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        response = await http.get(f"/v1/chains/{device}", headers=headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def verify(
    server: ServerProcess, client: Client, unanswered: list[Sent]
) -> dict[str, dict[str, Any]]:
    """Everything acknowledged is there; each unanswered batch took effect all or nothing."""
    records = await pull_all(server, client.people.tokens["chief-a"])
    for sent in unanswered:
        sent.committed = sent.marker in records
        for entry in sent.entries:
            assert (entry["id"] in records) == sent.committed, "a batch committed in part"
    expected = client.expected()
    entries = client.entries()
    incidents = {k: v for k, v in records.items() if v["collection"] == "incidents"}
    assert set(incidents) == set(expected), "incidents lost or invented"
    for rid, values in expected.items():
        got = incidents[rid]
        for name in ("description", "status", "category"):
            assert got["fields"][name] == values[name], (rid, name)
        assert got.get("pii", {}).get("victims") == values.get("victims"), rid
    logs = {k: v for k, v in records.items() if v["collection"] == "patrol_logs"}
    assert set(logs) == set(entries), "patrol-log entries lost or invented"
    for entry_id, entry in entries.items():
        assert logs[entry_id]["hash"] == entry["hash"]
        if entry_id in client.seqs:
            assert logs[entry_id]["seq"] == client.seqs[entry_id]
    report = await chain_report(server, client)
    assert report["intact"], report
    assert report["entries"] == report["head_n"] == len(entries), report
    return records


async def retry(
    server: ServerProcess,
    client: Client,
    unanswered: list[Sent],
    records: dict[str, dict[str, Any]],
    rng: random.Random,
) -> None:
    """Resend unanswered batches with their ids; resend one answered batch as a control."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        for sent in unanswered:
            response = await push(http, client, sent)
            assert response.status_code == 200, response.text
            replayed = response.headers.get("Ronda-Replayed") == "true"
            assert replayed == sent.committed, (sent.committed, response.headers)
            answer = response.json()
            seqs = {r["id"]: r["seq"] for r in answer["results"]}
            if sent.committed:  # the stored answer names the versions that committed then
                assert seqs[sent.marker] == records[sent.marker]["seq"]
                for entry in sent.entries:
                    assert seqs[entry["id"]] == records[entry["id"]]["seq"]
            else:
                assert answer["summary"]["applied"] == len(sent.body["changes"]), answer
            client.acknowledge(sent, response.content)
        retried = {id(s) for s in unanswered}
        answered = [s for s in client.sent if s.answer is not None and id(s) not in retried]
        control = rng.choice(answered)
        response = await push(http, client, control)
        assert response.status_code == 200
        assert response.headers.get("Ronda-Replayed") == "true"
        assert response.content == control.answer, "a retried batch got a different answer"


async def one_round(server: ServerProcess, client: Client, rng: random.Random) -> int:
    first_ack = asyncio.Event()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        tasks = [
            asyncio.create_task(pusher(http, client, name, first_ack))
            for name in ("log", "inc1", "inc2")
        ]
        await asyncio.wait_for(first_ack.wait(), 30)
        await asyncio.sleep(rng.uniform(0.05, 0.8))
        server.kill9()
        unanswered = [s for s in await asyncio.gather(*tasks) if s is not None]
    await server.start()
    records = await verify(server, client, unanswered)
    await retry(server, client, unanswered, records, rng)
    await verify(server, client, [])
    return sum(1 for s in unanswered if s.committed)


async def database_for(kind: str, tmp_path: Path) -> str:
    if kind == "postgres":
        return await own_postgres_database("ronda_fault")
    return f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"


@pytest.mark.parametrize("kind", store_params())
async def test_kill9_loses_no_acknowledged_change(kind: str, tmp_path: Path) -> None:
    url = await database_for(kind, tmp_path)
    rng = random.Random(42)
    client = Client(await seed_database(url), rng)
    server = ServerProcess(url, tmp_path / "logs")
    await server.start()
    committed_unanswered = 0
    try:
        for _ in range(ROUNDS[kind]):
            committed_unanswered += await one_round(server, client, rng)
    finally:
        await server.stop()
    answered = sum(1 for s in client.sent if s.answer is not None)
    assert server.starts == ROUNDS[kind] + 1
    assert answered > ROUNDS[kind] * 3
    assert '"level":"error"' not in server.logs()
    print(f"{kind}: {answered} batches, {committed_unanswered} committed but unanswered at kill")
