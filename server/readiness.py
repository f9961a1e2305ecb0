"""Whether a worker is ready: its boundary layers are loaded (they load after start-up)."""

from __future__ import annotations

import asyncio


class PlacesState:
    """Whether this worker has built its placement yet (it does so after start-up).

    Start-up does not wait for the boundary layers: on all of Peru they take seconds per
    worker, and uvicorn kills a worker that does not answer its health check for 5 s. Until
    they are loaded, ``/readyz`` says so and pushes wait, so that every incident is placed.
    """

    def __init__(self) -> None:
        self._ready = asyncio.Event()
        self.lock = asyncio.Lock()
        self.reason: str | None = "loading_places"

    def loaded(self) -> None:
        self.reason = None
        self._ready.set()

    def failed(self) -> None:
        self.reason = "places_failed"  # pushes keep waiting: an admin reload may still fix it

    async def wait(self) -> None:
        """Return once placement is built (at once, normally)."""
        if not self._ready.is_set():
            await self._ready.wait()
