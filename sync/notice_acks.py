"""Officers' acknowledgements of notices inside a push (docs/protocol.md, "Notices").

An acknowledgement names a notice; it is kept as one record per officer and notice
(collection ``notice_acks``, id ``<notice id>~<officer id>``) in the notice's station, so it
is numbered, pulled and replayed like any other write. Acknowledging again is ``unchanged``:
the first time counts. A notice that has ended (expired or withdrawn) still takes
acknowledgements: a phone offline across the expiry read it before, and that is worth knowing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from sync.errors import RecordNotFound
from sync.protocol_notices import NOTICE_ACKS, NOTICES, NoticeAckChange, ack_id, copy_id
from sync.store.base import PushUnit
from sync.store.records import Identity, RecordWrite, StoredRecord, UnitReads


@dataclass(slots=True)
class AckTarget:
    """A new acknowledgement of this push, numbered in ``finish``."""

    change: NoticeAckChange
    id: str
    station_id: str
    seq: int = 0


class AckWork:
    """The acknowledgements of one push between loading and writing."""

    def __init__(self, who: Identity) -> None:
        self.who = who
        self._copies: dict[str, StoredRecord] = {}
        self._stored: dict[str, StoredRecord] = {}
        self._new: dict[str, AckTarget] = {}

    async def load(self, unit: PushUnit, changes: list[NoticeAckChange]) -> None:
        """Read the notices named and the acknowledgements already kept (again on a retry)."""
        self._new = {}
        if not changes:
            self._copies, self._stored = {}, {}
            return
        copies, acks = self._ids(changes)
        self._copies = await unit.load(NOTICES, copies)
        self._stored = await unit.load(NOTICE_ACKS, acks)

    def reads(self, changes: list[NoticeAckChange], into: UnitReads) -> None:
        """Add what ``load`` will read to a group's reads."""
        if changes:
            copies, acks = self._ids(changes)
            into.add_records(NOTICES, copies)
            into.add_records(NOTICE_ACKS, acks)

    def _ids(self, changes: list[NoticeAckChange]) -> tuple[list[str], list[str]]:
        """The station's copies of the notices named, and this officer's acknowledgements."""
        station, officer = self.who.station_id or "", self.who.officer_id
        notices = sorted({c.id for c in changes})
        return [copy_id(n, station) for n in notices], [ack_id(n, officer) for n in notices]

    def apply(
        self, index: int, change: NoticeAckChange
    ) -> tuple[dict[str, Any], AckTarget | StoredRecord]:
        """The change's result and the record it lands in (new, or the one kept before)."""
        station = self.who.station_id or ""
        if copy_id(change.id, station) not in self._copies:
            # Another station's notice is answered the same as none: ids leak nothing.
            raise RecordNotFound("there is no such notice for this station", {"id": change.id})
        key = ack_id(change.id, self.who.officer_id)
        before: AckTarget | StoredRecord | None = self._new.get(key) or self._stored.get(key)
        target = before or AckTarget(change, key, station)
        if before is None:
            self._new[key] = AckTarget(change, key, station)
            target = self._new[key]
        result = {
            "index": index,
            "collection": NOTICE_ACKS,
            "id": change.id,
            "status": "unchanged" if before is not None else "applied",
        }
        return result, target

    def count(self) -> int:
        return len(self._new)

    def number(self, first: int) -> None:
        for offset, target in enumerate(self._new.values()):
            target.seq = first + offset

    def writes(self, now: int) -> list[RecordWrite]:
        return [self._write(target, now) for target in self._new.values()]

    def _write(self, target: AckTarget, now: int) -> RecordWrite:
        who, change = self.who, target.change
        doc = {
            "collection": NOTICE_ACKS,
            "id": target.id,
            "seq": target.seq,
            "station_id": target.station_id,
            "notice_id": change.id,
            "officer_id": who.officer_id,
            "device_id": who.device_id,
            "deleted": False,
            "hlc": change.hlc,
            "at": change.at,
        }
        return RecordWrite(
            collection=NOTICE_ACKS,
            id=target.id,
            station_id=target.station_id,
            seq=target.seq,
            deleted=False,
            doc=orjson.dumps(doc).decode(),
            clocks="{}",
            pii=None,
            author_officer=who.officer_id,
            author_device=who.device_id,
            chain_n=None,
            updated_ms=now,
            is_new=True,
        )
