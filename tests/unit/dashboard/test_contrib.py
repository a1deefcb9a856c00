"""contrib/: the Prometheus alerting rules pass `promtool check rules`, the Grafana board's
queries are valid PromQL, and both name only series /metrics exposes (dashboard/metrics.py
FAMILIES, the one list)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from smartcron.dashboard.metrics import sample_names

from support import ROOT, need

RULES = ROOT / "contrib" / "prometheus" / "smartcron.rules.yml"
BOARD = ROOT / "contrib" / "grafana" / "smartcron.json"
METRIC = re.compile(r"\bsmartcron_[a-z_]+")
# Grafana's variables, as Grafana would fill them in, so that promtool can read the queries.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1d", "$task": ".*"}


def _promtool(path: Path) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    need(promtool is not None, "promtool (Debian package prometheus) is not installed")
    assert promtool is not None
    return subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )


def _rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def _board_queries() -> list[str]:
    board = json.loads(BOARD.read_text())
    return [t["expr"] for p in board["panels"] for t in p["targets"]]


def test_contrib_rules_pass_promtool_check_rules() -> None:
    check = _promtool(RULES)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 5 rules found" in check.stdout


@pytest.mark.parametrize("kind", ["failing", "late", "silent", "health"])
def test_contrib_rules_cover_each_alert_with_plain_words(kind: str) -> None:
    names = {
        "failing": "SmartcronTaskFailing",
        "late": "SmartcronTaskLate",
        "silent": "SmartcronWatchdogSilent",
        "health": "SmartcronHealthLow",
    }
    (rule,) = [r for r in _rules() if r.get("alert") == names[kind]]
    notes = rule["annotations"]
    assert len(notes["summary"]) > 20 and len(notes["description"]) > 80, notes
    assert "smartcron" in notes["description"] or "`" in notes["description"]


def test_contrib_grafana_board_parses_and_its_queries_are_promql(tmp_path: Path) -> None:
    board = json.loads(BOARD.read_text())
    assert board["uid"] == "smartcron" and len(board["panels"]) >= 5
    titles = " ".join(p["title"] for p in board["panels"]).lower()
    for topic in ("outcome", "failure", "duration", "late", "health"):
        assert topic in titles, (topic, titles)
    queries = _board_queries()
    for name, value in GRAFANA_VARIABLES.items():
        queries = [q.replace(name, value) for q in queries]
    assert not [q for q in queries if "$" in q], "a Grafana variable the test does not fill in"
    recorded = {
        "groups": [
            {
                "name": "board",
                "rules": [{"record": f"board:query_{i}", "expr": q} for i, q in enumerate(queries)],
            }
        ]
    }
    path = tmp_path / "board.rules.yml"
    path.write_text(yaml.safe_dump(recorded))
    check = _promtool(path)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("where", ["rules", "board"])
def test_contrib_names_only_series_that_metrics_exposes(where: str) -> None:
    texts = [r["expr"] for r in _rules()] if where == "rules" else _board_queries()
    used = {name for text in texts for name in METRIC.findall(text)}
    assert used, "no smartcron series found: the pattern no longer matches"
    assert used - sample_names() == set(), sorted(sample_names())


def test_contrib_series_names_are_checked_against_the_exposed_list() -> None:
    # The check above can fail: a misspelt name is not in the list.
    assert "smartcron_task_up" in sample_names()
    assert "smartcron_runs_total" in sample_names() and "smartcron_runs" not in sample_names()
    assert "smartcron_task_upp" not in sample_names()
