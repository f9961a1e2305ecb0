"""The analyst's QGIS session, run by Debian's QGIS 3.22 (PyQGIS under /usr/bin/python3).

Not a pytest module: tests/server/test_qgis_desktop.py runs it as a subprocess against a real
server and checks what it prints.  It uses only the standard library and QGIS, as a user's
script would, and does what docs/layers.md tells an analyst to do: a Basic authentication
configuration holding the device token, the OGC API layers, an end-only time filter, the
vector tiles, and a GeoPackage export of the sectors.

Usage: ``python3 qgis_analyst.py CONFIG.json`` (keys: ``url``, ``token``, ``collections``,
``window_end``, ``window_start``, ``gpkg``); prints one JSON object on its last line.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

PROFILE = tempfile.mkdtemp(prefix="ronda-qgis-")
# The credential store lives in the throwaway profile, never in the user's own.
os.environ["QGIS_AUTH_DB_DIR_PATH"] = PROFILE
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402  (the environment above must be set first)
    Qgis,
    QgsApplication,
    QgsAuthMethodConfig,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCoordinateTransformContext,
    QgsDataSourceUri,
    QgsFeatureRequest,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsNetworkAccessManager,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsVectorFileWriter,
    QgsVectorLayer,
    QgsVectorTileLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QEventLoop, QSize, QVariant  # noqa: E402
from qgis.PyQt.QtGui import QColor, qAlpha  # noqa: E402

URLS: list[str] = []


def basic_config(token: str) -> str:
    """docs/layers.md step 1: a master password, then a Basic configuration; its id."""
    manager = QgsApplication.authManager()
    if not manager.setMasterPassword("ronda-test-master", True):
        raise SystemExit("could not set the master password")
    cfg = QgsAuthMethodConfig()
    cfg.setName("Ronda")
    cfg.setMethod("Basic")
    cfg.setConfig("username", "ronda")
    cfg.setConfig("password", token)
    ok, stored = manager.storeAuthenticationConfig(cfg)
    if not ok:
        raise SystemExit("could not store the authentication configuration")
    return str(stored.id())


def oapif(url: str, collection: str, authcfg: str) -> QgsVectorLayer:
    uri = f"url='{url}/ogc' typename='{collection}' restrictToRequestBBOX='1' authcfg='{authcfg}'"
    return QgsVectorLayer(uri, collection, "OAPIF")


def read_all(layer: QgsVectorLayer, rect: QgsRectangle | None = None) -> list[Any]:
    request = QgsFeatureRequest()
    if rect is not None:
        request.setFilterRect(rect)
    return list(layer.getFeatures(request))


def items_urls(collection: str) -> list[str]:
    return [u.split("/ogc", 1)[1] for u in URLS if f"/collections/{collection}/items" in u]


def collections(url: str, authcfg: str, names: list[str], world: QgsRectangle) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        URLS.clear()
        layer = oapif(url, name, authcfg)
        if not layer.isValid():
            out[name] = {"valid": False, "error": layer.error().summary()}
            continue
        # A view of the whole world: restrictToRequestBBOX pages the view's features.
        read = len(read_all(layer, world))
        out[name] = {
            "valid": True,
            "read": read,
            "feature_count": int(layer.featureCount()),
            "wkb": QgsWkbTypes.displayString(layer.wkbType()),
            "items_urls": items_urls(name),
        }
    return out


def window(url: str, authcfg: str, subset: str, world: QgsRectangle) -> dict[str, Any]:
    """docs/layers.md step 3: a filter on occurred_at, as the query builder writes it."""
    layer = oapif(url, "incidents", authcfg)
    URLS.clear()
    layer.setSubsetString(subset)
    return {"read": len(read_all(layer, world)), "items_urls": items_urls("incidents")}


def plain(value: Any) -> Any:
    """A feature's value for JSON: QGIS hands a missing one over as a null QVariant."""
    if isinstance(value, QVariant):
        return None if value.isNull() else value.value()
    return value


def public_reads(url: str, world: QgsRectangle) -> list[dict[str, Any]]:
    """docs/layers.md step 5: the public layer read twice, as a canvas redraw reads it."""
    layer = oapif(url, "public", "")
    reads = []
    for _ in range(2):
        rows = [f for f in read_all(layer, world) if plain(f["suppressed"])]
        reads.append({str(f["code"]): plain(f["count"]) for f in rows})
    return reads


def render(settings: QgsMapSettings) -> Any:
    """A render with an event loop, as QGIS's canvas does (never a blocking wait)."""
    job = QgsMapRendererParallelJob(settings)
    loop = QEventLoop()
    job.finished.connect(loop.quit)
    job.start()
    loop.exec_()
    return job.renderedImage(), [e.message for e in job.errors()]


def tile_layer(url: str, authcfg: str) -> QgsVectorTileLayer:
    uri = QgsDataSourceUri()
    uri.setParam("type", "xyz")
    uri.setParam("url", url + "/tiles/incidents/{z}/{x}/{y}.mvt")
    uri.setParam("zmin", "0")
    uri.setParam("zmax", "18")
    uri.setAuthConfigId(authcfg)
    return QgsVectorTileLayer(bytes(uri.encodedUri()).decode(), "incidents tiles")


def map_settings(layer: QgsVectorTileLayer, centre: QgsPointXY, half_m: float) -> QgsMapSettings:
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setOutputSize(QSize(600, 600))
    settings.setOutputDpi(96)
    settings.setBackgroundColor(QColor(0, 0, 0, 0))
    x, y = centre.x(), centre.y()
    settings.setExtent(QgsRectangle(x - half_m, y - half_m, x + half_m, y + half_m))
    return settings


def tiles(url: str, authcfg: str, points: list[QgsPointXY]) -> dict[str, Any]:
    """docs/layers.md step 4: the tiles draw, and draw where the OGC API puts the incidents."""
    layer = tile_layer(url, authcfg)
    to_web = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"),
        QgsCoordinateReferenceSystem("EPSG:3857"),
        QgsCoordinateTransformContext(),
    )
    web = [to_web.transform(p) for p in points]
    web.sort(key=lambda p: (p.x(), p.y()))
    centre = web[len(web) // 2]
    settings = map_settings(layer, centre, 400.0)  # about 1:5,000: single incidents
    URLS.clear()
    image, errors = render(settings)
    painted = {
        (x, y)
        for y in range(image.height())
        for x in range(image.width())
        if qAlpha(image.pixel(x, y)) > 0
    }
    to_pixel = settings.mapToPixel()
    inside = [to_pixel.transform(p) for p in web if settings.visibleExtent().contains(p)]
    spots = [(round(p.x()), round(p.y())) for p in inside]
    hit = sum(1 for sx, sy in spots if _near(painted, sx, sy, 2))
    spot_set = set(spots)
    stray = sum(1 for px, py in painted if not _near(spot_set, px, py, 8))
    zooms = {}
    for scale in (30000, 20000, 12000):
        scaled = map_settings(layer, centre, 300.0)
        scaled.setExtent(_scaled_extent(scaled, scale))
        URLS.clear()
        render(scaled)
        zooms[str(scale)] = sorted(
            {int(u.split("/tiles/incidents/")[1].split("/")[0]) for u in URLS}
        )
    return {
        "scale": round(settings.scale()),
        "errors": errors,
        "painted": len(painted),
        "points_in_view": len(spots),
        "points_drawn": hit,
        "stray_pixels": stray,
        "zooms": zooms,
    }


def _near(pixels: set[tuple[int, int]], x: int, y: int, r: int) -> bool:
    return any((x + dx, y + dy) in pixels for dx in range(-r, r + 1) for dy in range(-r, r + 1))


def _scaled_extent(settings: QgsMapSettings, scale: float) -> QgsRectangle:
    extent = settings.extent()
    factor = scale / settings.scale()
    c = extent.center()
    half_w, half_h = extent.width() / 2 * factor, extent.height() / 2 * factor
    return QgsRectangle(c.x() - half_w, c.y() - half_h, c.x() + half_w, c.y() + half_h)


def export_sectors(url: str, authcfg: str, path: str, world: QgsRectangle) -> dict[str, Any]:
    """docs/layers.md step 6: Save Features As... GeoPackage."""
    layer = oapif(url, "sectors", authcfg)
    read_all(layer, world)
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = "sectors"
    error, message, _, _ = QgsVectorFileWriter.writeAsVectorFormatV3(
        layer, path, QgsProject.instance().transformContext(), options
    )
    return {
        "error": int(error),
        "message": message,
        "wkb": QgsWkbTypes.displayString(layer.wkbType()),
    }


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    app = QgsApplication([], False, PROFILE)
    app.initQgis()
    # Every request any QGIS thread makes, as it is about to be sent.
    hook = QgsNetworkAccessManager.setRequestPreprocessor(lambda r: URLS.append(r.url().toString()))
    try:
        url = config["url"]
        authcfg = basic_config(config["token"])
        world = QgsRectangle(-180, -90, 180, 90)
        result: dict[str, Any] = {"qgis": Qgis.version()}
        result["collections"] = collections(url, authcfg, config["collections"], world)
        end, start = config["window_end"], config["window_start"]
        result["end_only"] = window(url, authcfg, f"\"occurred_at\" <= '{end}'", world)
        result["start_only"] = window(url, authcfg, f"\"occurred_at\" >= '{start}'", world)
        incidents = read_all(oapif(url, "incidents", authcfg), world)
        points = [f.geometry().asPoint() for f in incidents if f.hasGeometry()]
        result["tiles"] = tiles(url, authcfg, [QgsPointXY(p) for p in points])
        result["gpkg"] = export_sectors(url, authcfg, config["gpkg"], world)
        result["public_reads"] = public_reads(url, world)
    finally:
        QgsNetworkAccessManager.removeRequestPreprocessor(hook)
        app.exitQgis()
        shutil.rmtree(PROFILE, ignore_errors=True)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
