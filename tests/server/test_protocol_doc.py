"""docs/protocol.md against the code: error codes, the worked hash example, the examples.

The doc is what client authors in other languages read, so what it shows must be what the
server does.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from pathlib import Path
from typing import Any

import orjson
from starlette.routing import Route

from server import errors as server_errors
from server import middleware, web
from sync import errors as sync_errors
from sync.clock import HybridClock
from sync.errors import ChangeError, SyncError
from sync.identity import hash_secret
from sync.protocol import LogEntryChange, entry_hash
from sync.store.records import Device
from sync.wire_json import canonical_json
from tests.server.conftest import Served
from tests.support import batch, incident

PROTOCOL = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text("utf-8")


def section(title: str) -> str:
    """The text of a section, from its heading to the next heading of the same level."""
    found = re.search(rf"^(#+) {re.escape(title)}\n", PROTOCOL, re.M)
    assert found, f"no section {title!r} in docs/protocol.md"
    level = len(found.group(1))
    rest = PROTOCOL[found.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def fenced(text: str, info: str) -> list[str]:
    """The contents of the code blocks whose info string starts with ``info``."""
    return re.findall(rf"^```{re.escape(info)}[^\n]*\n(.*?)^```", text, re.M | re.S)


def table_rows(text: str) -> dict[str, list[str]]:
    """First-column code -> cells, for the rows of markdown tables in ``text``."""
    rows = {}
    for line in text.splitlines():
        found = re.match(r"^\| `([a-z_]+)` \|(.*)\|$", line)
        if found:
            rows[found.group(1)] = [c.strip() for c in found.group(2).split("|")]
    return rows


def error_classes() -> list[type[SyncError]]:
    out = []
    for module in (sync_errors, server_errors):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, SyncError):
                out.append(cls)
    return out


def all_codes() -> set[str]:
    codes = {cls.code for cls in error_classes()}
    codes |= set(server_errors.HTTP_CODES.values())
    for module in (server_errors, middleware):
        source = inspect.getsource(module)
        codes |= set(re.findall(r'error_response\(\s*"([a-z_]+)"', source))
        codes |= set(re.findall(r'"code": "([a-z_]+)"', source))
    codes.add("http_error")  # server/errors.py: the fallback for other HTTP errors
    return codes


def test_every_error_code_is_in_the_error_tables() -> None:
    documented = table_rows(section("Errors"))
    missing = sorted(all_codes() - set(documented))
    assert not missing, f"error codes missing from docs/protocol.md: {missing}"


def test_request_level_codes_have_their_http_status() -> None:
    rows = table_rows(section("Request-level errors"))
    for cls, status in server_errors.STATUS.items():
        assert cls.code in rows, cls.code
        assert rows[cls.code][0] == str(status), f"{cls.code}: doc says {rows[cls.code][0]}"
    for status, code in server_errors.HTTP_CODES.items():
        assert rows[code][0] == str(status)


def test_per_change_codes_are_in_the_per_change_table() -> None:
    rows = table_rows(section('Per-change errors (inside a 200 push answer, `status: "rejected"`)'))
    per_change = {cls.code for cls in error_classes() if issubclass(cls, ChangeError)}
    assert per_change == set(rows)


def test_every_endpoint_is_in_the_endpoint_table(served: Served) -> None:
    table = section("Endpoints")
    # Browser pages and their cookie-session data (server.web) are not the protocol; the
    # endpoint table names them in one row and docs/operations.md lists them.
    pages = {route.path for route in web.routes}
    for route in served.app.routes:
        assert isinstance(route, Route)
        if route.path in pages:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            assert f"`{method} {route.path}`" in table, f"{method} {route.path} not documented"


# --- the worked hash example ---


def worked_example() -> tuple[str, dict[str, Any], str]:
    text = section("Worked example")
    device = re.search(r"Device id: `([^`]+)`", text)
    assert device
    (entry,) = fenced(text, "json hash-example")
    (material,) = fenced(text, "text hash-material")
    return device.group(1), json.loads(entry), material.rstrip("\n")


def by_the_doc(device_id: str, entry: dict[str, Any]) -> tuple[bytes, str]:
    """The hash as the doc says to compute it, with nothing of sync.protocol."""
    body = {k: v for k, v in entry["body"].items() if v is not None}
    material = {k: entry[k] for k in ("hlc", "id", "n", "prev_hash")}
    material |= {"body": body, "device_id": device_id}
    raw = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return raw.encode("utf-8"), hashlib.sha256(raw.encode("utf-8")).hexdigest()


def test_worked_hash_example_is_what_the_code_computes() -> None:
    device_id, entry, material = worked_example()
    computed = entry_hash(device_id, LogEntryChange.model_validate(entry))
    assert computed == entry["hash"]
    assert f"SHA-256: `{computed}`" in section("Worked example")
    raw, independent = by_the_doc(device_id, entry)
    assert independent == computed
    assert raw == material.encode("utf-8")
    assert f"{len(raw)} bytes" in section("Worked example")
    assert None in entry["body"].values(), "the example must show a null member being dropped"


def test_second_chain_entry_of_the_doc_links_and_hashes() -> None:
    device_id, first, _ = worked_example()
    (second,) = [json.loads(b) for b in fenced(section("Patrol logs"), "json")]
    assert second["n"] == 2
    assert second["prev_hash"] == first["hash"]
    assert entry_hash(device_id, LogEntryChange.model_validate(second)) == second["hash"]
    assert by_the_doc(device_id, second)[1] == second["hash"]


# --- the push and pull examples are real answers ---

VOLATILE = ("server_time_ms", "clock_offset_ms")


def _strip(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in VOLATILE}


async def test_push_and_pull_examples_are_real(served: Served) -> None:
    device_id, _, _ = worked_example()
    token = "rdt_doc-example-token"
    await served.store.add_token(Device(device_id, "off-a", "Moto G (Ana)", 0), hash_secret(token))
    auth = {"Authorization": f"Bearer {token}"}
    push = section("`POST /v1/sync/push`")
    request, answer = (json.loads(block) for block in fenced(push, "json"))
    pushed = await served.client.post("/v1/sync/push", json=request, headers=auth)
    assert pushed.status_code == 200
    got = pushed.json()
    assert got["clock_offset_ms"] == got["server_time_ms"] - request["device_time_ms"]
    assert _strip(got) == _strip(answer)
    (page,) = (
        json.loads(block)
        for block in fenced(section("`GET /v1/sync/pull?cursor=<cursor>&limit=<n>`"), "json")
    )
    await served.store.new_epoch(int(page["cursor"].partition(".")[0], 16))  # random otherwise
    pulled = await served.client.get("/v1/sync/pull", headers=auth)
    got_page = _strip(pulled.json())
    for mine, doc in zip(got_page["changes"], page["changes"], strict=True):
        assert mine == doc
    assert got_page == _strip(page)


async def test_the_snapshot_example_is_real(served: Served) -> None:
    """Two documents stream with no checkpoint: the end line's cursor is the one to keep."""
    device_id, _, _ = worked_example()
    token = "rdt_doc-example-token"
    await served.store.add_token(Device(device_id, "off-a", "Moto G (Ana)", 0), hash_secret(token))
    auth = {"Authorization": f"Bearer {token}"}
    request = json.loads(fenced(section("`POST /v1/sync/push`"), "json")[0])
    assert (await served.client.post("/v1/sync/push", json=request, headers=auth)).is_success
    (example,) = fenced(section("`GET /v1/sync/snapshot?cursor=<cursor>`"), "")
    shown = example.splitlines()
    await served.store.new_epoch(int(json.loads(shown[-1])["cursor"].partition(".")[0], 16))
    streamed = await served.client.get("/v1/sync/snapshot", headers=auth)
    real = [orjson.loads(line) for line in streamed.content.splitlines()]
    assert len(real) == len(shown)
    for line, got in zip(shown, real, strict=True):
        if ",...}" in line:  # a document cut short for reading: what it shows is real
            cut = json.loads(line.replace(",...}", "}"))
            assert {k: got[k] for k in cut} == cut
        else:
            assert _strip(got) == _strip(json.loads(line))


async def test_a_losing_concurrent_value_reaches_the_conflict_log(served: Served) -> None:
    """Merge rule: a change that loses to a value it had not seen is logged, not dropped."""
    client, rid = served.client, "inc-lost"
    create = incident(rid, HybridClock())
    await client.post("/v1/sync/push", json=batch([create]), headers=served.auth("off-a"))
    newer = incident(rid, HybridClock(offset_ms=60_000), {"status": "closed"}, base_seq=1)
    await client.post("/v1/sync/push", json=batch([newer]), headers=served.auth("chief-a"))
    older = incident(rid, HybridClock(), {"status": "referred"}, base_seq=1)
    pushed = await client.post("/v1/sync/push", json=batch([older]), headers=served.auth("off-a2"))
    result = pushed.json()["results"][0]
    assert (result["status"], result["conflicts"]) == ("unchanged", 1)
    log = (await client.get("/v1/conflicts", headers=served.auth("chief-a"))).json()
    assert [c["losing_value"] for c in log["conflicts"]] == ["referred"]


def test_canonical_json_matches_the_doc_rules() -> None:
    value = {"b": 'Huánuco / \u2028 \x01\n\t"\\', "a": [1, -2], "c": {"z": 1, "y": None}}
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(value) == expected.encode("utf-8")
    assert orjson.loads(canonical_json(value)) == value


async def test_a_new_incident_needs_non_null_category_and_time(served: Served) -> None:
    change = incident("inc-null", HybridClock(), {"category": None, "occurred_at": None})
    pushed = await served.client.post(
        "/v1/sync/push", json=batch([change]), headers=served.auth("off-a")
    )
    result = pushed.json()["results"][0]
    assert result["status"] == "rejected"
    assert result["error"]["code"] == "invalid_field"
