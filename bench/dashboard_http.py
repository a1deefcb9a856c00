"""The dashboard bench's HTTP mode: every page and API route through gunicorn, as deployed.

Starts `smartcron dashboard` (gunicorn, gthread workers) on a free loopback port against the
seeded database, logs in through the login form (its CSRF token), then times each path over
HTTP/1.1 on a kept-alive connection: "warm" is repeated requests to a running worker, "cold"
the first request each path gets from a freshly started gunicorn (its caches empty: the task
objects, schedule descriptions and next elapses; the database's own caches stay warm).
Used by bench/dashboard.py --http.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

SMARTCRON = str(Path(sys.executable).with_name("smartcron"))


def paths(middle: str) -> dict[str, str]:
    """Every page and API route the issue names (and the other list pages), by label."""
    return {
        "overview": "/",
        "status.json": "/status.json",
        "task list": "/tasks",
        "task detail": f"/tasks/{middle}",
        "run history page": f"/tasks/{middle}?page=5&outcome=",
        "all runs, failures": "/runs?outcome=failures&page=3",
        "alerts": "/alerts",
        "health": "/health",
        "chains": "/chains",
        "hosts": "/hosts",
        "api tasks": "/api/v1/tasks",
        "api task": f"/api/v1/tasks/{middle}",
        "api runs": "/api/v1/runs",
        "api alerts": "/api/v1/alerts",
        "api health": "/api/v1/health",
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gunicorn:
    """`smartcron dashboard` on a free port, started and stopped around a block."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
        env = {
            **os.environ,
            "SMARTCRON_CONFIG": "",
            "SMARTCRON_DATABASE_URL": self.url,
            "SMARTCRON_TLS_CERTIFICATE": "",  # plain HTTP on loopback: no certificate
            "SMARTCRON_TLS_KEY": "",
        }
        self.proc = subprocess.Popen(
            [SMARTCRON, "dashboard", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            cwd="/",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status in (200, 503):
                    conn.close()
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer on port {self.port} within 60 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


class Client:
    """One kept-alive HTTP connection with the session cookie of a logged-in admin."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        form = self.get("/login")[1].decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token, "no CSRF token in the login form"
        body = urllib.parse.urlencode(
            {"username": username, "password": password, "csrf_token": token.group(1)}
        )
        status, _ = self.request("POST", "/login", body)
        assert status == 302, f"login answered {status}"

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, data

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def timed(self, path: str) -> float:
        """GET `path`; return the milliseconds until the whole answer was read."""
        t0 = time.perf_counter()
        status, _ = self.get(path)
        took = (time.perf_counter() - t0) * 1000
        assert status == 200, (path, status)
        return took


def measure_http(
    url: str, requests: int, n_tasks: int, cold_repeats: int = 3
) -> dict[str, list[float]]:
    """Return the milliseconds of every request, by "<label> (warm|cold)"."""
    middle = f"task-{n_tasks // 2:04d}"
    out: dict[str, list[float]] = {}
    with Gunicorn(url) as server:
        client = Client(server.port, "admin", "benchmark-password")
        for label, path in paths(middle).items():
            client.get(path)  # the worker's first: template compilation, pool
            out[f"{label} (warm)"] = [client.timed(path) for _ in range(requests)]
    for _ in range(cold_repeats):
        for label, path in paths(middle).items():
            with Gunicorn(url) as server:
                client = Client(server.port, "admin", "benchmark-password")
                out.setdefault(f"{label} (cold)", []).append(client.timed(path))
    return out
