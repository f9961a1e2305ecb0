"""Analysis results as bytes, so one worker's computation serves every worker and host.

A result is a frozen dataclass of numpy arrays, a ``CellSpec`` and plain values. Arrays go
into an ``.npz`` (no pickles: ``allow_pickle=False`` both ways, so bytes from the database
can never run code), everything else into one JSON member of it.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import numpy as np
import orjson

from geo.analysis.emerging import EmergingResult
from geo.analysis.hotspots import HotspotResult
from geo.grid.cells import CellSpec

KINDS: dict[str, type[HotspotResult] | type[EmergingResult]] = {
    "hotspots": HotspotResult,
    "emerging": EmergingResult,
}
_PLAIN = "__plain__"


def encode(kind: str, result: HotspotResult | EmergingResult) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    plain: dict[str, Any] = {"kind": kind}
    for item in dataclasses.fields(result):
        value = getattr(result, item.name)
        if isinstance(value, np.ndarray):
            arrays[item.name] = value
        elif isinstance(value, CellSpec):
            plain[item.name] = dataclasses.asdict(value)
        else:
            plain[item.name] = list(value) if isinstance(value, tuple) else value
    arrays[_PLAIN] = np.frombuffer(orjson.dumps(plain), dtype=np.uint8)
    out = io.BytesIO()
    np.savez(out, **arrays)  # type: ignore[arg-type]
    return out.getvalue()


def decode(body: bytes) -> HotspotResult | EmergingResult:
    with np.load(io.BytesIO(body), allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    plain = orjson.loads(arrays.pop(_PLAIN).tobytes())
    cls = KINDS[plain.pop("kind")]
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if item.name in arrays:
            values[item.name] = arrays[item.name]
        elif item.name == "spec":
            values[item.name] = CellSpec(**plain[item.name])
        elif isinstance(plain.get(item.name), list):
            values[item.name] = tuple(plain[item.name])
        elif item.name in plain:
            values[item.name] = plain[item.name]
    return cls(**values)
