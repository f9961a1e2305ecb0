"""The browser side of Ronda: the chief's map, the public page, administration pages.

``routes`` is everything this package serves; ``server.app`` adds it to the app. These are
pages and their data for browsers (cookie sessions), not the API: the OpenAPI document
leaves them out on purpose (the public API under ``/public/...`` is in it).
"""

from __future__ import annotations

from starlette.routing import Route

from server.web import (
    admin,
    app_shell,
    assets,
    briefing,
    compstat_page,
    conflict_review,
    map_meta,
    mapdata,
    notices_page,
    pages,
    plans_page,
    public_page,
    records,
)

routes: list[Route] = [
    *conflict_review.routes,  # before pages: its /conflicts replaces the old list
    *briefing.routes,
    *compstat_page.routes,
    *plans_page.routes,
    *notices_page.routes,
    *pages.routes,
    *public_page.routes,
    *map_meta.routes,
    *mapdata.routes,
    *records.routes,
    *admin.routes,
    *assets.routes,
    *app_shell.routes,
]
