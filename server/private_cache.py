"""``Cache-Control: private, no-store`` on answers that carry a caller's own data and set no
caching of their own: the sync and admin API (records, personal data, conflicts, analysis
for a station) and the CompStat CSV of a signed-in chief. A browser's disk cache or a proxy
that caches by default must not keep them; answers that chose their caching (tiles and
attachments revalidated by ETag, the public pages cached in public) keep their own."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PRIVATE_PREFIXES = ("/v1/", "/compstat.csv")
NO_STORE = "private, no-store"


class PrivateCacheMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PRIVATE_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "cache-control" not in headers:
                    headers["Cache-Control"] = NO_STORE
            await send(message)

        await self.app(scope, receive, send_private)
