"""The load benchmark's HTTP client against a real uvicorn, and against a server that breaks.

The client is the benchmark's own (bench/phone_http.py): if it misread an answer, reused a
closed connection or mistook a reset for a served request, the benchmark's figures would be
wrong without a failing request to show it. uvicorn is run in-process with the parser the
Ronda server uses (httptools) and a short keep-alive, so that its closing of idle connections
is what the client meets, not an imitation of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from bench.phone_http import Broken, PhoneHttp, Stale

BIG = b'{"cursor":"x"}' * 500  # over GZipMiddleware's minimum size


async def echo(request: Request) -> Response:
    body = await request.body()
    headers = {"X-Peer-Port": str(request.client.port if request.client else 0)}
    return Response(request.method.encode() + b" " + body, headers=headers)


async def big(request: Request) -> Response:
    return Response(BIG, media_type="application/json")


async def stream(request: Request) -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        for n in range(3):
            yield b'{"n":%d}\n' % n

    return StreamingResponse(lines(), media_type="application/x-ndjson")


async def busy(request: Request) -> Response:
    return Response(b"{}", status_code=429, headers={"Retry-After": "3"})


async def closing(request: Request) -> Response:
    port = str(request.client.port if request.client else 0)
    return Response(b"bye", headers={"Connection": "close", "X-Peer-Port": port})


@contextlib.asynccontextmanager
async def uvicorn_on(keep_alive_s: int) -> AsyncIterator[int]:
    routes = [
        Route("/echo", echo, methods=["GET", "POST"]),
        Route("/big", big),
        Route("/stream", stream),
        Route("/busy", busy),
        Route("/closing", closing),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(GZipMiddleware, minimum_size=1024)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", http="httptools", timeout_keep_alive=keep_alive_s
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        await serving


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(handle: Handler) -> AsyncIterator[int]:
    """A server that does what ``handle`` says; each connection closed when it returns."""
    handlers: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await handle(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def test_answers_are_read_whole_on_one_kept_alive_connection() -> None:
    async with uvicorn_on(keep_alive_s=5) as port:
        http = PhoneHttp("127.0.0.1", port, 10)
        try:
            first = await http.request("POST", "/echo", b"Content-Type: text/plain\r\n", b"abc")
            second = await http.request("GET", "/echo")
            assert (first.status, first.body) == (200, b"POST abc")
            assert second.body == b"GET "
            # The same client port: the connection was kept, not opened again.
            assert first.headers["x-peer-port"] == second.headers["x-peer-port"]

            packed = await http.request("GET", "/big")
            assert packed.headers["content-encoding"] == "gzip"  # the server compressed it
            assert packed.body == BIG  # and the client decoded it

            chunked = await http.request("GET", "/stream")  # as the snapshot comes
            assert chunked.headers["transfer-encoding"] == "chunked"
            assert chunked.headers["content-encoding"] == "gzip"
            assert chunked.body == b'{"n":0}\n{"n":1}\n{"n":2}\n'

            shed = await http.request("GET", "/busy")
            assert (shed.status, shed.headers["retry-after"]) == (429, "3")
        finally:
            http.close()


async def test_a_connection_the_server_closed_is_opened_again() -> None:
    async with uvicorn_on(keep_alive_s=1) as port:
        http = PhoneHttp("127.0.0.1", port, 10)
        try:
            before = await http.request("GET", "/echo")
            await asyncio.sleep(1.5)  # uvicorn closes the idle connection after 1 s
            after = await http.request("GET", "/echo")
            assert after.status == 200
            assert after.headers["x-peer-port"] != before.headers["x-peer-port"]

            closed = await http.request("GET", "/closing")  # Connection: close
            again = await http.request("GET", "/echo")
            assert again.status == 200 and again.body == b"GET "
            assert closed.headers["x-peer-port"] != again.headers["x-peer-port"]
        finally:
            http.close()


async def test_a_request_the_server_drops_unanswered_is_stale() -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        # returns: the connection is closed, as a server closes an idle kept-alive one

    async with raw_server(drop) as port:
        http = PhoneHttp("127.0.0.1", port, 10)
        with pytest.raises(Stale):
            await http.request("GET", "/")
        http.close()


def answering(raw: bytes, hold_s: float) -> Handler:
    """A server that reads a request, writes ``raw``, and closes after ``hold_s`` seconds."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(raw)
        await writer.drain()
        await asyncio.sleep(hold_s)

    return handle


@pytest.mark.parametrize(
    ("raw", "hold_s"),
    [
        # closed before the other 91 bytes of the body
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part", 0),
        # not HTTP, and the server keeps the connection open: the client must not wait on
        # (its timeout, 5 s, is well short of the server's hold: waiting would time out)
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", 60),
        # a body that is not the gzip it says it is, the connection kept open too
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc", 60),
    ],
    ids=["cut-short", "not-http", "not-gzip"],
)
async def test_an_answer_cut_short_or_unreadable_is_broken(raw: bytes, hold_s: float) -> None:
    async with raw_server(answering(raw, hold_s)) as port:
        http = PhoneHttp("127.0.0.1", port, 5)
        with pytest.raises(Broken):
            await http.request("GET", "/")
        http.close()


async def test_an_answer_that_never_comes_times_out_and_the_next_request_reconnects() -> None:
    connections = 0

    async def silent_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        if connections == 1:
            await asyncio.sleep(1)  # never answers within the client's timeout
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async with raw_server(silent_once) as port:
        http = PhoneHttp("127.0.0.1", port, 0.3)
        with pytest.raises(TimeoutError):
            await http.request("GET", "/")
        # The late answer of the first request must not be read as the second's.
        answer = await http.request("GET", "/")
        assert (answer.status, answer.body, connections) == (200, b"ok", 2)
        http.close()


async def test_refused_is_an_os_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused
        http = PhoneHttp("127.0.0.1", port, 5)
        with pytest.raises(OSError):
            await http.request("GET", "/")


async def test_an_interim_answer_is_not_taken_for_the_answer() -> None:
    raw = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
    raw += b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"
    async with raw_server(answering(raw, 60)) as port:
        http = PhoneHttp("127.0.0.1", port, 5)
        answer = await http.request("GET", "/")
        assert (answer.status, answer.body) == (200, b"final")
        http.close()
