"""The H3 lattice step of :mod:`geo.grid.h3lattice`, compiled: one pass per point instead of
some sixty numpy passes over temporary arrays (placement of a push spent most of its time
there: ~1 s for two million points, against ~0.1 s here).

:func:`lattice_groups` computes, for every point, the same (face, lattice hexagon) key and
"too close to call" flag as ``h3lattice._hex_lattice`` — the same formulas in the same
order, so the results differ from numpy's by float rounding only, far inside the 1e-7
margin that sends doubtful points to H3 itself — and groups the points by key. The caller
asks H3 for one member of each group, so the answer stays exactly H3's.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_LATTICE_OFFSET = 1 << 27


@njit(cache=True, nogil=True)
def _keys(
    lat_deg: np.ndarray,
    lng_deg: np.ndarray,
    res: int,
    faces: np.ndarray,
    face_xyz: np.ndarray,
    face_trig: np.ndarray,
    res_scale: float,
    margin: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = lat_deg.size
    face_of = np.empty(n, dtype=np.int64)
    m_of = np.empty(n, dtype=np.int64)
    n_of = np.empty(n, dtype=np.int64)
    unsure = np.zeros(n, dtype=np.bool_)
    sqrt3_2 = 0.8660254037844386467637231707529361834714
    rad = math.pi / 180.0
    odd = res % 2
    for i in range(n):
        lat = lat_deg[i] * rad
        lng = lng_deg[i] * rad
        clat, slat = math.cos(lat), math.sin(lat)
        clng, slng = math.cos(lng), math.sin(lng)
        px, py, pz = clat * clng, clat * slng, slat
        # closest of the candidate faces; doubtful when another is within 1e-5 in cosine
        # (the faces left out are farther than that everywhere: candidate_faces)
        best, second, face = -2.0, -2.0, faces[0]
        for f in faces:
            d = px * face_xyz[f, 0] + py * face_xyz[f, 1] + pz * face_xyz[f, 2]
            if d > best:
                second, best, face = best, d, f
            elif d > second:
                second = d
        doubt = second > best - 1e-5
        dx, dy, dz = face_xyz[face, 0] - px, face_xyz[face, 1] - py, face_xyz[face, 2] - pz
        sqd = dx * dx + dy * dy + dz * dz
        doubt = doubt or sqd < 1e-6
        half = sqd / 2.0
        tan_r = math.sqrt(half * (2.0 - half)) / (1.0 - half)
        cflat, sflat = face_trig[face, 0], face_trig[face, 1]
        cflng, sflng = face_trig[face, 2], face_trig[face, 3]
        cdl = clng * cflng + slng * sflng
        sdl = slng * cflng - clng * sflng
        ay = clat * sdl
        ax = cflat * slat - sflat * clat * cdl
        hyp = max(math.sqrt(ax * ax + ay * ay), 1e-300)
        ca0, sa0 = face_trig[face, 4 + 2 * odd], face_trig[face, 5 + 2 * odd]
        scale = tan_r * res_scale / hyp
        x = (ca0 * ax + sa0 * ay) * scale
        y = (sa0 * ax - ca0 * ay) * scale
        jf = y / sqrt3_2
        fi = x + jf / 2.0
        m0, n0 = np.floor(fi), np.floor(jf)
        upper = 1.0 if (jf - n0) > (fi - m0) else 0.0
        am, an = m0, n0
        bm, bn = m0 + 1.0, n0 + 1.0
        cm, cn = m0 + 1.0 - upper, n0 + upper
        ex, ey = x - (am - an / 2.0), y - an * sqrt3_2
        a = ex * ex + ey * ey
        ex, ey = x - (bm - bn / 2.0), y - bn * sqrt3_2
        b = ex * ex + ey * ey
        ex, ey = x - (cm - cn / 2.0), y - cn * sqrt3_2
        c = ex * ex + ey * ey
        first = min(min(a, b), c)
        sec = max(min(a, b), min(max(a, b), c))
        doubt = doubt or (sec - first < 2.0 * margin)
        if c == first:
            mm, nn = cm, cn
        elif b == first:
            mm, nn = bm, bn
        else:
            mm, nn = am, an
        face_of[i] = face
        m_of[i] = int(mm) + _LATTICE_OFFSET
        n_of[i] = int(nn) + _LATTICE_OFFSET
        unsure[i] = doubt
    return face_of, m_of, n_of, unsure


@njit(cache=True, nogil=True)
def _dense_groups(
    face_of: np.ndarray, m_of: np.ndarray, n_of: np.ndarray, unsure: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Group id per point (sure points by key, each unsure point alone) and one member
    per group, through a table over the keys' (face, m, n) box; (…, False) when that box
    is larger than ``limit`` cells."""
    n = face_of.size
    m_lo, m_hi, n_lo, n_hi = 1 << 62, -1, 1 << 62, -1
    faces = np.zeros(20, dtype=np.int64)
    for i in range(n):
        if not unsure[i]:
            faces[face_of[i]] = 1
            m_lo, m_hi = min(m_lo, m_of[i]), max(m_hi, m_of[i])
            n_lo, n_hi = min(n_lo, n_of[i]), max(n_hi, n_of[i])
    inv = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    if m_hi < 0:  # no sure point
        groups = 0
    else:
        fmap = np.cumsum(faces) - 1
        mr, nr = m_hi - m_lo + 1, n_hi - n_lo + 1
        size = int(faces.sum()) * mr * nr
        if size > limit:
            return inv, first, False
        table = np.full(size, -1, dtype=np.int64)
        groups = 0
        for i in range(n):
            if unsure[i]:
                continue
            k = (fmap[face_of[i]] * mr + (m_of[i] - m_lo)) * nr + (n_of[i] - n_lo)
            g = table[k]
            if g < 0:
                g = groups
                table[k] = g
                first[g] = i
                groups += 1
            inv[i] = g
    for i in range(n):
        if unsure[i]:
            inv[i] = groups
            first[groups] = i
            groups += 1
    return inv, first[:groups], True


def lattice_groups(
    lon: np.ndarray,
    lat: np.ndarray,
    res: int,
    faces: np.ndarray,
    face_xyz: np.ndarray,
    face_trig: np.ndarray,
    res_scale: float,
    margin: float,
    limit: int,
) -> tuple[bool, np.ndarray, np.ndarray]:
    """``(True, group of each point, one member per group)``; or, when the keys span a box
    of more than ``limit`` cells, ``(False, int64 keys face << 56 | m << 28 | n, unsure)``
    for the caller to group by sorting."""
    face_of, m_of, n_of, unsure = _keys(
        np.ascontiguousarray(lat, dtype=np.float64),
        np.ascontiguousarray(lon, dtype=np.float64),
        int(res),
        np.asarray(faces, dtype=np.int64),
        face_xyz,
        face_trig,
        float(res_scale),
        float(margin),
    )
    inv, first, ok = _dense_groups(face_of, m_of, n_of, unsure, int(limit))
    if ok:
        return True, inv, first
    return False, (face_of << 56) | (m_of << 28) | n_of, unsure
