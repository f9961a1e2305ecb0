"""Deploying the documented way (issue 19, acceptance 1), end to end with real parts.

- PostgreSQL: the roles and grants of ``deploy/postgres-roles.sql`` (run as it is shipped,
  with the names made unique); the schema made by the owner role (``ronda db upgrade``);
  everything else, the server included, as the app role.
- ``ronda serve --workers 2 --no-upgrade`` behind Debian's nginx with
  ``deploy/nginx-ronda.conf`` on a TLS port that is not 443, with a self-signed
  certificate (openssl); nginx runs as a process of this test with its own prefix.
- Through the proxy: devices enroll, push (one push logs a conflict: the app role takes a
  sequence number), pull (a chief's pull of personal data writes an audit row), a chief
  signs in in Chromium, TileJSON and OGC links carry the proxy's scheme, host and port.
- ``/metrics``: not reachable through the proxy; at the server's own port, one figure
  whichever worker answers.
- Backup (``ronda backup``, app role, while serving), more pushes, ``ronda restore`` as the
  owner: a device that had pulled past the backup is told, resyncs and re-sends what it
  holds; its patrol-log chain is whole again.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import ssl
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from server.backup import libpq_env, pg_tool
from sync.client import SyncClient
from tests.server.test_deploy_files import DEPLOY, NGINX, write_nginx_conf
from tests.server.test_deploy_process import Uvicorn, sample
from tests.server_process import free_port

PG_URL = os.environ.get("RONDA_TEST_PG_URL")
RONDA = str(Path(sys.executable).with_name("ronda"))
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "una-contraseña-larga"
NOTE = {"kind": "note", "at": "2026-11-20T22:15:00-05:00", "text": "inicio de ronda"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason="RONDA_TEST_PG_URL is not set"),
    pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
]


def incident(text: str) -> dict[str, Any]:
    return {
        "category": "robo",
        "occurred_at": "2026-11-20T22:15:00-05:00",
        "description": text,
        "location": {"lon": -77.0282, "lat": -12.0464},
    }


class Database:
    """The documented roles and database, under names of this test's own."""

    def __init__(self) -> None:
        assert PG_URL
        tag = uuid.uuid4().hex[:8]
        self.owner, self.app, self.name = f"ronda_owner_{tag}", f"ronda_app_{tag}", f"ronda_{tag}"
        server = PG_URL.split("@", 1)[1].rsplit("/", 1)[0]
        self.owner_url = f"postgresql+asyncpg://{self.owner}:change-me-owner@{server}/{self.name}"
        self.app_url = f"postgresql+asyncpg://{self.app}:change-me-app@{server}/{self.name}"
        base = PG_URL.rsplit("/", 1)[0].replace("postgresql+asyncpg://", "postgresql://")
        self.superuser_dsn = f"{base}/{self.name}"

    def create(self, tmp: Path) -> None:
        sql = (DEPLOY / "postgres-roles.sql").read_text()
        sql = re.sub(r"\bronda_owner\b", self.owner, sql)
        sql = re.sub(r"\bronda_app\b", self.app, sql)
        sql = re.sub(r"\b(DATABASE|connect) ronda\b", rf"\1 {self.name}", sql)
        assert sql.count(self.name) == 4 and " ronda " not in sql
        script = tmp / "roles.sql"
        script.write_text(sql)
        assert PG_URL
        env = libpq_env(PG_URL.rsplit("/", 1)[0] + "/postgres")
        psql = [pg_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(script)]
        done = subprocess.run(psql, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr

    def drop(self) -> None:
        assert PG_URL
        env = libpq_env(PG_URL.rsplit("/", 1)[0] + "/postgres")
        for statement in (
            f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)',
            f'DROP ROLE IF EXISTS "{self.app}"',
            f'DROP ROLE IF EXISTS "{self.owner}"',
        ):
            subprocess.run(
                [pg_tool("psql"), "-X", "-q", "-c", statement],
                env=env,
                capture_output=True,
                check=False,
            )

    async def rows(self, query: str) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.superuser_dsn)
        try:
            return list(await conn.fetch(query))
        finally:
            await conn.close()


def ronda(url: str, *args: str) -> str:
    env = {**os.environ, "RONDA_DATABASE__URL": url}
    done = subprocess.run([RONDA, *args], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"ronda {args}: {done.stderr}{done.stdout}"
    return done.stdout


class Nginx:
    """Debian's nginx with the shipped configuration, in a folder of its own (not a service)."""

    def __init__(self, folder: Path, upstream_port: int) -> None:
        self.folder = folder
        folder.mkdir()
        self.port = free_port()
        self.conf = write_nginx_conf(folder, upstream_port, self.port)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def cert(self) -> Path:
        return self.folder / "cert.pem"

    async def start(self) -> None:
        command = [NGINX, "-p", str(self.folder), "-c", str(self.conf)]
        command += ["-e", str(self.folder / "error.log")]
        with (self.folder / "nginx.out").open("ab") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        trusted = ssl.create_default_context(cafile=str(self.cert))
        async with httpx.AsyncClient(verify=trusted, timeout=2) as http:
            for _ in range(200):
                assert self.proc.poll() is None, (self.folder / "error.log").read_text()
                try:
                    if (await http.get(f"{self.base_url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("nginx did not answer")

    def point_at(self, upstream_port: int) -> None:
        """After the server came back on another port: rewrite and reload (SIGHUP)."""
        self.conf = write_nginx_conf(self.folder, upstream_port, self.port)
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def sign_in_in_chromium(base_url: str, officer: str) -> tuple[str, dict[str, Any]]:
    """Sign in through the proxy in Chromium; returns the page's URL and the session cookie."""
    from playwright.async_api import async_playwright

    from server.web.sessions import SESSION_COOKIE
    from tests.e2e.conftest import CHROMIUM_ARGS

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(ignore_https_errors=True)
            page = await context.new_page()
            await page.goto(f"{base_url}/login?next=/map")
            await page.fill("input[name=officer_id]", officer)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("#sign-in")
            await page.wait_for_url("**/map", timeout=60_000)
            cookies = [c for c in await context.cookies() if c["name"] == SESSION_COOKIE]
            url = page.url
            await context.close()
        finally:
            await browser.close()
    assert cookies, "no session cookie"
    return url, dict(cookies[0])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def metrics_scrapes(server: Uvicorn, times: int) -> list[tuple[float, float]]:
    figures = []
    for _ in range(times):  # a connection each, so that the scrapes spread over the workers
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            text = (await http.get("/metrics")).text
        figures.append(
            (
                sample(text, 'ronda_syncs_total{kind="push"}'),
                sample(text, 'ronda_syncs_total{kind="pull"}'),
            )
        )
    return figures


async def test_deploy_the_documented_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database()
    db.create(tmp_path)
    server: Uvicorn | None = None
    proxy: Nginx | None = None
    clients: list[SyncClient] = []
    try:
        # --- the operator's steps, as docs/operations.md gives them ---
        ronda(db.owner_url, "db", "upgrade")
        admin = ronda(db.app_url, "init").split("admin token (shown once): ", 1)[1].strip()
        ronda(db.app_url, "station", "add", "cms-1", "Comisaría Uno", "--district", "150132")
        for officer, role in (("off-1", "officer"), ("off-2", "officer"), ("jefe", "chief")):
            ronda(db.app_url, "officer", "add", officer, officer.title(), "--role", role,
                  "--station", "cms-1")  # fmt: skip
        ronda(db.app_url, "officer", "password", "jefe", "--password", PASSWORD)
        codes = {o: ronda(db.app_url, "enroll", o).strip() for o in ("off-1", "off-2", "jefe")}

        args = [RONDA, "serve", "--host", "127.0.0.1", "--port", "{port}", "--workers", "2"]
        args += ["--no-upgrade", "--forwarded-allow-ips", "127.0.0.1"]
        args += ["--timeout-graceful-shutdown", "5"]
        env = {"RONDA_WEB__SECURE_COOKIES": "true", "RONDA_SERVER__LOG_LEVEL": "warning"}
        server = Uvicorn(db.app_url, tmp_path / "logs", args, env=env)
        await server.start()
        proxy = Nginx(tmp_path / "nginx", server.port)
        await proxy.start()
        base = proxy.base_url
        monkeypatch.setenv("SSL_CERT_FILE", str(proxy.cert))  # httpx trusts our certificate

        # --- devices enroll, push and pull through the proxy ---
        async def enroll(officer: str) -> SyncClient:
            path = tmp_path / f"{officer}.db"
            client = await SyncClient.enroll(base, codes[officer], officer, path)
            clients.append(client)
            return client

        ana, luis, jefe = await enroll("off-1"), await enroll("off-2"), await enroll("jefe")
        victim = {"victims": [{"name": "Zoila Quispe", "age": 41}]}
        shared = ana.create_incident(incident("puerta forzada"), victim)
        kept = [ana.create_incident(incident(f"antes {i}")) for i in range(2)]
        ana.append_log(NOTE)
        await ana.sync()
        await luis.sync()
        assert luis.incident(shared) is not None
        # Both change the same field offline: the later push logs a conflict.
        ana.update_incident(shared, {"status": "closed"})
        luis.update_incident(shared, {"status": "referred"})
        await ana.sync()
        await luis.sync()
        assert luis.stats.conflicts + ana.stats.conflicts >= 1
        await jefe.sync()  # a chief pulls the victim's name: audited
        jefe_view = jefe.incident(shared)
        assert jefe_view is not None and jefe_view["pii"]["victims"][0]["name"] == "Zoila Quispe"
        assert await db.rows("SELECT id FROM conflict"), "no conflict logged"
        audit = await db.rows("SELECT action FROM audit")
        assert "pull_pii" in {r["action"] for r in audit}
        assert ana.rejected() == [] and luis.rejected() == []

        chief = str(jefe.box.get("token"))
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            # --- links carry the proxy's scheme, host and port ---
            tilejson = await http.get("/tiles/incidents.json", headers=auth(chief))
            assert tilejson.status_code == 200, tilejson.text
            assert tilejson.json()["tiles"][0].startswith(f"{base}/tiles/incidents/")
            assert tilejson.headers["strict-transport-security"] == "max-age=31536000"
            ogc = await http.get("/ogc/collections", headers=auth(chief))
            assert ogc.status_code == 200, ogc.text
            hrefs = [link["href"] for link in ogc.json()["links"]]
            hrefs += [x["href"] for c in ogc.json()["collections"] for x in c.get("links", [])]
            page = await http.get(
                "/ogc/collections/incidents/items", params={"limit": 1}, headers=auth(chief)
            )
            assert page.status_code == 200, page.text
            if page.json().get("numberMatched", 0) > 1:
                assert "next" in {link["rel"] for link in page.json()["links"]}
            hrefs += [link["href"] for link in page.json()["links"]]
            assert hrefs and all(h.startswith(f"{base}/") for h in hrefs), hrefs
            # --- /metrics stays off the public side ---
            hidden = await http.get("/metrics")
            assert hidden.status_code == 404 and "ronda_syncs_total" not in hidden.text

        # --- a chief signs in in Chromium, through the proxy, on a port that is not 443 ---
        url, cookie = await sign_in_in_chromium(base, "jefe")
        assert url == f"{base}/map"
        assert cookie["secure"] is True

        # --- one figure for the server, whichever worker answers ---
        # (first syncs come by snapshot, which the pull counter does not count)
        pushes = sum(c.stats.pushes for c in clients)
        figures = await metrics_scrapes(server, 6)
        assert figures == [figures[0]] * 6
        assert figures[0][0] == pushes and figures[0][1] > 0

        # --- backup while serving, push more, restore ---
        ronda(db.app_url, "backup", str(tmp_path / "ronda.dump"))
        later = [ana.create_incident(incident(f"después {i}"), victim) for i in range(2)]
        later_entry = ana.append_log({**NOTE, "text": "después del respaldo"})
        await ana.sync()
        await luis.sync()
        stale = ana.box.get("cursor")
        offline = ana.create_incident(incident("sin señal"))
        await server.stop()
        assert "new epoch" in ronda(db.owner_url, "restore", str(tmp_path / "ronda.dump"))
        upstream = server.port
        await server.start()
        if server.port != upstream:  # the old port was taken meanwhile
            proxy.point_at(server.port)
            await asyncio.sleep(1)

        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            token = str(ana.box.get("token"))
            refused = await http.get("/v1/sync/pull", params={"cursor": stale}, headers=auth(token))
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["details"]["reason"] == "epoch_changed"

        result = await ana.sync()  # told (invalid_cursor), resyncs, re-sends what it holds
        assert ana.stats.resyncs == 1
        assert ana.stats.resent == 3  # two incidents and a log entry the restore lost
        assert (result.pending, ana.rejected()) == (0, [])
        await luis.sync()
        assert luis.stats.resyncs == 1
        on_luis = {doc["id"] for doc in luis.incidents()}
        assert {shared, *kept, *later, offline} <= on_luis
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            chain = await http.get(f"/v1/chains/{ana.device_id}", headers=auth(admin))
        assert chain.status_code == 200, chain.text
        assert (chain.json()["entries"], chain.json()["intact"]) == (2, True)
        assert later_entry in {doc["id"] for doc in ana.log_entries()}
        await jefe.sync()
        jefe_later = jefe.incident(later[0])
        assert jefe_later is not None and jefe_later["pii"] == ana.incident(later[0])["pii"]  # type: ignore[index]
    finally:
        for client in clients:
            await client.aclose()
        if proxy is not None:
            proxy.stop()
        if server is not None:
            await server.stop()
        db.drop()
