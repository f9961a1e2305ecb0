"""A request whose client goes away: dropped from the admission queue, a tile not built.

A real uvicorn serves the real middlewares (observe, shed) around a small app whose tile and
pull routes wait on the test; the clients are raw sockets, closed as a browser closes the
connection of a tile request MapLibre aborted. What is asserted is what uvicorn really does
on a closed connection, not what this module assumes of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from server.client_gone import ClientWatch
from server.maps.layers import Layers
from server.metrics import Metrics
from server.middleware import ObserveMiddleware
from server.settings import LayerSettings
from server.shedding import Admission, ShedLimits, ShedMiddleware


@dataclass
class Slow:
    """Routes that wait for ``release``; what each request did is written down by path."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        self.started.append(path)
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(path)
            raise
        self.finished.append(path)
        return Response(b"tile", media_type="application/vnd.mapbox-vector-tile")


@dataclass
class Served:
    port: int
    slow: Slow
    shed: ShedMiddleware
    metrics: Metrics

    def count(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    slow = Slow()
    routes = [
        Route("/tiles/{layer}/{z}/{x}/{y}.mvt", slow.handle),
        Route("/v1/sync/pull", slow.handle),
    ]
    metrics = Metrics()
    limits = ShedLimits(
        max_inflight=1,
        max_queued=8,
        queue_wait_s=30.0,
        queue_target_s=30.0,
        device_rate_per_s=100.0,
        device_burst=100,
        retry_after_s=1,
    )
    shed = ShedMiddleware(Starlette(routes=routes), limits, metrics, routes)
    app = ObserveMiddleware(shed, metrics, timeout_s=60.0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield Served(sock.getsockname()[1], slow, shed, metrics)
    finally:
        slow.release.set()
        server.should_exit = True
        await serving


async def send_get(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def hang_up(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


async def until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.01)


async def status_of(reader: asyncio.StreamReader) -> int:
    line = await asyncio.wait_for(reader.readline(), 10)
    return int(line.split()[1])


TILE = "/tiles/hotspots/16/18736/34967.mvt"


async def test_a_tile_whose_client_goes_is_not_built_and_frees_its_place(served: Served) -> None:
    _, writer = await send_get(served.port, TILE)
    await until(lambda: served.slow.started == [TILE])
    assert served.shed.admission.inflight == 1
    await hang_up(writer)
    await until(lambda: served.slow.cancelled == [TILE])
    await until(lambda: served.shed.admission.inflight == 0)
    # Logged and counted as nginx does a request its client closed, not as our error (500).
    route = "/tiles/{layer}/{z}/{x}/{y}.mvt"
    await until(lambda: served.count("ronda_http_requests_total", route=route, status="499") == 1)
    assert served.count("ronda_http_requests_total", route=route, status="500") == 0
    # The place is free: the next tile is built and answered.
    served.slow.release.set()
    reader, writer = await send_get(served.port, TILE)
    assert await status_of(reader) == 200
    await hang_up(writer)
    assert served.slow.finished == [TILE]


async def test_a_queued_request_whose_client_goes_leaves_the_queue(served: Served) -> None:
    holder, holding = await send_get(served.port, "/v1/sync/pull")
    await until(lambda: served.slow.started == ["/v1/sync/pull"])
    _, leaving = await send_get(served.port, TILE)
    _, staying = await send_get(served.port, "/tiles/streets/16/1/1.mvt")
    await until(lambda: len(served.shed.admission._queue) == 2)
    await hang_up(leaving)
    await until(lambda: len(served.shed.admission._queue) == 1)
    assert served.count("ronda_shed_total", reason="client_gone") == 1
    served.slow.release.set()
    assert await status_of(holder) == 200
    await until(lambda: served.slow.finished == ["/v1/sync/pull", "/tiles/streets/16/1/1.mvt"])
    assert TILE not in served.slow.started  # never built
    await until(lambda: served.shed.admission.inflight == 0)
    for writer in (holding, staying):
        await hang_up(writer)


async def test_a_pull_whose_client_goes_while_served_is_finished(served: Served) -> None:
    """Only tiles are cancelled: a pull is cheap next to a tile, and finishing it is simple."""
    _, writer = await send_get(served.port, "/v1/sync/pull")
    await until(lambda: served.slow.started == ["/v1/sync/pull"])
    await hang_up(writer)
    await asyncio.sleep(0.3)
    assert served.slow.cancelled == [] and served.shed.admission.inflight == 1
    served.slow.release.set()
    await until(lambda: served.slow.finished == ["/v1/sync/pull"])
    await until(lambda: served.shed.admission.inflight == 0)


# --- the parts, without a server ---
async def test_a_place_handed_over_as_the_request_is_cancelled_is_given_back() -> None:
    """The waiter is handed a place, then its own request is cancelled (a timeout, shutdown)
    before it wakes: the place goes back instead of being lost for the worker's life."""
    for turns in range(3):
        admission = Admission(limit=1, max_queued=4, wait_s=30.0)
        assert admission.try_enter()
        watch = ClientWatch(_never_receive)
        waiting = asyncio.ensure_future(watch.unless_gone(admission.enter, admission.leave))
        await until(partial(_queued, admission, 1))
        admission.leave()  # the place passes to the waiter
        for _ in range(turns):
            await asyncio.sleep(0)
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        await until(partial(_idle, admission))
        watch.close()


async def test_a_request_cancelled_while_its_abandoned_wait_winds_down_stays_cancelled() -> None:
    """The client went away, so the wait for admission is cancelled; while that wait winds
    down, the request itself is cancelled (shutdown): it must end cancelled, not return as if
    only its client had gone."""
    winding_down = asyncio.Event()

    async def enter() -> bool:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            winding_down.set()
            await asyncio.sleep(0.2)
            raise
        return True

    async def gone_at_once() -> Message:
        return {"type": "http.disconnect"}

    watch = ClientWatch(gone_at_once)
    request = asyncio.ensure_future(watch.unless_gone(enter, lambda: None))
    await winding_down.wait()
    request.cancel()
    await asyncio.wait({request})
    assert request.cancelled()
    watch.close()


async def test_every_caller_of_receive_hears_the_disconnect() -> None:
    """The app and a streaming answer's disconnect listener may both wait on ``receive``."""
    messages: asyncio.Queue[Message] = asyncio.Queue()
    messages.put_nowait({"type": "http.request", "body": b"", "more_body": False})
    watch = ClientWatch(messages.get)
    assert (await watch.receive())["type"] == "http.request"
    waiters = [asyncio.ensure_future(watch.receive()) for _ in range(2)]
    await asyncio.sleep(0.05)
    assert not any(w.done() for w in waiters)
    messages.put_nowait({"type": "http.disconnect"})
    assert [(await w)["type"] for w in waiters] == ["http.disconnect"] * 2
    assert watch.gone.is_set()
    watch.close()


async def test_a_refresh_cancelled_mid_check_leaves_the_check_due() -> None:
    """A tile cancelled while its refresh asks the database (its client went away) must not
    use up the once-a-second check of other processes' commits."""
    release = asyncio.Event()

    class SlowStore:
        asked = 0

        async def last_seq(self) -> int:
            SlowStore.asked += 1
            await release.wait()
            return 0

        async def boundaries(self, name: str) -> list[Any]:
            return []

    layers = Layers(SlowStore(), LayerSettings())  # type: ignore[arg-type]
    refreshing = asyncio.ensure_future(layers.refresh())
    await until(lambda: SlowStore.asked == 1)
    refreshing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await refreshing
    release.set()
    await layers.refresh()  # within the second: checked again, not skipped
    assert SlowStore.asked == 2


def _queued(admission: Admission, count: int) -> bool:
    return len(admission._queue) == count


def _idle(admission: Admission) -> bool:
    return admission.inflight == 0 and not admission._queue


async def _never_receive() -> Message:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")
