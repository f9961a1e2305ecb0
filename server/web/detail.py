"""An incident as the map's detail dialog shows it: Lima time, values and names in the
page's language, who recorded it, people as rows. Personal data is added by the caller
only where the role allows it (``server.web.records``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.web.i18n import PEOPLE_GROUPS, PERSON_ROLES, STATUSES, category_name, label
from sync import rfc3339
from sync.store.base import Store
from sync.store.records import StoredRecord

PEOPLE_KEYS = ("victims", "witnesses", "suspects")


def local_time(value: Any, offset_s: int) -> str | None:
    """An RFC 3339 instant as ``dd/mm/yyyy HH:MM`` at ``offset_s`` from UTC (Lima: -5 h)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        at = rfc3339.instant(value)  # "t" and "z" too, which fromisoformat refuses
    except ValueError:
        return value  # shown as it was written rather than hidden
    local = at.astimezone(dt.timezone(dt.timedelta(seconds=offset_s)))
    return local.strftime("%d/%m/%Y %H:%M")


async def boundary_names(app_state: Any, store: Store, layer: str) -> dict[str, str]:
    """Code -> name of a boundary layer, kept by the app like the map's base layers."""
    cache = app_state.__dict__.setdefault("web_boundary_names", {})
    if layer not in cache:
        cache[layer] = {b.code: b.name for b in await store.boundaries(layer)}
    return dict(cache[layer])


async def readable(
    app_state: Any, store: Store, found: StoredRecord, lang: str, offset_s: int
) -> dict[str, Any]:
    """The facts of ``found`` with names instead of codes and values in ``lang``."""
    fields = found.doc.get("fields", {}) or {}
    derived = found.doc.get("derived", {}) or {}
    districts = await boundary_names(app_state, store, "districts")
    sectors = await boundary_names(app_state, store, "sectors")
    stations = {s.id: s.name for s in await store.list_stations()}
    officer = await store.get_officer(found.author_officer)
    devices = {d.id: d.name for d in await store.list_devices(found.author_officer)}
    district = derived.get("district")
    sector = derived.get("sector")
    status = fields.get("status")
    return {
        "category": category_name(lang, str(fields.get("category", ""))) or None,
        "occurred": local_time(fields.get("occurred_at"), offset_s),
        "status": label(STATUSES, lang, str(status)) if status else None,
        "address": fields.get("address_text") or None,
        "district": districts.get(str(district), district) if district else None,
        "sector": sectors.get(str(sector), sector) if sector else None,
        "station": stations.get(found.station_id, found.station_id),
        "recorded_by": {
            "officer_id": found.author_officer,
            "officer_name": officer.name if officer else None,
            "device_id": found.author_device,
            "device_name": devices.get(found.author_device),
        },
    }


def people_rows(pii: dict[str, Any], lang: str) -> list[dict[str, str]]:
    """Victims, witnesses and suspects as table rows (group, name, id number, capacity)."""
    rows = []
    for key in PEOPLE_KEYS:
        for person in pii.get(key) or []:
            if not isinstance(person, dict):
                continue
            role = str(person.get("role") or "")
            rows.append(
                {
                    "group": label(PEOPLE_GROUPS, lang, key),
                    "name": str(person.get("name") or ""),
                    "dni": str(person.get("dni") or ""),
                    "role": label(PERSON_ROLES, lang, role) if role else "",
                }
            )
    return rows
