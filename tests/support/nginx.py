"""A real nginx (Debian's) running deploy/nginx/tillsync.conf in front of a test gunicorn."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from .services import free_port, wait_for_http

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "nginx" / "tillsync.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not found:
        raise RuntimeError("nginx is not installed: run `scripts/bootstrap.sh test`, which installs it")
    return found


def render_template(listen: str, upstream: str, max_body_bytes: int, server_name: str = "_") -> str:
    """deploy/nginx/tillsync.conf with its placeholders filled in, as deploy/README.md does with sed."""
    text = TEMPLATE.read_text()
    for placeholder, value in {
        "@LISTEN@": listen,
        "@SERVER_NAME@": server_name,
        "@UPSTREAM@": upstream,
        "@MAX_BODY_BYTES@": str(max_body_bytes),
    }.items():
        text = text.replace(placeholder, value)
    left = re.findall(r"@[A-Z_]+@", text)
    assert not left, f"placeholders of deploy/nginx/tillsync.conf left unfilled: {left}"
    return text


class NginxServer:
    """nginx -p DIR -c DIR/nginx.conf, in the foreground, on a free loopback port.

    The main configuration here only gives nginx its own files in DIR; everything
    about Tillsync comes from the shipped template, included unchanged.
    """

    def __init__(self, upstream: str, *, max_body_bytes: int = 5 * 1024 * 1024, https: bool = False):
        self.root = Path(tempfile.mkdtemp(prefix="tillsync-nginx-"))
        self.upstream = upstream
        self.port = free_port()
        self.url = f"{'https' if https else 'http'}://127.0.0.1:{self.port}"
        listen = f"127.0.0.1:{self.port}" + (" ssl" if https else "")
        (self.root / "tillsync.conf").write_text(render_template(listen, upstream, max_body_bytes))
        tls = ""
        if https:  # a throw-away self-signed certificate, given at the http level
            subprocess.run(
                [
                    "openssl",
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=127.0.0.1",
                    "-keyout",
                    str(self.root / "key.pem"),
                    "-out",
                    str(self.root / "cert.pem"),
                ],
                check=True,
                capture_output=True,
            )
            tls = f"  ssl_certificate {self.root / 'cert.pem'};\n  ssl_certificate_key {self.root / 'key.pem'};"
        user = "user root;" if os.geteuid() == 0 else ""
        temp_paths = "\n".join(
            f"  {kind}_temp_path {self.root / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (self.root / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
pid {self.root / "nginx.pid"};
error_log {self.root / "error.log"} warn;
worker_rlimit_nofile 4096;
events {{ worker_connections 2048; }}
http {{
  access_log {self.root / "access.log"};
{temp_paths}
{tls}
  include {self.root / "tillsync.conf"};
}}
""")
        self.process: subprocess.Popen | None = None

    def start(self) -> NginxServer:
        command = [nginx_binary(), "-p", str(self.root), "-c", str(self.root / "nginx.conf"), "-g", "daemon off;"]
        check = subprocess.run(command + ["-t"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx refused the configuration:\n{check.stderr}")
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_http(self.url + "/healthz", verify=False)
        return self

    def error_log(self) -> str:
        path = self.root / "error.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
