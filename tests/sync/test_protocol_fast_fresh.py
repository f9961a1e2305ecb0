"""A new incident built before the write lock (``FreshBuilder``) is written as a merge into
an empty record writes it (``merge_fields`` then ``incident_write``): the same doc, clocks,
personal data and map point; and byte for byte as the dict-and-orjson build it replaced."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.merge import DELETED, PENDING, RecordState, merge_fields, number_clocks
from sync.protocol import IncidentEdit
from sync.push_batch import _updates
from sync.push_writes import FreshBuilder, IncidentWork, fresh_write, incident_write
from sync.store.records import Identity, RecordWrite

NOW = 1_764_172_800_123
SEQ = 4_321
# Names outside the patterns of ids are legal for stations, officers and devices: escaping.
NAMES = st.sampled_from(["st-1", 'comisaría "Sur"', "a\\b", "línea\nnueva", "😀", "x" * 64])
TEXT = st.text(max_size=30)
NUMBER = st.floats(allow_nan=False, allow_infinity=False, min_value=-180, max_value=180)
PERSON = st.fixed_dictionaries(
    {"name": TEXT.filter(bool)},
    optional={"dni": st.just("41234567"), "age": st.integers(0, 130), "notes": TEXT},
)
FIELDS = st.fixed_dictionaries(
    {
        "category": st.sampled_from(["robo", "hurto", "violencia_familiar"]),
        "occurred_at": st.sampled_from(
            ["2026-11-20T22:15:00-05:00", "2026-11-20T22:15:00Z", "2000-01-01T00:00:00+14:00"]
        ),
    },
    optional={
        "status": st.sampled_from(["open", "closed", None]),
        "description": st.one_of(st.none(), TEXT),
        "address_text": st.one_of(st.none(), TEXT),
        "location": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"lon": NUMBER, "lat": NUMBER.map(lambda v: v / 2)},
                optional={"accuracy_m": st.floats(0, 100_000)},
            ),
        ),
    },
)
PII = st.fixed_dictionaries(
    {},
    optional={
        "victims": st.lists(PERSON, max_size=2),
        "witnesses": st.lists(PERSON, max_size=2),
        "suspects": st.lists(PERSON, max_size=1),
    },
)
DERIVED: st.SearchStrategy[dict[str, Any] | None] = st.one_of(
    st.none(),
    st.just({}),
    st.fixed_dictionaries(
        {"district": NAMES, "sector": st.one_of(st.none(), NAMES)},
        optional={"cell": st.just("89283082803ffff"), "lon": NUMBER, "lat": NUMBER},
    ),
)


def merged_write(who: Identity, change: IncidentEdit, derived: dict[str, Any]) -> RecordWrite:
    """The general way: the change merged into an empty record, then numbered."""
    work = IncidentWork(
        change.id, who.station_id or "", who.officer_id, who.device_id, RecordState(), None
    )
    merge_fields(work.state, _updates(change), change.hlc, who.device_id, change.base_seq)
    work.seq = SEQ
    number_clocks(work.state, SEQ)
    return incident_write(work, derived, NOW)


def reference_texts(
    who: Identity, change: IncidentEdit, derived: dict[str, Any]
) -> tuple[str, str, str | None]:
    """doc tail, clocks and personal data as the build before FreshBuilder made them
    (commit 2e4611c, ``PushWork._fresh_record``): dicts through orjson."""
    public, pii = change.fields, change.pii
    stamp = [change.hlc, who.device_id, PENDING]
    clocks = dict.fromkeys([*public, *(f"pii.{name}" for name in pii), DELETED], stamp)
    kept_pii = {name: value for name, value in pii.items() if value}
    doc = {
        "collection": "incidents",
        "id": change.id,
        "station_id": who.station_id,
        "author": who.officer_id,
        "deleted": False,
        "hlc": change.hlc,
        "fields": public,
        "derived": derived,
    }
    return (
        orjson.dumps(doc).decode()[1:],
        orjson.dumps(clocks).decode(),
        orjson.dumps(kept_pii).decode() if kept_pii else None,
    )


def fast_write(who: Identity, change: IncidentEdit, derived: dict[str, Any] | None) -> RecordWrite:
    fresh = FreshBuilder(who).build(change, change.fields, change.pii, derived)
    work = IncidentWork(
        change.id,
        who.station_id or "",
        who.officer_id,
        who.device_id,
        RecordState(),
        None,
        changed=True,
        fresh=fresh,
    )
    work.seq = SEQ
    return fresh_write(work, fresh, NOW)


@settings(max_examples=400, deadline=None)
@given(
    station=NAMES,
    officer=NAMES,
    device=NAMES,
    fields=FIELDS,
    pii=PII,
    derived=DERIVED,
    record_id=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z"),
)
def test_a_fresh_incident_is_written_as_a_merge_into_nothing(
    station: str,
    officer: str,
    device: str,
    fields: dict[str, Any],
    pii: dict[str, Any],
    derived: dict[str, Any] | None,
    record_id: str,
) -> None:
    who = Identity(device, "phone", officer, "officer", station)
    change = IncidentEdit(record_id, "upsert", "1764172800000-00042", 0, fields, pii)
    fresh = FreshBuilder(who).build(change, change.fields, change.pii, derived)
    assert (fresh.doc_tail, fresh.clocks, fresh.pii) == reference_texts(who, change, derived or {})
    fast = fast_write(who, change, derived)
    general = merged_write(who, change, derived or {})
    # Key order differs (a fresh doc starts with its seq): the same JSON all the same.
    assert orjson.loads(fast.doc) == orjson.loads(general.doc)
    assert fast.clocks == general.clocks
    assert fast.pii == general.pii
    assert fast.point == general.point
    assert (fast.station_id, fast.author_officer, fast.author_device, fast.seq) == (
        general.station_id,
        general.author_officer,
        general.author_device,
        general.seq,
    )


def test_field_name_sets_share_a_clock_template() -> None:
    who = Identity("dev", "phone", "off", "officer", "st")
    one = IncidentEdit("a", "upsert", "1764172800000-00001", 0, {"category": "robo"}, {})
    other = IncidentEdit("b", "upsert", "1764172800000-00002", 0, {"category": "hurto"}, {})
    builder = FreshBuilder(who)
    assert builder.build(one, one.fields, {}, None).clocks == (
        '{"category":["1764172800000-00001","dev",-1],"_deleted":["1764172800000-00001","dev",-1]}'
    )
    assert builder.build(other, other.fields, {}, None).clocks.count("1764172800000-00002") == 2
