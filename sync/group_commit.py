"""Group commit: pushes that wait for the write lock are written together, in one transaction.

A push is validated and prepared by its own request; then it joins a queue that one writer
task drains, taking everything that queued while the last transaction ran.  The pushes of a
group are still applied one after another, each seeing the writes of those before it, with
their own answers; they share the lock, the commit and its fsync.  Under load the groups grow
by themselves (the longer a commit, the more pushes queue behind it), which is what keeps the
write path from being the bottleneck: 500-row pushes committed in fours cost SQLite a third
less per row than one by one (docs/benchmarks.md).

The group is taken once the writer holds the lock, not before it asks for it: on PostgreSQL
with several workers the lock is often held by another process, and the pushes that queue
while this one waits for it (about as long as a transaction) go in with the others instead of
waiting for one more turn of the lock (docs/benchmarks.md, "Load").

Acknowledgement is unchanged: a request gets its answer only after the commit that holds it.
If a group fails, its pushes are written again one by one, so one bad push fails alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def _new_future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass(slots=True)
class Queued(Generic[Item, Result]):
    item: Item
    size: int
    future: asyncio.Future[Result] = field(default_factory=_new_future)


# Writes a group in one transaction: calls the taker once it holds the write lock, for the
# items to write; returns, for each of them in order, its result or the exception that item
# alone must get (an exception raised fails the whole group).
Taker = Callable[[], list[Item]]
GroupWriter = Callable[[Taker[Item]], Awaitable[list[Result | BaseException]]]


class GroupCommit(Generic[Item, Result]):
    def __init__(self, write: GroupWriter[Item, Result], max_size: int) -> None:
        self._write = write
        self._max_size = max_size
        self._queue: list[Queued[Item, Result]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: Item, size: int) -> Result:
        """Queue ``item`` (``size`` counts toward a group's limit); its result once committed."""
        queued: Queued[Item, Result] = Queued(item, size)
        self._queue.append(queued)
        if self._task is None:
            # A task of its own, not the caller's: a request cancelled by its client must not
            # cancel a transaction that holds other devices' pushes.
            self._task = asyncio.create_task(self._drain(), name="ronda-group-commit")
        return await queued.future

    async def _drain(self) -> None:
        group: list[Queued[Item, Result]] = []
        try:
            while self._queue:
                group = []
                await self._commit_next(group)
        except BaseException:
            # Cancelled (shutdown): nobody may wait for an answer that will never come.
            for queued in [*group, *self._queue]:
                queued.future.cancel()
            self._queue = []
            raise
        finally:
            self._task = None

    def _take(self) -> list[Queued[Item, Result]]:
        taken, total = 0, 0
        for queued in self._queue:
            if taken and total + queued.size > self._max_size:
                break
            taken += 1
            total += queued.size
        group, self._queue = self._queue[:taken], self._queue[taken:]
        return group

    async def _commit_next(self, group: list[Queued[Item, Result]]) -> None:
        """Write the next group; ``group`` (empty) gets what was taken for it."""

        taken = False

        def take() -> list[Item]:
            nonlocal taken
            if not taken:
                taken = True
                group.extend(self._take())
            return [q.item for q in group]

        try:
            outcomes = await self._write(take)
        except Exception as exc:
            take()  # if it failed before taking (the lock, say), the group it would have had
            await self._again_one_by_one(group, exc)
            return
        for queued, outcome in zip(group, outcomes, strict=True):
            _settle(queued, outcome)

    async def _again_one_by_one(self, group: list[Queued[Item, Result]], exc: Exception) -> None:
        if len(group) == 1:
            _settle(group[0], exc)
            return
        for queued in group:  # only the push at fault fails
            try:
                outcomes = await self._write(_only(queued.item))
            except Exception as alone:
                _settle(queued, alone)
            else:
                _settle(queued, outcomes[0])


def _only(item: Item) -> Taker[Item]:
    return lambda: [item]


def _settle(queued: Queued[Item, Result], outcome: Result | BaseException) -> None:
    if queued.future.done():  # the request went away; its push is committed all the same
        return
    if isinstance(outcome, BaseException):
        queued.future.set_exception(outcome)
    else:
        queued.future.set_result(outcome)
