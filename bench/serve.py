"""What the benchmarks that start a real server (uvicorn in a subprocess) share: a free port
to start it on, and waiting until it answers ``/readyz``."""

from __future__ import annotations

import asyncio
import socket
import subprocess

import httpx

POLL_S = 0.05


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(
    http: httpx.AsyncClient, proc: subprocess.Popen[bytes], seconds: float = 60.0
) -> None:
    """Until ``GET /readyz`` on ``http`` answers 200; fails as soon as the server exits, or
    after about ``seconds`` (importing the app is slow on a loaded machine)."""
    for _ in range(round(seconds / POLL_S)):
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            if (await http.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(POLL_S)
    raise RuntimeError("the server did not become ready")
