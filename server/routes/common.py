"""Small helpers shared by the route modules."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from server.body import read_json
from sync.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)
SMALL_BODY_BYTES = 64 * 1024  # enrollment and administration bodies, before and after gzip


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


async def read_model(request: Request, model: type[M]) -> M:
    """Read a small JSON body and validate it against ``model``."""
    raw = await read_json(request, SMALL_BODY_BYTES, SMALL_BODY_BYTES)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"loc": [str(p) for p in e["loc"]], "type": e["type"], "msg": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise InvalidRequest("the body is invalid", {"errors": errors}) from exc


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    # isascii: str.isdigit() is true of "²" and "٣", which int() refuses or reads.
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise InvalidRequest(f"{name} must be an integer from {low} to {high}", {"parameter": name})
    return int(raw)
