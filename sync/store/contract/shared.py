"""The contract's checks of what workers and hosts share: public snapshots (the first
publication wins), leases, stored analysis results (the first write wins).
"""

from __future__ import annotations

from sync.store.base import Store
from sync.store.records import (
    PublicSnapshot,
)


async def check_public_snapshots_first_wins(store: Store) -> None:
    assert await store.public_snapshots() == []
    first = [
        PublicSnapshot("2025-02", "districts", '{"k":5}', '{"total":7}', 10),
        PublicSnapshot("2025-01", "districts", '{"k":5}', '{"total":null}', 10),
        PublicSnapshot("2025-01", "cells", '{"k":5}', '{"cells":[]}', 10),
    ]
    await store.add_public_snapshots(first)
    # a second publication of a month already published changes nothing stored ...
    again = PublicSnapshot("2025-01", "districts", '{"k":5}', '{"total":5}', 20)
    late = PublicSnapshot("2025-03", "cells", '{"k":3}', '{"cells":[["x",10]]}', 20)
    await store.add_public_snapshots([again, late])  # ... and the new one is still added
    await store.add_public_snapshots([])
    stored = await store.public_snapshots()
    assert [(s.month, s.kind) for s in stored] == [
        ("2025-01", "cells"),
        ("2025-01", "districts"),
        ("2025-02", "districts"),
        ("2025-03", "cells"),
    ]
    assert stored[1] == first[1] and stored[3] == late


async def check_leases(store: Store) -> None:
    """One holder at a time; the holder renews; an expired lease passes to another."""
    assert await store.take_lease("job", "w1", now_ms=1_000, ttl_ms=500)
    assert not await store.take_lease("job", "w2", now_ms=1_200, ttl_ms=500)
    assert await store.take_lease("job", "w1", now_ms=1_400, ttl_ms=500)  # renewed to 1,900
    assert not await store.take_lease("job", "w2", now_ms=1_800, ttl_ms=500)
    assert await store.take_lease("job", "w2", now_ms=2_000, ttl_ms=500)  # w1 let it lapse
    assert not await store.take_lease("job", "w1", now_ms=2_100, ttl_ms=500)
    await store.drop_lease("job", "w1")  # not w1's: nothing happens
    assert not await store.take_lease("job", "w1", now_ms=2_200, ttl_ms=500)
    await store.drop_lease("job", "w2")
    assert await store.take_lease("job", "w1", now_ms=2_300, ttl_ms=500)
    assert await store.take_lease("other", "w2", now_ms=2_300, ttl_ms=500)


async def check_analysis_results_first_wins(store: Store) -> None:
    assert await store.analysis_result("q", 7) is None
    await store.put_analysis_result("q", 7, b"first", now_ms=1)
    await store.put_analysis_result("q", 7, b"second", now_ms=2)
    assert await store.analysis_result("q", 7) == b"first"
    await store.put_analysis_result("q", 9, b"\x00\xffnewer", now_ms=3)
    assert await store.analysis_result("q", 9) == b"\x00\xffnewer"
    assert await store.analysis_result("q", 7) is None  # superseded
    await store.put_analysis_result("other", 7, b"kept", now_ms=4)
    assert await store.analysis_result("q", 9) is not None
