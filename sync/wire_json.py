"""The JSON of the wire: bodies read with a bound on nesting, and the canonical form that
patrol-log hashes and stored batch answers are computed over (docs/protocol.md).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from sync.errors import InvalidJSON, TooDeep

# Levels of arrays and objects a JSON body may nest: a push needs 6 (envelope, changes, change,
# pii, victims, person). Deeper bodies are refused before any work: re-encoding one (the
# request hash) fails beyond 255 levels.
MAX_DEPTH = 32


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the form patrol-log hashes are computed over."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def request_hash(changes: list[Any]) -> str:
    """What a stored batch answer is matched on when its batch id comes again."""
    return hashlib.sha256(canonical_json(changes)).hexdigest()


def load_json(raw: bytes) -> Any:
    """The JSON value of a body, or ``InvalidJSON`` saying where it breaks, or ``TooDeep``."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth" in exc.msg or "recursion" in exc.msg:  # orjson stops at 1024 levels
            raise _too_deep() from exc
        raise InvalidJSON("the body is not valid JSON", {"position": exc.pos}) from exc
    # Fewer brackets than the limit cannot nest past it: most bodies are never walked.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise _too_deep()
    return value


def _too_deep() -> TooDeep:
    return TooDeep(
        f"the body is nested more than {MAX_DEPTH} levels deep", {"max_depth": MAX_DEPTH}
    )


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (level by level, so a
    deep body is found without recursion and a wide one is walked once)."""
    level = [value] if isinstance(value, dict | list) else []
    for _ in range(limit):
        deeper: list[Any] = []
        for item in level:
            members = item.values() if isinstance(item, dict) else item
            deeper += [m for m in members if isinstance(m, dict | list)]
        if not deeper:
            return False
        level = deeper
    return True
