"""Prometheus metrics: one registry per app (so tests can build many apps), and one true
figure per server however many worker processes it has.

A lone process counts in memory. Workers of one uvicorn (``--workers N``, or ``ronda serve
--workers N``) each write their counts to files in a directory they share, prometheus_client's
multiprocess mode, and ``/metrics`` adds every worker's files up: any worker answers the
server's totals. The directory is ``PROMETHEUS_MULTIPROC_DIR`` when set, otherwise one per
uvicorn supervisor under the temporary directory. The first worker of a new server removes
the files of processes that are gone (an earlier run's counts would otherwise be added to
this one's). A worker of the same server that dies keeps its files: its counts stay in the
totals, as a counter's must. There are no gauges, so no
worker's value ever needs withdrawing when it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

ENV = "PROMETHEUS_MULTIPROC_DIR"
AUTO_PREFIX = "ronda-metrics-"


def _started(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot), "" if unknown: with the pid, an
    identity that a later process reusing the pid does not share."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]


def _server_identity() -> str:
    """The server this process belongs to: its uvicorn supervisor, or itself if alone."""
    parent = multiprocessing.parent_process()
    pid = parent.pid if parent is not None and parent.pid is not None else os.getpid()
    return f"{pid}-{_started(pid)}"


def shared_dir() -> Path | None:
    """Where this server's workers keep their counts, or None for a lone process."""
    configured = os.environ.get(ENV)
    if configured:
        return Path(configured)
    if multiprocessing.parent_process() is None:
        return None
    return Path(tempfile.gettempdir()) / f"{AUTO_PREFIX}{_server_identity()}"


def _prune_stale(directory: Path) -> None:
    # Directories of supervisors that are gone (killed before they could clean up).
    for other in directory.parent.glob(f"{AUTO_PREFIX}*"):
        pid, _, started = other.name.removeprefix(AUTO_PREFIX).partition("-")
        if other != directory and pid.isdigit() and _started(int(pid)) != started:
            shutil.rmtree(other, ignore_errors=True)


def prepare_dir(directory: Path) -> None:
    """Create ``directory``; empty it if an earlier server's counts are in it."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    identity = _server_identity()
    with (directory / ".lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the workers start together: one of them empties it
        owner = directory / ".server"
        if not owner.exists() or owner.read_text() != identity:
            for stale in directory.glob("*.db"):
                if not _alive(stale):  # a live one belongs to a sibling that started first
                    stale.unlink(missing_ok=True)
            owner.write_text(identity)
    if directory.name.startswith(AUTO_PREFIX):
        with contextlib.suppress(OSError):
            _prune_stale(directory)


def _alive(values_file: Path) -> bool:
    """Whether the process that writes ``counter_<pid>.db`` (and the like) still runs."""
    pid = values_file.stem.rpartition("_")[2]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _use_files(directory: Path) -> None:
    # prometheus_client picks where values live when a metric is made, from this class and
    # the variable (read when each worker's file is opened).
    os.environ[ENV] = str(directory)
    if values.ValueClass is values.MutexValue:
        # prometheus_client's multiprocess helpers carry no annotations.
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


class Metrics:
    def __init__(self, directory: Path | None = None) -> None:
        """``directory``: share counts with the server's other workers through it."""
        self.directory = directory
        if directory is not None:
            prepare_dir(directory)
            _use_files(directory)
        self._own = CollectorRegistry()
        self.requests = Counter(
            "ronda_http_requests_total",
            "HTTP requests by route and status.",
            ["route", "status"],
            registry=self._own,
        )
        self.latency = Histogram(
            "ronda_http_request_seconds",
            "HTTP request latency by route.",
            ["route"],
            registry=self._own,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.syncs = Counter("ronda_syncs_total", "Pushes and pulls.", ["kind"], registry=self._own)
        self.changes = Counter(
            "ronda_sync_changes_total",
            "Pushed changes by outcome.",
            ["status"],
            registry=self._own,
        )
        self.errors = Counter(
            "ronda_errors_total", "Error answers by code.", ["code"], registry=self._own
        )
        self.shed = Counter(
            "ronda_shed_total",
            "Requests answered 429 busy by the load shedder, by reason; client_gone: left"
            " unanswered, its client gone while it waited.",
            ["reason"],
            registry=self._own,
        )
        self.registry = self._own
        if directory is not None:
            # Exposition reads every worker's files, this one's included.
            self.registry = CollectorRegistry()
            MultiProcessCollector(self.registry, str(directory))  # type: ignore[no-untyped-call]

    def render(self) -> bytes:
        return generate_latest(self.registry)
