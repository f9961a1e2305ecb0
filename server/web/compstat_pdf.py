"""A rendered page as PDF with WeasyPrint (print media: the page's print styles apply).

Nothing is fetched over the network: the page's ``/static/...`` stylesheets are read from
``server/static``, and every other URL is refused (an image or font from elsewhere would be
a request from the server to the internet, and a way for page content to reach inside).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from server.web.assets import STATIC

BASE_URL = "https://ronda.invalid/"  # a name that never resolves: links only, no requests
TYPES = {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}

# WeasyPrint warns through logging about CSS it does not support (screen-only properties
# such as position: sticky); they do not change the printed page.
logging.getLogger("weasyprint").setLevel(logging.ERROR)


class StaticOnly(URLFetcher):  # type: ignore[misc]  # weasyprint has no type hints
    """Serves ``/static/<name>`` from disk and refuses everything else."""

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        parts = urlsplit(url)
        name = parts.path.removeprefix("/static/")
        path = STATIC / name
        known = url.startswith(BASE_URL) and parts.path.startswith("/static/")
        if not known or "/" in name or path.suffix not in TYPES or not path.is_file():
            raise ValueError(f"not fetched for a PDF: {url}")
        return URLFetcherResponse(
            url, body=path.read_bytes(), headers={"Content-Type": TYPES[path.suffix]}
        )


def html_to_pdf(html: str) -> bytes:
    """The PDF of ``html`` (A4, as its ``@page`` rules say)."""
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=StaticOnly())
    pdf = document.write_pdf()
    assert pdf is not None
    return bytes(pdf)
