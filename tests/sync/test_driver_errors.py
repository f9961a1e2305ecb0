"""Which driver errors mean "the database is not there" (503), as SQLAlchemy hands them over.

SQLAlchemy's asyncpg dialect wraps asyncpg's exceptions twice (an emulated DBAPI class, then
its own ``DBAPIError``); the errors here are wrapped by SQLAlchemy's own translation table and
``DBAPIError.instance``, as a failed statement's are, so the test follows the library, not a
guess of its shapes.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import asyncpg.exceptions as pg
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError

from sync.store.driver_errors import is_unavailable

STATE = "cannot switch to state 12; another operation (2) is in progress"
DBAPI: Any = AsyncAdapt_asyncpg_dbapi(asyncpg)  # type: ignore[no-untyped-call]


def wrapped(error: Exception) -> DBAPIError:
    """``error`` as a statement run through SQLAlchemy raises it."""
    table = DBAPI._asyncpg_error_translate
    emulated = next(table[c] for c in type(error).__mro__ if c in table)
    made = DBAPIError.instance("SELECT 1", {}, emulated(str(error), error), DBAPI.Error)
    assert isinstance(made, DBAPIError)
    return made


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (pg.InternalClientError(STATE), True),  # the protocol lost under an ended connection
        (pg.InternalClientError("got result for unknown protocol state 3"), True),
        (pg.InternalClientError("no binary format encoder for type x"), False),  # a bug
        (pg.AdminShutdownError("terminating connection due to administrator command"), True),
        (pg.CannotConnectNowError("the database system is starting up"), True),
        (pg.InterfaceError("connection is closed"), True),
        (pg.UniqueViolationError("duplicate key"), False),  # a bug, a 500
        (pg.UndefinedColumnError("column x does not exist"), False),
    ],
)
def test_unavailable_alike_raw_and_through_sqlalchemy(error: Exception, expected: bool) -> None:
    assert is_unavailable(error) is expected
    assert is_unavailable(wrapped(error)) is expected
