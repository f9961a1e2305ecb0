"""Reading a PATCH body for an upload, and stopping when a newer request for the same upload
asks (its client has gone: docs/attachments.md, "Upload" step 3). The tus handlers are in
server/routes/uploads.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from sync.attachments.uploads import UploadStore

# A writer asked to stop goes on while bytes keep coming; this long without any, it stops.
STOP_IDLE_S = 0.25


class Stopped(Exception):
    """A newer request for this upload asked this one to finish (its client went away)."""


@dataclass(slots=True)
class Reading:
    """What the stop watcher of one PATCH needs to know about the reading."""

    chunks: int = 0  # received so far
    waiting: bool = False  # the request is waiting for the next chunk (only then is it stopped)
    stopped: bool = False


async def watch_stop(
    task: asyncio.Task[Any], uploads: UploadStore, upload_id: str, reading: Reading
) -> None:
    """Stop ``task`` (cancel its wait for the body) once a newer request asked for the upload
    and no byte has come for ``STOP_IDLE_S``. One timer per PATCH instead of one per chunk."""
    seen = -1
    while True:
        await asyncio.sleep(STOP_IDLE_S)
        quiet = reading.chunks == seen
        seen = reading.chunks
        if quiet and reading.waiting and uploads.stop_requested(upload_id):
            reading.stopped = True
            task.cancel()  # lands on the wait for the next chunk: nothing is being written
            return


async def body(request: Request, reading: Reading) -> AsyncIterator[bytes]:
    stream = request.stream().__aiter__()
    while True:
        reading.waiting = True
        try:
            chunk = await stream.__anext__()
        except StopAsyncIteration:
            return
        except asyncio.CancelledError:
            if not reading.stopped:
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            raise Stopped from None
        finally:
            reading.waiting = False
        reading.chunks += 1
        if chunk:
            yield chunk
