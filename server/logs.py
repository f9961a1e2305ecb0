"""Structured JSON logs.

Only the fields named here are ever written: no bodies, no query strings, no headers, so
neither tokens nor personal data can reach a log line.
"""

from __future__ import annotations

import logging
import sys
import time

import orjson

SAFE_FIELDS = ("method", "route", "status", "ms", "device_id", "role", "batch", "changes", "code")


class JSONFormatter(logging.Formatter):
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
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger("ronda")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
