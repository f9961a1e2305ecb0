"""Background work that runs on one worker of the whole deployment at a time.

Every worker of every host runs the same loop; each round, the one holding the job's lease
(table ``lease``, see ``sync.store.sql_cluster``) does the work and renews it. The lease
lasts one and a half rounds, so when its holder dies another worker takes the job over
within that time. No session state: it holds behind PgBouncer in transaction mode.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable

from sync.clock import now_ms
from sync.errors import StoreUnavailable
from sync.store.base import Store

log = logging.getLogger("ronda.cluster")


def worker_name() -> str:
    """This worker, unique across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


async def leader_only_forever(
    store: Store, job: str, every_s: float, work: Callable[[], Awaitable[None]], holder: str
) -> None:
    """Run ``work`` every ``every_s`` seconds on whichever worker holds lease ``job``."""
    ttl_ms = int(every_s * 1500)
    while True:
        try:
            if await store.take_lease(f"job:{job}", holder, now_ms(), ttl_ms):
                await work()
        except StoreUnavailable:
            log.warning("background job %s could not run; will try again", job)
        except Exception:  # a bug in one round must not end the job for this worker's life
            log.exception("background job %s failed; will try again", job)
        await asyncio.sleep(every_s)
