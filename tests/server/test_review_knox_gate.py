"""The near-repeat gate holds while a Knox test runs, even when its request is gone (review
fix). A cancelled request (client gone, request timeout) left its worker thread computing but
let go of the gate, so the next test started beside it: the gate bounded requests, not work.
On SQLite and, when RONDA_TEST_PG_URL is set, PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from types import FrameType

import geo.analysis.knox_kernel
from tests.server.conftest import Served, served_on_both_backends
from tests.server.test_analysis_tactical import (
    Row,
    _at,
    _get,
    _push,
    app_settings,  # noqa: F401  (120 s requests)
)

served = served_on_both_backends()  # the app on SQLite, then on PostgreSQL


def _in_kernel() -> bool:
    """Some thread is inside the Knox kernel module (waiting for its launch lock)."""
    for frame in sys._current_frames().values():
        f: FrameType | None = frame
        while f is not None:
            if f.f_code.co_filename == geo.analysis.knox_kernel.__file__:
                return True
            f = f.f_back
    return False


async def test_gate_holds_until_the_cancelled_computation_ends(served: Served) -> None:
    rows: list[Row] = [
        (_at(0, 0), "2026-11-02T15:00:00Z", "robo"),
        (_at(50, 0), "2026-11-03T15:00:00Z", "robo"),
        (_at(0, 30), "2026-11-22T15:00:00Z", "robo"),
    ]
    await _push(served, rows, [None] * 3)
    launch = geo.analysis.knox_kernel._LAUNCH
    launch.acquire()  # the kernel's thread waits here until the test lets it go
    try:
        request = asyncio.create_task(_get(served, "/v1/analysis/near-repeat", "chief-a"))
        while not _in_kernel():
            await asyncio.sleep(0.01)
        gate = served.app.state.knox_gate
        request.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await request
        assert gate.running.locked(), "the gate was let go while the computation still runs"
    finally:
        launch.release()
    while gate.running.locked():  # let go once the computation ends
        await asyncio.sleep(0.01)
    answer = await _get(served, "/v1/analysis/near-repeat", "chief-a")
    assert answer.status_code == 200, answer.text
