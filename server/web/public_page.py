"""The public page: counts and rates by district, the trend and the coarse cell map, all
from the same frozen months as the public API (``server.routes.public``), explained in
plain words. Everything shown is a published number or arithmetic on published numbers
(the totals row's rate: the published total over the published populations)."""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from geo.public import month_label
from server.routes.public import (
    district_rows,
    month_rules,
    rules_json,
    summary,
    totals_rate,
    totals_row,
    trend,
)
from server.web.cell_map import RAMP, cells_svg, classes, zones
from server.web.charts import FONT, WIDTH, text_width, trend_svg
from server.web.i18n import category_name
from server.web.public_text import how_to_read, month_name, number, strings
from server.web.render import page_language, render
from server.web.sessions import signed_in


def month_ticks(lang: str, months: list[str]) -> list[str]:
    """x labels: a short month name every few months (as many as fit), the year under the
    first one and under each January."""
    plot = WIDTH - 60
    step = max(1, math.ceil(len(months) * (text_width("sep") + FONT) / plot))
    out = []
    for i, label in enumerate(months):
        if i % step:
            out.append("")
            continue
        year = label[:4] if i == 0 or label.endswith("-01") else ""
        out.append(f"{month_name(lang, label, short=True)}\n{year}")
    return out


def trend_figure(lang: str, t: dict[str, str], s: Any) -> dict[str, Any]:
    """The trend chart and its table equivalent."""
    data = trend(s)
    labels = {c: category_name(lang, c) for c in s.categories}
    labels["total"] = t["total"]
    months = data["months"]
    names = [month_name(lang, m) for m in months]
    title = t["chart_title"].format(first=names[0], last=names[-1])
    totals = ", ".join(
        f"{name}: {'—' if v is None else v}"
        for name, v in zip(names, data["series"]["total"], strict=True)
    )
    svg = trend_svg(
        months,
        data["series"],
        labels,
        month_ticks(lang, months),
        title,
        f"{t['total']}: {totals}.",
        t["chart_gap"],
        t["chart_y"],
    )
    rows = [
        {"month": name, "values": [data["series"][c][i] for c in labels]}
        for i, name in enumerate(names)
    ]
    return {"svg": svg, "columns": list(labels.values()), "rows": rows, "title": title}


# The map of a (summary, month, language): it depends on nothing else, and drawing it (the
# cells against every district's polygon) is the page's costliest part. The summary is kept
# alongside so that an id reused after a rebuild cannot return another summary's map.
_MAPS: dict[tuple[int, int, str], tuple[Any, dict[str, Any]]] = {}


def map_figure(lang: str, t: dict[str, str], s: Any, m: int, k: int) -> dict[str, Any]:
    """The cell map, its legend classes and its table equivalent (cached per summary)."""
    key = (id(s), m, lang)
    cached = _MAPS.get(key)
    if cached is not None and cached[0] is s:
        return cached[1]
    if len(_MAPS) >= 64:
        _MAPS.clear()
    figure = draw_map(lang, t, s, m, k)
    _MAPS[key] = (s, figure)
    return figure


def draw_map(lang: str, t: dict[str, str], s: Any, m: int, k: int) -> dict[str, Any]:
    districts = [{"name": s.names[c], "geometry": s.geometry[c]} for c in s.districts]
    pairs = s.cells[m]["cells"]
    bins = classes([int(n) for _, n in pairs])
    found = sorted(zones(pairs, districts, bins), key=lambda z: -z.count)
    title = t["map_title"].format(month=month_name(lang, month_label(m)))
    listed = "; ".join(f"{z.count}: {', '.join(z.districts)}" for z in found[:3])
    desc = t["map_desc"].format(n=len(found), k=k, zones=listed) if found else ""
    legend = [
        (t["map_one"].format(n=lo) if lo == hi else t["map_class"].format(lo=lo, hi=hi), colour)
        for (lo, hi), colour in zip(bins, RAMP, strict=False)
    ]
    return {
        "svg": cells_svg(districts, found, title, desc or t["map_none"].format(k=k)),
        "legend": legend,
        "zones": found,
        "empty": t["map_none"].format(k=k) if not found else "",
    }


async def public_page(request: Request) -> Response:
    s = await summary(request)
    lang = page_language(request)
    t = strings(lang)
    values: dict[str, object] = {
        "months": [month_label(m) for m in s.months],
        "month_names": {month_label(m): month_name(lang, month_label(m)) for m in s.months},
        "rules": rules_json(s),
        "p": t,
    }
    if s.months:
        m = s.month(request.query_params.get("month"))
        rules = month_rules(s, m)
        per = number(lang, rules["rate_per"])
        values.update(
            month=month_label(m),
            month_name=month_name(lang, month_label(m)),
            rules=rules,
            rate_head=t["col_rate"].format(per=per).capitalize(),
            categories=s.tables[m]["categories"],
            rows=district_rows(s, m),
            totals=totals_row(s, m),
            totals_rate=totals_rate(s, m),
            trend=trend_figure(lang, t, s),
            cells=map_figure(lang, t, s, m, int(rules["k"])),
            how=how_to_read(lang, m, s.tables[m], rules, s.months[-1], s.rules.delay_days),
            number=lambda v, d=0: number(lang, v, d),
        )
    return render(request, "public.html", values, user=await signed_in(request))


routes = [Route("/public", public_page, methods=["GET"])]
