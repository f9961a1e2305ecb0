"""bench/load.py's reading of pg2 against pg1 (docs/benchmarks.md, "pg2 against pg1"): the
expected figures are worked by hand from the CPU each run's requests cost."""

from __future__ import annotations

import os

import pytest

from bench.load import Result, Tally, scaling


def run(label: str, served: int, seconds: float, **cpu_ms: float) -> Result:
    return Result(label, served, seconds, Tally(), {}, cpu_ms, ("", ""), "")


def test_equal_cpu_and_the_machines_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    # pg1: its worker 5 ms a request, so at most 200 rps on its one core (it served 180: the
    # run's tail dilutes rps, not costs); pg2: its workers 4 ms, PostgreSQL 1.2 ms and the
    # phones 0.8 ms a request, so at most 2 cores / 6 ms = 333.3 rps: 1.667 times pg1's.
    pg1 = [run("pg1", 9_000, 50.0, server=5.0, postgresql=1.0, generator=0.7)]
    pg2 = [run("pg2", 14_000, 50.0, server=4.0, postgresql=1.2, generator=0.8)]
    ((same_cpu, ceiling),) = scaling(pg1, pg2)
    assert same_cpu == pytest.approx(1.25)
    assert ceiling == pytest.approx(2000 / 6 / 200)
