"""Requests answered by one chosen worker of a host.

The workers of a ``ronda serve --workers N`` share one listening socket, and the kernel picks
which accepts a connection. To ask a given worker, open connections until that worker holds
one (``ss`` inside the host's namespace names the process that owns the accepted socket),
then send the request on it.
"""

from __future__ import annotations

import asyncio
import http.client
import time

from tests.server.cluster_hosts.netns import Host

PORT = 8000
TRIES = 80
# A host reports ready when one worker is; the other may still be importing on a loaded machine.
STARTING_S = 300.0


def _pinned(host: Host, pid: int | None) -> tuple[http.client.HTTPConnection, int]:
    """A kept-alive connection accepted by worker ``pid`` (any worker: None), and its pid."""
    for _ in range(TRIES):
        conn = http.client.HTTPConnection(host.ip, PORT, timeout=120)
        conn.request("GET", "/healthz")  # answered: some worker accepted the connection
        conn.getresponse().read()
        assert conn.sock is not None
        owner = host.owner_of(PORT, conn.sock.getsockname()[1])
        if owner is not None and (pid is None or owner == pid):
            return conn, owner
        conn.close()
    raise AssertionError(f"no connection to worker {pid} of {host.ns} in {TRIES} tries")


def _ask(
    host: Host, pid: int, method: str, path: str, headers: dict[str, str], body: bytes | None
) -> tuple[float, int, dict[str, str], bytes]:
    conn, _ = _pinned(host, pid)
    try:
        sent = time.monotonic()
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        return sent, answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


async def ask(
    host: Host,
    pid: int,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request answered by worker ``pid`` of ``host``: status, headers, body."""
    _, status, got, answer = await asyncio.to_thread(_ask, host, pid, method, path, headers, body)
    return status, got, answer


async def ask_at(
    host: Host, pid: int, path: str, headers: dict[str, str]
) -> tuple[float, int, bytes]:
    """A GET answered by worker ``pid``: when it was sent (``time.monotonic``), status, body."""
    sent, status, _, body = await asyncio.to_thread(_ask, host, pid, "GET", path, headers, None)
    return sent, status, body


def _discover(host: Host, count: int) -> list[int]:
    found: set[int] = set()
    deadline = time.monotonic() + STARTING_S
    while time.monotonic() < deadline:
        conn, owner = _pinned(host, None)
        conn.close()
        found.add(owner)
        if len(found) == count:
            return sorted(found)
        time.sleep(0.05)
    raise AssertionError(f"{host.ns}: found workers {found}, wanted {count}")


async def worker_pids(host: Host, count: int) -> list[int]:
    """The pids of the ``count`` workers serving ``host``'s port."""
    return await asyncio.to_thread(_discover, host, count)
