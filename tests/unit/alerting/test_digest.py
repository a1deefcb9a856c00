"""The digest message (alerting/digest.compose) from fixed snapshots, and its settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from smartcron.alerting.digest import NOTHING_WRONG, compose, problems
from smartcron.errors import InvalidInput
from smartcron.model.config import load
from smartcron.model.digest import AlertLine, LateLine, RunLine, Snapshot, daily, weekly

UTC = dt.UTC
DAY = daily(dt.date(2026, 12, 1), "Europe/Berlin", dt.time(7, 30))


def _at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, 1, hour, minute, tzinfo=UTC)  # 1 h behind Berlin


def _busy() -> Snapshot:
    return Snapshot(
        DAY,
        {"web1": {"success": 10, "failed": 1, "skipped": 1}, "web2": {"success": 4, "oom": 1}},
        failures=[
            RunLine(
                _at(2, 10),
                "report",
                "web1",
                "failed",
                "Failed with exit status 127 (command not found).",
            ),
            RunLine(_at(5), "<b>etl</b>", "web2", "oom", "Killed for going over its limit."),
        ],
        skipped=[RunLine(_at(3), "sync", "web1", "skipped", "Not run: the database was down.")],
        late=[LateLine("backup", _at(4, 2), "the run due at 2026-12-01 04:00 UTC has not started")],
        open_alerts=[
            AlertLine(7, "report", "failure", "notified", _at(2, 10), "report failed on web1")
        ],
        backups=[(_at(2, 30), "smartcron-20261201T023000Z.sqlite3")],
        backup_dir="/var/lib/smartcron/backups",
        score=90.0,
        lowest_score=65.0,
        hosts=["web1", "web2"],
    )


def _quiet() -> Snapshot:
    return Snapshot(
        DAY,
        {"web1": {"success": 24}},
        backups=[(_at(2, 30), "smartcron-20261201T023000Z.sqlite3")],
        score=100.0,
        lowest_score=100.0,
        hosts=["web1"],
    )


def test_digest_busy_day_counts_outcomes_and_lists_problems_first() -> None:
    text = compose(_busy()).text
    lines = text.splitlines()
    assert lines[0] == ("Needs attention: 2 failed runs, 1 late run, 1 skipped run, 1 open alert.")
    assert (
        "Runs: 17 runs: 14 succeeded, 1 failed (exit status), 1 out of memory, "
        "1 skipped (not run)" in lines
    )
    assert "  03:10 report on web1: Failed with exit status 127 (command not found)." in lines
    assert "  04:00 sync on web1: Not run: the database was down." in lines
    assert any(line.startswith("  05:02 backup: the run due at") for line in lines)
    assert any(line.startswith("  #7 report failure, notified since Tue 2026-12-01 03:10")
               for line in lines)  # fmt: skip
    assert "Health score: 90 of 100 at the end of the period (lowest 65)" in lines
    assert "Backups: 1: smartcron-20261201T023000Z.sqlite3 (03:30)" in lines
    assert "  web2: 5 runs: 4 succeeded, 1 out of memory" in lines
    assert NOTHING_WRONG not in text


def test_digest_quiet_day_says_nothing_went_wrong() -> None:
    notice = compose(_quiet())
    assert notice.text.splitlines()[0] == NOTHING_WRONG
    assert notice.title == "smartcron digest for Tue 2026-12-01: nothing went wrong"
    assert notice.severity == "info" and problems(_quiet()) == []
    assert "Per host" not in notice.text  # one host: no per-host section
    assert "Failures" not in notice.text


def test_digest_without_health_checks_does_not_claim_all_is_well() -> None:
    quiet = _quiet()
    blind = Snapshot(quiet.period, quiet.counts, hosts=["web1"])
    text = compose(blind).text
    assert NOTHING_WRONG not in text and "no health checks recorded" in text
    assert "Backups: none in backup_dir" in text


def test_digest_html_escapes_what_tasks_and_meanings_say() -> None:
    html = compose(_busy()).html
    assert "&lt;b&gt;etl&lt;/b&gt;" in html and "<b>etl</b>" not in html


def test_digest_note_comes_first() -> None:
    text = compose(_quiet(), note="This digest is late: it was due at 06:30 UTC.").text
    assert text.splitlines()[:2] == ["This digest is late: it was due at 06:30 UTC.", NOTHING_WRONG]


def test_digest_period_says_when_the_clocks_changed() -> None:
    spring = Snapshot(daily(dt.date(2026, 3, 29), "Europe/Berlin", dt.time(7, 30)), {})
    assert "Period: Sun 2026-03-29 in Europe/Berlin (23 hours: the clocks changed)" in (
        compose(spring).text.splitlines()
    )


def test_digest_weekly_title_names_the_days() -> None:
    week = Snapshot(weekly(dt.date(2026, 12, 6), "UTC", dt.time(7, 30)), {}, score=100.0)
    assert compose(week).title.startswith(
        "smartcron weekly digest for 2026-11-30 to 2026-12-06: nothing"
    )


def test_digest_long_lists_are_capped_with_where_to_see_the_rest() -> None:
    runs = [RunLine(_at(1), f"t{i}", "web1", "failed", "Failed.") for i in range(45)]
    text = compose(Snapshot(DAY, {"web1": {"failed": 45}}, failures=runs, score=50.0)).text
    assert "  ... and 5 more: smartcron runs --failed" in text.splitlines()


@pytest.mark.parametrize(
    ("env", "key", "value"),
    [
        ({"SMARTCRON_DIGEST_TIME": "7.30"}, "SMARTCRON_DIGEST_TIME", "7.30"),
        ({"SMARTCRON_DIGEST_TIME": "07:30", "SMARTCRON_DIGEST_WEEKLY": "Monday"},
         "SMARTCRON_DIGEST_WEEKLY", "Monday"),
        ({"SMARTCRON_DIGEST_WEEKLY": "Mon"}, "digest_weekly", "Mon"),
        ({"SMARTCRON_DIGEST_CHANNELS": "ops,pager", "SMARTCRON_CHANNELS": '{"ops": "json://x"}'},
         "digest_channels", "pager"),
        ({"SMARTCRON_DIGEST_TIMEZONE": "Europe/Nowhere"}, "SMARTCRON_DIGEST_TIMEZONE",
         "Europe/Nowhere"),
    ],
)  # fmt: skip
def test_digest_settings_refused_name_key_value_and_allowed(
    env: dict[str, str], key: str, value: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        load(environ={"SMARTCRON_CONFIG": "/dev/null", **env})
    assert key in refused.value.field and refused.value.value == value
    assert refused.value.allowed


def test_digest_settings_from_toml(tmp_path: Path) -> None:
    file = tmp_path / "smartcron.toml"
    file.write_text(
        'digest_time = "07:30"\ndigest_weekly = "Mon"\ndigest_channels = ["ops"]\n'
        '[channels]\nops = "json://127.0.0.1/x"\n'
    )
    config = load(file, environ={})
    assert (config.digest_time, config.digest_weekly, config.digest_channels) == (
        "07:30", "Mon", ["ops"],
    )  # fmt: skip
    file.write_text('digest_channels = "ops"\n')
    with pytest.raises(InvalidInput, match="expected list"):
        load(file, environ={})


def test_digest_counts_retried_attempts_and_runs_elsewhere_apart_from_its_lists() -> None:
    final = RunLine(_at(2, 3), "invoices", "web1", "failed", "Failed with exit status 1.", 3)
    snapshot = Snapshot(
        DAY,
        {"web1": {"failed": 9, "ran-elsewhere": 2}},
        failures=[final, replace(final, started_at=_at(6, 3)), replace(final, started_at=_at(9))],
        score=90.0,
        retried=6,
    )
    text = compose(snapshot).text
    lines = text.splitlines()
    assert lines[0] == "Needs attention: 3 failed runs (9 failed attempts)."
    assert compose(snapshot).title.endswith(": 3 failed runs (9 failed attempts)")
    assert (
        "Runs: 11 runs: 9 failed (exit status), 2 ran on another host; 6 failed attempts "
        "retried by a later attempt of the same run (not listed as failures); 2 ran on another "
        "host, as `placement: one` intends (counted, not listed)" in lines
    )
    assert "  03:03 invoices, after 3 attempts: Failed with exit status 1." in lines
    assert "Skipped or not run" not in text  # the runs another host ran are not listed
