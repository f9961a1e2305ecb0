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
constraint violation or bad SQL is a bug and stays a 500.  The message is the one the client
got before this module existed; the driver's own text goes to the log as the cause, never to
the client (it may quote data).
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
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from sync.errors import StoreUnavailable

MESSAGE = "the database is unavailable; retry"

# Raised by SQLAlchemy around any DB-API driver: connection lost or refused, database locked
# past its busy timeout, disk I/O error (OperationalError); connection closed under us
# (InterfaceError); a pooled connection found dead (DisconnectionError).
SQLALCHEMY_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
)
# The same conditions as the drivers raise them when used directly.
DRIVER_UNAVAILABLE: tuple[type[Exception], ...] = (
    sqlite3.OperationalError,
    pg.InterfaceError,  # connection closed, or in a state where it cannot run a query
    pg.PostgresConnectionError,  # SQLSTATE class 08: connection does not exist, failed
    pg.AdminShutdownError,  # 57P01: the server is shutting down (pg_terminate_backend too)
    pg.CrashShutdownError,  # 57P02
    pg.CannotConnectNowError,  # 57P03: starting up, or in recovery
    pg.TooManyConnectionsError,  # 53300
    OSError,  # the socket: refused, reset, unreachable, timed out (TimeoutError is one)
)
UNAVAILABLE = SQLALCHEMY_UNAVAILABLE + DRIVER_UNAVAILABLE

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
    except UNAVAILABLE as exc:
        raise unavailable(exc) from exc


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
    if (
        context.is_disconnect
        or isinstance(context.sqlalchemy_exception, SQLALCHEMY_UNAVAILABLE)
        or isinstance(context.original_exception, DRIVER_UNAVAILABLE)
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
        try:
            return await method(*args, **kwargs)
        except UNAVAILABLE as exc:
            raise unavailable(exc) from exc

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
