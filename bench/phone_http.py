"""A phone's own HTTP/1.1 connection, for the load benchmark.

The load generator shares the machine with the server it measures, so every millisecond of
CPU it spends is taken from the server. aiohttp cost 1.3-1.9 ms of generator CPU per served
request at 2,000 phones (a pool, a request object, a response object and a payload registry
per call; this client 0.9-1.2 ms, docs/benchmarks.md). This client is what a phone needs and
no more: one kept-alive connection (a browser's tab holds a few), requests sent one at a time
on it, answers parsed by httptools (llhttp, the parser uvicorn's httptools mode uses too),
gzip decoded as a phone's browser decodes it.

A connection the server closed while it was idle (at its keep-alive timeout) is seen closed
before the next request and opened again; one closed under a request, before any byte of the
answer, raises ``Stale``: the caller sends the request once more, as browsers do.

What it does not do, because Ronda's server never needs it: HEAD (refused), answers framed
by closing the connection (uvicorn always sends a length or chunks; such an answer reads as
``Broken``), several requests at once on one connection (refused; use one client each).
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import cast

import httptools

USER_AGENT = b"ronda-bench-load"


class Stale(Exception):
    """A kept-alive connection was closed under the request before any answer came."""


class Broken(Exception):
    """The connection failed: refused, reset mid-answer, or an answer that is not HTTP."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes  # decoded if it came gzipped


class _Exchange(asyncio.Protocol):
    """One TCP connection; at most one request on it at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Answer] | None = None
        self.received = False  # any byte of the current answer
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # not HTTP, or a body that is not the gzip it says it is
            self._fail(Broken(f"not a readable HTTP answer: {exc!r}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.received:
            self._fail(Broken(f"connection closed mid-answer: {exc}"))
        else:
            self._fail(Stale())

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.parser.get_status_code() < 200:  # interim (103 Early Hints): not it
            self.headers, self.body = {}, []
            return
        body = b"".join(self.body)
        if self.headers.get("content-encoding") == "gzip":
            body = zlib.decompress(body, 31)
        answer = Answer(self.parser.get_status_code(), self.headers, body)
        keep = self.parser.should_keep_alive()
        self.headers, self.body, self.received = {}, [], False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(answer)
        if not keep:
            self.close()

    def send(self, data: bytes) -> asyncio.Future[Answer]:
        assert self.transport is not None
        if self.waiter is not None and not self.waiter.done():
            raise RuntimeError("one request at a time on a connection")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)


class PhoneHttp:
    """A device's connection to one server: ``request`` opens it when it is not open."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._host_line = f"Host: {host}:{port}\r\n".encode()
        self._exchange: _Exchange | None = None

    async def request(
        self, method: str, target: str, headers: bytes = b"", body: bytes | None = None
    ) -> Answer:
        """Send one request and read its whole answer. ``headers``: ready-made header lines,
        each ending in CRLF. Raises ``Stale``, ``Broken``, ``OSError`` or ``TimeoutError``."""
        if method == "HEAD":
            raise ValueError("HEAD is not supported: its answer has no body to wait for")
        head = [f"{method} {target} HTTP/1.1\r\n".encode(), self._host_line, headers]
        head.append(b"User-Agent: %s\r\nAccept-Encoding: gzip\r\n" % USER_AGENT)
        if body is not None:
            head.append(b"Content-Length: %d\r\n" % len(body))
        head.append(b"\r\n")
        if body:
            head.append(body)
        async with asyncio.timeout(self.timeout_s):
            exchange = self._exchange
            if exchange is None or exchange.closed:
                loop = asyncio.get_running_loop()
                _, exchange = await loop.create_connection(_Exchange, self.host, self.port)
                self._exchange = exchange
            try:
                return await exchange.send(b"".join(head))
            except BaseException:
                if not exchange.closed:  # timed out or cancelled: its answer may come later
                    exchange.close()
                raise

    def close(self) -> None:
        if self._exchange is not None:
            self._exchange.close()
            self._exchange = None
