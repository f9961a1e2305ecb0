"""The answer schemas of /openapi.json, generated from the answer models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"
_SUB_MAPS = ("properties", "$defs", "patternProperties")
_SUB_ONE = ("items", "additionalProperties", "not", "contains")
_SUB_LIST = ("anyOf", "oneOf", "allOf", "prefixItems")


def _clean(schema: Any) -> None:
    """Drop what pydantic adds and the spec never had: titles, and defaults (an answer's
    members have none; an absent member's ``None`` default is not a value it can take)."""
    if not isinstance(schema, dict):
        return
    if isinstance(schema.get("title"), str):
        del schema["title"]
    schema.pop("default", None)
    for key, value in schema.items():
        if key in _SUB_MAPS:
            for sub in value.values():
                _clean(sub)
        elif key in _SUB_ONE:
            _clean(value)
        elif key in _SUB_LIST:
            for sub in value:
                _clean(sub)


def answer_schemas(
    models: tuple[type[BaseModel], ...], known: dict[str, Schema]
) -> dict[str, Schema]:
    """Component schemas of ``models`` and of the models they use (``$defs`` hoisted).

    ``known``: components already there (the request models); a model used by an answer
    and a request alike (``IncidentFields``) keeps its request schema, which must say the same.
    """
    out: dict[str, Schema] = {}
    for model in models:
        schema = model.model_json_schema(mode="serialization", ref_template=REF)
        defs = schema.pop("$defs", {})
        for name, sub in {**defs, model.__name__: schema}.items():
            if name in known:
                continue
            _clean(sub)
            if out.setdefault(name, sub) != sub:
                raise ValueError(f"two answer models are named {name}")
    return out
