"""A request's admission place (server/shedding.py), given back while it waits on the database.

Admission bounds the requests one worker serves at once because they share its event loop.
A push waiting for its group's commit (sync/group_commit.py) uses none of that loop: it waits
for the write lock, which on PostgreSQL with two workers is held about 70 % of the time by one
of them (docs/benchmarks.md, "Load"). Holding its place meanwhile, it kept a pull or a tile
waiting while the worker sat half idle. So a push gives its place back when it joins the
write queue, while few enough pushes wait that way, and finishes without one: what is left
after the commit is a small answer.

The middleware puts the place in a context variable; the code that waits gives it back. A
place is given back once, whoever asks first (the waiting code or the middleware at the end).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token


class Place:
    """One admitted request's place; ``give_back`` frees it once, later calls do nothing."""

    __slots__ = ("_leave", "held")

    def __init__(self, leave: Callable[[], None]) -> None:
        self._leave = leave
        self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self._leave()


_current: ContextVar[Place | None] = ContextVar("ronda_admission_place", default=None)


def hold(place: Place) -> Token[Place | None]:
    """Make ``place`` the running request's (the middleware, once admitted)."""
    return _current.set(place)


def release(token: Token[Place | None]) -> None:
    _current.reset(token)


def give_back() -> bool:
    """Give the running request's place back, if it holds one; whether it did."""
    place = _current.get()
    if place is None or not place.held:
        return False
    place.give_back()
    return True
