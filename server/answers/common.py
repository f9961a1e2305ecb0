"""Answers every area shares: the error shape, liveness and readiness."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from server.answers import Answer
from sync.clock import HLC_PATTERN
from sync.protocol import HASH_PATTERN, ID_PATTERN

Id = Annotated[str, Field(pattern=ID_PATTERN)]
Hlc = Annotated[str, Field(pattern=HLC_PATTERN.pattern)]
Hash = Annotated[str, Field(pattern=HASH_PATTERN)]
Seq = Annotated[int, Field(ge=1)]
Role = Literal["officer", "chief", "analyst", "admin"]


# Built by server/errors.py (one place for every error answer); declared here for the spec.
class ErrorBody(Answer):
    code: str
    message: str
    details: dict[str, Any]


class Error(Answer):
    error: ErrorBody


class Health(Answer):
    status: Literal["ok"]


class Ready(Answer):
    status: Literal["ready"]
    last_seq: int
