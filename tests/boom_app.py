"""``server.app:create_app`` plus one route that fails, for tests of how a real server logs
an unhandled error (``uvicorn --factory tests.boom_app:create_app``)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from server.app import create_app as create_ronda_app

# What a careless exception message could quote: a token and a victim's name.
SECRET = "rdt_boomtoken0123456789 Zoila Ccahuana Puma"


async def boom(request: Request) -> Response:
    raise RuntimeError(f"could not parse {SECRET}")


def create_app() -> Starlette:
    app = create_ronda_app()
    app.add_route("/boom", boom, methods=["GET"])
    return app
