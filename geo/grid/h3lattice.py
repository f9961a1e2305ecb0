"""H3 indexing in numpy: the gnomonic face projection and hexagon lattice that H3 uses.

Used by :mod:`geo.grid.cells` (binning) and :mod:`geo.analysis.weights` (k-rings). See
:mod:`geo.grid.cells` for why and how the result equals ``h3.latlng_to_cell`` exactly.
Inputs are assumed validated (finite lon/lat degrees).
"""

from __future__ import annotations

import h3.api.basic_int as h3i
import numpy as np

# H3 constants (faceijk.c / constants.h): face centres in lat/lng radians and the azimuth of
# each face's Class II i-axis.
_FACE_LATLNG = np.array(
    [
        (0.803582649718989942, 1.248397419617396099),
        (1.307747883455638156, 2.536945009877921159),
        (1.054751253523952054, -1.347517358900396623),
        (0.600191595538186799, -0.450603909469755746),
        (0.491715428198773866, 0.401988202911306943),
        (0.172745327415618701, 1.678146885280433686),
        (0.605929321571350690, 2.953923329812411617),
        (0.427370518328979641, -1.888876200336285401),
        (-0.079066118549212831, -0.733429513380867741),
        (-0.230961644455383637, 0.506495587332349035),
        (0.079066118549212831, 2.408163140208925497),
        (0.230961644455383637, -2.635097066257444203),
        (-0.172745327415618701, -1.463445768309359553),
        (-0.605929321571350690, -0.187669323777381622),
        (-0.427370518328979641, 1.252716453253507838),
        (-0.600191595538186799, 2.690988744120037492),
        (-0.491715428198773866, -2.739604450678486295),
        (-0.803582649718989942, -1.893195233972397139),
        (-1.307747883455638156, -0.604647643711872080),
        (-1.054751253523952054, 1.794075294689396615),
    ]
)
_FACE_AZ0 = np.array(
    [
        5.619958268523939882,
        5.760339081714187279,
        0.780213654393430055,
        0.430469363979999913,
        6.130269123335111400,
        2.692877706530642877,
        2.982963003477243874,
        3.532912002790141181,
        3.494305004259568154,
        3.003214169499538391,
        5.930472956509811562,
        0.138378484090254847,
        0.448714947059150361,
        0.158629650112549365,
        5.891865957979238535,
        2.711123289609793325,
        3.294508837434268316,
        3.804819692245439833,
        3.664438879055192436,
        2.361378999196363184,
    ]
)
_FACE_XYZ = np.column_stack(
    [
        np.cos(_FACE_LATLNG[:, 0]) * np.cos(_FACE_LATLNG[:, 1]),
        np.cos(_FACE_LATLNG[:, 0]) * np.sin(_FACE_LATLNG[:, 1]),
        np.sin(_FACE_LATLNG[:, 0]),
    ]
)
_RES0_U_GNOMONIC = 0.38196601125010500003
_AP7_ROT_RADS = 0.333473172251832115336090755351601070065900389
_SQRT7 = 2.6457513110645905905016157536392604257102
_SQRT3_2 = 0.8660254037844386467637231707529361834714
# per face: cos/sin of centre lat, cos/sin of centre lng, cos/sin of the i-axis azimuth for
# Class II, and for Class III (rotated by AP7)
_FACE_TRIG = np.column_stack(
    [
        np.cos(_FACE_LATLNG[:, 0]),
        np.sin(_FACE_LATLNG[:, 0]),
        np.cos(_FACE_LATLNG[:, 1]),
        np.sin(_FACE_LATLNG[:, 1]),
        np.cos(_FACE_AZ0),
        np.sin(_FACE_AZ0),
        np.cos(_FACE_AZ0 - _AP7_ROT_RADS),
        np.sin(_FACE_AZ0 - _AP7_ROT_RADS),
    ]
)
_TWO_PI = 2.0 * np.pi
_MARGIN = 1e-7  # in hexagon spacings; far above float error (~1e-11 at res 15)
_LATTICE_OFFSET = 1 << 27  # lattice coordinates are below 2**23 even at resolution 15


def _pos_angle(a: np.ndarray) -> np.ndarray:
    a = np.fmod(a, _TWO_PI)
    return np.where(a < 0.0, a + _TWO_PI, a)


def candidate_faces(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Faces that can be the closest one for some point in the points' lon/lat box.

    The box is sampled on a 33 x 33 grid; a face is a candidate when, at some sample, its
    cosine is within 2ε + 1e-5 of the best (ε bounds the angle from any point of the box to
    its nearest sample), so every other face is at least 1e-5 worse at every point."""
    if lon.size == 0:
        return np.arange(20)
    lo = np.radians(np.linspace(lon.min(), lon.max(), 33))
    la = np.radians(np.linspace(lat.min(), lat.max(), 33))
    eps = float(np.hypot(lo[1] - lo[0], la[1] - la[0]))  # a full step: > half the diagonal
    g_lo, g_la = np.meshgrid(lo, la)
    c = np.cos(g_la.ravel())
    pts = np.column_stack(
        [c * np.cos(g_lo.ravel()), c * np.sin(g_lo.ravel()), np.sin(g_la.ravel())]
    )
    dots = np.einsum("ij,kj->ik", pts, _FACE_XYZ)
    near = dots >= dots.max(axis=1, keepdims=True) - (2 * eps + 1e-5)
    return np.flatnonzero(near.any(axis=0))


def _hex_lattice(
    lat: np.ndarray, lng: np.ndarray, res: int, faces: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Key of each point's (face, lattice hexagon) and whether it is too close to call.
    ``faces``: the only faces that can be closest (see :func:`candidate_faces`)."""
    clat, slat = np.cos(lat), np.sin(lat)
    clng, slng = np.cos(lng), np.sin(lng)
    p = np.empty((lat.size, 3))
    np.multiply(clat, clng, out=p[:, 0])
    np.multiply(clat, slng, out=p[:, 1])
    p[:, 2] = slat
    faces = np.arange(20) if faces is None else np.asarray(faces)
    # Closest face among the candidates, with elementwise products rather than a BLAS call
    # (a tiny matmul stalls on threads when the machine is busy); points whose two best
    # faces are within 1e-5 in cosine are left to H3 itself.
    if faces.size == 1:
        face = faces[0]  # a scalar: face constants below stay scalars
        unsure = np.zeros(lat.size, dtype=bool)
    else:
        f = _FACE_XYZ[faces]
        dots = np.stack([p[:, 0] * a + p[:, 1] * b + p[:, 2] * c for a, b, c in f], axis=1)
        pick = np.argmax(dots, axis=1)
        face = faces[pick]
        best = np.take_along_axis(dots, pick[:, None], axis=1)
        unsure = np.count_nonzero(dots > best - 1e-5, axis=1) > 1
    d = _FACE_XYZ[face] - p
    sqd = np.einsum("ij,ij->i", d, d)  # H3 measures the chord to the face centre
    # H3: r = acos(1 - sqd/2), az = azimuth from the face centre, theta = az0 - az (- AP7 at
    # Class III), then tan(r)·(cos theta, sin theta). The same numbers without acos, atan2,
    # tan, cos and sin: tan r = sin r / cos r with sin² r = (sqd/2)(2 - sqd/2), and cos/sin of
    # theta by angle differences. Float differences from H3's path are ~1e-16 relative,
    # far inside the rounding margin.
    unsure |= sqd < 1e-6  # within 1e-3 rad of the face centre: azimuth ill-conditioned
    half = sqd / 2.0
    tan_r = np.sqrt(half * (2.0 - half)) / (1.0 - half)
    cflat, sflat = _FACE_TRIG[face, 0], _FACE_TRIG[face, 1]
    cflng, sflng = _FACE_TRIG[face, 2], _FACE_TRIG[face, 3]
    cdl = clng * cflng + slng * sflng  # cos(lng - face lng)
    sdl = slng * cflng - clng * sflng
    ay = clat * sdl
    ax = cflat * slat - sflat * clat * cdl
    hyp = np.maximum(np.hypot(ax, ay), 1e-300)
    ca0, sa0 = _FACE_TRIG[face, 4 + 2 * (res % 2)], _FACE_TRIG[face, 5 + 2 * (res % 2)]
    scale = tan_r * (_SQRT7**res / _RES0_U_GNOMONIC) / hyp
    x = (ca0 * ax + sa0 * ay) * scale  # tan r · cos(az0 - az)
    y = (sa0 * ax - ca0 * ay) * scale  # tan r · sin(az0 - az)
    # Lattice basis: i-axis (1, 0), j-axis (-1/2, sqrt(3)/2); hexagons are its Voronoi cells.
    # The nearest lattice point is a corner of the triangle holding the point: the rhombus
    # (m0, n0)..(m0+1, n0+1) splits along its short diagonal (0,0)-(1,1).
    jf = y / _SQRT3_2
    fi = x + jf / 2.0
    m0, n0 = np.floor(fi), np.floor(jf)
    upper = (jf - n0) > (fi - m0)  # third corner is (0, 1) rather than (1, 0)
    cand_m = np.stack([m0, m0 + 1.0, m0 + 1.0 - upper])
    cand_n = np.stack([n0, n0 + 1.0, n0 + upper])
    d2 = (x - (cand_m - cand_n / 2.0)) ** 2 + (y - cand_n * _SQRT3_2) ** 2
    a, b, c = d2
    first = np.minimum(np.minimum(a, b), c)
    second = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    unsure |= second - first < 2.0 * _MARGIN
    pick_b, pick_c = b == first, c == first
    m = np.where(pick_c, cand_m[2], np.where(pick_b, cand_m[1], m0)).astype(np.int64)
    n = np.where(pick_c, cand_n[2], np.where(pick_b, cand_n[1], n0)).astype(np.int64)
    m += _LATTICE_OFFSET
    n += _LATTICE_OFFSET
    key = (np.asarray(face, dtype=np.int64) << 56) | (m << 28) | n
    return key, unsure


def _group(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group id of each lattice key and one member index per group.

    When the keys span a compact (face, m, n) box — any city — groups come from a dense
    bincount over the box instead of sorting the keys, which is several times faster."""
    face = key >> 56
    m = (key >> 28) & ((1 << 28) - 1)
    n = key & ((1 << 28) - 1)
    present = np.flatnonzero(np.bincount(face, minlength=20))
    m0, n0 = int(m.min()), int(n.min())
    mr, nr = int(m.max()) - m0 + 1, int(n.max()) - n0 + 1
    size = present.size * mr * nr
    if size > max(8 * key.size, 1 << 20) or size > 1 << 27:
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        return inv.ravel(), first
    fmap = np.zeros(20, dtype=np.int64)
    fmap[present] = np.arange(present.size)
    idx = (fmap[face] * mr + (m - m0)) * nr + (n - n0)
    occupied = np.bincount(idx, minlength=size) > 0
    table = np.cumsum(occupied) - 1
    inv = table[idx]
    first = np.empty(int(occupied.sum()), dtype=np.int64)
    first[inv] = np.arange(key.size)  # any member will do: all are well inside the hexagon
    return inv, first


def h3_bin(lon: np.ndarray, lat: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct H3 cells (int64) of the points, and each point's index into them.

    ``cells[inverse]`` equals ``h3.latlng_to_cell`` of every point exactly."""
    res = int(resolution)
    if lon.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    # Compiled (geo.grid.h3lattice_jit): the same keys as _hex_lattice, grouped in one pass.
    from geo.grid import h3lattice_jit  # numba loads on first use (see geo.placement.placer)

    dense, a, b = h3lattice_jit.lattice_groups(
        lon,
        lat,
        res,
        candidate_faces(lon, lat),
        _FACE_XYZ,
        _FACE_TRIG,
        _SQRT7**res / _RES0_U_GNOMONIC,
        _MARGIN,
        min(max(8 * lon.size, 1 << 20), 1 << 27),
    )
    if dense:
        inv, first = a, b
    else:
        key, unsure = a, b
        sure = np.flatnonzero(~unsure)
        odd = np.flatnonzero(unsure)  # each its own group, decided by H3 itself
        inv = np.empty(lon.size, dtype=np.int64)
        first = np.empty(0, dtype=np.int64)
        if sure.size:
            g_inv, g_first = _group(key[sure] if odd.size else key)
            inv[sure] = g_inv
            first = sure[g_first]
        inv[odd] = first.size + np.arange(odd.size)
        first = np.concatenate([first, odd])
    la_l, lo_l = lat[first].tolist(), lon[first].tolist()
    ids = np.fromiter(
        (h3i.latlng_to_cell(a, b, res) for a, b in zip(la_l, lo_l, strict=True)),
        dtype=np.int64,
        count=first.size,
    )
    cells, cell_of_group = np.unique(ids, return_inverse=True)
    return cells, cell_of_group.ravel()[inv]


def lattice_keys(
    lon: np.ndarray, lat: np.ndarray, res: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(face, m, n) lattice key of each point at ``res``, whether it is too close to call,
    and its angular distance (radians, lower bound) to the nearest icosahedron face edge."""
    la, lo = np.radians(lat), np.radians(lon)
    key, unsure = _hex_lattice(la, lo, res, candidate_faces(lon, lat))
    p = np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
    dots = np.sort(np.einsum("ij,kj->ik", p, _FACE_XYZ), axis=1)
    return key, unsure, (dots[:, -1] - dots[:, -2]) / 2.0  # the chord between faces is < 2


def shift_keys(key: np.ndarray, dm: int, dn: int) -> np.ndarray:
    """Lattice keys moved by (dm, dn) on the same face."""
    return key + ((dm << 28) + dn)


def lattice_centres(key: np.ndarray, res: int) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat degrees of lattice hexagon centres (inverse gnomonic projection)."""
    face = key >> 56
    m = ((key >> 28) & ((1 << 28) - 1)) - _LATTICE_OFFSET
    n = (key & ((1 << 28) - 1)) - _LATTICE_OFFSET
    x, y = m - n / 2.0, n * _SQRT3_2
    r = np.arctan(np.hypot(x, y) / _SQRT7**res * _RES0_U_GNOMONIC)
    theta = np.arctan2(y, x)
    if res % 2 == 1:
        theta = _pos_angle(theta + _AP7_ROT_RADS)
    az = _pos_angle(_FACE_AZ0[face] - theta)
    lat1, lng1 = _FACE_LATLNG[face, 0], _FACE_LATLNG[face, 1]
    lat = np.arcsin(
        np.clip(np.sin(lat1) * np.cos(r) + np.cos(lat1) * np.sin(r) * np.cos(az), -1, 1)
    )
    dlng = np.arctan2(np.sin(az) * np.sin(r) * np.cos(lat1), np.cos(r) - np.sin(lat1) * np.sin(lat))
    lng = np.mod(lng1 + dlng + np.pi, 2 * np.pi) - np.pi
    return np.degrees(lng), np.degrees(lat)


def h3_cells_slow(lon: np.ndarray, lat: np.ndarray, resolution: int) -> np.ndarray:
    """Reference implementation: one ``h3.latlng_to_cell`` call per point (for tests)."""
    return np.fromiter(
        (
            h3i.latlng_to_cell(a, b, resolution)
            for a, b in zip(lat.tolist(), lon.tolist(), strict=True)
        ),
        dtype=np.int64,
        count=lon.size,
    )
