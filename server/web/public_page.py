"""The public page: counts and rates by district, the trend and the coarse cell map, all
from the same frozen months as the public API (``server.routes.public``)."""

from __future__ import annotations

import h3
import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from geo.public import month_label
from server.routes.public import (
    district_rows,
    month_rules,
    rules_json,
    summary,
    totals_row,
    trend,
)
from server.web.charts import cells_svg, trend_svg
from server.web.i18n import STRINGS, category_name
from server.web.render import page_language, render
from server.web.sessions import signed_in


async def public_page(request: Request) -> Response:
    s = await summary(request)
    lang = page_language(request)
    values: dict[str, object] = {
        "months": [month_label(m) for m in s.months],
        "rules": rules_json(s),
    }
    if s.months:
        m = s.month(request.query_params.get("month"))
        data = trend(s)
        labels = {c: category_name(lang, c) for c in s.categories}
        labels["total"] = STRINGS[lang]["total"]
        districts = [{"name": s.names[c], "geometry": s.geometry[c]} for c in s.districts]
        pairs = s.cells[m]["cells"]
        cells = np.array([h3.str_to_int(c) for c, _ in pairs], dtype=np.int64)
        counts = np.array([n for _, n in pairs], dtype=np.int64)
        values.update(
            month=month_label(m),
            rules=month_rules(s, m),  # the notes state the rules this month was published under
            categories=s.tables[m]["categories"],
            rows=district_rows(s, m),
            totals=totals_row(s, m),
            trend=trend_svg(data["months"], data["series"], labels),
            cells=cells_svg(districts, cells, counts),
        )
    return render(request, "public.html", values, user=await signed_in(request))


routes = [Route("/public", public_page, methods=["GET"])]
