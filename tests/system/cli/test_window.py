"""The window CLI end to end on SQLite and MariaDB: add, list, show in `task show` and
`status`, remove; bad input names the field and changes nothing; each change is audited."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from click.testing import CliRunner

from smartcron.db.schema import audit_log

from support import TestDB, invoke

ADD = ["task", "add", "till-sync", "--command", "/bin/true", "--schedule", "@daily",
       "--category", "pos", "--timezone", "UTC"]  # fmt: skip


def _around_now() -> str:
    now = dt.datetime.now(dt.UTC)
    start, end = now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)
    return f"{start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M}"


def test_window_add_list_show_rm_round_trip(runner: CliRunner, db: TestDB) -> None:
    assert invoke(runner, *ADD).exit_code == 0
    added = invoke(runner, "window", "add", "till-upgrade", "--when", _around_now(),
                   "--timezone", "UTC", "--category", "pos", "--action", "skip",
                   "--action", "hold-alerts", "--description", "new till software")  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert "skip and hold_alerts for category pos; active until" in added.stdout
    assert "smartcron sync" in added.stdout  # skip needs the gate on each host
    [listed] = json.loads(invoke(runner, "window", "list", "--json").stdout)
    assert listed["actions"] == ["skip", "hold_alerts"] and listed["categories"] == ["pos"]
    assert listed["state"].startswith("active until")
    shown = invoke(runner, "task", "show", "till-sync").stdout
    assert "window" in shown and "till-upgrade (skip, hold_alerts) until" in shown
    status = invoke(runner, "status").stdout
    assert "window till-upgrade (skip+hold_alerts)" in status
    assert invoke(runner, "window", "rm", "till-upgrade").exit_code == 0
    assert "No maintenance windows" in invoke(runner, "window", "list").stdout
    assert "till-upgrade" not in invoke(runner, "task", "show", "till-sync").stdout
    with db.engine.connect() as conn:
        actions = list(conn.execute(sa.select(audit_log.c.action, audit_log.c.target)))
    assert ("window.add", "till-upgrade") in actions and ("window.rm", "till-upgrade") in actions


def test_window_bad_input_names_the_field_and_stores_nothing(runner: CliRunner, db: TestDB) -> None:
    for args, words in [
        (["--when", "Sun 2am-6am", "--task", "*"], "when: 'Sun 2am-6am' is not valid"),
        (["--when", "Sun 02:00-06:00"], "tasks: '' is not valid: a window must cover"),
        (["--when", "Sun 02:00-06:00", "--action", "nope"],  # no cover either
         "actions: 'nope' is not valid: one or both of skip, hold_alerts"),
        (["--when", "Sun 02:00-06:00", "--task", "*", "--action", "pause"],
         "actions: 'pause' is not valid: one or both of skip, hold_alerts"),
        (["--when", "Sun 02:00-06:00", "--task", "*", "--timezone", "Moon/Base"],
         "timezone: 'Moon/Base' is not valid"),
    ]:  # fmt: skip
        result = invoke(runner, "window", "add", "w", *args)
        assert result.exit_code == 2 and words in result.stderr, result.stderr
    assert invoke(runner, "window", "list", "--json").stdout.strip() == "[]"
    gone = invoke(runner, "window", "rm", "nope")
    assert gone.exit_code == 2 and "no such window (windows: none)" in gone.stderr
    ended = invoke(runner, "window", "add", "old", "--when", "2020-01-01 00:00 .. 2020-01-02 00:00",
                   "--task", "*", "--timezone", "UTC")  # fmt: skip
    assert ended.exit_code == 0 and "has already ended" in ended.stderr
    again = invoke(runner, "window", "add", "old", "--when", "Sun 02:00-06:00", "--task", "*")
    assert again.exit_code == 2 and "a window of that name exists" in again.stderr


def test_window_refuses_an_unknown_task_and_warns_of_an_unknown_category(
    runner: CliRunner, db: TestDB
) -> None:
    assert invoke(runner, *ADD).exit_code == 0
    typo = invoke(runner, "window", "add", "e6", "--when", "Fri 10:00-11:00", "--task", "till-snyc")
    assert typo.exit_code == 2, typo.stderr
    assert "tasks: 'till-snyc' is not valid: no task has that name" in typo.stderr
    assert "did you mean 'till-sync'?" in typo.stderr and "smartcron task list" in typo.stderr
    assert invoke(runner, "window", "list", "--json").stdout.strip() == "[]"
    later = invoke(runner, "window", "add", "e7", "--when", "Fri 10:00-11:00", "--category", "po")
    assert later.exit_code == 0, later.stderr
    assert "no task has category 'po' yet" in later.stderr
    assert "did you mean 'pos'?" in later.stderr and "categories of the tasks: pos" in later.stderr
    every = invoke(runner, "window", "add", "e8", "--when", "Fri 10:00-11:00", "--task", "*",
                   "--category", "pos")  # fmt: skip
    assert every.exit_code == 0 and "warning" not in every.stderr, every.stderr
