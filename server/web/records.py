"""Incident detail (personal data only where the role allows, each view audited) and exports
of what the map shows (audited)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import tempfile
import uuid
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from server.attachment_service import refs_of, service
from server.context import ctx
from server.errors import ExportTooLarge
from server.routes.common import json_response
from server.web import export_media
from server.web.detail import people_rows, readable
from server.web.detail_media import media
from server.web.filters import MAP_ROLES, MapView, map_view
from server.web.render import page_language
from server.web.sessions import require_web
from sync.clock import now_ms
from sync.errors import Forbidden, NotFound
from sync.free_text import fields_without_free_text
from sync.store.records import AuditEvent

EXPORT_COLUMNS = ("id", "station_id", "category", "occurred_s", "lon", "lat", "district", "sector")


async def incident(request: Request) -> Response:
    """One incident for the map's pop-up; ``pii`` only for the roles that may see it."""
    c = ctx(request)
    user = await require_web(request, *MAP_ROLES)
    scope = c.engine.scope(user.who)
    record_id = request.path_params["record_id"]
    found = await c.store.record("incidents", record_id)
    if found is None or found.deleted:
        raise NotFound("no such incident", {"id": record_id[:64]})
    if scope.station_ids is not None and found.station_id not in scope.station_ids:
        raise Forbidden("this incident is outside your jurisdiction")
    pii_allowed = scope.reads_pii_of(found.author_officer)
    lang = page_language(request)
    offset = c.settings.public.utc_offset_minutes * 60
    fields = found.doc.get("fields", {})
    body: dict[str, Any] = {
        "id": found.id,
        "station_id": found.station_id,
        "fields": fields if scope.pii != "none" else fields_without_free_text(fields),
        "derived": found.doc.get("derived", {}),
        "readable": await readable(request.app.state, c.store, found, lang, offset),
        "pii_allowed": pii_allowed,
    }
    if refs_of(found):  # the blob store is only touched (or made) for records naming files
        body["media"] = await media(service(request).index, found, pii_allowed, lang, offset)
    if pii_allowed and found.pii:
        body["pii"] = found.pii
        body["people"] = people_rows(found.pii, lang)
        await c.store.add_audit(
            AuditEvent(now_ms(), user.who.officer_id, "view_pii", found.id, {"via": "map"})
        )
    return json_response(body, headers={"Cache-Control": "private, no-store"})


def _iso(seconds: np.ndarray) -> list[str]:
    return [
        dt.datetime.fromtimestamp(int(s), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for s in seconds.tolist()
    ]


def _export_details(view: MapView, cols: dict[str, Any]) -> dict[str, Any]:
    q = view.query
    return {
        "count": int(cols["id"].size),
        "since": view.since.isoformat(),
        "until": view.until.isoformat(),
        "categories": list(q.categories or ()),
        "bbox": list(q.bbox) if q.bbox else None,
    }


async def _export_rows(request: Request, kind: str) -> tuple[MapView, dict[str, Any]]:
    view = await map_view(request)
    cols = await ctx(request).store.points(view.query, EXPORT_COLUMNS)
    details = _export_details(view, cols)
    await ctx(request).store.add_audit(
        AuditEvent(now_ms(), view.user.who.officer_id, "export", f"incidents.{kind}", details)
    )
    return view, cols


def _filename(view: MapView, ext: str) -> str:
    return f"ronda-incidentes-{view.since.isoformat()}-{view.until.isoformat()}.{ext}"


async def export_csv(request: Request) -> Response:
    view, cols = await _export_rows(request, "csv")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["id", "station_id", "category", "occurred_at", "lon", "lat", "district", "sector"]
    )
    for row in zip(
        cols["id"].tolist(),
        cols["station_id"].tolist(),
        cols["category"].tolist(),
        _iso(cols["occurred_s"]),
        cols["lon"].round(6).tolist(),
        cols["lat"].round(6).tolist(),
        cols["district"].tolist(),
        cols["sector"].tolist(),
        strict=True,
    ):
        writer.writerow(["" if v is None else v for v in row])
    headers = {
        "Content-Disposition": f'attachment; filename="{_filename(view, "csv")}"',
        "Cache-Control": "private, no-store",
    }
    return Response(out.getvalue(), headers=headers, media_type="text/csv")


def _gpkg_bytes(cols: dict[str, Any]) -> bytes:
    frame = gpd.GeoDataFrame(
        {
            "id": cols["id"],
            "station_id": cols["station_id"],
            "category": cols["category"],
            "occurred_at": _iso(cols["occurred_s"]),
            "district": cols["district"],
            "sector": cols["sector"],
        },
        geometry=shapely.points(cols["lon"], cols["lat"]),
        crs="EPSG:4326",
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "incidents.gpkg"
        frame.to_file(path, layer="incidents", driver="GPKG")
        return path.read_bytes()


async def export_gpkg(request: Request) -> Response:
    view, cols = await _export_rows(request, "gpkg")
    data = await asyncio.to_thread(_gpkg_bytes, cols)
    headers = {
        "Content-Disposition": f'attachment; filename="{_filename(view, "gpkg")}"',
        "Cache-Control": "private, no-store",
    }
    return Response(data, headers=headers, media_type="application/geopackage+sqlite3")


async def export_zip(request: Request) -> Response:
    """The GeoPackage, the attachments this role may have, a manifest of hashes (one zip;
    server/web/export_media.py). Audited once the zip is made, naming every file in it."""
    c = ctx(request)
    view = await map_view(request)
    cols = await c.store.points(view.query, EXPORT_COLUMNS)
    svc = service(request)
    files = await export_media.entries(
        c.store, svc, c.engine.scope(view.user.who), cols["id"].tolist()
    )
    planned = export_media.planned_bytes(files)
    if planned > svc.settings.max_export_bytes:  # said before any work, as far as known
        raise ExportTooLarge(planned, svc.settings.max_export_bytes)
    gpkg = await asyncio.to_thread(_gpkg_bytes, cols)
    folder = svc.blobs.root / "exports"
    folder.mkdir(exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.zip"
    try:
        await svc.run(export_media.write_zip, path, gpkg, files, svc)
        for sha in {e.record_sha256 for e in files if e.status == "tampered"}:
            meta = await svc.index.get(sha)
            if meta is not None and meta.quarantined_ms is None:
                await svc.index.quarantined(sha, now_ms())
        details = {**_export_details(view, cols), **export_media.audit_details(files)}
        await c.store.add_audit(
            AuditEvent(now_ms(), view.user.who.officer_id, "export", "incidents.zip", details)
        )
    except BaseException:
        export_media.remove(path)
        raise
    headers = {
        "Content-Disposition": f'attachment; filename="{_filename(view, "zip")}"',
        "Cache-Control": "private, no-store",
    }
    return FileResponse(
        path,
        media_type="application/zip",
        headers=headers,
        background=BackgroundTask(export_media.remove, path),
    )


routes = [
    Route("/web/data/incident/{record_id}", incident, methods=["GET"]),
    Route("/web/export.zip", export_zip, methods=["GET"]),
    Route("/web/export.csv", export_csv, methods=["GET"]),
    Route("/web/export.gpkg", export_gpkg, methods=["GET"]),
]
