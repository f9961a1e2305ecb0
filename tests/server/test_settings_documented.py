"""Every setting is documented in docs/operations.md, under the name the environment uses,
and listed in .env.example with its default; every command is in the command table."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

import click
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from server import cli
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"
ENV_EXAMPLE = ROOT / ".env.example"


def leaves(model: type[BaseModel], path: tuple[str, ...] = ()) -> list[tuple[str, FieldInfo]]:
    """(env var name, field) of every leaf setting, walking nested models."""
    out: list[tuple[str, FieldInfo]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += leaves(annotation, (*path, name))
        else:
            out.append(("RONDA_" + "__".join((*path, name)).upper(), field))
    return out


SETTINGS = leaves(Settings)


def doc_rows() -> dict[str, str]:
    rows = {}
    for line in OPERATIONS.read_text(encoding="utf-8").splitlines():
        found = re.match(r"^\| `(RONDA_[A-Z0-9_]+)` \|", line)
        if found:
            rows[found.group(1)] = line
    return rows


def rendered(default: Any) -> str:
    return default if isinstance(default, str) else json.dumps(default)


def test_settings_are_found() -> None:
    assert len(SETTINGS) >= 10
    assert all("__" in name for name, _ in SETTINGS)


@pytest.mark.parametrize(("env", "field"), SETTINGS, ids=[name for name, _ in SETTINGS])
def test_setting_is_documented_with_its_default(env: str, field: FieldInfo) -> None:
    rows = doc_rows()
    assert env in rows, f"{env} is not in a settings table of docs/operations.md"
    assert f"`{rendered(field.default)}`" in rows[env], f"{env}: default not documented"
    meaning = rows[env].split("|")[3].strip()
    assert len(meaning) > 10, f"{env}: meaning not documented"


def test_no_stale_setting_is_documented() -> None:
    known = {name for name, _ in SETTINGS}
    assert set(doc_rows()) <= known


def other_value(field: FieldInfo) -> Any:
    """A valid value different from the default, to show the env var is really read."""
    default, annotation = field.default, field.annotation
    if typing.get_origin(annotation) is typing.Literal:
        return next(v for v in typing.get_args(annotation) if v != default)
    if isinstance(default, bool):
        return not default
    if isinstance(default, int | float):
        highest = min((m.le for m in field.metadata if hasattr(m, "le")), default=None)
        return default - 1 if highest is not None and default + 1 > highest else default + 1
    if isinstance(default, list):
        return ["analyst"]
    if default is None:  # an optional setting: its own example is a valid value
        assert field.examples, "an optional setting needs examples=[...]"
        return field.examples[0]
    return default + "x"


@pytest.mark.parametrize(("env", "field"), SETTINGS, ids=[name for name, _ in SETTINGS])
def test_env_var_name_is_the_one_read(
    env: str, field: FieldInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = other_value(field)
    monkeypatch.setenv(env, value if isinstance(value, str) else json.dumps(value))
    settings = Settings(_env_file=None)
    group, name = env.removeprefix("RONDA_").lower().split("__")
    assert getattr(getattr(settings, group), name) == value


def env_example() -> dict[str, bool]:
    """Name -> whether it is set (True) or only shown commented out, in .env.example."""
    names: dict[str, bool] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        found = re.match(r"^(# )?(RONDA_[A-Z0-9_]+)=", line)
        if found:
            names[found.group(2)] = found.group(1) is None
    return names


def test_env_example_lists_every_setting() -> None:
    known, listed = {name for name, _ in SETTINGS}, set(env_example())
    assert not known - listed, f"missing from .env.example: {sorted(known - listed)}"
    assert not listed - known, f"not settings, yet in .env.example: {sorted(listed - known)}"


def test_env_example_values_are_the_defaults() -> None:
    from_file = Settings(_env_file=ENV_EXAMPLE)
    assert from_file.model_dump() == Settings(_env_file=None).model_dump()


def test_only_settings_without_a_default_are_commented_out() -> None:
    unset = {name for name, field in SETTINGS if field.default is None}
    assert {name for name, is_set in env_example().items() if not is_set} == unset


def commands(group: click.Group, path: tuple[str, ...] = ()) -> list[str]:
    out: list[str] = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out += commands(command, (*path, name))
        else:
            out.append(" ".join(("ronda", *path, name)))
    return out


@pytest.mark.parametrize("command", commands(cli.main))
def test_command_is_in_the_command_table(command: str) -> None:
    rows = re.findall(r"^\| `(ronda [^`]*)`", OPERATIONS.read_text(encoding="utf-8"), re.M)
    assert any(row == command or row.startswith(command + " ") for row in rows), command
