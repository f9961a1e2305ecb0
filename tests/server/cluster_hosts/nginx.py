"""Debian's nginx in the root namespace, balancing over the hosts (``nginx.conf`` here)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from pathlib import Path

import httpx

from tests.server_process import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TEMPLATE = Path(__file__).with_name("nginx.conf")


class Nginx:
    def __init__(self, folder: Path, upstreams: list[str]) -> None:
        self.folder = folder
        self.port = free_port()
        servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=30s;" for u in upstreams)
        conf = TEMPLATE.read_text()
        for name, value in (("{dir}", str(folder)), ("{port}", str(self.port))):
            conf = conf.replace(name, value)
        self.conf = folder / "nginx.conf"
        self.conf.write_text(conf.replace("{servers}", servers))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        command = [NGINX, "-p", str(self.folder), "-c", str(self.conf)]
        command += ["-e", str(self.folder / "error.log")]
        with (self.folder / "nginx.out").open("ab") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(600):
                assert self.proc.poll() is None, (self.folder / "error.log").read_text()
                try:
                    if (await http.get(f"{self.base_url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("nginx did not answer")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
