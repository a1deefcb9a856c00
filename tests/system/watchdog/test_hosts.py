"""The watchdog registers its host and keeps its heartbeat; `smartcron hosts` shows what the
database recorded; runs carry the host that recorded them (real private systemd)."""

from __future__ import annotations

import json
import time

from smartcron.model.config import machine_host_name
from smartcron.watchdog.service import Watchdog

from support.systemd import SystemdEnv, wait_rows


def test_hosts_watchdog_registers_beats_and_runs_carry_the_host(
    sd: SystemdEnv, recorder: Watchdog
) -> None:
    me = machine_host_name()
    recorder.writer.heartbeat_every = 0.5
    deadline = time.monotonic() + 15
    data: list[dict[str, object]] = []
    while time.monotonic() < deadline and not data:
        result = sd.run("hosts", "--json")
        assert result.exit_code == 0, result.stderr
        data = json.loads(result.stdout)
        time.sleep(0.2)
    assert [h["name"] for h in data] == [me]
    first_seen = data[0]["last_seen_at"]
    assert data[0]["watchdog_state"] == "running" and data[0]["alive"] is True
    name = sd.add("hosted", "--command", "/bin/true", "--schedule", "@daily")
    assert sd.run("sync").exit_code == 0
    assert sd.run("task", "run", name, "--wait").exit_code == 0
    rows = wait_rows(sd, name)
    assert rows[-1].host == me
    runs = json.loads(sd.run("runs", name, "--json").stdout)
    assert runs[0]["host"] == me
    time.sleep(1.5)
    again = json.loads(sd.run("hosts", "--json").stdout)[0]
    assert again["last_seen_at"] > first_seen and again["tasks"] >= 1  # the heartbeat moved
    text = sd.run("hosts").stdout
    assert me in text and "(this host)" in text and "up" in text
