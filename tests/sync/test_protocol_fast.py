"""The msgspec fast path never accepts what pydantic refuses, nor reads a change differently."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sync import protocol
from sync.errors import ChangeError, InvalidField, InvalidRequest, SyncError
from sync.protocol import IncidentChange, IncidentEdit, parse_envelope
from sync.protocol_fast import fast_incident, fast_push, parse_change
from sync.wire_json import request_hash

MISSING = object()


def pick(valid: list[Any], tricky: list[Any]) -> st.SearchStrategy[Any]:
    """Mostly valid values, sometimes one of the tricky ones (so most changes are close calls)."""
    return st.sampled_from(valid * (3 * len(tricky) + 1) + tricky)


OCCURRED_VALID = ["2026-11-20T22:15:00-05:00", "2026-11-20T22:15:00Z", "2000-01-01T00:00:00+14:00"]
OCCURRED = [
    "2026-11-20t22:15:00.123456789z",
    "2026-11-20T22:15-05:00",
    "2026-11-20T22:15:00-0500",
    "2016-12-31T23:59:60Z",
    "2026-11-20T22:15:00-05:00\n",
    "2026-11-20T22:15:00+00:00",
    "2026-11-20T22:15:00-00:00",
    "2026-11-20T22:15:00.250-05:00",
    "2026-11-20 22:15:00-05:00",
    "2026-11-20T22:15:00",
    "2026-02-31T10:00:00-05:00",
    "2026-11-20T24:00:00-05:00",
    "2026-11-20",
    "20261120T221500-0500",
    None,
    1764000000,
]
NUMBERS = [180.5, -90.5, "12.5", True, None, 1e400]
PERSON = st.fixed_dictionaries(
    {},
    optional={
        "name": pick(["María Condori", "x" * 200], ["", "x" * 201, 5]),
        "dni": pick(["41234567", None], ["4123456", "4123456a", "٤١٢٣٤٥٦٧", "41234567\n"]),
        "age": pick([30, 0, 130, None], [30.0, 30.5, -1, 131, "30", True]),
        "phone": pick(["999 888 777", None], ["9" * 31]),
        "role": st.sampled_from(["agraviado", None]),
        "notes": st.sampled_from(["vecina", None]),
        "extra": st.just(1),
    },
)
PEOPLE = st.one_of(
    st.none(),
    st.lists(PERSON, max_size=3),
    st.lists(PERSON, max_size=2),
    st.just([{"name": "A"}] * 51),
)


@st.composite
def _envelope_part(draw: st.DrawFn) -> dict[str, Any]:
    change: dict[str, Any] = {"collection": "incidents"}
    parts: dict[str, Any] = {
        "id": pick(["a1", "A-b_c", "x" * 64], [MISSING, "", "-x", "x" * 65, "ñandú", "a1\n", 5]),
        "op": pick(["upsert", "delete"], [MISSING, "append", None]),
        "hlc": pick(["1764172800000-00000"], [MISSING, "bad", 5]),
        "base_seq": pick([MISSING, 0, 5], [-1, "5", 5.0, 5.5, True, None]),
        "extra": pick([MISSING], [1]),
    }
    for key, strategy in parts.items():
        value = draw(strategy)
        if value is not MISSING:
            change[key] = value
    return change


def _drop_missing(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_missing(v) for k, v in value.items() if v is not MISSING}
    if isinstance(value, list):
        return [_drop_missing(v) for v in value]
    return value


@st.composite
def changes(draw: st.DrawFn) -> dict[str, Any]:
    change = draw(_envelope_part())
    fields = draw(
        st.one_of(
            st.just(MISSING),
            st.just(None),
            st.fixed_dictionaries(
                {},
                optional={
                    "category": pick(["robo", "robo_1"], ["Robo", "r", "robo\n", None, 5]),
                    "occurred_at": pick(OCCURRED_VALID, OCCURRED),
                    "status": pick(["open", "closed", None], ["lost", 1]),
                    "description": pick(["ok", "ñ" * 4000, None], ["x" * 4001, 5]),
                    "address_text": pick(["Av. Larco 123", None], ["y" * 501, 5]),
                    "location": st.one_of(
                        st.none(),
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "lon": pick([-77.03, -77, 180, 0], NUMBERS),
                                "lat": pick([-12.1, -12, -90, 90.0], NUMBERS),
                                "accuracy_m": pick([3, 3.5, None], [-1, 100_001, "3"]),
                                "alt": pick([MISSING], [1]),
                            },
                        ),
                    ),
                    "unknown": pick([MISSING], ["x"]),
                },
            ),
        )
    )
    if fields is not MISSING:
        change["fields"] = fields
    pii = draw(
        st.one_of(
            st.just(MISSING),
            st.just(None),
            st.fixed_dictionaries(
                {},
                optional={"victims": PEOPLE, "witnesses": PEOPLE, "suspects": PEOPLE},
            ),
        )
    )
    if pii is not MISSING:
        change["pii"] = pii
    drawn: dict[str, Any] = _drop_missing(change)
    return drawn


def pydantic_edit(raw: dict[str, Any]) -> IncidentEdit | None:
    try:
        return IncidentEdit.from_model(IncidentChange.model_validate(raw))
    except ValidationError:
        return None


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(changes())
def test_fast_path_is_pydantic_or_defers(raw: dict[str, Any]) -> None:
    fast = fast_incident(raw)
    if fast is not None:
        assert pydantic_edit(raw) == fast
    # And the change is answered alike whichever way it goes: same edit or same error.
    assert outcome(parse_change, raw) == outcome(protocol.parse_change, raw)


VALID: dict[str, Any] = {
    "collection": "incidents",
    "id": "a1",
    "op": "upsert",
    "hlc": "1764172800000-00000",
    "base_seq": 3,
    "fields": {
        "category": "robo",
        "occurred_at": "2026-11-20T22:15:00-05:00",
        "location": {"lon": -77, "lat": -12.1},
        "status": None,
    },
    "pii": {"victims": [{"name": "María Condori", "dni": "41234567", "age": 30}], "suspects": []},
}


def valid_with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """``VALID`` with the member at ``path`` set to ``value``."""
    raw: dict[str, Any] = {**VALID, "fields": dict(VALID["fields"])}
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return raw


def confused(path: tuple[Any, ...], value: Any, base: dict[str, Any] = VALID) -> dict[str, Any]:
    """A deep copy of ``base`` with the member at ``path`` (keys and list indexes) replaced."""
    raw = copy.deepcopy(base)
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return raw


# Values of another JSON type than the member's, and strings or booleans that a lax validator
# would turn into the member's type. Every one must be refused (docs/protocol.md, "Changes").
WRONG: dict[str, list[Any]] = {
    "string": [5, -1, 5.5, True, False, [], {}, ["robo"], {"x": "robo"}],
    "integer": ["34", "0", "", True, False, 34.0, 0.0, 34.5, 1e3, [], {}, [34]],
    "number": ["-77.03", "12", "1e1", "NaN", True, False, [], {}, [-77.0]],
    "date-time": [1764172800, 1764172800.5, "1764172800", "1764172800000", True, [], {}],
    "object": [[], "x", "", 5, 0, True, False, [{}]],
    "list": ["x", "", {}, {"name": "A"}, 5, True],
}
INCIDENT_MEMBERS: list[tuple[tuple[Any, ...], str]] = [
    (("id",), "string"),
    (("op",), "string"),
    (("hlc",), "string"),
    (("base_seq",), "integer"),
    (("fields",), "object"),
    (("fields", "category"), "string"),
    (("fields", "occurred_at"), "date-time"),
    (("fields", "status"), "string"),
    (("fields", "description"), "string"),
    (("fields", "address_text"), "string"),
    (("fields", "location"), "object"),
    (("fields", "location", "lon"), "number"),
    (("fields", "location", "lat"), "number"),
    (("fields", "location", "accuracy_m"), "number"),
    (("pii",), "object"),
    (("pii", "victims"), "list"),
    (("pii", "suspects"), "list"),
    (("pii", "victims", 0), "object"),
    (("pii", "victims", 0, "name"), "string"),
    (("pii", "victims", 0, "dni"), "string"),
    (("pii", "victims", 0, "age"), "integer"),
    (("pii", "victims", 0, "phone"), "string"),
    (("pii", "victims", 0, "role"), "string"),
    (("pii", "victims", 0, "notes"), "string"),
]


@st.composite
def type_confused(draw: st.DrawFn) -> tuple[list[list[str]], dict[str, Any]]:
    """``VALID`` with one to three members of a wrong type, and the paths of those set."""
    picks = draw(st.lists(st.sampled_from(INCIDENT_MEMBERS), min_size=1, max_size=3))
    raw, paths = VALID, []
    for path, kind in picks:
        if _reachable(raw, path):  # not inside a member already replaced
            raw = confused(path, draw(st.sampled_from(WRONG[kind])), raw)
            paths.append([str(p) for p in path])
    return paths, raw


def _reachable(raw: Any, path: tuple[Any, ...]) -> bool:
    for key in path:
        if isinstance(key, int) and isinstance(raw, list) and key < len(raw):
            raw = raw[key]
        elif isinstance(key, str) and isinstance(raw, dict):
            raw = raw.get(key)
        else:
            return False
    return True


def _related(loc: list[str], path: list[str]) -> bool:
    """The error is about the member at ``path``, or about something inside it."""
    return loc[: len(path)] == path


def outcome(parse: Any, raw: Any) -> tuple[str, Any]:
    """What a parser makes of a change: the edit, or the per-change error it answers with."""
    try:
        return "accepted", parse(raw)[0]
    except ChangeError as exc:
        return "rejected", exc.as_dict()


@pytest.mark.slow
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(type_confused())
def test_type_confused_changes_are_refused_alike_by_both_paths(
    case: tuple[list[list[str]], dict[str, Any]],
) -> None:
    paths, raw = case
    assert fast_incident(raw) is None
    fast, general = outcome(parse_change, raw), outcome(protocol.parse_change, raw)
    assert fast == general
    status, error = general
    assert status == "rejected" and error["code"] == "invalid_field"
    # Every error names a member that was set wrong (or lies inside one), and one was named.
    locs = [err["loc"] for err in error["details"]["errors"]]
    assert locs and all(any(_related(loc, path) for path in paths) for loc in locs)
    body = orjson.dumps({"batch_id": "b1", "changes": [raw]})
    assert fast_push(body) is None
    general_body = general_push(body)
    assert general_body is not None and general_body[2] == [None]


@pytest.mark.parametrize("value", [True, "1764172800000", 1764172800000.0, [], {}])
def test_a_wrong_device_time_refuses_the_envelope(value: Any) -> None:
    body = orjson.dumps({"batch_id": "b1", "device_time_ms": value, "changes": [VALID]})
    assert fast_push(body) is None
    with pytest.raises(InvalidRequest):
        parse_envelope(orjson.loads(body), 500)


def test_common_change_takes_the_fast_path_with_pydantic_values() -> None:
    fast = fast_incident(VALID)
    assert fast is not None and fast == pydantic_edit(VALID)
    assert fast.fields["location"] == {"lon": -77.0, "lat": -12.1}  # ints read as floats
    assert list(fast.pii) == ["victims", "suspects"]


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T22:15:00+00:00",  # pydantic used to write 'Z'
        "2026-11-20T22:15:00-00:00",
        "2026-11-20T22:15:00.5-05:00",  # and '.500000'
        "2026-11-20T22:15:00.123456789Z",  # and cut to 6 digits
        "2026-11-20t22:15:00z",  # and upper-case
    ],
)
def test_every_rfc3339_form_takes_the_fast_path_as_sent(value: str) -> None:
    raw = valid_with(("fields", "occurred_at"), value)
    fast = fast_incident(raw)
    assert fast is not None and fast == pydantic_edit(raw)
    assert fast.fields["occurred_at"] == value


@pytest.mark.parametrize(
    "value", ["2026-11-20 22:15:00-05:00", "2026-11-20T22:15-05:00", "2026-11-20T22:15:00-0500"]
)
def test_forms_outside_rfc3339_are_refused_by_both(value: str) -> None:
    raw = valid_with(("fields", "occurred_at"), value)
    assert fast_incident(raw) is None
    with pytest.raises(InvalidField):
        parse_change(raw)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("fields", "location", "lon"), "-77.03"),
        (("fields", "location", "lon"), True),
        (("fields", "location", "accuracy_m"), "3"),
        (("fields", "occurred_at"), 1764172800),
        (("fields", "occurred_at"), "1764172800"),
        (("pii", "victims", 0, "age"), "34"),
        (("pii", "victims", 0, "age"), True),
        (("pii", "victims", 0, "age"), 34.0),
        (("base_seq",), "0"),
        (("base_seq",), True),
        (("base_seq",), 3.0),
    ],
)
def test_wrong_json_types_are_refused_not_converted(path: tuple[Any, ...], value: Any) -> None:
    raw = confused(path, value)
    assert fast_incident(raw) is None
    with pytest.raises(InvalidField) as refused:
        protocol.parse_change(raw)
    assert refused.value.details["errors"][0]["loc"] == [str(p) for p in path]


def test_an_integer_is_a_number_but_a_float_is_no_integer() -> None:
    """JSON has one number type: -77 is a longitude; 30.0 is not an age."""
    raw = confused(("fields", "location", "lon"), -77)
    edit, _ = parse_change(raw)
    assert isinstance(edit, IncidentEdit)
    assert edit.fields["location"]["lon"] == -77.0
    assert fast_incident(raw) == protocol.parse_change(raw)[0]
    with pytest.raises(InvalidField):
        parse_change(confused(("pii", "victims", 0, "age"), 30.0))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("id",), "a1\n"),
        (("fields", "category"), "robo\n"),
        (("fields", "occurred_at"), "2026-11-20T22:15:00-05:00\n"),
    ],
)
def test_trailing_newline_is_refused_by_both(path: tuple[str, ...], value: Any) -> None:
    """Python's ``$`` matches before a final newline; the fast path must not let it through."""
    raw = valid_with(path, value)
    assert fast_incident(raw) is None
    with pytest.raises(InvalidField):
        parse_change(raw)


@st.composite
def push_bodies(draw: st.DrawFn) -> bytes:
    envelope: dict[str, Any] = {
        "batch_id": draw(pick(["b1", "x" * 64], ["", "b 1", "b1\n", 7])),
        "changes": draw(st.lists(changes(), max_size=4)),
    }
    device_time = draw(pick([1764172800000, None, MISSING], [-1, 1.5, "1", True]))
    if device_time is not MISSING:
        envelope["device_time_ms"] = device_time
    if draw(st.booleans()) and envelope["changes"]:
        envelope["changes"][0] = {**envelope["changes"][0], "collection": "patrol_logs"}
    return orjson.dumps(envelope)


def general_push(body: bytes) -> tuple[str, int | None, list[IncidentEdit | None], str] | None:
    """What the general path makes of a body: None if it refuses the envelope."""
    raw = orjson.loads(body)
    try:
        envelope = parse_envelope(raw, 500)
    except SyncError:
        return None
    edits = [pydantic_edit(c) if isinstance(c, dict) else None for c in envelope.changes]
    return envelope.batch_id, envelope.device_time_ms, edits, request_hash(envelope.changes)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(push_bodies())
def test_fast_push_is_the_general_path_or_defers(body: bytes) -> None:
    fast = fast_push(body)
    if fast is None:
        return
    general = general_push(body)
    assert general is not None
    batch_id, device_time_ms, edits, _ = general
    assert (fast.batch_id, fast.device_time_ms, fast.changes) == (batch_id, device_time_ms, edits)


def test_a_common_push_hashes_as_the_general_path() -> None:
    body = orjson.dumps(
        {"batch_id": "b1", "device_time_ms": 1, "changes": [{**VALID, "base_seq": 0}]}
    )
    fast = fast_push(body)
    general = general_push(body)
    assert fast is not None and general is not None
    # Only the ints sent for floats (lon -77) are encoded differently.
    assert fast.request_hash != general[3]
    whole = orjson.loads(body)
    whole["changes"][0]["fields"]["location"]["lon"] = -77.5
    body = orjson.dumps(whole)
    assert fast_push(body).request_hash == general_push(body)[3]  # type: ignore[union-attr,index]


BODY = (
    '{"batch_id":"b1","changes":[{"collection":"incidents","id":"a1","op":"upsert",'
    '"hlc":"1764172800000-00000","fields":{"category":"robo","description":%s}}]}'
)


@pytest.mark.parametrize("text", ['"\\ud800"', '"\\udc00x"', '"a\\ud800"'])
def test_lone_surrogates_are_left_to_the_general_path(text: str) -> None:
    """orjson refuses them (invalid_json); the fast path must not take them in."""
    body = (BODY % text).encode()
    assert fast_push(body) is None
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)


def test_repeated_members_read_as_the_general_path_reads_them() -> None:
    body = (
        b'{"batch_id":"b1","batch_id":"b2","changes":[{"collection":"incidents","id":"a1",'
        b'"id":"a2","op":"upsert","hlc":"1764172800000-00000"}]}'
    )
    fast, general = fast_push(body), general_push(body)
    assert fast is not None and general is not None
    assert (fast.batch_id, [c.id for c in fast.changes]) == ("b2", ["a2"])
    assert (general[0], [e.id for e in general[2] if e]) == ("b2", ["a2"])
