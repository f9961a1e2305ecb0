"""App hosts as network namespaces: each gets a veth pair to the root namespace, a /30 of its
own, and runs its processes inside (``ip netns exec``).

Names carry a per-run tag and the subnets are picked among those no interface uses, so two
test runs (two xdist workers) never collide. ``Hosts.remove`` kills every process of every
namespace and deletes the namespaces and veth pairs; it is safe to call after a partial set-up.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
from dataclasses import dataclass, field

IP = shutil.which("ip") or "/usr/sbin/ip"
SS = shutil.which("ss") or "/usr/bin/ss"


def netns_usable() -> str | None:
    """Why namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    if not os.path.exists(IP):
        return "ip (iproute2) is not installed (scripts/system-deps)"
    probe = f"ronda-probe-{secrets.token_hex(3)}"
    made = subprocess.run([IP, "netns", "add", probe], capture_output=True, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.decode(errors='replace').strip()}"
    subprocess.run([IP, "netns", "del", probe], capture_output=True, check=False)
    return None


def run(*args: str) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


@dataclass
class Host:
    """One app host: namespace ``ns``, its address ``ip``; ``gateway`` is the root side's."""

    ns: str
    veth: str
    ip: str
    gateway: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def popen(self, command: list[str], env: dict[str, str], log: str) -> None:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [IP, "netns", "exec", self.ns, *command],
                env=env,
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
            )
        self.procs.append(proc)

    def pids(self) -> list[int]:
        """Every process running in this host's namespace."""
        out = subprocess.run([IP, "netns", "pids", self.ns], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def kill9(self) -> list[int]:
        """``kill -9`` every process of the host; returns their pids."""
        killed = self.pids()
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for proc in self.procs:
            proc.wait(timeout=30)
        return killed

    def owner_of(self, port: int, client_port: int) -> int | None:
        """The pid of the worker holding the accepted connection from ``client_port``."""
        out = run(IP, "netns", "exec", self.ns, SS, "-Htnp", "state", "established")
        for line in out.splitlines():
            parts = line.split()
            if len(parts) < 4:
                continue
            local, peer = parts[2], parts[3]
            if local == f"{self.ip}:{port}" and peer == f"{self.gateway}:{client_port}":
                found = re.search(r"pid=(\d+)", line)
                return int(found.group(1)) if found else None
        return None


def _free_subnets(count: int) -> list[str]:
    """``count`` unused 10.x.y.z/30 prefixes (as "10.x.y." plus a base), one per host."""
    used = run(IP, "-o", "-4", "addr")
    picked: list[str] = []
    while len(picked) < count:
        prefix = f"10.{160 + secrets.randbelow(80)}.{secrets.randbelow(256)}."
        if prefix not in used and prefix not in picked:
            picked.append(prefix)
    return picked


@dataclass
class Hosts:
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    hosts: list[Host] = field(default_factory=list)

    def add(self, count: int) -> list[Host]:
        for i, prefix in enumerate(_free_subnets(count)):
            name = chr(ord("a") + i)
            ns, veth = f"ronda-{self.tag}-{name}", f"rv{self.tag}{name}"
            host = Host(ns, veth, prefix + "2", prefix + "1")
            self.hosts.append(host)  # before creating: removed even if a step below fails
            inner = f"{host.veth}n"
            run(IP, "netns", "add", host.ns)
            run(IP, "link", "add", host.veth, "type", "veth", "peer", "name", inner)
            run(IP, "link", "set", inner, "netns", host.ns)
            run(IP, "addr", "add", f"{host.gateway}/30", "dev", host.veth)
            run(IP, "link", "set", host.veth, "up")
            run(IP, "-n", host.ns, "addr", "add", f"{host.ip}/30", "dev", inner)
            run(IP, "-n", host.ns, "link", "set", inner, "up")
            run(IP, "-n", host.ns, "link", "set", "lo", "up")
        return self.hosts

    def remove(self) -> None:
        for host in self.hosts:
            for pid in host.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for proc in host.procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=30)
            subprocess.run([IP, "link", "del", host.veth], capture_output=True, check=False)
            subprocess.run([IP, "netns", "del", host.ns], capture_output=True, check=False)
