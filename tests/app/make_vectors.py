"""Test vectors for the officer's app, computed by the server's own Python.

The app (server/static/app/js/chain.js and js/hlc.js) must hash patrol-log entries and run its
hybrid logical clock exactly as the server does. This module builds the cases from
``sync.protocol`` (canonical JSON, entry hashes, change validation), ``sync.chain`` (chain
verification), ``sync.clock`` (tick, observe, parse, skew) and ``sync.outbox`` (re-stamping after
``clock_skew``); ``tests/app/vectors.test.mjs`` checks the JavaScript against them and
``tests/app/test_vectors.py`` checks that the committed file is what this module writes now.

    .venv/bin/python -m tests.app.make_vectors      # rewrites tests/app/vectors.json
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from sync.chain import verify_chain
from sync.clock import HybridClock, Stamp, check_skew, parse_stamp
from sync.errors import ChangeError, ClockSkew, InvalidField
from sync.outbox import Outbox, hash_entry
from sync.protocol import NOT_NULL_FIELDS, parse_change
from sync.store.records import StoredRecord
from sync.wire_json import canonical_json

OUT = Path(__file__).resolve().parent / "vectors.json"
DOC_DEVICE = "dev-3f9c2a71b5e04d18"  # docs/protocol.md, "Worked example"
T0 = 1_764_172_800_000  # 2025-11-26T16:00:00Z


class FixedClock(HybridClock):
    """A hybrid clock whose device wall clock reads what the case says."""

    def __init__(self, now: int, last: Stamp, offset_ms: int) -> None:
        super().__init__(last, offset_ms)
        self.now = now

    def _physical(self) -> int:
        return self.now + self.offset_ms


# --- canonical JSON -------------------------------------------------------------------------

CANONICAL_VALUES: list[tuple[str, Any]] = [
    ("keys sorted at every level", {"b": 1, "a": {"d": [3, {"z": 0, "y": None}], "c": True}}),
    ("nested arrays and objects", {"k": [[1, 2], [], {}, [{"b": "x", "a": "y"}]], "e": {}}),
    ("empty object", {}),
    ("spanish and accents unescaped", {"t": "Inicio de turno, Jr. Huánuco — señal, pingüino"}),
    ("astral plane and combining marks", {"t": "patrullero 🚓👮🏽\u200d♀️ e\u0301 ñ 警察 ｶﾀｶﾅ"}),
    ("quotes backslash slash", {"t": 'dijo "alto" \\ a/b </script>'}),
    ("control characters", {"t": "a\nb\tc\rd\be\ff\x00g\x01h\x1fi"}),
    ("DEL and line separators are not escaped", {"t": "\x7f\u2028\u2029\u0085"}),
    ("integers at the edges", {"a": -180_000_000, "b": 90_000_000, "c": 0, "d": 2**53 - 1}),
    ("fractional floats", {"lon": -77.0282, "lat": -12.0464, "acc": 4.5, "p": 3.141592653589793}),
    ("small floats in decimal form", {"a": 0.000015, "b": 0.1, "c": 123.456, "d": -0.5}),
    ("small float in exponent form", {"a": 1e-7, "b": -2.5e-8}),
    ("booleans and null", {"t": True, "f": False, "n": None}),
    ("unicode keys sort by code point", {"é": 1, "z": 2, "Z": 3, "a": 4}),
]


def canonical_cases() -> list[dict[str, Any]]:
    cases = []
    for name, value in CANONICAL_VALUES:
        raw = canonical_json(value)
        cases.append(
            {
                "name": name,
                "value": value,
                "canonical": raw.decode("utf-8"),
                "bytes": len(raw),
                "sha256": hashlib.sha256(raw).hexdigest(),
            }
        )
    return cases


# --- hash chains ----------------------------------------------------------------------------


def _chain(
    name: str, device_id: str, bodies: list[tuple[str, str, dict[str, Any]]]
) -> dict[str, Any]:
    """Link ``(id, hlc, body)`` entries into one chain, hashed by the server's push check."""
    entries, records, prev = [], [], ""
    for n, (entry_id, hlc, body) in enumerate(bodies, start=1):
        change = {
            "collection": "patrol_logs",
            "id": entry_id,
            "op": "append",
            "hlc": hlc,
            "n": n,
            "prev_hash": prev,
            "body": body,
        }
        digest = hash_entry(device_id, change)
        parse_change({**change, "hash": digest})  # the push path accepts it
        material = {
            "body": {k: v for k, v in body.items() if v is not None},
            "device_id": device_id,
            "hlc": hlc,
            "id": entry_id,
            "n": n,
            "prev_hash": prev,
        }
        raw = canonical_json(material)
        assert hashlib.sha256(raw).hexdigest() == digest
        entries.append({"change": {**change, "hash": digest}, "material": raw.decode()})
        doc = {**material, "hash": digest}
        records.append(
            StoredRecord(
                "patrol_logs", entry_id, "st-1", n, False, doc, {}, None, "of-1", device_id, n
            )
        )
        prev = digest
    report = verify_chain(device_id, records)
    assert report.intact, report.as_dict()
    return {"name": name, "device_id": device_id, "entries": entries}


def chain_cases() -> list[dict[str, Any]]:
    at = "2025-11-26T11:00:00-05:00"
    doc = _chain(
        "docs/protocol.md worked example",
        DOC_DEVICE,
        [
            (
                "log-0001",
                "1764172800000-00000",
                {
                    "kind": "shift_start",
                    "at": at,
                    "text": "Inicio de turno, Jr. Huánuco",
                    "lon_e6": -77028200,
                    "lat_e6": -12046400,
                    "incident_id": None,
                },
            ),
            (
                "log-0002",
                "1764174600000-00000",
                {
                    "kind": "checkpoint",
                    "at": "2025-11-26T11:30:00-05:00",
                    "lon_e6": -77030150,
                    "lat_e6": -12049980,
                },
            ),
        ],
    )
    texts = [
        "Señora refiere robo de celular en la esquina 🚓",
        'Vecino dijo: "alto" \\ puerta 3/4 </script>',
        "línea 1\nlínea 2\ttabulada\r\x01\x1f fin",
        "\x7f\u2028\u2029 e\u0301 警察 👮🏽\u200d♀️",
        "",
        "x" * 3999 + "ñ",
    ]
    unicode_bodies = [
        (
            f"u-{i:03d}",
            f"{T0 + i * 60_000:013d}-{i % 3:05d}",
            {"kind": "note", "at": f"2025-11-26T11:{i:02d}:00-05:00", "text": t},
        )
        for i, t in enumerate(texts)
    ]
    unicode = _chain("unicode text", "dev-unicode-0001", unicode_bodies)
    edges = _chain(
        "nulls dropped, edges of the integers, every kind",
        "dev-edges-0001",
        [
            (
                "e-1",
                f"{T0:013d}-00000",
                {"kind": "shift_start", "at": "2025-11-26T11:00:00.123-05:00", "incident_id": None},
            ),
            (
                "e-2",
                f"{T0:013d}-00001",
                {
                    "kind": "checkpoint",
                    "at": "2025-11-26T16:00:01Z",
                    "lon_e6": -180000000,
                    "lat_e6": 90000000,
                    "amends": None,
                    "incident_id": None,
                },
            ),
            (
                "e-3",
                f"{T0 + 1:013d}-00000",
                {"kind": "stop", "at": "2025-11-26T11:00:02+00:00", "lon_e6": 0, "lat_e6": 0},
            ),
            (
                "e-4",
                f"{T0 + 2:013d}-99999",
                {
                    "kind": "checkpoint",
                    "at": "2025-11-26T11:00:03-05:00",
                    "lon_e6": 180000000,
                    "lat_e6": -90000000,
                    "text": "",
                },
            ),
            (
                "e-5",
                f"{T0 + 3:013d}-00000",
                {
                    "kind": "shift_end",
                    "at": "2025-11-26T19:00:00-05:00",
                    "lon_e6": -77028201,
                    "lat_e6": -12046399,
                },
            ),
        ],
    )
    amend = _chain(
        "amendments and incident links",
        "dev-amend-0001",
        [
            ("a-1", f"{T0:013d}-00000", {"kind": "shift_start", "at": at}),
            (
                "a-2",
                f"{T0 + 60_000:013d}-00000",
                {
                    "kind": "stop",
                    "at": "2025-11-26T11:01:00-05:00",
                    "text": "Intervención",
                    "incident_id": "inc-7f3a",
                    "lon_e6": -77031000,
                    "lat_e6": -12050000,
                },
            ),
            (
                "a-3",
                f"{T0 + 120_000:013d}-00000",
                {
                    "kind": "correction",
                    "at": "2025-11-26T11:02:00-05:00",
                    "text": "Corrección: la intervención fue en Jr. Ica, no Jr. Huánuco",
                    "amends": "a-2",
                },
            ),
            (
                "a-4",
                f"{T0 + 180_000:013d}-00000",
                {
                    "kind": "correction",
                    "at": "2025-11-26T11:03:00-05:00",
                    "amends": "a-3",
                    "incident_id": "inc-7f3a",
                    "text": "Corrige la corrección",
                },
            ),
        ],
    )
    photo = "9f2c" * 16
    attached = _chain(
        "attachments: a list of objects inside the hashed body",
        "dev-attach-0001",
        [
            (
                "p-1",
                f"{T0:013d}-00000",
                {
                    "kind": "stop",
                    "at": at,
                    "text": "Fotos del vehículo",
                    "attachments": [
                        {
                            "size": 2_345_678,
                            "media_type": "image/jpeg",
                            "sha256": photo,
                            "captured_at": "2025-11-26T10:58:12-05:00",
                        },
                        {
                            "sha256": "0a" * 32,
                            "media_type": "audio/ogg",
                            "size": 1,
                            "captured_at": "2025-11-26T10:59:00.250-05:00",
                            "pii": True,
                        },
                    ],
                },
            ),
            (
                "p-2",
                f"{T0 + 1:013d}-00000",
                {
                    "kind": "note",
                    "at": at,
                    "attachments": [
                        {
                            "sha256": "ff" * 32,
                            "media_type": "application/pdf",
                            "size": 2**40,
                            "captured_at": "2025-11-26T16:00:00Z",
                            "pii": False,
                        }
                    ],
                },
            ),
        ],
    )
    return [doc, unicode, edges, amend, attached]


def refused_cases() -> list[dict[str, Any]]:
    """Entries the server refuses although a lax hasher could hash them: the app must not
    send these (floats or strings where the hash needs integers, nothing after the body)."""
    base = {
        "collection": "patrol_logs",
        "id": "r-1",
        "op": "append",
        "hlc": f"{T0:013d}-00000",
        "n": 1,
        "prev_hash": "",
        "hash": "0" * 64,
    }
    at = "2025-11-26T11:00:00-05:00"
    bodies: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("float longitude", {"n": 1}, {"kind": "checkpoint", "at": at, "lon_e6": -77028200.0}),
        ("fractional latitude", {}, {"kind": "checkpoint", "at": at, "lat_e6": -12046400.5}),
        ("string longitude", {}, {"kind": "checkpoint", "at": at, "lon_e6": "-77028200"}),
        ("float n", {"n": 1.0}, {"kind": "note", "at": at}),
        ("time without zone", {}, {"kind": "note", "at": "2025-11-26T11:00:00.000"}),
        ("correction without amends", {}, {"kind": "correction", "at": at, "text": "x"}),
        ("unknown body member", {}, {"kind": "note", "at": at, "speed_kmh": 12}),
        ("longitude out of range", {}, {"kind": "checkpoint", "at": at, "lon_e6": 180000001}),
        ("text over 4000 characters", {}, {"kind": "note", "at": at, "text": "x" * 4001}),
        ("text sent as null", {}, {"kind": "note", "at": at, "text": None}),
    ]
    cases = []
    for name, extra, body in bodies:
        change = {**base, **extra, "body": body}
        try:
            parse_change(change)
        except ChangeError as exc:
            cases.append({"name": name, "change": change, "code": exc.code})
            continue
        if body["kind"] == "correction" and "amends" not in body:
            # refused later, by the engine, with not_allowed (docs/protocol.md, Patrol logs)
            cases.append({"name": name, "change": change, "code": "not_allowed"})
            continue
        raise AssertionError(f"the server accepts {name!r}")
    return cases


# --- incident changes -----------------------------------------------------------------------

WHEN = "2025-11-26T10:40:00Z"
PERSON = {"name": "Juana Núñez", "dni": "45678912", "phone": "987654321", "age": 34}
INCIDENT_CASES: list[tuple[str, dict[str, Any], dict[str, Any] | None, bool]] = [
    ("new, the two required fields", {"category": "robo", "occurred_at": WHEN}, None, True),
    (
        "new, every field and person list",
        {
            "category": "violencia_familiar",
            "occurred_at": "2025-11-26T05:40:00-05:00",
            "status": "referred",
            "description": "d" * 4000,
            "address_text": "a" * 500,
            "location": {"lon": -180, "lat": 90, "accuracy_m": 100000},
        },
        {"victims": [PERSON], "witnesses": [], "suspects": [{"name": "x"}] * 50},
        True,
    ),
    ("new without occurred_at", {"category": "robo"}, None, True),
    ("new without category", {"occurred_at": WHEN}, None, True),
    ("update, status only", {"status": "closed"}, None, False),
    ("update, clearing the optional fields", {"description": None, "location": None}, None, False),
    ("update, occurred_at cleared", {"occurred_at": None}, None, False),
    ("update, category cleared", {"category": None}, None, False),
    ("category with a capital", {"category": "Robo"}, None, False),
    ("category of one letter", {"category": "r"}, None, False),
    ("occurred_at without a zone", {"occurred_at": "2025-11-26T10:40:00"}, None, False),
    ("occurred_at in month 13", {"occurred_at": "2025-13-01T00:00:00Z"}, None, False),
    ("status in Spanish", {"status": "cerrado"}, None, False),
    ("description of 4001 characters", {"description": "d" * 4001}, None, False),
    ("address of 501 characters", {"address_text": "a" * 501}, None, False),
    ("longitude out of range", {"location": {"lon": 181, "lat": 0}}, None, False),
    ("negative accuracy", {"location": {"lon": 0, "lat": 0, "accuracy_m": -1}}, None, False),
    ("location with altitude", {"location": {"lon": 0, "lat": 0, "alt": 3}}, None, False),
    ("unknown field", {"priority": "alta"}, None, False),
    ("person without a name", {}, {"victims": [{"dni": "45678912"}]}, False),
    ("dni of seven digits", {}, {"witnesses": [{"name": "x", "dni": "4567891"}]}, False),
    ("age 131", {}, {"victims": [{"name": "x", "age": 131}]}, False),
    ("person with an e-mail", {}, {"victims": [{"name": "x", "email": "a@b.pe"}]}, False),
    ("51 suspects", {}, {"suspects": [{"name": "x"}] * 51}, False),
    ("unknown person list", {}, {"relatives": [{"name": "x"}]}, False),
    ("a list cleared", {}, {"victims": None}, False),
]


def incident_cases() -> list[dict[str, Any]]:
    """Incident upserts and whether the server takes them: the protocol's validation, then
    its create rule (a new incident carries category and occurred_at, docs/protocol.md)."""
    cases = []
    for name, fields, pii, is_new in INCIDENT_CASES:
        change: dict[str, Any] = {
            "collection": "incidents",
            "id": "inc-vector",
            "op": "upsert",
            "hlc": f"{T0:013d}-00000",
            "fields": fields,
        }
        if pii is not None:
            change["pii"] = pii
        try:
            parse_change(change)
            accepted = not is_new or all(fields.get(k) is not None for k in NOT_NULL_FIELDS)
        except ChangeError:
            accepted = False
        cases.append(
            {"name": name, "fields": fields, "pii": pii, "is_new": is_new, "accepted": accepted}
        )
    return cases


# --- hybrid logical clocks ------------------------------------------------------------------


def _s(stamp: Stamp) -> str:
    return str(stamp)


def tick_cases() -> list[dict[str, Any]]:
    rows = [
        ("fresh clock", (0, 0), 0, T0),
        ("same millisecond counts up", (T0, 4), 0, T0),
        ("wall clock moved on", (T0, 4), 0, T0 + 1),
        ("wall clock went back an hour", (T0, 7), 0, T0 - 3_600_000),
        ("offset moves the physical time", (0, 0), -3_600_000, T0),
        ("positive offset", (T0, 2), 90_000, T0),
        ("offset still behind last", (T0, 2), -1, T0),
        ("counter overflow borrows a millisecond", (T0, 99_999), 0, T0),
        ("overflow while the wall is behind", (T0 + 5, 99_999), 0, T0),
    ]
    cases = []
    for name, (wall, counter), offset, now in rows:
        clock = FixedClock(now, Stamp(wall, counter), offset)
        got = clock.tick()
        cases.append(
            {
                "name": name,
                "last": _s(Stamp(wall, counter)),
                "offset_ms": offset,
                "now_ms": now,
                "expected": _s(got),
            }
        )
    return cases


def observe_cases() -> list[dict[str, Any]]:
    rows = [
        ("remote ahead of everything", (T0, 3), (T0 + 500, 7), 0, T0 + 100),
        ("physical ahead of everything", (T0, 3), (T0 + 50, 7), 0, T0 + 100),
        ("last ahead of everything", (T0 + 900, 3), (T0 + 50, 7), 0, T0 + 100),
        ("all three equal", (T0, 3), (T0, 7), 0, T0),
        ("last and remote equal, remote counter lower", (T0 + 9, 8), (T0 + 9, 2), 0, T0),
        ("last equals physical", (T0, 3), (T0 - 1, 50), 0, T0),
        ("remote equals physical", (T0 - 5, 3), (T0, 50), 0, T0),
        ("remote from a clock hours ahead", (T0, 0), (T0 + 7_200_000, 12), 0, T0),
        ("offset applied", (0, 0), (T0, 1), 3_600_000, T0),
        ("remote counter overflow", (T0, 1), (T0 + 10, 99_999), 0, T0),
        ("equal walls at the top counter", (T0, 99_999), (T0, 99_999), 0, T0 - 10),
        ("fresh clock observes", (0, 0), (T0, 0), 0, 0),
    ]
    cases = []
    for name, last, remote, offset, now in rows:
        clock = FixedClock(now, Stamp(*last), offset)
        got = clock.observe(Stamp(*remote))
        cases.append(
            {
                "name": name,
                "last": _s(Stamp(*last)),
                "remote": _s(Stamp(*remote)),
                "offset_ms": offset,
                "now_ms": now,
                "expected": _s(got),
            }
        )
    return cases


def sequence_cases() -> list[dict[str, Any]]:
    """One clock through a day of ticks and observes: each step's stamp depends on the last."""
    steps: list[dict[str, Any]] = []
    clock = FixedClock(T0, Stamp(0, 0), 0)
    script: list[tuple[str, int, tuple[int, int] | None]] = [
        ("tick", 0, None),
        ("tick", 0, None),
        ("tick", 1, None),
        ("observe", 1, (T0 + 1, 5)),
        ("tick", 1, None),
        ("observe", 2, (T0 + 60_000, 0)),
        ("tick", 3, None),
        ("tick", -5_000, None),
        ("observe", 70_000, (T0 + 60_000, 9)),
        ("tick", 70_000, None),
        ("tick", 70_000, None),
    ]
    for op, delta, remote in script:
        clock.now = T0 + delta
        if op == "tick":
            got = clock.tick()
            steps.append({"op": op, "now_ms": clock.now, "expected": _s(got)})
        else:
            assert remote is not None
            got = clock.observe(Stamp(*remote))
            steps.append(
                {"op": op, "now_ms": clock.now, "remote": _s(Stamp(*remote)), "expected": _s(got)}
            )
    return [{"name": "a clock through ticks and observes", "offset_ms": 0, "steps": steps}]


def parse_cases() -> list[dict[str, Any]]:
    texts: list[Any] = [
        "1764172800000-00000",
        "0000000000000-00000",
        "9999999999999-99999",
        "1764172800000-00001",
        "176417280000-00000",
        "17641728000000-00000",
        "1764172800000-0000",
        "1764172800000-000000",
        "1764172800000_00000",
        " 1764172800000-00000",
        "1764172800000-00000\n",
        "1764172800000-0000a",
        "-764172800000-00000",
        "+764172800000-00000",
        "１７６４１７２８００００-00000",
        "1764172800000-０００００",
        "",
        1764172800000,
        None,
    ]
    cases = []
    for text in texts:
        try:
            stamp = parse_stamp(text)
            cases.append(
                {"text": text, "valid": True, "wall_ms": stamp.wall_ms, "counter": stamp.counter}
            )
        except InvalidField:
            cases.append({"text": text, "valid": False})
    return cases


def compare_cases() -> list[dict[str, Any]]:
    """Order of stamps, and of (hlc, device_id) pairs as the merge rule compares them."""
    pairs = [
        ("1764172800000-00000", "1764172800000-00001"),
        ("1764172800000-99999", "1764172800001-00000"),
        ("0999999999999-99999", "1000000000000-00000"),
        ("1764172800000-00007", "1764172800000-00007"),
        ("1764172900000-00000", "1764172800000-99999"),
    ]
    stamps = []
    for a, b in pairs:
        pa, pb = parse_stamp(a), parse_stamp(b)
        stamps.append({"a": a, "b": b, "expected": (pa > pb) - (pa < pb)})
    merge_rows = [
        (("1764172800000-00001", "dev-a"), ("1764172800000-00000", "dev-z")),
        (("1764172800000-00001", "dev-a"), ("1764172800000-00001", "dev-b")),
        (("1764172800000-00001", "dev-b"), ("1764172800000-00001", "dev-B")),
        (("1764172800000-00001", "dev-a"), ("1764172800000-00001", "dev-a")),
        (("1764172800000-00000", "dev-zz"), ("1764172800000-00000", "dev-z")),
    ]
    merge = []
    for (ha, da), (hb, db) in merge_rows:
        ka, kb = (parse_stamp(ha), da), (parse_stamp(hb), db)
        merge.append(
            {
                "a": {"hlc": ha, "device_id": da},
                "b": {"hlc": hb, "device_id": db},
                "expected": (ka > kb) - (ka < kb),
            }
        )
    return [{"kind": "stamps", "cases": stamps}, {"kind": "merge_pairs", "cases": merge}]


def skew_cases() -> list[dict[str, Any]]:
    rows = [
        ("in the past", T0 - 86_400_000, T0, 300_000),
        ("equal to the server", T0, T0, 300_000),
        ("exactly at the bound", T0 + 300_000, T0, 300_000),
        ("one millisecond past the bound", T0 + 300_001, T0, 300_000),
        ("an hour ahead", T0 + 3_600_000, T0, 300_000),
        ("a tighter bound", T0 + 1_001, T0, 1_000),
    ]
    cases = []
    for name, wall, now, bound in rows:
        case: dict[str, Any] = {
            "name": name,
            "hlc": _s(Stamp(wall, 3)),
            "server_time_ms": now,
            "max_ahead_ms": bound,
        }
        try:
            check_skew(Stamp(wall, 3), now, bound)
            case["accepted"] = True
        except ClockSkew as exc:
            case.update(accepted=False, code=exc.code, offset_ms=exc.details["offset_ms"])
        cases.append(case)
    return cases


def adopt_cases() -> list[dict[str, Any]]:
    """A push answer's clock_offset_ms moves the device's offset only beyond ±60 s
    (sync/client.py; latency blurs smaller estimates)."""
    return [
        {
            "offset_ms": 0,
            "clock_offset_ms": offset,
            "adopted": abs(offset) > 60_000,
            "expected_offset_ms": offset if abs(offset) > 60_000 else 0,
        }
        for offset in (0, 1_500, 60_000, -60_000, 60_001, -60_001, -3_600_000)
    ]


def restamp_cases() -> list[dict[str, Any]]:
    """After ``clock_skew``: the outbox stamped again by sync/outbox.py ``Outbox._restamp``."""
    rows = [
        (
            "phone an hour fast, three pending",
            T0 + 3_600_000,  # device wall clock
            0,  # offset before
            (0, 0),  # greatest stamp the server accepted from the device
            [T0 + 3_600_000, T0 + 3_600_000, T0 + 3_601_000],
            T0 + 200,  # server_time_ms of the answer
        ),
        (
            "stamps kept above the last accepted one",
            T0 + 7_200_000,
            0,
            (T0 + 500, 4),
            [T0 + 7_100_000, T0 + 7_100_000 + 10],
            T0,
        ),
        (
            "a pending stamp moved past the server's time is held at it",
            T0 + 600_000,
            -100_000,
            (0, 0),
            [T0 + 900_000, T0 + 400_000],
            T0,
        ),
    ]
    cases = []
    for name, wall, offset, accepted, walls, server_time in rows:
        with tempfile.TemporaryDirectory() as tmp:
            box = Outbox(Path(tmp) / "device.db", wall=lambda w=wall: w)
            box.clock.offset_ms = offset
            if accepted != (0, 0):
                box.confirm(Stamp(*accepted))
            pending = [_s(Stamp(w, i)) for i, w in enumerate(walls)]
            for i, hlc in enumerate(pending):
                box.enqueue(
                    {
                        "collection": "incidents",
                        "id": f"inc-{i}",
                        "op": "upsert",
                        "hlc": hlc,
                        "fields": {"status": "open"},
                    }
                )
            with box.tx():
                box._restamp(server_time)
            after = [c["hlc"] for _, c in box.pending()]
            cases.append(
                {
                    "name": name,
                    "device_wall_ms": wall,
                    "offset_ms": offset,
                    "accepted": _s(Stamp(*accepted)),
                    "pending": pending,
                    "server_time_ms": server_time,
                    "expected": {
                        "offset_ms": box.clock.offset_ms,
                        "pending": after,
                        "last": _s(box.clock.last),
                    },
                }
            )
            box.close()
    return cases


def build() -> dict[str, Any]:
    """Every vector, as the committed file holds them."""
    return {
        "about": (
            "Generated by tests/app/make_vectors.py from the server's Python (sync/protocol.py,"
            " sync/chain.py, sync/clock.py, sync/outbox.py); do not edit by hand."
        ),
        "canonical": canonical_cases(),
        "chains": chain_cases(),
        "refused": refused_cases(),
        "incidents": incident_cases(),
        "hlc": {
            "tick": tick_cases(),
            "observe": observe_cases(),
            "sequences": sequence_cases(),
            "parse": parse_cases(),
            "compare": compare_cases(),
            "skew": skew_cases(),
            "adopt_offset": adopt_cases(),
            "restamp": restamp_cases(),
        },
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, ensure_ascii=False, indent=1) + "\n"


def main() -> None:
    OUT.write_text(render(build()), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
