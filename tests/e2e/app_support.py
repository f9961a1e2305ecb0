"""Helpers for the officer's app tests (tests/e2e/test_app.py) and bench/app.py: a real server on
one station of the demo city that can be ``kill -9``-ed, browser contexts shaped like a phone
whose every request must stay on 127.0.0.1 and whose console must stay free of errors, and
read-only looks at the server's database and at the app's IndexedDB."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pandas as pd

from fixtures.city import load_city
from server.demo import _change, store_city_layers
from server.maps.places import load_places
from server.web.sessions import set_password
from sync.clock import HybridClock
from sync.engine import SyncEngine
from sync.identity import create_device_token
from sync.store.records import Identity, Officer, Station
from sync.store.sql import SQLStore
from tests.e2e.city import ADMIN, CHIEF, PASSWORD
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.server_process import ROOMY_ADMISSION, ServerProcess, own_postgres_database

T = TypeVar("T")
STATION = "st-150135-2"
OFFICERS = ("of-0681", "of-0682")  # two officers of STATION: two phones
SEEDER = "of-0683"  # pushed the station's incidents before the test
INCIDENTS = 400
PHONE = {"width": 390, "height": 844}
LIMA = {"latitude": -12.0464, "longitude": -77.0282, "accuracy": 8}
# Name resolution fails for every host but the loopback one: even a request the guards miss
# cannot leave the machine.
APP_CHROMIUM_ARGS = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
__all__ = ["ADMIN", "CHIEF", "CHROMIUM", "PASSWORD"]


@dataclass
class AppServer:
    """A server process on its own database (SQLite file or PostgreSQL), an admin token."""

    process: ServerProcess
    url: str
    admin_token: str

    @property
    def base_url(self) -> str:
        return self.process.base_url


async def seed_app_city(url: str, incidents: int = INCIDENTS) -> str:
    """One station of the demo city: every layer and person, the station's latest
    ``incidents`` pushed as its phones would; returns an admin token for the API."""
    city = load_city()
    store = SQLStore(url, sqlite_synchronous="NORMAL")
    await store.open()
    try:
        await store_city_layers(store, city)
        places = await load_places(store)
        engine = SyncEngine(store, enricher=places.enrich if places else None)
        for row in city.stations.itertuples():
            await store.put_station(Station(str(row.code), str(row.name), str(row.district_code)))
        for row in city.officers.itertuples():
            station = None if pd.isna(row.station_id) else str(row.station_id)
            await store.put_officer(Officer(str(row.id), str(row.display_name), row.role, station))
        for officer_id in (CHIEF, ADMIN):
            await set_password(store, officer_id, PASSWORD)
        pusher, _ = await create_device_token(store, SEEDER, "e2e-seed", 0)
        who = Identity(pusher.id, "e2e-seed", SEEDER, "officer", STATION)
        mine = city.incidents[city.incidents.station_id == STATION]
        rows = mine.sort_values("occurred_at").tail(incidents).to_dict("records")
        clock = HybridClock()
        for start in range(0, len(rows), 500):
            changes = [_change(r, clock) for r in rows[start : start + 500]]
            await engine.push(who, {"batch_id": uuid.uuid4().hex, "changes": changes})
        _, token = await create_device_token(store, ADMIN, "e2e-admin-api", 0)
        return token
    finally:
        await store.close()


def start_app_server(folder: Path, postgres_db: str | None = None) -> AppServer:
    """Seed a database (a SQLite file in ``folder``, or the PostgreSQL database
    ``postgres_db``, dropped and made again) and start a server on it."""
    if postgres_db is None:
        url = f"sqlite+aiosqlite:///{folder / 'ronda.db'}"
    else:
        url = run_async(own_postgres_database(postgres_db))
    token = run_async(seed_app_city(url))
    env = {**ROOMY_ADMISSION, "RONDA_DATABASE__SQLITE_SYNCHRONOUS": "FULL"}
    process = ServerProcess(url, folder, env=env)
    run_async(process.start(timeout_s=60))
    return AppServer(process, url, token)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from a thread of its own: Playwright's sync API keeps an
    event loop running in the calling thread, where ``asyncio.run`` is refused."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class Guard:
    """Everything a context did that a test must fail on."""

    own: str
    foreign: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    in_flight: dict[int, str] = field(default_factory=dict)
    cut: set[str] = field(default_factory=set)

    def attach(self, context: Any) -> None:
        context.on("request", self._request)
        context.on("requestfinished", self._settled)
        context.on("requestfailed", self._settled)
        context.on("page", self._page)
        for page in context.pages:
            self._page(page)

    def _request(self, request: Any) -> None:
        url = request.url
        if url.startswith(("data:", "blob:", "chrome-extension:")):
            return
        self.in_flight[id(request)] = url
        if urlsplit(url).hostname != "127.0.0.1":
            self.foreign.append(url)

    def _settled(self, request: Any) -> None:
        self.in_flight.pop(id(request), None)

    def go_offline(self, context: Any) -> None:
        """Take the phone offline. An online app may have a sync request on the wire at the
        moment a test chooses (it syncs on its own timers); Chromium reports the cut as a
        console error, which is the test's doing: the requests in flight now are exempt, and
        only for that error."""
        self.cut.update(self.in_flight.values())
        context.set_offline(True)

    def _page(self, page: Any) -> None:
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        text, url = message.text, str(message.location.get("url"))
        if "net::ERR_INTERNET_DISCONNECTED" in text and "/v1/sync/wait?" in url:
            # An online app always holds its wake-up long-poll open; a test that takes the
            # phone offline cuts it, and Chromium reports that cut as a console error. It is
            # the test's doing, at a moment no test can choose (the CI run of 2026-12-03 met
            # it once in 1,457 tests); any other request cut this way still fails the test.
            return
        if "net::ERR_INTERNET_DISCONNECTED" in text and url in self.cut:
            return
        self.console_errors.append(f"{text} @ {url}")

    def expect(self, pattern: str) -> None:
        """Console errors matching ``pattern`` were expected (the browser's own report of a
        request the test made fail): there must be one at least, and they are not counted."""
        matching = [e for e in self.console_errors if re.search(pattern, e)]
        assert matching, f"expected a console error like {pattern!r}: {self.console_errors}"
        self.console_errors[:] = [e for e in self.console_errors if e not in matching]

    def check(self) -> None:
        assert not self.foreign, f"the app asked other hosts: {self.foreign}"
        assert not self.page_errors, f"script errors: {self.page_errors}"
        assert not self.console_errors, f"console errors: {self.console_errors}"


def phone_context(browser: Any, base_url: str, **extra: Any) -> tuple[Any, Guard]:
    """A browser context shaped like a phone in Lima, with the guards attached."""
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="es-PE",
        timezone_id="America/Lima",
        geolocation=LIMA,
        permissions=["geolocation"],
        service_workers="allow",
        **extra,
    )
    guard = Guard(urlsplit(base_url).netloc)
    guard.attach(context)
    return context, guard


def _query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of a read-only query on the server's database, from outside the server."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1]
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return list(conn.execute(sql.replace("$1", "?"), args).fetchall())
        finally:
            conn.close()

    async def fetch() -> list[tuple[Any, ...]]:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return run_async(fetch())


def store_records(server: AppServer, device_id: str) -> list[dict[str, Any]]:
    """The records a device wrote, as the server's database holds them."""
    rows = _query(
        server.url,
        "SELECT collection, id, seq, doc, chain_n FROM record WHERE author_device = $1",
        device_id,
    )
    return [{"collection": c, "id": i, "seq": s, "doc": d, "chain_n": n} for c, i, s, d, n in rows]


def store_conflicts(server: AppServer, record_id: str) -> list[dict[str, Any]]:
    rows = _query(
        server.url,
        "SELECT field, losing_value, losing_device, winning_device FROM conflict"
        " WHERE record_id = $1 ORDER BY id",
        record_id,
    )
    return [
        {"field": f, "losing_value": v, "losing_device": ld, "winning_device": wd}
        for f, v, ld, wd in rows
    ]


IDB_COUNTS = """async () => {
  const names = (await indexedDB.databases()).map((d) => d.name);
  if (!names.includes("ronda-app")) return null;
  const db = await new Promise((ok, no) => {
    const r = indexedDB.open("ronda-app");
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
  const out = {};
  for (const name of db.objectStoreNames) {
    out[name] = await new Promise((ok, no) => {
      const r = db.transaction(name).objectStore(name).count();
      r.onsuccess = () => ok(r.result);
      r.onerror = () => no(r.error);
    });
  }
  db.close();
  return out;
}"""


def idb_counts(page: Any) -> dict[str, int] | None:
    """How many entries each object store of the app's IndexedDB holds (None: no database)."""
    return page.evaluate(IDB_COUNTS)  # type: ignore[no-any-return]


def qr_y4m(text: str, path: Path, size: int = 480) -> Path:
    """A one-frame Y4M video of the QR code of ``text`` (grey on white, centred): what
    Chromium's fake camera (``--use-file-for-fake-video-capture``) shows the app, looping."""
    import numpy as np
    import segno

    rows = list(segno.make(text, error="m").matrix_iter(scale=1, border=4))
    scale = (size * 3 // 4) // len(rows)
    code = np.kron(np.array(rows, dtype=np.uint8), np.ones((scale, scale), dtype=np.uint8))
    width = size * 4 // 3
    luma = np.full((size, width), 235, dtype=np.uint8)
    top, left = (size - code.shape[0]) // 2, (width - code.shape[1]) // 2
    luma[top : top + code.shape[0], left : left + code.shape[1]] = np.where(code, 16, 235)
    chroma = np.full((size // 2) * (width // 2), 128, dtype=np.uint8).tobytes()
    header = f"YUV4MPEG2 W{width} H{size} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n" + luma.tobytes() + chroma + chroma)
    return path
