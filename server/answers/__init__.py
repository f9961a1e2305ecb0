"""Answer models: the JSON the API answers, declared once (issue 18 item 5).

Each area's module declares its answers as pydantic models; ``server.answers.schema``
generates the answer schemas of ``/openapi.json`` from them, so the spec and the answers
cannot drift.  Closed objects forbid extra members (``additionalProperties: false``).

Two kinds of route use them:

- Admin, health, review (conflicts, chains), analysis, plans, notices and the public JSON
  build their answer through the model (``answer(Model(...))`` or ``answer_of(Model, data)``):
  a member the model does not declare, or a value of the wrong type, fails there (strict
  models: nothing is coerced, so the answer's bytes are what the route made).
- The benchmarked hot paths do NOT: sync push, pull and snapshot write their JSON bytes
  directly (sync/protocol_fast.py and friends), and a pydantic object per record would cost
  them more than the whole answer does now; the hotspot and emerging analyses answer one
  object per cell (thousands: checking 20,000 cells through the model took ~80 ms against
  ~5 ms for the whole JSON).  There the model is the schema, and
  tests/server/test_answer_models.py validates real answers against the model, strictly
  (``PullAnswer``, ``PushAnswer``, ``SnapshotLine``, ``HotspotAnswer``, ``EmergingAnswer``).
  Tiles are binary; the map's GeoJSON and the OGC API answers are open objects documented
  as such (server/openapi_maps.py).

Members that are absent rather than null (``clock_offset_ms``, a tombstone's ``pii``, an
ended notice's ``ended``) are declared ``x: T = absent()``: the schema lists them as optional
and non-null, and ``answer()`` leaves them out unless the route set them.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

A = TypeVar("A", bound=BaseModel)


class Answer(BaseModel):
    """A closed JSON object of an answer: no member besides those declared, each strictly
    of its type (no coercion: a value is never changed on its way out)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class OpenAnswer(BaseModel):
    """A JSON object that may carry members besides those declared (the public API's)."""

    model_config = ConfigDict(extra="allow", strict=True)


def absent() -> Any:
    """A member that is left out rather than null when it does not apply."""
    return Field(default=None)


# A JSON number kept as the route made it: an int stays an int (a float field would turn
# 3 into 3.0 and change the answer's bytes).
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]
Ms = Annotated[int, Field(description="milliseconds since the Unix epoch")]


def answer(model: BaseModel) -> dict[str, Any]:
    """The JSON value of an answer model: unset absent members left out, nulls kept."""
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def answer_of(model: type[A], data: Any) -> dict[str, Any]:
    """Check ``data`` (built by the route) against ``model`` and give its JSON value.

    Read from its JSON, as a client would read it: strict JSON validation takes a tuple as
    the array it becomes, where strict Python validation would refuse it."""
    return answer(model.model_validate_json(orjson.dumps(data)))
