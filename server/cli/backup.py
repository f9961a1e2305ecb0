"""``ronda backup``, ``ronda restore`` and ``ronda new-epoch`` (see server/backup.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from server.backup import (
    BackupError,
    Restored,
    is_sqlite,
    pg_backup,
    pg_restore,
    set_new_epoch,
    sqlite_backup,
    sqlite_restore,
)
from server.settings import Settings

PG_BIN = click.option(
    "--pg-bin",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder of pg_dump/pg_restore (default: PATH, then the newest /usr/lib/postgresql).",
)


@click.command()
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@PG_BIN
@click.pass_obj
def backup(settings: Settings, dest: Path, pg_bin: str | None) -> None:
    """Copia de respaldo / back the database up to DEST (safe while the server runs)."""
    url = settings.database.url
    try:
        if is_sqlite(url):
            sqlite_backup(url, dest)
        else:
            pg_backup(url, dest, pg_bin)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written: {dest}")


@click.command()
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@PG_BIN
@click.pass_obj
def restore(settings: Settings, source: Path, pg_bin: str | None) -> None:
    """Restaurar / put the backup SOURCE in place of the database, with a new epoch
    (stop the server first; devices then pull everything again)."""
    url = settings.database.url
    try:
        if is_sqlite(url):
            done: Restored = sqlite_restore(url, source)
        else:
            done = asyncio.run(pg_restore(url, source, pg_bin))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    if done.kept is not None:
        click.echo(f"the replaced database was kept as {done.kept}")
    click.echo(f"restored from {source}; new epoch {done.epoch:012x}")


@click.command("new-epoch")
@click.pass_obj
def new_epoch(settings: Settings) -> None:
    """Nueva época / give the database a new epoch: run it after restoring it by any other
    means (file copy, pg_restore, point-in-time recovery, a promoted replica), server stopped."""
    try:
        epoch = asyncio.run(set_new_epoch(settings.database.url))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"new epoch {epoch:012x}: every device pulls everything again at its next sync")


COMMANDS = (backup, restore, new_epoch)
