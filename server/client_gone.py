"""Requests whose client has gone: a queued one leaves the queue, a tile is not built.

A map aborts the tile requests of every view it leaves: each zoom step of an animated move,
each pan. The browser closes those connections, but the server went on building every
abandoned tile, and those held the admission places (server/shedding.py) that the live
tiles of the same lone chief then queued behind, long enough to be shed: a CI run saw five
429s on one chief's map after the conflict page's link eased it to zoom 16.

Uvicorn tells an ASGI app that its client went away by answering ``receive()`` with
``http.disconnect`` (nginx closes its upstream connection when the client goes, by default).
A GET or HEAD has no body to read, so a watcher may wait on ``receive()`` from the start
without taking anything from the app: it relays every message to the app's own ``receive``.
Requests with a body are never watched: the watcher would read the body ahead of the app.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("ronda.server")

BODYLESS = frozenset({"GET", "HEAD"})
# Set in the scope of a request left unanswered because its client went away; the access log
# and the request metrics give it nginx's status for that, 499 "client closed request".
CLIENT_GONE = "ronda.client_gone"
CLIENT_GONE_STATUS = 499


class ClientWatch:
    """Relays a body-less request's messages to the app and notices when the client goes."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._pending: deque[Message] = deque()
        self._arrived = asyncio.Event()
        self.gone = asyncio.Event()
        self._pump = asyncio.ensure_future(self._relay())

    @staticmethod
    def wanted(scope: Scope) -> bool:
        return scope["type"] == "http" and scope.get("method", "") in BODYLESS

    async def _relay(self) -> None:
        try:
            while (message := await self._receive())["type"] != "http.disconnect":
                self._pending.append(message)
                self._arrived.set()
        except Exception:  # the server cannot read the connection: as good as gone
            log.debug("receive failed; the client counts as gone", exc_info=True)
        finally:  # gone, or closed at the request's end (then nobody waits any more)
            self.gone.set()
            self._arrived.set()

    async def receive(self) -> Message:
        """The app's ``receive``: the relayed messages, then ``http.disconnect`` for ever
        (to every caller: the app and, say, a streaming answer's disconnect listener)."""
        while True:
            if self._pending:
                return self._pending.popleft()
            if self.gone.is_set():
                return {"type": "http.disconnect"}
            self._arrived.clear()
            await self._arrived.wait()

    async def unless_gone(
        self, enter: Callable[[], Awaitable[bool]], leave: Callable[[], None]
    ) -> bool | None:
        """``enter()``'s answer (a place taken or not), or None if the client goes first
        (``enter`` cancelled: it gives back a place handed to it meanwhile). If this request
        itself is cancelled (a timeout, shutdown) after ``enter`` took a place, ``leave``
        gives it back: nobody else would."""
        doing = asyncio.ensure_future(enter())
        waiting = asyncio.ensure_future(self.gone.wait())
        try:
            await asyncio.wait({doing, waiting}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            waiting.cancel()
            if not doing.done():
                doing.cancel()
            elif not doing.cancelled() and doing.exception() is None and doing.result():
                leave()
            raise
        waiting.cancel()
        if not doing.done():
            doing.cancel()
            # Waited for, not awaited: awaiting would raise its CancelledError, and suppressing
            # that would also swallow a cancellation of this request arriving meanwhile.
            await asyncio.wait({doing})
        return None if doing.cancelled() else doing.result()

    async def serve(self, app: ASGIApp, scope: Scope, send: Send) -> None:
        """Run ``app``; cancel it if the client goes before the answer has started (after
        that it is cheaper to finish than to stop half-way), marking the scope gone."""
        started = False

        async def tell(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        serving = asyncio.ensure_future(app(scope, self.receive, tell))
        waiting = asyncio.ensure_future(self.gone.wait())
        try:
            await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if not serving.done() and not started:
                serving.cancel()
            await asyncio.wait({serving})
        finally:
            waiting.cancel()
            if not serving.done():  # this request itself was cancelled (shutdown)
                serving.cancel()
                await asyncio.wait({serving})
        if serving.cancelled():
            scope[CLIENT_GONE] = True
        else:
            serving.result()  # an error of the app goes on up

    def close(self) -> None:
        self._pump.cancel()
