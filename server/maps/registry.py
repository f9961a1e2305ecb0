"""The map layers: their ids, titles, geometry, who may see them and their fields.

No layer carries personal data: incident points have id, category, occurrence time,
district and sector only, and the public layer only the district totals ``/public``
publishes (its rules, docs/public.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sync.errors import NotFound

Access = Literal["scoped", "public"]
Scope = tuple[str, ...] | None  # the stations a caller may see (None: all)


@dataclass(frozen=True, slots=True)
class LayerDef:
    id: str
    title: str
    description: str
    geometry: Literal["point", "line", "polygon"]
    access: Access
    depends: tuple[str, ...]  # data groups: incidents, tracks, boundaries
    fields: dict[str, str]  # name -> JSON type (string, number, integer, boolean)
    minzoom: int = 0
    maxzoom: int = 18


INCIDENT_FIELDS = {"id": "string", "category": "string", "occurred_at": "string"}
INCIDENT_FIELDS |= {"district": "string", "sector": "string"}
LAYERS: dict[str, LayerDef] = {
    d.id: d
    for d in (
        LayerDef(
            "incidents",
            "Incidents",
            "Placed incidents in your jurisdiction (no personal "
            "data); grid clusters with point_count below the raw-points zoom.",
            "point",
            "scoped",
            ("incidents",),
            {**INCIDENT_FIELDS, "point_count": "integer"},
        ),
        LayerDef(
            "hotspots",
            "Hotspot cells",
            "Getis-Ord Gi* with FDR on H3 cells: gi_bin +3..-3 (99/95/90 % hot or cold).",
            "polygon",
            "scoped",
            ("incidents",),
            {
                "cell": "string",
                "count": "integer",
                "z": "number",
                "p_fdr": "number",
                "gi_bin": "integer",
            },
        ),
        LayerDef(
            "density",
            "Kernel density",
            "Quartic kernel density (incidents per km²) "
            "on a 200 m grid (cells over 10 % of the maximum); class 1..5 by fifths.",
            "polygon",
            "scoped",
            ("incidents",),
            {"density": "number", "class": "integer"},
        ),
        LayerDef(
            "districts",
            "Districts",
            "Districts with the incidents you may see and their rate per 10,000 residents.",
            "polygon",
            "scoped",
            ("incidents", "boundaries"),
            {
                "code": "string",
                "name": "string",
                "population": "integer",
                "count": "integer",
                "rate_per_10k": "number",
            },
        ),
        LayerDef(
            "stations",
            "Police stations",
            "Comisarías.",
            "point",
            "public",
            ("boundaries",),
            {"code": "string", "name": "string", "district_code": "string"},
        ),
        LayerDef(
            "sectors",
            "Patrol sectors",
            "Patrol sectors of your stations.",
            "polygon",
            "scoped",
            ("boundaries",),
            {"code": "string", "name": "string", "station_code": "string"},
        ),
        LayerDef(
            "streets",
            "Streets",
            "Named streets, one line per street: around your stations' areas (about 1 km "
            "beyond them) for a station's officers, the whole city for all-station roles.",
            "line",
            "scoped",
            ("boundaries",),
            {"code": "string", "name": "string", "type": "string", "district_code": "string"},
            minzoom=12,
        ),
        LayerDef(
            "tracks",
            "Patrol tracks",
            "Patrol positions as lines per device and shift.",
            "line",
            "scoped",
            ("tracks",),
            {
                "id": "string",
                "device_id": "string",
                "officer_id": "string",
                "station_id": "string",
                "start": "string",
                "end": "string",
                "points": "integer",
            },
        ),
        LayerDef(
            "public",
            "Public district counts",
            "Incidents per district in the latest published month, under the publication "
            "rules of /public (docs/public.md): the time and category filters do not apply.",
            "polygon",
            "public",
            ("incidents", "boundaries"),
            {
                "code": "string",
                "name": "string",
                "month": "string",
                "count": "integer",
                "suppressed": "boolean",
                "rate_per_10k": "number",
            },
        ),
    )
}


def layer_or_404(layer_id: str) -> LayerDef:
    found = LAYERS.get(layer_id)
    if found is None:
        raise NotFound("no such layer", {"layer": layer_id, "layers": sorted(LAYERS)})
    return found
