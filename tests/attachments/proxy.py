"""A loopback TCP proxy that cuts every connection after a number of client bytes (a bad
mobile network, for the resumable-upload tests). Counts what the client sent through it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading


class CuttingProxy:
    """Forward 127.0.0.1:<port> to the server; close each connection after ``cut_after`` bytes
    from the client. Runs its own event loop in a thread (the clients under test block)."""

    def __init__(self, target_port: int, cut_after: int, stall: bool = False) -> None:
        """``stall``: after ``cut_after`` bytes forward nothing more but keep both connections
        open until the proxy stops (a network that died silently: no FIN reaches the server)."""
        self.target_port, self.cut_after, self.stall = target_port, cut_after, stall
        self._hold = asyncio.Event()
        self.sent = 0  # client -> server bytes forwarded, all connections
        self.cuts = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        # Collect now, so anything this proxy left unclosed fails the test that used it
        # rather than whichever test the collector happens to run in next.
        gc.collect()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        # Close the loop too: an unclosed loop's self-pipe socket was found by the garbage
        # collector during a later test, which failed on the ResourceWarning.
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        budget = [self.cut_after]

        async def upstream() -> None:
            while data := await reader.read(16384):
                take = data[: budget[0]]
                up_writer.write(take)
                await up_writer.drain()
                self.sent += len(take)
                budget[0] -= len(take)
                if budget[0] <= 0:
                    self.cuts += 1
                    if self.stall:
                        await self._hold.wait()  # set never: cancelled when the proxy stops
                    return

        async def downstream() -> None:
            while data := await up_reader.read(16384):
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # In a finally: when the proxy stops, this handler is cancelled mid-wait, and a
            # writer left open warns "loop is closed" when a later test collects it.
            for task in tasks:
                task.cancel()
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()
