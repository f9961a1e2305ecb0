"""Database driver errors become ``StoreUnavailable`` at the store's edge.

The port (``sync.store.base``) promises that a database that cannot be reached shows as
``StoreUnavailable`` and nothing else, so that the server maps one project error (503
``store_unavailable``) and never imports a driver.  Three doors lead to a driver here:

- SQLAlchemy's engine, also used directly by a few readers next to the port (the attachment
  index, analysis and people queries, retention): ``translate_engine_errors`` hooks the
  engine's ``handle_error`` event, so every statement run on it is covered, and SQLAlchemy
  still invalidates a dead pooled connection before the replacement error is raised;
- the drivers themselves (asyncpg on the hot paths and in the push unit, sqlite3 for the
  token lookup, pull pages and the writer thread): ``translating`` wraps every public method
  of a store class, and the push unit's context, in ``translated()``;
- opening a connection: asyncpg raises ``OSError`` (refused, unreachable, timed out), which
  SQLAlchemy passes through unwrapped; covered by ``translated()`` inside the store only.

Only errors that mean "the database is not there or not answering" are translated: a
constraint violation or bad SQL is a bug and stays a 500.  ``is_unavailable`` is the one test,
for every door: PostgreSQL's errors by class, SQLite's by result code (sqlite3 raises the same
``OperationalError`` for a locked file and for a misspelt column).  The message is the one the
client got before this module existed; the driver's own text goes to the log as the cause,
never to the client (it may quote data).
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import asyncpg.exceptions as pg
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    EmulatedDBAPIException,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from sync.errors import StoreUnavailable

MESSAGE = "the database is unavailable; retry"

# Raised by SQLAlchemy around PostgreSQL's driver: connection lost or refused (OperationalError);
# connection closed under us (InterfaceError); a pooled connection found dead
# (DisconnectionError).  Around sqlite3 the same classes also carry bugs ("no such column" is
# an OperationalError, a parameter of the wrong type an InterfaceError): the driver's error,
# kept as ``.orig``, decides there (SQLITE_UNAVAILABLE).
SQLALCHEMY_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    # No pooled connection came free in the pool's 30 s: every one is held by a statement the
    # database has not answered; the request is right and may be sent again.
    PoolTimeout,
)
# PostgreSQL's own answers that the connection is over. Looked for behind SQLAlchemy's
# wrapping too (``is_unavailable``): its asyncpg dialect raises them as plain DBAPI errors,
# and calls the connection gone only once asyncpg says it is closed.
SERVER_ENDED: tuple[type[Exception], ...] = (
    pg.PostgresConnectionError,  # SQLSTATE class 08: connection does not exist, failed
    pg.AdminShutdownError,  # 57P01: the server is shutting down (pg_terminate_backend too)
    pg.CrashShutdownError,  # 57P02
    pg.CannotConnectNowError,  # 57P03: starting up, or in recovery
    pg.TooManyConnectionsError,  # 53300
)
# The same conditions as asyncpg raises them when used directly.
DRIVER_UNAVAILABLE: tuple[type[Exception], ...] = (
    pg.InterfaceError,  # connection closed, or in a state where it cannot run a query
    *SERVER_ENDED,
    OSError,  # the socket: refused, reset, unreachable, timed out (TimeoutError is one)
)
UNAVAILABLE = SQLALCHEMY_UNAVAILABLE + DRIVER_UNAVAILABLE

# SQLite's primary result codes (https://sqlite.org/rescode.html; sqlite3's
# ``sqlite_errorcode`` is the extended code, whose low byte is the primary one) that mean the
# database cannot serve now, whatever the request.  What the client does with the answer
# decides: 503 ``store_unavailable`` says "your request was right, the database was not:
# keep it and retry with back-off", and the same request succeeds once the database is back;
# 500 ``internal_error`` says "the server has a bug": counted as one, and a retry meets it
# again.  Either way the log has the driver's text.
SQLITE_UNAVAILABLE = frozenset(
    {
        3,  # SQLITE_PERM: the file system refused access, as for CANTOPEN
        5,  # SQLITE_BUSY: another writer held the lock past the busy timeout; waiting cures it
        6,  # SQLITE_LOCKED: the same, between connections of this process
        10,  # SQLITE_IOERR and all its extended codes: the disk failed a read, write, fsync
        11,  # SQLITE_CORRUPT: the file is damaged; the operator restores it (ronda db
        #      restore), no code of ours is wrong and no request can do better meanwhile
        13,  # SQLITE_FULL: the disk is full until the operator frees space
        14,  # SQLITE_CANTOPEN: the file is gone, a folder, or its folder unreadable
        15,  # SQLITE_PROTOCOL: a race for the WAL's locks that SQLite gave up retrying
        26,  # SQLITE_NOTADB: the path holds some other file (a botched restore): as CORRUPT
    }
)
# SQLITE_READONLY (8) only with an extended code: the file moved or was deleted under an open
# connection (READONLY_DBMOVED), its locks or log cannot be set up (CANTLOCK, CANTINIT,
# RECOVERY, ROLLBACK, DIRECTORY).  Plain READONLY is a write sent through one of our
# ``query_only`` connections: a bug.  Everything else (SQLITE_ERROR: bad SQL, a missing table
# or column; CONSTRAINT; MISMATCH; MISUSE; RANGE; TOOBIG; ...) is a bug too.
SQLITE_READONLY = 8


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc``, a driver's error or SQLAlchemy's wrapping of one, means the database
    is not there or not answering (``StoreUnavailable``), rather than a bug (a 500)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True  # SQLAlchemy found the connection dead (a disconnect)
    driver = driver_error(exc)
    if isinstance(driver, sqlite3.Error):
        return _sqlite_unavailable(driver)
    return (
        isinstance(exc, UNAVAILABLE)
        or isinstance(driver, SERVER_ENDED)
        or protocol_state_lost(driver)
    )


def driver_error(exc: BaseException) -> BaseException:
    """The driver's own exception behind SQLAlchemy's ``DBAPIError`` and behind the DBAPI
    class its asyncpg dialect emulates (each keeps the one it wraps as ``orig``)."""
    inner = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if isinstance(inner, EmulatedDBAPIException) and inner.orig is not None:
        inner = inner.orig
    return inner


def protocol_state_lost(driver: BaseException) -> bool:
    """asyncpg's protocol state broken under a connection the server ended while it sat in
    the pool ("cannot switch to state 12; another operation (2) is in progress", "got result
    for unknown protocol state", asyncpg #784 and #1069): the connection is unusable and the
    same request on another one serves.  asyncpg's other ``InternalClientError``s (a type
    without a codec, a failed start-up) are bugs or set-up and stay 500s."""
    return isinstance(driver, pg.InternalClientError) and "state" in str(driver)


def _sqlite_unavailable(exc: sqlite3.Error) -> bool:
    code: int | None = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # made by Python or an adapter, not by SQLite: a misuse of the module
        return False
    primary = code & 0xFF
    return primary in SQLITE_UNAVAILABLE or (primary == SQLITE_READONLY and code != primary)


T = TypeVar("T")
C = TypeVar("C", bound=type)


def unavailable(exc: BaseException) -> StoreUnavailable:
    """The error the port lets out for a driver error meaning the database is not there."""
    error = StoreUnavailable(MESSAGE)
    error.__cause__ = exc
    return error


@contextmanager
def translated() -> Iterator[None]:
    """Run a block whose driver errors leave it as ``StoreUnavailable``."""
    try:
        yield
    except Exception as exc:
        if is_unavailable(exc):
            raise unavailable(exc) from exc
        raise


def translate_engine_errors(engine: AsyncEngine) -> None:
    """Make every statement run on ``engine`` raise ``StoreUnavailable`` instead of a driver
    error meaning the database is not there (see the module's docstring)."""
    event.listen(engine.sync_engine, "handle_error", _on_engine_error)


def _on_engine_error(context: ExceptionContext) -> None:
    # Raising here replaces SQLAlchemy's exception; returning None keeps it.  A cancelled
    # task (CancelledError, a BaseException) also arrives here, as a disconnect: it must stay
    # a cancellation, or a background loop that retries on StoreUnavailable never stops.
    if not isinstance(context.original_exception, Exception):
        return
    if protocol_state_lost(driver_error(context.original_exception)):
        # SQLAlchemy's asyncpg dialect calls a connection gone only when asyncpg says it is
        # closed, and this one is not: it would go back to the pool and fail every use
        # (sqlalchemy #13241). Marked a disconnect, the pool throws it away.
        context.is_disconnect = True
    wrapped = context.sqlalchemy_exception
    if (
        context.is_disconnect
        or is_unavailable(context.original_exception)
        or (wrapped is not None and is_unavailable(wrapped))
    ):
        raise unavailable(context.original_exception)


def translating(cls: C) -> C:
    """Class decorator: every public coroutine method of ``cls`` (and every public method
    made with ``@asynccontextmanager``, such as ``push_unit``) runs in ``translated()``.

    Methods inherited from a base class are covered where the base is decorated too; a
    subclass that overrides a method gets the wrapper only if it is decorated itself.
    """
    for name, attr in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(attr):
            continue
        if inspect.iscoroutinefunction(attr):
            setattr(cls, name, _coroutine(attr))
        elif inspect.isasyncgenfunction(getattr(attr, "__wrapped__", None)):
            setattr(cls, name, _context(attr))
    return cls


def _coroutine(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        with translated():
            return await method(*args, **kwargs)

    return wrapper


def _context(method: Callable[..., Any]) -> Callable[..., Any]:
    # What the caller's block raises passes through the store's own context first (its
    # rollback), then through translated(): a driver error met inside a push unit's methods
    # leaves as StoreUnavailable like any other.
    @functools.wraps(method)
    @asynccontextmanager
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        with translated():
            async with method(*args, **kwargs) as value:
                yield value

    return wrapper
