"""``ronda db ...``: the database schema's revision and its upgrades (Alembic, run from code)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import click
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from server.settings import Settings
from sync.errors import StoreUnavailable
from sync.store import schema

console = Console(stderr=True)


@click.group()
def db() -> None:
    """Esquema de la base de datos / database schema: revision and upgrades."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Bring the database schema up to this version's (back the database up first)."""
    from server.app import build_store

    async def run() -> schema.SchemaChange | None:
        store = build_store(settings, upgrade=True)
        await store.open()
        await store.close()
        return store.schema_change

    try:
        change = asyncio.run(run())
    except StoreUnavailable as exc:
        raise click.ClickException(f"{exc.message} {exc.details or ''}".strip()) from exc
    assert change is not None
    if change.before is None:
        console.print(f"[green]base de datos creada / database created[/] at {change.after}")
    elif change.changed:
        console.print(
            f"[green]esquema actualizado / schema upgraded[/]: {change.before} -> {change.after}"
        )
    else:
        console.print(f"esquema al día / schema up to date: {change.after}")


@db.command("current")
@click.pass_obj
def db_current(settings: Settings) -> None:
    """Show the database's schema revision and this version's (changes nothing)."""
    revision = asyncio.run(read_revision(settings.database.url))
    head = schema.head()
    click.echo(f"database: {describe(revision)}")
    click.echo(f"code:     {head}")
    if revision == head:
        status = "up to date"
    elif revision is None:
        status = "empty: the first start creates the schema"
    elif revision != schema.LEGACY and not all(known(r) for r in revision.split(",")):
        status = "unknown revision: a newer Ronda migrated this database"
    else:
        status = "behind: back the database up, then run `ronda db upgrade`"
    click.echo(f"status:   {status}")


@db.command("revision", hidden=True)
@click.argument("message")
def db_revision(message: str) -> None:
    """Developers: draft the next migration from the models (review it before committing)."""
    path = asyncio.run(draft_revision(message))
    console.print(f"draft written: {path}")


def describe(revision: str | None) -> str:
    if revision is None:
        return "none (no Ronda tables)"
    if revision == schema.LEGACY:
        return "made before migrations (no alembic_version)"
    return revision


def known(revision: str) -> bool:
    try:
        return schema.scripts().get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown id
        return False


async def read_revision(url: str) -> str | None:
    """The revision of the database at ``url`` without creating or changing anything."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        return None
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(schema.revision_of)
    finally:
        await engine.dispose()


async def draft_revision(message: str) -> str:
    """Autogenerate against a scratch SQLite database brought to head by the migrations."""
    from alembic import command

    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40]
    rev_id = f"{int(schema.head()[:4]) + 1:04d}_{slug}"
    with tempfile.TemporaryDirectory(prefix="ronda-revision-") as tmp:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp}/scratch.db")
        try:
            async with engine.begin() as conn:
                await conn.run_sync(schema.run_upgrade)

                def generate(sync_conn: object) -> None:
                    config = schema.alembic_config()
                    config.attributes["connection"] = sync_conn
                    command.revision(config, message, autogenerate=True, rev_id=rev_id)

                await conn.run_sync(generate)
        finally:
            await engine.dispose()
    path = schema.MIGRATIONS / "versions" / f"{rev_id}.py"
    ruff = Path(sys.executable).with_name("ruff")
    if ruff.exists():  # development virtualenv: drafts come out formatted
        subprocess.run([str(ruff), "format", "--quiet", str(path)], check=False)
    return str(path)
