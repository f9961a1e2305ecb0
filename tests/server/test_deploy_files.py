"""The deployment files in deploy/ are the ones docs/operations.md shows, and they are valid.

- docs/operations.md includes ``deploy/nginx-ronda.conf``, ``deploy/ronda.service`` and
  ``deploy/postgres-roles.sql`` verbatim (an operator copies either, and gets the same);
- nginx accepts the configuration (``nginx -t``, Debian's nginx, with the ``CHANGE`` lines
  pointed at a temporary certificate and log);
- ``systemd-analyze verify`` accepts the unit and ``systemd-analyze security --offline``
  rates its exposure at most 2.0 ("OK").  The unit is not run under systemd here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOC = (REPO / "docs" / "operations.md").read_text()
RONDA = Path(sys.executable).with_name("ronda")


def fenced_after(marker: str, lang: str) -> list[str]:
    """Every fenced ``lang`` block of the doc that follows a paragraph naming ``marker``."""
    blocks = re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.S)
    return [b for b in blocks if marker in DOC[: DOC.index(f"```{lang}\n{b}")]]


@pytest.mark.parametrize(
    ("name", "lang"),
    [("nginx-ronda.conf", "nginx"), ("ronda.service", "ini"), ("postgres-roles.sql", "sql")],
)
def test_the_docs_show_the_shipped_file_exactly(name: str, lang: str) -> None:
    shipped = (DEPLOY / name).read_text()
    assert f"`deploy/{name}`" in DOC
    assert shipped in fenced_after(f"deploy/{name}", lang)


def test_the_proxy_block_keeps_the_port_metrics_and_https() -> None:
    conf = (DEPLOY / "nginx-ronda.conf").read_text()
    assert "proxy_set_header Host $http_host;" in conf  # $host drops the port
    assert "$host;" not in conf
    assert re.search(r"location = /metrics \{\s*return 404;", conf)
    assert 'add_header Strict-Transport-Security "max-age=31536000" always;' in conf


def site_config(tmp: Path, upstream_port: int, listen_port: int, cert: Path, key: Path) -> str:
    """The shipped server block with its CHANGE lines filled in for a test."""
    conf = (DEPLOY / "nginx-ronda.conf").read_text()
    swaps = {
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream_port};",
        "listen 443 ssl;": f"listen 127.0.0.1:{listen_port} ssl;",
        "/etc/ssl/certs/ronda.pem": str(cert),
        "/etc/ssl/private/ronda.key": str(key),
        "/var/log/nginx/ronda.access.log": str(tmp / "access.log"),
    }
    for old, new in swaps.items():
        assert conf.count(old) == 1, old
        conf = conf.replace(old, new)
    return conf


def main_config(tmp: Path, site: Path) -> str:
    """An nginx.conf of the test's own (pid, logs, temp files in ``tmp``) including ``site``."""
    temps = "\n".join(
        f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    temps += f"\n    uwsgi_temp_path {tmp / 'uwsgi'};\n    scgi_temp_path {tmp / 'scgi'};"
    user = "user root;\n" if _root() else ""
    return (
        f"{user}worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\n"
        f"daemon off;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n    access_log off;\n{temps}\n    include {site};\n}}\n"
    )


def _root() -> bool:
    return os.geteuid() == 0


def self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    names = "subjectAltName=IP:127.0.0.1,DNS:localhost"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", names, "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def write_nginx_conf(tmp: Path, upstream_port: int, listen_port: int) -> Path:
    cert, key = self_signed(tmp)
    site = tmp / "ronda.conf"
    site.write_text(site_config(tmp, upstream_port, listen_port, cert, key))
    main = tmp / "nginx.conf"
    main.write_text(main_config(tmp, site))
    return main


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (scripts/system-deps)")
def test_nginx_accepts_the_shipped_configuration(tmp_path: Path) -> None:
    conf = write_nginx_conf(tmp_path, 8000, 8543)
    done = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.skipif(not RONDA.exists(), reason="the ronda command is not installed")
def test_systemd_accepts_the_unit_and_rates_it_ok(tmp_path: Path) -> None:
    assert SYSTEMD_ANALYZE
    unit = (DEPLOY / "ronda.service").read_text()
    assert unit.count("/opt/ronda/venv/bin/ronda") == 1
    # verify checks that ExecStart's program exists: point it at the installed one.
    path = tmp_path / "ronda.service"
    path.write_text(unit.replace("/opt/ronda/venv/bin/ronda", str(RONDA)))
    verify = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(path)], capture_output=True, text=True, check=False
    )
    # verify exits 0 on lines it ignores (an unknown option, a bad value): read its words.
    assert (verify.returncode, verify.stderr.strip(), verify.stdout.strip()) == (0, "", "")
    security = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=true", "--threshold=20", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert security.returncode == 0, security.stdout + security.stderr
    assert "Overall exposure level for ronda.service: 1." in security.stdout


def test_the_unit_stops_after_the_graceful_shutdown() -> None:
    unit = (DEPLOY / "ronda.service").read_text()
    graceful = int(re.search(r"--timeout-graceful-shutdown (\d+)", unit).group(1))  # type: ignore[union-attr]
    stop = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, flags=re.M).group(1))  # type: ignore[union-attr]
    assert stop > graceful
