"""The dashboard's task page shows the maintenance window on now for the task (SQLite and
MariaDB), and its runs filter offers the window's skip outcome."""

from __future__ import annotations

import datetime as dt

from smartcron.dashboard import create_app
from smartcron.db.windows import add_window
from smartcron.model import config
from smartcron.model.windows import check_window

from support import TestDB
from support.dashboard import add_task, add_user, login


def test_dashboard_task_page_shows_the_active_window(db: TestDB) -> None:
    cfg = config.load(environ={"SMARTCRON_CONFIG": "", "SMARTCRON_DATABASE_URL": db.url})
    app = create_app(cfg, {"TESTING": True, "SESSION_COOKIE_SECURE": False})
    add_task(db.engine, "pos-sync", category="sales")
    add_task(db.engine, "bank", category="finance")
    add_user(db.engine, "vera", "viewer")
    now = dt.datetime.now(dt.UTC)
    when = f"{now - dt.timedelta(hours=1):%Y-%m-%d %H:%M} .. {now + dt.timedelta(hours=1):%Y-%m-%d %H:%M}"
    window = check_window({"name": "till-upgrade", "when": when,
                           "timezone": "UTC", "categories": ["sales"],
                           "actions": ["hold_alerts"]})  # fmt: skip
    with db.engine.begin() as conn:
        add_window(conn, window, "test")
    client = app.test_client()
    assert login(client, "vera").status_code == 302
    page = client.get("/tasks/pos-sync").get_data(as_text=True)
    assert "maintenance window</span> till-upgrade (hold_alerts) until" in page
    assert "till-upgrade" not in client.get("/tasks/bank").get_data(as_text=True)
    assert 'value="skipped-window"' in client.get("/runs").get_data(as_text=True)
