"""The JSON log formatter: a traceback is a field of its record, with types and frames but
no exception message (issue 19, item 7)."""

from __future__ import annotations

import logging
import sys

import orjson

from server.logs import JSONFormatter, SkipLoggedErrors, mark_logged

# Runtime data; the source lines of a traceback (which are logged) only name these constants.
NAME = "Zoila Ccahuana"
TOKEN = "rdt_secret42"


def _parse(value: str) -> None:
    raise KeyError(NAME + value)


def _handle(value: str) -> None:
    try:
        _parse(value)
    except KeyError as exc:
        raise ValueError(value) from exc


def _record(msg: str = "unhandled error") -> logging.LogRecord:
    try:
        _handle(TOKEN)
    except ValueError:
        info = sys.exc_info()
    return logging.LogRecord("ronda.errors", logging.ERROR, __file__, 1, msg, None, info)


def test_a_traceback_is_one_json_field_without_messages() -> None:
    line = JSONFormatter().format(_record())
    assert "\n" not in line
    record = orjson.loads(line)
    assert record["exc_type"] == "ValueError"
    trace = record["exc"]
    assert trace.index("KeyError") < trace.index("direct cause") < trace.rindex("ValueError")
    assert "in _parse" in trace and "in _handle" in trace
    assert NAME not in line and TOKEN not in line


def test_uvicorns_second_report_of_a_logged_error_is_dropped() -> None:
    again = _record("Exception in ASGI application\n")
    skip = SkipLoggedErrors()
    assert skip.filter(again)
    assert again.exc_info is not None and again.exc_info[1] is not None
    mark_logged(again.exc_info[1])
    assert not skip.filter(again)
    assert skip.filter(_record())  # only uvicorn's repeat is dropped
