"""The CompStat web page and its CSV for signed-in chiefs and analysts (issue 14, item 2):
the figures the API gives, in a table per period; officers refused; sign-in required."""

from __future__ import annotations

import csv
import io
import re

from tests.server.conftest import Served, served_on_both_backends, sign_in_web
from tests.server.test_analysis_compstat import _seed
from tests.server.test_analysis_tactical import app_settings  # noqa: F401  (120 s requests)

served = served_on_both_backends()  # the app on SQLite, then on PostgreSQL
PASSWORD = "una-clave-larga-1"


async def _sign_in(served: Served, officer: str) -> None:
    await sign_in_web(served, officer, PASSWORD)


def _cells(html: str, period: str) -> dict[str, list[str]]:
    """Rows of one period's table: first cell -> the figures."""
    table = html.split(f'id="period-{period}"', 1)[1].split("</table>", 1)[0]
    out = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S)[1:]:
        head = re.search(r"<th[^>]*>(.*?)</th>", row, flags=re.S)
        assert head
        out[head.group(1).strip()] = [
            c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        ]
    return out


async def test_page_shows_the_api_figures(served: Served) -> None:
    await _seed(served)
    assert (await served.client.get("/compstat")).status_code == 303
    await _sign_in(served, "chief-a")
    page = await served.client.get("/compstat", params={"date": "2026-11-30", "lang": "es"})
    assert page.status_code == 200, page.text
    api = await served.client.get(
        "/v1/analysis/compstat", params={"date": "2026-11-30"}, headers=served.auth("chief-a")
    )
    report = api.json()
    for period in ("7d", "28d", "ytd"):
        cells = _cells(page.text, period)
        total = report["total"][period]
        last = [k for k in cells if k in ("Total", "total")]
        assert last, cells
        figures = cells[last[0]]
        assert figures[0] == str(total["current"]) and figures[1] == str(total["previous"])
        assert figures[3] == str(total["last_year"])
    assert "24/11/2026 – 30/11/2026" in page.text
    sheet = await served.client.get("/compstat.csv", params={"date": "2026-11-30"})
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert rows[-1]["category"] == "total"
    assert rows[-1]["current"] == str(report["total"]["ytd"]["current"])


async def test_officers_are_refused(served: Served) -> None:
    await _sign_in(served, "off-a")
    assert (await served.client.get("/compstat")).status_code == 403
    assert (await served.client.get("/compstat.csv")).status_code == 403
