"""The reference client's first sync by snapshot (``GET /v1/sync/snapshot``, docs/protocol.md).

One streamed answer instead of a page per request. What arrived up to each checkpoint is kept
with its cursor, so a dropped connection loses only the part after the last checkpoint; the
paged pull that always follows goes on from there. A server without snapshots (404) is asked
by pages; a busy one (429) is asked again after its ``Retry-After``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import orjson

if TYPE_CHECKING:
    from sync.client import SyncClient

PATH = "/v1/sync/snapshot"


def retry_after_s(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` of delta-seconds (the form Ronda sends), else None."""
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


async def pull_snapshot(client: SyncClient) -> int | None:
    """Stream the scope from the stored cursor; the documents kept, or None when the server
    gave no snapshot (then the caller pulls pages, as it does anyway after this)."""
    headers = {"Authorization": f"Bearer {client.box.get('token')}"}
    for _ in range(client.retry.attempts):
        params = {"cursor": client.box.get("cursor", "")}
        try:
            async with client.http.stream("GET", PATH, headers=headers, params=params) as answer:
                if answer.status_code == 429:
                    await client.sleep(retry_after_s(answer) or client.retry.base_s)
                    continue
                if answer.status_code != 200:
                    return None  # 404 (an older server), a refused cursor: pages decide
                return await _read(client, answer)
        except httpx.TransportError:
            return None  # what came before the last checkpoint is kept
    return None


async def _read(client: SyncClient, answer: httpx.Response) -> int:
    docs: list[dict[str, Any]] = []
    kept = 0
    async for line in answer.aiter_lines():
        if not line:
            continue
        item = orjson.loads(line)
        if "collection" in item:
            docs.append(item)
        elif "cursor" in item:
            # The last line says whether the scope is complete: a resync ends only then.
            last = bool(item.get("complete", False))
            resent = client.box.resent
            client.stats.dropped += client.box.store_page(docs, item["cursor"], last)
            client.stats.resent += client.box.resent - resent
            kept += len(docs)
            docs = []
        # an "attachments" line says which files have arrived; this client does not show them
    client.stats.pulls += 1
    return kept
