# Over 400 lines: one class, a device's API (edits, push, pull, retries); the view is client_view.
"""The reference client: a device's outbox, push, pull and local view over HTTP.

Local edits go to a durable outbox (``sync.outbox``) stamped by the device's persistent hybrid
clock; ``sync()`` pushes them in batches and pulls every page after the stored cursor.  The
local view of a record is the server's document overlaid by the device's pending edits.
Network failures and 5xx answers are retried with backoff; a batch is written down before it
is sent, so a retry after a lost answer repeats the same batch id and changes and gets the
server's stored answer.  See docs/protocol.md for the wire format.
"""

from __future__ import annotations

import asyncio
import gzip
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from sync import client_view
from sync.client_snapshot import pull_snapshot, retry_after_s
from sync.clock import now_ms
from sync.errors import SyncError
from sync.outbox import Batch, Outbox, RejectedChange, Settled, hash_entry
from sync.protocol import IncidentFields, IncidentPII, LogBody, parse_change

REQUIRED_ON_CREATE = ("category", "occurred_at")


class ClientError(SyncError):
    code = "client_error"


class Offline(ClientError):
    """The server could not be reached (or kept failing) after every retry."""

    code = "offline"


class ServerRefused(ClientError):
    """The server answered a request with a 4xx error (its code, message and details)."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message", "")), dict(error.get("details") or {}))
        self.code = str(error.get("code", "http_error"))
        self.status = status


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    base_s: float = 0.25
    max_s: float = 30.0


@dataclass(slots=True)
class ClientStats:
    """Counters since the client was opened (the simulator adds them up)."""

    pushes: int = 0
    pulls: int = 0
    changes_sent: int = 0
    applied: int = 0
    unchanged: int = 0
    rejected: int = 0
    conflicts: int = 0
    retries: int = 0
    replayed: int = 0
    pulled: int = 0
    restamped: int = 0
    relinked: int = 0
    clock_corrections: int = 0
    resyncs: int = 0  # pulls started again after the server refused the cursor
    dropped: int = 0  # records a resync found the server no longer has
    resent: int = 0  # of those, this device's own, queued again (sync.resync.resend)

    def add(self, other: ClientStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True, slots=True)
class SyncResult:
    pushed: int  # changes the server applied or already had
    rejected: int  # changes moved to the rejected table in this sync
    pulled: int  # documents received
    pending: int  # changes still in the outbox (offline, or still being fixed)


class SyncClient:
    """One device. Open it on a local SQLite path; use it from one event loop."""

    def __init__(
        self,
        db_path: str | Path,
        base_url: str | None = None,
        token: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        batch_size: int = 200,
        pull_limit: int = 500,
        gzip_threshold: int = 8192,
        retry: RetryPolicy | None = None,
        wall_clock: Callable[[], int] = now_ms,
        adopt_server_time: bool = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout_s: float = 30.0,
        resend_own: bool = True,
        use_snapshot: bool = True,
    ) -> None:
        self.box = Outbox(db_path, wall_clock)
        self.box.resend_own = resend_own
        with self.box.tx():
            if base_url is not None:
                self.box.put("base_url", base_url)
            if token is not None:
                self.box.put("token", token)
        base_url = self.box.get("base_url")
        if not base_url or not self.box.get("token"):
            raise ClientError("a new device database needs base_url and token (or enroll)")
        self.http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout_s)
        self.batch_size = batch_size
        self.pull_limit = pull_limit
        self.gzip_threshold = gzip_threshold
        self.retry = retry or RetryPolicy()
        self.adopt_server_time = adopt_server_time
        self.sleep = sleep
        self.use_snapshot = use_snapshot  # a first sync as one stream (sync.client_snapshot)
        self.stats = ClientStats()
        self._rng = random.Random()

    @classmethod
    async def enroll(
        cls,
        base_url: str,
        code: str,
        device_name: str,
        db_path: str | Path,
        **options: Any,
    ) -> SyncClient:
        """Redeem a one-time enrollment code and open the device database with its token."""
        transport = options.get("transport")
        async with httpx.AsyncClient(base_url=base_url, transport=transport) as http:
            response = await http.post(
                "/v1/enroll", json={"code": code, "device_name": device_name}
            )
        if response.status_code != 201:
            raise ServerRefused(response.status_code, _error_of(response))
        made = response.json()
        client = cls(db_path, base_url, made["token"], **options)
        with client.box.tx():
            client.box.put(
                "me", {k: made.get(k) for k in ("device_id", "officer_id", "role", "station_id")}
            )
        return client

    async def aclose(self) -> None:
        await self.http.aclose()
        self.box.close()

    async def __aenter__(self) -> SyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- identity ---
    @property
    def me(self) -> dict[str, Any]:
        return client_view.me(self.box)

    @property
    def device_id(self) -> str:
        device = self.me.get("device_id")
        if not device:
            raise ClientError("the device id is unknown until identify() has reached the server")
        return str(device)

    async def identify(self) -> dict[str, Any]:
        """Ask the server who this token is (``GET /v1/me``) and remember it."""
        answer = (await self._request("GET", "/v1/me")).json()
        me = {k: answer.get(k) for k in ("device_id", "officer_id", "role", "station_id")}
        with self.box.tx():
            self.box.put("me", me)
        return me

    # --- local edits ---
    def create_incident(
        self,
        fields: dict[str, Any],
        pii: dict[str, Any] | None = None,
        record_id: str | None = None,
    ) -> str:
        """Record a new incident offline; returns its id."""
        missing = [name for name in REQUIRED_ON_CREATE if fields.get(name) is None]
        if missing:
            raise ClientError("a new incident needs these fields", {"missing": missing})
        record_id = record_id or uuid.uuid4().hex
        self._incident(record_id, "upsert", fields, pii, base_seq=0)
        return record_id

    def update_incident(
        self, record_id: str, fields: dict[str, Any], pii: dict[str, Any] | None = None
    ) -> None:
        """Change some fields (and/or personal data) of an incident, offline."""
        self._incident(record_id, "upsert", fields, pii, self._base_seq(record_id))

    def delete_incident(self, record_id: str) -> None:
        """Delete an incident (the server allows it to chiefs only)."""
        self._incident(record_id, "delete", None, None, self._base_seq(record_id))

    def _base_seq(self, record_id: str) -> int:
        return self.box.seq_base("incidents", record_id)

    def _incident(
        self,
        record_id: str,
        op: str,
        values: dict[str, Any] | None,
        pii: dict[str, Any] | None,
        base_seq: int,
    ) -> None:
        change: dict[str, Any] = {"collection": "incidents", "id": record_id, "op": op}
        change["base_seq"] = base_seq
        if values is not None:
            # Normalised as the server will store it, so the local view matches it.
            checked = IncidentFields.model_validate(values)
            change["fields"] = checked.model_dump(mode="json", exclude_unset=True)
        if pii is not None:
            checked_pii = IncidentPII.model_validate(pii)
            change["pii"] = checked_pii.model_dump(mode="json", exclude_unset=True)
        change["hlc"] = str(self.box.clock.tick())
        parse_change(change)  # a change the server would refuse never enters the outbox
        self.box.enqueue(change)

    def append_log(self, body: dict[str, Any], entry_id: str | None = None) -> str:
        """Append a patrol-log entry to this device's hash chain; returns its id."""
        checked = LogBody.model_validate(body).model_dump(exclude_unset=True, exclude_none=True)
        if checked["kind"] == "correction":
            amends = checked.get("amends")
            if not amends or not self._knows_entry(amends):
                raise ClientError("a correction must amend an entry of this device's log")
        n, prev_hash = self.box.chain_head()
        change: dict[str, Any] = {
            "collection": "patrol_logs",
            "id": entry_id or uuid.uuid4().hex,
            "op": "append",
            "hlc": str(self.box.clock.tick()),
            "n": n + 1,
            "prev_hash": prev_hash,
            "body": checked,
        }
        change["hash"] = hash_entry(self.device_id, change)
        self.box.enqueue(change)
        return str(change["id"])

    def _knows_entry(self, entry_id: str) -> bool:
        if self.box.record("patrol_logs", entry_id) is not None:
            return True
        return any(c["collection"] == "patrol_logs" for _, c in self.box.pending(entry_id))

    # --- local view (sync.client_view) ---
    def incident(self, record_id: str) -> dict[str, Any] | None:
        """The server's document overlaid by this device's pending edits (None if unknown)."""
        return client_view.incident(self.box, record_id)

    def incidents(self) -> list[dict[str, Any]]:
        return client_view.incidents(self.box)

    def log_entries(self) -> list[dict[str, Any]]:
        """Patrol-log entries: pulled ones, then this device's pending ones."""
        return client_view.log_entries(self.box)

    def plans(self) -> list[dict[str, Any]]:
        """Patrol plans pulled for this device's station (withdrawn ones left out)."""
        return client_view.plans(self.box)

    def notices(self, at_ms: int | None = None) -> list[dict[str, Any]]:
        """Notices in force for this device's station, newest first (now by default)."""
        return client_view.notices(self.box, now_ms() if at_ms is None else at_ms)

    def acknowledged_notices(self) -> set[str]:
        """Notice ids this officer acknowledged: pulled acknowledgements and queued ones."""
        return client_view.acknowledged_notices(self.box)

    def acknowledge_notice(self, notice_id: str) -> None:
        """Queue this officer's acknowledgement of a notice (sent with the next push)."""
        if notice_id in self.acknowledged_notices():
            return
        change: dict[str, Any] = {"collection": "notice_acks", "id": notice_id, "op": "ack"}
        change["hlc"] = str(self.box.clock.tick())
        change["at"] = datetime.now(UTC).isoformat()
        parse_change(change)  # a change the server would refuse never enters the outbox
        self.box.enqueue(change)

    async def wait(self, timeout_s: int = 25) -> bool:
        """Hold ``GET /v1/sync/wait`` until the server has something to pull (True) or the
        timeout passes (False); then ``sync()``."""
        params = {"cursor": self.box.get("cursor", ""), "timeout_s": timeout_s}
        response = await self._request("GET", "/v1/sync/wait", params=params)
        return bool(response.json()["changed"])

    def pending_count(self) -> int:
        return self.box.pending_count()

    def rejected(self) -> list[RejectedChange]:
        """Changes the server refused for good, with its error, until the user dismisses them."""
        return self.box.rejected()

    def dismiss_rejected(self, ord_: int) -> bool:
        return self.box.dismiss(ord_)

    def dropped_records(self) -> list[dict[str, Any]]:
        """Pulled records the server no longer had at a resync (e.g. lost in a restore)."""
        return self.box.dropped()

    # --- sync ---
    async def sync(self) -> SyncResult:
        """Push everything pending, then pull every page; raises ``Offline`` if unreachable."""
        before = ClientStats()
        before.add(self.stats)
        await self.push()
        resent = self.stats.resent
        pulled = await self.pull()
        if self.stats.resent > resent:  # a resync queued again what the server lost
            await self.push()
            pulled += await self.pull()
        return SyncResult(
            pushed=self.stats.applied + self.stats.unchanged - before.applied - before.unchanged,
            rejected=self.stats.rejected - before.rejected,
            pulled=pulled,
            pending=self.box.pending_count(),
        )

    async def push(self) -> None:
        """Send the outbox batch by batch until it is empty or no batch makes progress."""
        if not self.me.get("device_id"):
            await self.identify()
        stalled = 0
        while stalled < 3:
            batch = self.box.current_batch() or self.box.open_batch(
                uuid.uuid4().hex, self.batch_size
            )
            if batch is None:
                return
            settled = await self._push_batch(batch)
            moved = settled.applied + settled.unchanged + settled.rejected if settled else 0
            stalled = 0 if moved else stalled + 1

    async def _push_batch(self, batch: Batch) -> Settled | None:
        try:
            response = await self._post_batch(batch)
        except ServerRefused as exc:
            if exc.code in ("batch_too_large", "payload_too_large") and self.batch_size > 1:
                self.box.drop_batch(batch)  # refused as a whole: nothing of it was applied
                self.batch_size = max(1, self.batch_size // 2)
                return None
            if exc.code == "batch_id_reused":
                self.box.drop_batch(batch)  # the same changes go again under a new id
                return None
            raise
        answer = response.json()
        replayed = response.headers.get("ronda-replayed") == "true"
        self.stats.pushes += 1
        self.stats.replayed += int(replayed)
        if not replayed:
            self._adopt_offset(answer.get("clock_offset_ms"))
        settled = self.box.settle(batch, answer, self.device_id)
        for name in ("applied", "unchanged", "rejected", "conflicts", "restamped", "relinked"):
            setattr(self.stats, name, getattr(self.stats, name) + getattr(settled, name))
        self.stats.clock_corrections += int(settled.restamped > 0)
        return settled

    async def _post_batch(self, batch: Batch) -> httpx.Response:
        # device_time_ms is not part of a batch's identity: the server hashes the changes only.
        body = (
            (
                f'{{"batch_id":"{batch.batch_id}","device_time_ms":{self.box.clock._physical()},'
                f'"changes":'
            ).encode()
            + batch.changes
            + b"}"
        )
        headers = {"Content-Type": "application/json"}
        if len(body) > self.gzip_threshold:
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        self.stats.changes_sent += len(batch.ords)
        return await self._request("POST", "/v1/sync/push", content=body, headers=headers)

    def _adopt_offset(self, offset: Any) -> None:
        # Latency blurs the estimate by a second or so: only a clearly wrong clock is moved.
        if self.adopt_server_time and isinstance(offset, int) and abs(offset) > 60_000:
            with self.box.tx():
                self.box.clock.offset_ms += offset
                self.box.save_clock()
            self.stats.clock_corrections += 1

    async def pull(self) -> int:
        """Pull every page after the stored cursor; returns how many documents came.

        A refused cursor (``invalid_cursor``: the server's database was restored or replaced)
        starts a resync: the whole scope again from no cursor, the outbox kept.
        """
        count = 0
        if self.use_snapshot and not self.box.get("cursor", ""):
            count = await pull_snapshot(self) or 0  # then pages from where it stopped
        while True:
            params = {"cursor": self.box.get("cursor", ""), "limit": self.pull_limit}
            try:
                response = await self._request("GET", "/v1/sync/pull", params=params)
            except ServerRefused as exc:
                if exc.code != "invalid_cursor" or not params["cursor"]:
                    raise
                if not self.me.get("device_id"):  # needed to know our own records
                    await self.identify()
                self.box.start_resync()
                self.stats.resyncs += 1
                continue
            page = response.json()
            last = not page["has_more"]
            resent = self.box.resent
            self.stats.dropped += self.box.store_page(page["changes"], page["cursor"], last)
            self.stats.resent += self.box.resent - resent
            self.stats.pulls += 1
            count += len(page["changes"])
            if not page["has_more"]:
                self.stats.pulled += count
                return count

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.box.get('token')}", **kwargs.pop("headers", {})}
        asked_wait = 0.0  # a busy server's Retry-After, honoured when longer than the back-off
        for attempt in range(self.retry.attempts):
            if attempt:
                self.stats.retries += 1
                delay = min(self.retry.max_s, self.retry.base_s * 2 ** (attempt - 1))
                await self.sleep(max(delay * (0.5 + self._rng.random()), asked_wait))
            try:
                response = await self.http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:
                continue
            asked_wait = 0.0
            if response.status_code >= 500 or response.status_code == 429:
                asked_wait = retry_after_s(response) or 0.0
                continue
            if response.status_code >= 400:
                raise ServerRefused(response.status_code, _error_of(response))
            return response
        raise Offline("the server could not be reached", {"attempts": self.retry.attempts})


def _error_of(response: httpx.Response) -> dict[str, Any]:
    try:
        error = orjson.loads(response.content).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        error = None
    if isinstance(error, dict):
        return error
    return {"code": "http_error", "message": response.text[:200], "details": {}}
