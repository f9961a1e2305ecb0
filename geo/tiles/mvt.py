"""A fast Mapbox Vector Tile (MVT 2.1) encoder in numpy with hand-rolled protobuf.

Every integer of a layer's features (field keys, lengths, ids, tags, geometry commands and
zigzag parameters) is laid out as one flat array of "tokens" and varint-encoded in a single
vectorised pass; only the keys and values tables are built in Python (a few hundred strings
at most). Geometries come in tile coordinates (floats; rounded here) as flat vertex arrays.

Spec points this module enforces (https://github.com/mapbox/vector-tile-spec/tree/master/2.1):
commands ``(id & 7) | (count << 3)`` with MoveTo 1, LineTo 2, ClosePath 7; parameters are
zigzag-encoded deltas from the previous cursor position, which starts at (0, 0) for every
feature and carries over between the parts of a feature; a polygon's exterior ring has a
positive surveyor's-formula area in tile coordinates (y down: clockwise on screen) and its
interior rings a negative one; rings and lines lose repeated vertices, and degenerate ones
(under 3 distinct vertices for a ring, or zero area; under 2 for a line) are dropped.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

EXTENT = 4096
POINT, LINESTRING, POLYGON = 1, 2, 3
MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7
_SHIFTS = np.arange(0, 70, 7, dtype=np.uint64)


def varints(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Protobuf varint bytes of non-negative integers (below 2**63), and each one's length."""
    v = np.asarray(tokens).astype(np.int64, copy=False)
    n = np.ones(v.size, dtype=np.int64)
    for k in range(1, 10):
        big = v >= (1 << (7 * k))
        if not big.any():
            break
        n += big
    width = int(n.max()) if v.size else 1
    if width == 1:
        return v.astype(np.uint8), n
    out = np.empty((v.size, width), dtype=np.uint8)
    for k in range(width):
        out[:, k] = ((v >> (7 * k)) & 0x7F) | ((n > k + 1) << 7)
    return out[np.arange(width)[None, :] < n[:, None]], n


def varint(value: int) -> bytes:
    """One varint (for the few scalars outside the vectorised paths)."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def zigzag(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.int64)
    return ((v << 1) ^ (v >> 63)).astype(np.uint64)


def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets of consecutive segments of these lengths, and each element's segment."""
    starts = np.zeros(counts.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return starts, np.repeat(np.arange(counts.size), counts)


def _seg_sums(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over consecutive segments of ``counts`` elements (empty ones: 0)."""
    c = np.zeros(values.size + 1, dtype=np.int64)
    np.cumsum(values, out=c[1:])
    ends = np.cumsum(counts)
    result: np.ndarray = c[ends] - c[ends - counts]
    return result


@dataclass(frozen=True, slots=True)
class Geometry:
    """Encoded geometry streams of many features: flat tokens and each feature's count."""

    kind: int  # POINT, LINESTRING or POLYGON
    tokens: np.ndarray  # uint64 command integers and zigzag parameters, feature after feature
    counts: np.ndarray  # int64 tokens per feature
    keep: np.ndarray  # bool per input feature: False where the geometry vanished


def points(x: np.ndarray, y: np.ndarray) -> Geometry:
    """One point per feature (tile coordinates; rounded)."""
    xi = np.rint(np.asarray(x, dtype=np.float64)).astype(np.int64)
    yi = np.rint(np.asarray(y, dtype=np.float64)).astype(np.int64)
    tokens = np.empty((xi.size, 3), dtype=np.uint64)
    tokens[:, 0] = MOVE_TO | (1 << 3)
    tokens[:, 1] = zigzag(xi)
    tokens[:, 2] = zigzag(yi)
    return Geometry(POINT, tokens.ravel(), np.full(xi.size, 3), np.ones(xi.size, dtype=bool))


def paths(
    x: np.ndarray,
    y: np.ndarray,
    path_counts: np.ndarray,
    path_feature: np.ndarray,
    n_features: int,
    *,
    exterior: np.ndarray | None = None,
) -> Geometry:
    """Lines (``exterior is None``) or polygon rings, as flat vertices in tile coordinates.

    ``path_counts`` vertices per path (rings closed or not), ``path_feature`` the feature of
    each path (non-decreasing), ``exterior`` for rings: True for an exterior ring, False for
    a hole (which follows its exterior). Holes whose exterior vanished are dropped too.
    """
    polygon = exterior is not None
    xi = np.rint(np.asarray(x, dtype=np.float64)).astype(np.int64)
    yi = np.rint(np.asarray(y, dtype=np.float64)).astype(np.int64)
    counts = np.asarray(path_counts, dtype=np.int64)
    feature = np.asarray(path_feature, dtype=np.int64)
    starts, path_of = _segments(counts)
    first = np.zeros(xi.size, dtype=bool)
    first[starts[counts > 0]] = True
    same = np.zeros(xi.size, dtype=bool)
    same[1:] = (xi[1:] == xi[:-1]) & (yi[1:] == yi[:-1])
    keepv = ~(same & ~first)
    if polygon:  # the closing vertex (or any vertex equal to the ring's first) goes too
        x0, y0 = xi[starts[path_of]], yi[starts[path_of]]
        keepv &= first | (xi != x0) | (yi != y0)
    xi, yi, path_of = xi[keepv], yi[keepv], path_of[keepv]
    counts = np.bincount(path_of, minlength=counts.size)
    ok = counts >= (3 if polygon else 2)
    if polygon:
        assert exterior is not None
        area2 = _ring_areas(xi, yi, counts)
        ok &= area2 != 0
        ok = _holes_follow(ok, np.asarray(exterior, dtype=bool))
        flip = ok & ((area2 > 0) != np.asarray(exterior, dtype=bool))
        order = _reversed_where(counts, flip)
        xi, yi = xi[order], yi[order]
    vkeep = np.repeat(ok, counts)
    xi, yi, counts, feature = xi[vkeep], yi[vkeep], counts[ok], feature[ok]
    return _path_tokens(xi, yi, counts, feature, n_features, polygon)


def _ring_areas(x: np.ndarray, y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Twice the surveyor's-formula area of each ring (tile coordinates, y down)."""
    starts, _ = _segments(counts)
    nxt = np.arange(x.size) + 1
    last = starts + counts - 1
    nxt[last[counts > 0]] = starts[counts > 0]
    cross = x * y[nxt % max(x.size, 1)] - x[nxt % max(x.size, 1)] * y
    return _seg_sums(cross, counts)


def _holes_follow(ok: np.ndarray, exterior: np.ndarray) -> np.ndarray:
    """A hole survives only if the exterior ring before it does."""
    owner = np.maximum.accumulate(np.where(exterior, np.arange(exterior.size), 0))
    result: np.ndarray = ok & ok[owner]
    return result


def _reversed_where(counts: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """Vertex order that reverses the rings marked in ``flip``."""
    starts, ring = _segments(counts)
    idx = np.arange(int(counts.sum()))
    rev = starts[ring] + (counts[ring] - 1 - (idx - starts[ring]))
    return np.where(flip[ring], rev, idx)


def _path_tokens(
    x: np.ndarray,
    y: np.ndarray,
    counts: np.ndarray,
    feature: np.ndarray,
    n_features: int,
    polygon: bool,
) -> Geometry:
    starts, path_of = _segments(counts)
    dx, dy = np.diff(x, prepend=0), np.diff(y, prepend=0)
    feat_of_vertex = feature[path_of]
    new_feature = np.ones(x.size, dtype=bool)
    new_feature[1:] = feat_of_vertex[1:] != feat_of_vertex[:-1]
    dx[new_feature], dy[new_feature] = x[new_feature], y[new_feature]  # cursor starts at 0, 0
    # Per path: MoveTo, 2 params, LineTo, 2 (n - 1) params [, ClosePath].
    extra = 3 if polygon else 2
    per_path = 2 * counts + extra
    pstart, _ = _segments(per_path)
    tokens = np.empty(int(per_path.sum()), dtype=np.uint64)
    tokens[pstart] = MOVE_TO | (1 << 3)
    tokens[pstart + 3] = (LINE_TO | ((counts - 1) << 3)).astype(np.uint64)
    if polygon:
        tokens[pstart + per_path - 1] = CLOSE_PATH | (1 << 3)
    within = np.arange(x.size) - starts[path_of]
    slot = pstart[path_of] + 1 + 2 * within + (within > 0)
    tokens[slot] = zigzag(dx)
    tokens[slot + 1] = zigzag(dy)
    feat_counts = np.bincount(feature, weights=per_path, minlength=n_features).astype(np.int64)
    keep = np.bincount(feature, minlength=n_features) > 0
    return Geometry(POLYGON if polygon else LINESTRING, tokens, feat_counts[keep], keep)


# --- properties and layers ---


def _value_message(value: object) -> bytes:
    if isinstance(value, str):
        raw = value.encode()
        return b"\x0a" + varint(len(raw)) + raw
    if isinstance(value, bool | np.bool_):
        return b"\x38" + (b"\x01" if value else b"\x00")
    if isinstance(value, int | np.integer):
        return b"\x30" + varint(int(zigzag(np.array([int(value)]))[0]))
    return b"\x19" + struct.pack("<d", float(value))  # type: ignore[arg-type]


_SHORT = [bytes((0x22, n + 2, 0x0A, n)) for n in range(126)]  # field 4 + string Value head


def _values_table(values: list[object]) -> bytes:
    """Layer field 4 (a Value message) for each value; short strings take a fast path."""
    out: list[bytes] = []
    for value in values:
        if isinstance(value, str):
            raw = value.encode()
            if len(raw) < 126:
                out += [_SHORT[len(raw)], raw]
                continue
        message = _value_message(value)
        out += [b"\x22", varint(len(message)), message]
    return b"".join(out)


def _column_tags(column: np.ndarray) -> tuple[list[object], np.ndarray]:
    """Distinct non-missing values of a column (in order of first appearance) and each row's
    index into them (-1: no value)."""
    col = np.asarray(column)
    if col.dtype.kind in "iub":
        uniq, inverse = np.unique(col, return_inverse=True)
        return uniq.tolist(), inverse.astype(np.int64)
    seen: dict[object, int] = {}
    rows = col.tolist()
    index = np.fromiter(
        (seen.setdefault(v, len(seen)) for v in rows), dtype=np.int64, count=len(rows)
    )
    missing = [k for k in seen if k is None or (isinstance(k, float) and k != k)]
    if not missing:
        return list(seen), index
    values = list(seen)
    gone = np.array([seen[k] for k in missing])
    remap = np.arange(len(values))
    remap[gone] = -1
    kept = remap >= 0
    remap[kept] = np.arange(int(kept.sum()))
    return [v for v in values if v not in missing], remap[index]


def layer(
    name: str,
    geometry: Geometry,
    properties: Mapping[str, np.ndarray] | None = None,
    ids: np.ndarray | None = None,
    extent: int = EXTENT,
) -> bytes:
    """One MVT layer message (without the tile's field header).

    ``properties`` are columns aligned with the features given to the geometry builder
    (features whose geometry vanished are dropped from them here); strings may hold None
    (no tag), floats NaN (no tag). ``ids`` are non-negative integers (MVT feature ids).
    """
    keep = geometry.keep
    n = int(keep.sum())
    keys: list[str] = []
    values: list[bytes] = []
    n_values = 0
    tag_cols: list[np.ndarray] = []
    for key, column in (properties or {}).items():
        uniq, inverse = _column_tags(np.asarray(column)[keep])
        tag_cols.append(np.where(inverse >= 0, inverse + n_values, -1))
        keys.append(key)
        values.append(_values_table(uniq))
        n_values += len(uniq)
    features = _features(geometry, tag_cols, None if ids is None else np.asarray(ids)[keep], n)
    out = [b"\x78\x02", b"\x0a", varint(len(name.encode())), name.encode(), features]
    for key in keys:
        raw = key.encode()
        out += [b"\x1a", varint(len(raw)), raw]
    out += [*values, b"\x28", varint(extent)]
    return b"".join(out)


def _features(
    geometry: Geometry, tag_cols: Sequence[np.ndarray], ids: np.ndarray | None, n: int
) -> bytes:
    """Every feature message, each preceded by its layer field header, in one varint pass."""
    if n == 0:
        return b""
    if tag_cols:
        pairs = np.empty((n, 2 * len(tag_cols)), dtype=np.int64)
        for k, col in enumerate(tag_cols):
            pairs[:, 2 * k] = np.where(col >= 0, k, -1)
            pairs[:, 2 * k + 1] = col
        present = pairs >= 0
        tags = pairs[present].astype(np.uint64)
        tag_counts = present.sum(axis=1)
    else:
        tags, tag_counts = np.zeros(0, dtype=np.uint64), np.zeros(n, dtype=np.int64)
    _, tag_len = varints(tags)
    _, geom_len = varints(geometry.tokens)
    tag_bytes = _seg_sums(tag_len, tag_counts)
    geom_bytes = _seg_sums(geom_len, geometry.counts)
    head_cols: list[np.ndarray] = []
    if ids is not None:
        head_cols += [np.full(n, 0x08, dtype=np.uint64), ids.astype(np.uint64)]
    has_tags = tag_counts > 0
    # Header tokens: [id] tags-key tags-len ... type-key type geom-key geom-len
    head = np.zeros((n, len(head_cols) + 2), dtype=np.uint64)
    for i, c in enumerate(head_cols):
        head[:, i] = c
    head[:, -2] = 0x12
    head[:, -1] = tag_bytes.astype(np.uint64)
    mid = np.array([0x18, geometry.kind, 0x22], dtype=np.uint64)
    _, head_len = varints(head.ravel())
    head_len = head_len.reshape(n, -1)
    head_len[:, -2:] *= has_tags[:, None]  # no tags: no tags field at all
    _, glen_len = varints(geom_bytes.astype(np.uint64))
    body = head_len.sum(axis=1) + tag_bytes + 3 + glen_len + geom_bytes
    per = (head.shape[1] - 2 * (~has_tags)) + tag_counts + 4 + geometry.counts + 2
    starts, _ = _segments(per)
    stream = np.empty(int(per.sum()), dtype=np.uint64)
    stream[starts] = 0x12
    stream[starts + 1] = body.astype(np.uint64)
    pos = starts + 2
    for i in range(head.shape[1]):
        write = has_tags | (i < head.shape[1] - 2)
        stream[pos[write]] = head[write, i]
        pos = pos + write
    _place(stream, tags, pos, tag_counts)
    pos = pos + tag_counts
    for j, token in enumerate(mid):
        stream[pos + j] = token
    stream[pos + 3] = geom_bytes.astype(np.uint64)
    _place(stream, geometry.tokens, pos + 4, geometry.counts)
    encoded, _ = varints(stream)
    return encoded.tobytes()


def _place(stream: np.ndarray, values: np.ndarray, at: np.ndarray, counts: np.ndarray) -> None:
    """Write consecutive segments of ``values`` (``counts`` each) at offsets ``at``."""
    if values.size == 0:
        return
    starts, seg = _segments(counts)
    stream[at[seg] + (np.arange(values.size) - starts[seg])] = values


def tile(layers: Sequence[bytes]) -> bytes:
    """A tile from encoded layers (empty layers are left out)."""
    out = []
    for data in layers:
        out += [b"\x1a", varint(len(data)), data]
    return b"".join(out)
