"""Offline geocoder for Peruvian address text.

``Geocoder.from_layers(streets, districts, ...)`` (or ``from_city(city)``), then
``geocoder.geocode("Jr. Huallaga cdra. 5, Breña", station="st-150105-1")`` returns a
:class:`GeocodeResult`: a point or None, a quality in ``exact / interpolated / block / street /
district / failed``, a confidence in [0, 1] and the matched components.

Search scope: the district named in the text, else the district of the reporting station
(``station=``) or the ``district=`` argument, else the whole city. A name that is only found
outside the scope, or in several districts at once, loses confidence: a wrong confident answer
is worse than none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geo.boundaries import M_PER_DEG_LAT

# the modules, not functions of theirs: ``geo.geocode.normalise`` must stay the module
from geo.geocode import address, normalise
from geo.geocode.gazetteer import Gazetteer
from geo.geocode.match import Match, best_match, name_confidence
from geo.geocode.parse import Parsed, parse_all
from geo.geocode.result import FAILED, QUALITIES, SOURCES, Answer, GeocodeResult
from geo.geocode.reverse import interpolate, reverse_lookup
from geo.geocode.scope import split_district
from geo.placement.fix import FixAssessment, assess_fix

__all__ = [
    "QUALITIES",
    "SOURCES",
    "FixAssessment",
    "GeocodeResult",
    "Geocoder",
    "assess_fix",
]

INFERRED_CUADRA_CAP = 0.5  # cuadras counted by the numbering rule, not from data
CROSSING_SPREAD_M = 80.0  # common points of two streets closer than this are one crossing
OUT_OF_SCOPE = 0.7  # confidence factor for a match found only outside the expected district
UNNAMED_MZLT = 0.45  # "Mz. B Lt. 12" alone, one such lote in the district: shown, not placed
UNNAMED_MZLT_CITY = 0.3  # the same with no district known, one such lote in the whole city


class Geocoder:
    """Geocodes address text against a :class:`~geo.geocode.gazetteer.Gazetteer`."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gaz = gazetteer

    @classmethod
    def from_layers(cls, streets: Any, districts: Any, **layers: Any) -> Geocoder:
        """Build from GeoDataFrames; ``layers``: lotes, aa_hh, landmarks, stations, aliases."""
        return cls(Gazetteer.build(streets, districts, **layers))

    @classmethod
    def from_city(cls, city: Any) -> Geocoder:
        """Build from a :class:`fixtures.city.City` (or anything with the same attributes)."""
        return cls.from_layers(
            city.streets,
            city.districts,
            lotes=city.lotes,
            aa_hh=city.aa_hh,
            landmarks=city.landmarks,
            stations=city.stations,
        )

    def geocode(
        self, text: str, *, district: str | None = None, station: str | None = None
    ) -> GeocodeResult:
        """Geocode one address; ``district``/``station`` give the reporting context."""
        toks = normalise.normalise(text or "").split()
        context = district or self.gaz.station_district.get(station or "")
        best = FAILED
        for code, rest, _ in split_district(self.gaz, toks):
            scope = code or context
            for parsed in parse_all(rest):
                ans = self._dispatch(parsed, scope)
                if code is not None and ans.quality == "failed":
                    ans = self._district_only(code)  # at least the district the text names
                if ans.confidence > best.confidence or (best is FAILED and ans.quality != "failed"):
                    best = ans
        return self._result(text, best)

    def _result(self, text: str, ans: Answer) -> GeocodeResult:
        if ans.xy is None:
            return GeocodeResult(text, None, None, "failed", 0.0, ans.components)
        m = self.gaz.metric  # m.inverse's arithmetic on two floats (numpy costs more here)
        lon, lat = float(ans.xy[0]) / m.kx + m.lon0, float(ans.xy[1]) / M_PER_DEG_LAT + m.lat0
        return GeocodeResult(
            text,
            round(float(lon), 7),
            round(float(lat), 7),
            ans.quality,
            round(float(ans.confidence), 3),
            ans.components,
        )

    def reverse(
        self, lon: float, lat: float, max_distance_m: float = 150.0
    ) -> dict[str, Any] | None:
        """Nearest street segment, the house number there, and the district (or None)."""
        return reverse_lookup(self.gaz, lon, lat, max_distance_m)

    # -- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, p: Parsed, scope: str | None) -> Answer:
        if p.kind in ("number", "block", "street"):
            return self._street(p, scope)
        if p.kind == "intersection":
            return self._intersection(p, scope)
        if p.kind == "mzlt":
            return self._mzlt(p, scope)
        if p.kind == "landmark":
            return self._landmark(p, scope)
        return FAILED

    def _district_only(self, code: str) -> Answer:
        d = self.gaz.districts[code]
        comp = {"district_code": code, "district": d["name"], "source": "district"}
        return Answer(d["xy"], "district", 0.3, comp)

    def _search(
        self, table: dict[str | None, dict[str, list[int]]], query: str | None, scope: str | None
    ) -> tuple[list[Match], float]:
        """Matches in scope, else city-wide with a confidence factor."""
        if not query:
            return [], 0.0
        local = best_match(query, table.get(scope, {})) if scope else []
        if local and local[0].score >= 90:
            return local, 1.0
        wide = best_match(query, table[None])
        if local and (not wide or local[0].score >= wide[0].score - 3):
            return local, 1.0
        return wide, (OUT_OF_SCOPE if scope else 1.0)

    def _districts_of(self, entries: list[int], kind: str) -> set[str | None]:
        if kind == "street":
            return {self.gaz.streets[e].district for e in entries}
        places = self.gaz.aahh if kind == "aahh" else self.gaz.landmarks
        return {places[e]["district"] for e in entries}

    # -- forms ----------------------------------------------------------------------------

    def _street(self, p: Parsed, scope: str | None) -> Answer:
        matches, factor = self._search(self.gaz.street_keys, p.street, scope)
        if not matches:
            return FAILED
        m = matches[0]
        entries = self._prefer_type(m.entries, p.street_type)
        conf = name_confidence(m.score, m.margin) * factor
        if p.kind == "number" and p.number is not None:
            found = self._from_addresses(entries, p, conf)
            if found is not None:
                return found
            hits = [(e, s) for e in entries if (s := self._segment_for(e, p.number)) is not None]
            hits = self._typed(hits, p.street_type)
            if hits:
                e, seg = hits[0]
                conf *= (1.0 if len(hits) == 1 else 0.4) * self._type_factor(e, p.street_type)
                if self._inferred(seg):  # the cuadra is a guess from the numbering rule
                    comp = self._comp(e, seg, number=p.number, source="cuadra")
                    comp["block"] = p.number // 100
                    conf = min(conf, INFERRED_CUADRA_CAP)
                    return Answer(self._midpoint(seg), "block", conf, comp)
                xy = interpolate(self.gaz, seg, p.number)
                comp = self._comp(e, seg, number=p.number, source="interpolation")
                return Answer(xy, "interpolated", conf, comp)
        if p.kind == "block" and p.block is not None:
            hits = [
                (e, s)
                for e in entries
                if (s := self._segment_for(e, p.block * 100, any_side=True)) is not None
            ]
            hits = self._typed(hits, p.street_type)
            if hits:
                e, seg = hits[0]
                conf *= (0.97 if len(hits) == 1 else 0.4) * self._type_factor(e, p.street_type)
                if self._inferred(seg):
                    conf = min(conf, INFERRED_CUADRA_CAP)
                comp = self._comp(e, seg, block=p.block, source="cuadra")
                return Answer(self._midpoint(seg), "block", conf, comp)
        e = entries[0]
        street = self.gaz.streets[e]
        seg = int(street.segs[len(street.segs) // 2])
        cap = 0.35 if (p.number is not None or p.block is not None) else 0.5
        conf *= (1.0 if len(entries) == 1 else 0.5) * self._type_factor(e, p.street_type)
        conf = min(conf, cap)
        return Answer(self._midpoint(seg), "street", conf, self._comp(e, seg, source="street"))

    def _inferred(self, seg: int) -> bool:
        inferred = self.gaz.seg_inferred
        return bool(len(inferred) and inferred[seg])

    def _from_addresses(self, entries: list[int], p: Parsed, conf: float) -> Answer | None:
        """The number from the street's address points: exact, else between its neighbours."""
        if not self.gaz.addr_model or p.number is None:
            return None
        suffix = p.extra[0] if p.extra and len(p.extra[0]) == 1 and p.extra[0].isalpha() else ""
        exact = [
            (e, xy)
            for e in entries
            if (xy := address.exact(self.gaz, e, p.number, suffix)) is not None
        ]
        if exact:
            e, xy = exact[0]
            conf *= (1.0 if len(exact) == 1 else 0.4) * self._type_factor(e, p.street_type)
            comp = self._comp(e, None, number=p.number, source="address_point")
            return Answer(xy, "exact", conf, comp)
        hits = [
            (e, hit) for e in entries if (hit := address.between(self.gaz, e, p.number)) is not None
        ]
        if not hits:
            return None
        e, hit = hits[0]
        conf *= hit.factor * (1.0 if len(hits) == 1 else 0.4) * self._type_factor(e, p.street_type)
        comp = self._comp(e, None, number=p.number, source="interpolation")
        comp["between"] = list(hit.neighbours)
        return Answer(hit.xy, "interpolated", conf, comp)

    def _typed(self, hits: list[tuple[int, int]], stype: str | None) -> list[tuple[int, int]]:
        """Keep hits of the typed street type if there are any ("Jr. Tacna" vs "Av. Tacna")."""
        same = [h for h in hits if stype is not None and self.gaz.streets[h[0]].stype == stype]
        return same or hits

    def _type_factor(self, entry: int, stype: str | None) -> float:
        """A typed street type that differs from the street's own costs some confidence."""
        own = self.gaz.streets[entry].stype
        return 0.9 if stype is not None and own is not None and own != stype else 1.0

    def _prefer_type(self, entries: list[int], stype: str | None) -> list[int]:
        if stype is None:
            return entries
        same = [e for e in entries if self.gaz.streets[e].stype == stype]
        return same + [e for e in entries if e not in same]

    def _segment_for(self, entry: int, number: int, any_side: bool = False) -> int | None:
        """The segment of ``entry`` whose range holds ``number`` (a cuadra if ``any_side``)."""
        odd = number % 2 == 1
        for seg in self.gaz.streets[entry].seg_list:
            fl, tl, fr, tr = self.gaz.ranges[seg]
            if any_side:
                if number // 100 == min(fl, fr) // 100 or fl <= number <= tl or fr <= number <= tr:
                    return seg
            elif (fl <= number <= tl) if odd else (fr <= number <= tr):
                return seg
        return None

    def _midpoint(self, seg: int) -> tuple[float, float]:
        g = self.gaz
        return ((g.x0[seg] + g.x1[seg]) / 2, (g.y0[seg] + g.y1[seg]) / 2)

    def _comp(self, entry: int, seg: int | None, **extra: Any) -> dict[str, Any]:
        st = self.gaz.streets[entry]
        d = self.gaz.districts.get(st.district or "", {})
        return {
            "street": st.label,
            "street_type": st.stype,
            "district_code": st.district,
            "district": d.get("name"),
            "segment": None if seg is None else self.gaz.seg_code[seg],
            **extra,
        }

    def _intersection(self, p: Parsed, scope: str | None) -> Answer:
        ma, fa = self._search(self.gaz.street_keys, p.street, scope)
        mb, fb = self._search(self.gaz.street_keys, p.street2, scope)
        found = []
        for a in ma[:3]:
            for b in mb[:3]:
                for ea in a.entries:
                    for eb in b.entries:
                        sa, sb = self.gaz.streets[ea], self.gaz.streets[eb]
                        common = (
                            sa.nodes & sb.nodes
                            if ea != eb and sa.district == sb.district
                            else set()
                        )
                        if common:
                            conf = min(
                                name_confidence(a.score, a.margin),
                                name_confidence(b.score, b.margin),
                            )
                            node, single = _crossing(common)
                            if not single:  # the two streets meet at places far apart
                                conf *= 0.4
                            found.append((a.score + b.score, conf * min(fa, fb), ea, eb, node))
        if not found:
            return FAILED
        found.sort(key=lambda f: -f[0])
        total, conf, ea, eb, node = found[0]
        rivals = {
            f[4]
            for f in found
            if f[0] >= total - 4
            and np.hypot(f[4][0] - node[0], f[4][1] - node[1]) > CROSSING_SPREAD_M
        }
        if rivals:
            conf *= 0.4
        comp = {
            **self._comp(ea, None, source="intersection"),
            "cross_street": self.gaz.streets[eb].label,
        }
        comp.pop("segment")
        return Answer(node, "exact", conf, comp)

    def _mzlt(self, p: Parsed, scope: str | None) -> Answer:
        if p.aahh is None and p.mz is not None:
            return self._mzlt_unnamed(p, scope)
        matches, factor = self._search(self.gaz.aahh_keys, p.aahh, scope)
        if not matches:
            return FAILED
        m = matches[0]
        conf = name_confidence(m.score, m.margin) * factor * (1.0 if len(m.entries) == 1 else 0.4)
        k = m.entries[0]
        if len(m.entries) > 1 and p.mz is not None:  # one name, several places: the one
            having = [e for e in m.entries if self._has_mzlt(e, p)]  # with that lote, if any
            k = having[0] if having else k
        area = self.gaz.aahh[k]
        comp = self._area_comp(k, p)
        if p.mz is not None and p.lt is not None and (k, p.mz, p.lt) in self.gaz.lotes:
            comp["source"] = "lote"
            return Answer(self.gaz.lotes[(k, p.mz, p.lt)], "exact", conf, comp)
        if p.mz is not None and (k, p.mz) in self.gaz.manzanas:
            comp["source"] = "manzana"
            return Answer(self.gaz.manzanas[(k, p.mz)], "block", min(conf, 0.5), comp)
        comp["source"] = "aa_hh"
        return Answer(area["xy"], "street", min(conf, 0.3), comp)

    def _area_comp(self, k: int, p: Parsed) -> dict[str, Any]:
        """Components of an answer in AA.HH. ``k`` (its manzana and lote as the text gave)."""
        area = self.gaz.aahh[k]
        return {
            "aa_hh": area["name"],
            "aa_hh_code": area["code"],
            "district_code": area["district"],
            "mz": p.mz,
            "lt": p.lt,
        }

    def _has_mzlt(self, entry: int, p: Parsed) -> bool:
        if p.lt is not None:
            return (entry, p.mz, p.lt) in self.gaz.lotes
        return (entry, p.mz) in self.gaz.manzanas

    def _mzlt_unnamed(self, p: Parsed, scope: str | None) -> Answer:
        """ "Mz. B Lt. 12" naming no AA.HH.: the one settlement of the district in scope that
        has that lote (or manzana); never confident, since the text does not say which."""
        has = self.gaz.lotes if p.lt is not None else self.gaz.manzanas
        wanted = (p.mz, p.lt) if p.lt is not None else (p.mz,)
        found = [k for k in range(len(self.gaz.aahh)) if (k, *wanted) in has]
        local = [k for k in found if scope is not None and self.gaz.aahh[k]["district"] == scope]
        if len(local) == 1:
            k, conf = local[0], UNNAMED_MZLT
        elif scope is None and len(found) == 1:
            k, conf = found[0], UNNAMED_MZLT_CITY
        else:
            return FAILED
        comp = {**self._area_comp(k, p), "source": "lote" if p.lt is not None else "manzana"}
        quality = "exact" if p.lt is not None else "block"
        return Answer(has[(k, *wanted)], quality, conf, comp)

    def _landmark(self, p: Parsed, scope: str | None) -> Answer:
        query = f"{p.landmark_kind} {p.landmark or ''}".strip()
        matches, factor = self._search(self.gaz.landmark_keys, query, scope)
        matches = [m for m in matches if m.key.split(" ", 1)[0] == p.landmark_kind]
        if not matches:
            return FAILED
        m = matches[0]
        conf = name_confidence(m.score, m.margin) * factor * (1.0 if len(m.entries) == 1 else 0.4)
        lm = self.gaz.landmarks[m.entries[0]]
        comp = {"landmark": lm["label"], "district_code": lm["district"], "source": "landmark"}
        return Answer(lm["xy"], "exact", conf, comp)


def _crossing(common: set[tuple[int, int]]) -> tuple[tuple[float, float], bool]:
    """The crossing of two streets from their common nodes (half-metre keys): the centre of
    the nodes, and whether they form one crossing (the two carriageways of an avenue meet a
    street at two or four nodes a few metres apart) rather than places far apart."""
    pts = np.array(sorted(common), dtype=float) / 2
    if len(pts) == 1:
        return (float(pts[0, 0]), float(pts[0, 1])), True
    centre = pts.mean(axis=0)
    spread = float(np.hypot(*(pts - centre).T).max())
    if spread <= CROSSING_SPREAD_M / 2:
        return (float(centre[0]), float(centre[1])), True
    return (float(pts[0, 0]), float(pts[0, 1])), False
