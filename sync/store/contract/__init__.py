"""The contract every storage adapter must pass, shipped with the package (as Kinto does).

Each check takes a freshly opened, empty store.  ``tests/sync/test_store_contract.py`` runs
every check on every reachable adapter; a new adapter runs them too, unchanged.  The checks
are grouped by what they cover (``people``, ``pushes``, ``maps``, ``shared``); ``data`` holds
the records they write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sync.store.base import Store
from sync.store.contract.maps import (
    check_boundaries,
    check_points_and_cells,
    check_tracks,
)
from sync.store.contract.people import (
    check_credentials,
    check_enrollment_expiry,
    check_enrollment_once,
    check_login_failures,
    check_people,
    check_revocation,
    check_sessions_and_audit,
)
from sync.store.contract.pushes import (
    check_chain_and_prune,
    check_conflicts_paging,
    check_failed_write_rolls_back_unit,
    check_prefetch_answers_as_reads_do,
    check_pull_scope_and_pii,
    check_push_unit_rollback,
    check_push_unit_roundtrip,
    check_sync_state_and_epoch,
)
from sync.store.contract.shared import (
    check_analysis_results_first_wins,
    check_leases,
    check_public_snapshots_first_wins,
)

Check = Callable[[Store], Awaitable[None]]

CHECKS: list[Check] = [
    check_leases,
    check_analysis_results_first_wins,
    check_sync_state_and_epoch,
    check_public_snapshots_first_wins,
    check_credentials,
    check_login_failures,
    check_sessions_and_audit,
    check_tracks,
    check_points_and_cells,
    check_boundaries,
    check_people,
    check_enrollment_once,
    check_enrollment_expiry,
    check_revocation,
    check_push_unit_roundtrip,
    check_push_unit_rollback,
    check_prefetch_answers_as_reads_do,
    check_failed_write_rolls_back_unit,
    check_pull_scope_and_pii,
    check_conflicts_paging,
    check_chain_and_prune,
]
