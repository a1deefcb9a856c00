"""Chains (model/chains.py and the `after` field): validation across tasks, the graph, order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from smartcron.errors import InvalidInput
from smartcron.model import chains
from smartcron.model.task import Task
from smartcron.model.validate import validate_task


def _task(name: str, **fields: Any) -> Task:
    data = {"name": name, "command": ["/bin/true"], "timezone": "UTC", **fields}
    if "after" not in fields and "schedule" not in fields:
        data["schedule"] = "@daily"
    return validate_task(data, check_host=False)


def test_chain_follower_needs_no_schedule() -> None:
    task = _task("b", after="a")
    assert task.after == ("a",) and task.schedule == ""
    assert _task("c", after=["a"], schedule="@hourly").schedule == "@hourly"


def test_chain_schedule_is_required_without_after() -> None:
    with pytest.raises(InvalidInput) as err:
        validate_task({"name": "b", "command": ["/bin/true"]}, check_host=False)
    assert err.value.field == "schedule" and str(err.value) == (
        "schedule: not given: a task needs a schedule (--schedule) or tasks to run after "
        "(--after, a chain); give one of them"
    )
    assert "None" not in str(err.value)


def test_chain_refuses_itself_several_and_bad_names() -> None:
    with pytest.raises(InvalidInput, match="cannot run after itself"):
        _task("a", after="a")
    with pytest.raises(InvalidInput, match="at most 8 predecessors"):
        _task("z", after=",".join(f"p{i}" for i in range(9)))
    with pytest.raises(InvalidInput, match="a task name") as err:
        _task("c", after="Bad_Name")
    assert err.value.field == "after"


def test_chain_empty_after_clears_it() -> None:
    assert _task("c", after="", schedule="@daily").after == ()


def test_chain_graph_refuses_unknown_predecessor() -> None:
    with pytest.raises(InvalidInput, match="'b' names no existing task; create 'nope'") as err:
        chains.check_graph([_task("a"), _task("b", after="nope")])
    assert err.value.field == "after"


def test_chain_graph_refuses_a_cycle_and_names_it() -> None:
    tasks = [_task("a", after="c"), _task("b", after="a"), _task("c", after="b")]
    with pytest.raises(InvalidInput, match="cycle") as err:
        chains.check_graph(tasks)
    assert "(a -> b -> c -> a)" in str(err.value)
    chains.check_graph([_task("a"), _task("b", after="a"), _task("c", after="b")])


def test_chain_followers_and_description() -> None:
    tasks = [_task("a"), _task("b", after="a"), _task("c", after="b"), _task("x", after="a")]
    assert chains.followers(tasks) == {"a": ("b", "x"), "b": ("c",)}
    lines = chains.describe("b", tasks)
    assert lines == [
        "runs after: a (when it succeeds)",
        "then starts: c (when this run succeeds)",
        "chain: a -> b -> c",
    ]
    assert chains.describe("a", [_task("a")]) == []


def test_chain_in_order_puts_predecessors_first() -> None:
    tasks = [_task("c", after="b"), _task("b", after="a"), _task("a")]
    assert [t.name for t in chains.in_order(tasks)] == ["a", "b", "c"]


def test_chain_waiting_for_needs_a_success_since_the_last_run() -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    later = t0 + dt.timedelta(hours=1)
    assert chains.waiting_for(["a"], {"a": later}, t0) == []
    assert chains.waiting_for(["a"], {"a": t0}, later) == ["a"]
    assert chains.waiting_for(["a", "b"], {"a": later}, None) == ["b"]


def test_chain_join_of_several_predecessors_is_valid_and_not_in_on_success() -> None:
    tasks = [_task("a"), _task("b"), _task("c", after="a,b"), _task("d", after="a")]
    chains.check_graph(tasks)
    assert tasks[2].after == ("a", "b")
    assert chains.on_success_of(tasks) == {"a": ("d",)}
    assert chains.joins(tasks) == {"a": ("c",), "b": ("c",)}
    assert chains.followers(tasks) == {"a": ("c", "d"), "b": ("c",)}
    assert chains.describe("c", tasks)[0] == (
        "runs after: a, b (when all have succeeded since its last run)"
    )


def test_chain_graph_finds_a_cycle_through_a_second_predecessor() -> None:
    tasks = [_task("a"), _task("b", after="a,c"), _task("c", after="b")]
    with pytest.raises(InvalidInput, match=r"cycle \(c -> b -> c\)|cycle \(b -> c -> b\)"):
        chains.check_graph(tasks)


def test_chain_graph_refuses_a_chain_across_hosts() -> None:
    tasks = [_task("a", hosts="till1"), _task("b", after="a", hosts="till2")]
    with pytest.raises(InvalidInput, match="give both the same --hosts") as err:
        chains.check_graph(tasks)
    assert err.value.field == "after" and err.value.value == "a"


def test_chain_lines_stay_true_for_a_fan_out() -> None:
    tasks = [_task("a"), _task("b", after="a"), _task("f1", after="a")]
    assert chains.describe("f1", tasks) == ["runs after: a (when it succeeds)", "chain: a -> f1"]
    assert chains.describe("a", tasks) == [
        "then starts: b, f1 (when this run succeeds)",
        "chain: a -> (b, f1)",
    ]


def test_chain_lines_of_a_join_name_every_predecessor() -> None:
    tasks = [_task("p1"), _task("p2"), _task("jn", after="p1,p2"), _task("z", after="jn")]
    assert chains.describe("jn", tasks) == [
        "runs after: p1, p2 (when all have succeeded since its last run)",
        "then starts: z (when this run succeeds)",
        "chain: (p1 + p2) -> jn -> z",
    ]
    assert chains.describe("p1", tasks) == [
        "then starts: jn (a join: when p1 and p2 have all succeeded since jn's last run)",
        "chain: p1 -> jn (also after p2)",
    ]


def test_chain_of_always_holds_the_task_and_stops_at_branches() -> None:
    tasks = [_task("a"), _task("b", after="a"), _task("f1", after="a"), _task("c", after="b")]
    assert chains.chain_of("f1", tasks) == ["a", "f1"]  # not a -> b, which leaves f1 out
    assert chains.chain_of("c", tasks) == ["a", "b", "c"]
    assert chains.chain_of("a", tasks) == ["a"]
    joined = [_task("p1"), _task("p2"), _task("jn", after="p1,p2")]
    assert chains.chain_of("p1", joined) == ["p1"] and chains.chain_of("jn", joined) == ["jn"]
