"""Prometheus metrics, one registry per app (so tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ronda_http_requests_total",
            "HTTP requests by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ronda_http_request_seconds",
            "HTTP request latency by route.",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.syncs = Counter(
            "ronda_syncs_total", "Pushes and pulls.", ["kind"], registry=self.registry
        )
        self.changes = Counter(
            "ronda_sync_changes_total",
            "Pushed changes by outcome.",
            ["status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "ronda_errors_total", "Error answers by code.", ["code"], registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
