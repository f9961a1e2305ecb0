"""The ``ronda`` command line: the group and where each command lives.

serve, init, demo (``serve``); station, officer, enroll, revoke, devices (``people``);
simulate; import (``imports``, with ``osm`` and ``cadastre``); db (``db``); backup and
restore (``backup``); retention (``server/retention/cli.py``).
"""

from __future__ import annotations

import click

from server.cli import backup, imports, people, serve, simulate
from server.cli.common import LOG_CONFIG
from server.cli.db import db
from server.retention.cli import retention
from server.settings import Settings

__all__ = ["LOG_CONFIG", "main"]  # LOG_CONFIG: docs/operations.md prints it from here


@click.group()
@click.option("--db", "db_url", envvar="RONDA_DATABASE__URL", help="Database URL.")
@click.pass_context
def main(ctx: click.Context, db_url: str | None) -> None:
    """Ronda: offline-first sync server for community policing."""
    settings = Settings()
    if db_url:
        settings.database.url = db_url
    ctx.obj = settings


for _command in (
    serve.serve,
    serve.init,
    serve.demo,
    people.station,
    people.officer,
    people.enroll,
    people.revoke,
    people.devices,
    simulate.simulate,
    imports.import_layer,
    db,
    retention,
    *backup.COMMANDS,
):
    main.add_command(_command)
