"""Debian's Prometheus scraping the dashboard for real: gunicorn (`smartcron dashboard`) serves
/metrics with a bearer token, /usr/bin/prometheus scrapes it every second with the contrib
rules loaded, and one successful and one failing task, run in the private systemd and
recorded by the watchdog, come out of Prometheus' query API with the right values."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from smartcron.watchdog.service import Watchdog

from support import EMPTY_CONFIG, ROOT, free_port, need
from support.dashboard import add_user
from support.systemd import SystemdEnv, wait_rows

PROMETHEUS = "/usr/bin/prometheus"
RULES = ROOT / "contrib" / "prometheus" / "smartcron.rules.yml"


def _get(url: str, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
        return answer.read()


def _wait(what: str, probe: Any, timeout: float = 60) -> Any:
    """Call probe() until it returns something true; return it (or fail saying what)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except OSError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last answer: {last!r}")


@pytest.fixture
def dashboard(sd: SystemdEnv) -> Iterator[str]:
    """gunicorn serving the dashboard on the test's database; yields its address."""
    port = free_port()
    env = {
        **os.environ,
        "SMARTCRON_DATABASE_URL": str(sd.engine.url),
        "SMARTCRON_CONFIG": str(EMPTY_CONFIG),
    }
    smartcron = Path(sys.executable).with_name("smartcron")
    proc = subprocess.Popen(
        [str(smartcron), "dashboard", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    address = f"127.0.0.1:{port}"
    try:
        _wait("the dashboard's /healthz", lambda: _get(f"http://{address}/healthz"), 30)
    except AssertionError:
        proc.kill()
        raise AssertionError(
            f"dashboard did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
        ) from None
    yield address
    proc.terminate()
    proc.wait(timeout=15)


@pytest.fixture
def prometheus(sd: SystemdEnv, dashboard: str, tmp_path: Path) -> Iterator[str]:
    """Debian's Prometheus scraping `dashboard` every second with an API token and the contrib
    rules; yields its HTTP API's base URL."""
    need(os.access(PROMETHEUS, os.X_OK), f"{PROMETHEUS} is missing (Debian package prometheus)")
    add_user(sd.engine, "prom", "viewer")
    token = sd.run("user", "token", "prom")
    assert token.exit_code == 0, token.stderr
    (tmp_path / "token").write_text(token.stdout.strip())
    rules = tmp_path / "smartcron.rules.yml"
    shutil.copy(RULES, rules)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {
                "job_name": "smartcron",
                "authorization": {"type": "Bearer", "credentials_file": str(tmp_path / "token")},
                "static_configs": [{"targets": [dashboard]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait("Prometheus to be ready", lambda: _get(f"{base}/-/ready"), 60)
    except AssertionError:
        proc.kill()
        raise AssertionError(
            f"prometheus did not start: {(tmp_path / 'prometheus.log').read_text()[-3000:]}"
        ) from None
    yield base
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    answer = json.loads(_get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"))
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def _values(base: str, promql: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(
            sorted(
                (k, v) for k, v in r["metric"].items() if k not in ("__name__", "instance", "job")
            )
        ): (float(r["value"][1]))
        for r in _query(base, promql)
    }


def test_prometheus_scrapes_runs_and_task_up_with_a_bearer_token(
    sd: SystemdEnv, recorder: Watchdog, prometheus: str
) -> None:
    good = sd.add("good", "--command", "/bin/true", "--schedule", "@yearly")
    bad = sd.add("bad", "--command", "/bin/sh -c 'exit 3'", "--schedule", "@yearly")
    assert sd.run("sync").exit_code == 0
    for name in (good, bad):
        sd.run("task", "run", name, "--wait")
    recorded = wait_rows(sd, good)[-1].host
    assert recorded, "the watchdog records its host_name with every run"
    host = ("host", recorded)
    assert [r.outcome for r in wait_rows(sd, bad)] == ["failed"]

    # The scrape itself succeeded, with the token (a 401 would make `up` 0).
    try:
        _wait("a scrape", lambda: _values(prometheus, 'up{job="smartcron"}') == {(): 1.0})
    except AssertionError:
        targets = json.loads(_get(f"{prometheus}/api/v1/targets"))["data"]["activeTargets"]
        raise AssertionError(f"Prometheus could not scrape /metrics: {targets}") from None
    runs = _wait(
        "both tasks' runs in Prometheus",
        lambda: (v := _values(prometheus, "smartcron_runs_total")) and len(v) == 2 and v,
    )
    assert runs == {
        (host, ("outcome", "success"), ("task", good)): 1.0,
        (host, ("outcome", "failed"), ("task", bad)): 1.0,
    }
    assert _values(prometheus, "smartcron_task_up") == {
        (host, ("task", good)): 1.0,
        (host, ("task", bad)): 0.0,
    }
    # The contrib rules loaded and evaluate: the failing task's alert is on its way (pending
    # for its `for:` minute, then firing), the good one's is not.
    alerts = _wait(
        "SmartcronTaskFailing to be pending",
        lambda: [
            a
            for a in json.loads(_get(f"{prometheus}/api/v1/alerts"))["data"]["alerts"]
            if a["labels"]["alertname"] == "SmartcronTaskFailing"
        ],
    )
    assert [(a["labels"]["task"], a["state"]) for a in alerts] == [(bad, "pending")]
    groups = json.loads(_get(f"{prometheus}/api/v1/rules"))["data"]["groups"]
    assert {r["health"] for g in groups for r in g["rules"]} == {"ok"}, groups
