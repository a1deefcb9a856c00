"""Charts and chain graphs: axes with round ticks, values, hover titles; escaped text. Pure."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from smartcron.dashboard import charts


def test_nice_ticks_are_round_and_reach_the_peak() -> None:
    assert charts.nice_ticks(13) == [0.0, 5.0, 10.0, 15.0]
    assert charts.nice_ticks(1) == [0.0, 0.5, 1.0]
    assert charts.nice_ticks(0) == [0.0, 1.0]
    assert charts.nice_ticks(3600)[-1] >= 3600


def test_runs_per_hour_has_axes_values_and_titles() -> None:
    start = dt.datetime(2026, 12, 3, 0, tzinfo=dt.UTC)
    buckets = [(start + dt.timedelta(hours=i), i % 3, 1 if i == 5 else 0) for i in range(24)]
    svg = str(charts.runs_per_hour(buckets))
    assert '<text class="axis-title"' in svg and ">runs<" in svg
    assert ">00:00<" in svg and ">04:00<" in svg
    assert "2026-12-03 05:00-05:59 UTC: 2 succeeded, 1 failed" in svg
    assert svg.count('<g class="bar">') == 24
    assert 'class="value"' in svg


def test_durations_chart_escapes_the_outcome_and_labels_time() -> None:
    rows = [
        SimpleNamespace(
            id=i,
            started_at=dt.datetime(2026, 12, 3, 6, i, tzinfo=dt.UTC),
            duration_s=float(i * 30),
            outcome="<b>failed</b>" if i == 2 else "success",
        )
        for i in range(1, 5)
    ]
    svg = str(charts.durations(rows))
    assert "<b>" not in svg and "&lt;b&gt;failed&lt;/b&gt;" in svg
    assert "run #4, started 2026-12-03 06:04 UTC: 2m 00s, success" in svg
    assert ">duration<" in svg and ">12-03 06:01<" in svg


def test_graph_components_group_linked_tasks_only() -> None:
    from smartcron.dashboard import graph
    from smartcron.model.validate import validate_task

    def task(name: str, after: str = "") -> object:
        data = {"name": name, "command": ["/bin/true"], "timezone": "UTC"}
        data.update({"after": after} if after else {"schedule": "@daily"})
        return validate_task(data, check_host=False)

    tasks = [task("a"), task("b", "a"), task("c"), task("d", "b,c"), task("lone"), task("x")]
    tasks.append(task("y", "x"))
    groups = graph.components(tasks)  # type: ignore[arg-type]
    assert [[t.name for t in g] for g in groups] == [["a", "b", "c", "d"], ["x", "y"]]


def test_durations_chart_draws_a_run_without_a_start() -> None:
    # Rows of runs that timed out waiting for a concurrency group slot, recorded before
    # 2026-12-04, have no started_at: the task page must still render.
    rows = [
        SimpleNamespace(id=1, started_at=None, duration_s=4.0, outcome="timeout"),
        SimpleNamespace(
            id=2,
            started_at=dt.datetime(2026, 12, 3, 6, 0, tzinfo=dt.UTC),
            duration_s=1.0,
            outcome="success",
        ),
    ]
    svg = str(charts.durations(rows))
    assert "run #1, started at an unknown time: 4.0 s, timeout" in svg
