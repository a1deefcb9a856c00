"""Host-down alerts on an SQLite file: two watchdogs notice a stale host, one alert and one
message go out; when its heartbeat moves, one recovery notice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcron.alerting.engine import AlertEngine
from smartcron.alerting.liveness import check_hosts
from smartcron.db.engine import make_engine
from smartcron.db.hosts import heartbeat, register_host
from smartcron.db.migrate import upgrade
from smartcron.db.schema import alerts, outbox
from smartcron.model import config

T0 = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path}/live.db")
    upgrade(eng)
    with eng.begin() as conn:
        for host in ("a", "b", "c"):
            register_host(conn, host, "0.1.0", T0)
    yield eng
    eng.dispose()


def _cfg(host: str) -> config.Config:
    return config.load(
        environ={"SMARTCRON_HOST_NAME": host, "SMARTCRON_CHANNELS": '{"ops": "json://x/"}'}
    )


def test_liveness_host_down_alert_once_across_hosts_and_one_recovery(engine: Engine) -> None:
    later = T0 + dt.timedelta(minutes=5)
    with engine.begin() as conn:
        heartbeat(conn, "a", now=later)
        heartbeat(conn, "b", now=later)
    assert check_hosts(_cfg("a"), engine, later) == ["host-down c"]
    assert check_hosts(_cfg("b"), engine, later) == []  # b lost the claim: nothing twice
    assert check_hosts(_cfg("a"), engine, later + dt.timedelta(seconds=10)) == []
    # The alert engines of both watchdogs do not announce it a second time.
    for host in ("a", "b"):
        AlertEngine(engine, _cfg(host))._announce_due()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(alerts.c.kind, alerts.c.host, alerts.c.state)).all()
        titles = list(conn.execute(sa.select(outbox.c.title)).scalars())
    assert rows == [("host-down", "c", "notified")]
    assert len(titles) == 1 and "host c is down" in titles[0]
    back = later + dt.timedelta(minutes=1)
    with engine.begin() as conn:
        heartbeat(conn, "c", now=back)
    assert check_hosts(_cfg("b"), engine, back) == ["host-up c"]
    assert check_hosts(_cfg("a"), engine, back) == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(alerts.c.state)).scalar() == "resolved"
        titles = list(conn.execute(sa.select(outbox.c.title).order_by(outbox.c.id)).scalars())
    assert len(titles) == 2 and "host c is back" in titles[1]


def test_liveness_a_cleanly_stopped_watchdog_is_not_down(engine: Engine) -> None:
    later = T0 + dt.timedelta(minutes=5)
    with engine.begin() as conn:
        heartbeat(conn, "a", now=later)
        heartbeat(conn, "c", "stopped", now=T0)
        heartbeat(conn, "b", now=later)
    assert check_hosts(_cfg("a"), engine, later) == []
