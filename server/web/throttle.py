"""Back-off of failed web sign-ins, per (officer, address), per address and per officer.

No hard lock that anyone can trigger: failures only make the *failing* side wait.

- **pair** (officer id, client address): after ``throttle_after`` failures, each further
  attempt from that address for that officer waits 2, 4, 8 ... seconds, capped at
  ``throttle_max_s``. Guessing one officer's password from one address is slow; the
  officer signs in from any other address as usual.
- **address**: the same, looser (``address_throttle_after``), over every officer id tried
  from one address, so one address cannot spray many ids (real or not).
- **officer**: the same over every address (``officer_throttle_after``), applied only to
  addresses that have themselves failed for this officer: many addresses guessing one
  officer's password slow down together, and an address that never failed is not held up.

Unknown officer ids are counted exactly like real ones, so the answers (and the time they
take) say nothing about which ids exist. Counts are forgotten a day after their last
failure; a good sign-in forgets its pair and the officer-wide count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from server.settings import WebSettings
from sync.store.base import Store
from sync.store.records import LoginKey

FORGET_MS = 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether an attempt may be checked now; if not, how long to wait (whole seconds)."""

    retry_after_s: int

    @property
    def allowed(self) -> bool:
        return self.retry_after_s <= 0


def keys(officer_id: str, address: str) -> list[LoginKey]:
    return [
        LoginKey("pair", officer_id, address),
        LoginKey("address", "", address),
        LoginKey("officer", officer_id, ""),
    ]


def wait_ms(failures: int, free: int, cap_s: int) -> int:
    """How long after the last failure the next attempt waits: 0 for the first ``free``
    failures, then 2^1, 2^2, ... seconds, at most ``cap_s``."""
    if failures < free:
        return 0
    waited_ms: int = min(2 ** min(failures - free + 1, 40), cap_s) * 1000
    return waited_ms


async def check(store: Store, web: WebSettings, officer_id: str, address: str, now: int) -> Verdict:
    """May this attempt be checked now? (It is not counted: waiting attempts cost nothing.)"""
    pair, by_address, by_officer = keys(officer_id, address)
    found = await store.login_failures([pair, by_address, by_officer], now - FORGET_MS)
    until = 0
    rules = [(pair, web.throttle_after), (by_address, web.address_throttle_after)]
    if pair in found:  # the officer-wide count slows only addresses that failed themselves
        rules.append((by_officer, web.officer_throttle_after))
    for key, free in rules:
        if key in found:
            failures, last_ms = found[key]
            until = max(until, last_ms + wait_ms(failures, free, web.throttle_max_s))
    return Verdict(math.ceil((until - now) / 1000) if until > now else 0)


async def failed(store: Store, officer_id: str, address: str, now: int) -> None:
    await store.add_login_failure(keys(officer_id, address), now, now - FORGET_MS)


async def succeeded(store: Store, officer_id: str, address: str) -> None:
    await store.clear_login_failures(officer_id, address)
