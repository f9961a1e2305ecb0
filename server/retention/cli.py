"""``ronda retention plan|apply|verify`` (docs/operations.md, "Retention")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
import orjson

from server.retention.archive import verify_archive
from server.retention.run import Report, RetentionBusy, apply, plan
from server.settings import Settings
from sync.clock import now_ms
from sync.store.sql import SQLStore

T = TypeVar("T")


def _with_store(settings: Settings, work: Callable[[SQLStore], Awaitable[T]]) -> T:
    """``with_store``, and a run that finds another one going ends the command too."""
    # server.cli imports this module, and server.cli.common the heavy app: when a command runs
    from server.cli.common import with_store

    return with_store(settings, work, stops=(RetentionBusy,))


def _show(report: Report, as_json: bool, verb: str) -> None:
    if as_json:
        click.echo(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    for name, at in report.cut.as_dict().items():
        if name != "now":
            click.echo(f"before {name:<12} {at}")
    for kind, count in report.counts.items():
        click.echo(f"{verb} {kind:<14} {count}")
    click.echo(f"monthly dosage rows: {report.dosage_rows}; chains cut: {report.chains}")
    if report.archive is not None:
        click.echo(f"archive: {report.archive}")
    elif report.nothing:
        click.echo("nothing is due")


@click.group()
def retention() -> None:
    """Retención / archive and remove old data as the retention settings say."""


@retention.command("plan")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_obj
def plan_command(settings: Settings, as_json: bool) -> None:
    """Dry run: what would be archived and removed now, per kind (changes nothing)."""
    report = _with_store(settings, lambda store: plan(store, settings, now_ms()))
    _show(report, as_json, "due")


@retention.command("apply")
@click.option(
    "--archive",
    "root",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder that receives this run's archive (a new sub-folder per run).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.pass_obj
def apply_command(settings: Settings, root: Path, as_json: bool) -> None:
    """Archive what is due (SHA-256 manifest, fsynced), then remove it in batches; audited,
    safe to stop and to run again."""
    root.mkdir(parents=True, exist_ok=True)
    report = _with_store(settings, lambda store: apply(store, settings, root, now_ms()))
    _show(report, as_json, "removed")


@retention.command("verify")
@click.argument("archive", type=click.Path(file_okay=False, exists=True, path_type=Path))
def verify_command(archive: Path) -> None:
    """Check an archive: file hashes against its manifest, archived chains re-hashed."""
    problems = verify_archive(archive)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {archive}")
    click.echo(f"{archive}: intact")
