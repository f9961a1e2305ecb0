"""Structured JSON logs: every line the server writes is one JSON object.

Only the fields named here are ever written: no bodies, no query strings, no headers, so
neither tokens nor personal data can reach a log line. A traceback is written as a field
(``exc``) of its record, with the exception's type and frames but never its message, which
may quote data (a value that failed to parse, a row a constraint refused).

uvicorn's own loggers are switched to the same format: ``ronda serve`` hands uvicorn
``uvicorn_log_config()``; ``uvicorn --log-config server/uvicorn_log.json`` does the same for
uvicorn run directly; and ``configure`` (called by ``create_app``) re-points uvicorn's
loggers in each worker, so even without ``--log-config`` only the supervisor's start and
stop lines could stay in uvicorn's plain format.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import traceback
from types import TracebackType
from typing import Any

import orjson

SAFE_FIELDS = ("method", "route", "status", "ms", "device_id", "role", "batch", "changes", "code")
# uvicorn logs every exception of an app it serves again, after our handler logged it.
ASGI_EXCEPTION = "Exception in ASGI application"
_LOGGED = "_ronda_logged"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def safe_traceback(exc_info: ExcInfo) -> str:
    """The traceback of ``exc_info`` without any exception message: frames and types only."""
    lines: list[str] = []
    seen: set[int] = set()
    chain: list[tuple[BaseException, str]] = []
    exc: BaseException | None = exc_info[1]
    note = ""
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append((exc, note))
        if exc.__cause__ is not None:
            exc, note = exc.__cause__, "The above exception was the direct cause of:"
        elif exc.__context__ is not None and not exc.__suppress_context__:
            exc, note = exc.__context__, "During handling of the above, another exception:"
        else:
            exc = None
    link = ""
    for item, note in reversed(chain):  # oldest first, as Python prints them
        if link:
            lines.append(link)
        lines.append("Traceback (most recent call last):")
        lines += [frame.rstrip("\n") for frame in traceback.format_tb(item.__traceback__)]
        lines.append(_type_name(type(item)))
        link = note  # how this one led to the next
    return "\n".join(lines)


def _type_name(cls: type[BaseException]) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


class JSONFormatter(logging.Formatter):
    """One JSON object per record; accepts (and ignores) uvicorn's formatter options."""

    def __init__(self, *args: Any, use_colors: bool | None = None, **kwargs: Any) -> None:
        super().__init__()

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in SAFE_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            exc_info: Any = record.exc_info
            line["exc_type"] = _type_name(exc_info[0])
            line["exc"] = safe_traceback(exc_info)
        return orjson.dumps(line, default=str).decode()


class SkipLoggedErrors(logging.Filter):
    """Drop uvicorn's second report of an exception that the app's handler already logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.msg and str(record.msg).startswith(ASGI_EXCEPTION):
            return not getattr(record.exc_info[1], _LOGGED, False)
        return True


def mark_logged(exc: BaseException) -> None:
    """Note that ``exc`` and its traceback are in the log already (see ``SkipLoggedErrors``)."""
    # An exception type with __slots__ refuses the mark: it is logged twice, still as JSON.
    with contextlib.suppress(AttributeError):
        setattr(exc, _LOGGED, True)


def uvicorn_log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's ``log_config``: its loggers, Python's warnings and any library's, as JSON.

    uvicorn's access log is dropped: it would write client addresses and query strings, and
    ``ronda.access`` logs every request without them.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"skip_logged": {"()": "server.logs.SkipLoggedErrors"}},
        "formatters": {
            "default": {"()": "server.logs.JSONFormatter"},
            "access": {"()": "server.logs.JSONFormatter"},
        },
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["skip_logged"],
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "py.warnings": {"handlers": ["default"], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
    }


def _json_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(SkipLoggedErrors())
    return handler


def configure(level: str) -> None:
    """JSON on stderr for the ``ronda`` loggers, uvicorn's, Python's warnings and the rest."""
    root = logging.getLogger("ronda")
    root.handlers[:] = [_json_handler()]
    root.setLevel(level.upper())
    root.propagate = False
    for name in ("uvicorn", "py.warnings"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [_json_handler()]
        logger.propagate = False
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []  # both reach "uvicorn"'s handler or nothing
    logging.getLogger("uvicorn.access").propagate = False
    everything = logging.getLogger()
    if not everything.handlers:  # a server process; under pytest, its capture stays put
        everything.addHandler(_json_handler())
        logging.captureWarnings(True)
