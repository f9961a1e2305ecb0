"""The app factory: ``create_app(settings)`` builds one independent server."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import errors, logs, web
from server.cluster import leader_only_forever, worker_name
from server.context import AppContext
from server.maps.analysis import Analysis, stop
from server.maps.places import load_places_at_start
from server.metrics import Metrics, shared_dir
from server.middleware import ObserveMiddleware
from server.openapi import openapi_document
from server.private_cache import PrivateCacheMiddleware
from server.routes import admin, features, health, tiles, uploads
from server.routes import analysis as analysis_routes
from server.routes import attachments as attachment_routes
from server.routes import notices as notice_routes
from server.routes import plans as plan_routes
from server.routes import public as public_routes
from server.routes import snapshot as snapshot_routes
from server.routes import sync as sync_routes
from server.routes.common import json_response
from server.settings import Settings
from server.shedding import ShedMiddleware, shed_limits
from sync.clock import now_ms
from sync.engine import Enricher, SyncEngine, SyncLimits
from sync.store.base import Store
from sync.store.replica import ReplicaRouter, ReplicaStore
from sync.store.sql import SQLStore

log = logging.getLogger("ronda.app")
PLACES_GRACE_S = 2.0  # how long start-up waits for the boundaries before going on without


def build_store(settings: Settings, upgrade: bool = False) -> SQLStore:
    """The store of ``settings``; ``upgrade``: migrate an older schema on open, not refuse it."""
    db = settings.database
    return SQLStore(
        db.url,
        sqlite_synchronous=db.sqlite_synchronous,
        pool_size=db.pool_size,
        sqlite_cache_mb=db.sqlite_cache_mb,
        upgrade=upgrade,
        pgbouncer=db.pgbouncer,
    )


def build_replica(settings: Settings, primary: Store) -> ReplicaRouter | None:
    """The router of the read-heavy paths when a replica is configured (docs/operations.md,
    "Several hosts")."""
    db = settings.database
    if not db.replica_url:
        return None
    replica = ReplicaStore(db.replica_url, pool_size=db.pool_size, pgbouncer=db.pgbouncer)
    return ReplicaRouter(primary, replica, db.replica_wait_s)


def build_engine(settings: Settings, store: Store, enricher: Enricher | None = None) -> SyncEngine:
    s = settings.sync
    limits = SyncLimits(
        max_changes=s.max_changes,
        max_clock_ahead_ms=s.max_clock_ahead_ms,
        pull_default_limit=s.pull_default_limit,
        pull_max_limit=s.pull_max_limit,
        pii_roles=frozenset(s.pii_roles),
        group_max_changes=s.group_max_changes,
    )
    return SyncEngine(store, limits, enricher)


_GC_TUNED = False


def tune_gc() -> None:
    """Freeze what start-up built and collect less often (once per process).

    geopandas, scipy and friends leave ~160,000 long-lived objects that every full
    collection rescans; measured, that was a third of the server's CPU under sync load.
    """
    global _GC_TUNED
    if _GC_TUNED:
        return
    _GC_TUNED = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def prune_answers_forever(context: AppContext, every_s: float = 3600.0) -> None:
    """Forget batch answers past their retention (a retry older than that is a new batch),
    on one worker of the deployment at a time."""
    keep_ms = context.settings.sync.answer_retention_days * 86_400_000

    async def prune() -> None:
        await context.store.prune_answers(now_ms() - keep_ms)

    await leader_only_forever(context.store, "prune_answers", every_s, prune, worker_name())


async def openapi(request: Request) -> Response:
    return json_response(openapi_document())


def create_app(settings: Settings | None = None, store: Store | None = None) -> Starlette:
    """Build the app. Pass ``store`` to share one (tests); otherwise it comes from settings."""
    settings = settings or Settings()
    logs.configure(settings.server.log_level)
    store = store or build_store(settings, upgrade=settings.database.upgrade_on_start)
    metrics = Metrics(shared_dir())  # shared by the workers of a multi-worker server
    engine = build_engine(settings, store)
    replica = build_replica(settings, store)
    if replica is not None:
        engine.listeners.append(replica.on_commit)
    reads = store if replica is None else cast(Store, replica)
    analysis = Analysis(reads, settings.analysis.debounce_s, settings.analysis.max_kept)
    engine.listeners.append(analysis.on_commit)
    context = AppContext(settings, store, engine, metrics, analysis, replica_reads=reads)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        if replica is not None:
            await replica.open()
        app.state.ctx = context
        # Boundaries load in the background: a big layer takes seconds per worker, and start-up
        # must stay short. Small layers are usually done within the grace below, so a server
        # with them starts ready; until then /readyz is 503 and pushes wait for placement.
        loading = asyncio.create_task(load_places_at_start(context))
        loading.add_done_callback(lambda _: tune_gc())  # freeze the indexes built too
        await asyncio.wait({loading}, timeout=PLACES_GRACE_S)
        tasks = [
            loading,
            asyncio.create_task(prune_answers_forever(context)),
            asyncio.create_task(analysis.run_forever()),
            asyncio.create_task(notice_routes.sweep_forever(context)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                await stop(task)
            wake = getattr(app.state, "wake", None)  # made by the first /v1/sync/wait
            if wake is not None:
                await wake.close()
            if replica is not None:
                await replica.close()
            attachments = getattr(app.state, "attachments", None)  # made by the first use
            if attachments is not None:
                app.state.attachments = None
                attachments.close()  # its SQLite connections, before the store's checkpoint
            await store.close()

    routes = [
        *health.routes,
        Route("/openapi.json", openapi, methods=["GET"]),
        *sync_routes.routes,
        *notice_routes.routes,
        *snapshot_routes.routes,
        *uploads.routes,
        *attachment_routes.routes,
        *analysis_routes.routes,
        *plan_routes.routes,
        *admin.routes,
        *tiles.routes,
        *features.routes,
        *public_routes.routes,
        *web.routes,
    ]
    middleware = [
        Middleware(ObserveMiddleware, metrics=metrics, timeout_s=settings.server.request_timeout_s),
        Middleware(ShedMiddleware, limits=shed_limits(settings), metrics=metrics, routes=routes),
        Middleware(PrivateCacheMiddleware),
        Middleware(
            GZipMiddleware,
            minimum_size=1024,
            compresslevel=5,
            exclude_content_types=attachment_routes.NO_GZIP,
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers=errors.HANDLERS,
        lifespan=lifespan,
    )
    app.state.ctx = context
    return app
