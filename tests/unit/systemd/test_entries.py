"""smartcron's journal entries and their catalog: the catalog explains exactly the message ids
the code sends, with fields the entries carry; priorities follow the outcome."""

from __future__ import annotations

import re
import tomllib
from types import SimpleNamespace

import pytest

from smartcron.model.outcome import FAILURE_OUTCOMES, OUTCOMES
from smartcron.systemd.entries import (
    ERR,
    INFO,
    MESSAGE_IDS,
    MSG_ALERT_RAISED,
    MSG_RUN_RECORDED,
    WARNING,
    EntryWriter,
    alert_entry,
    catalog,
    run_entry,
    run_priority,
)

from support import ROOT

RUN = {
    "id": 7,
    "task_name": "backup",
    "outcome": "failed",
    "meaning": "Failed with exit status 3 after 0.1 s.",
    "attempt": 2,
    "invocation_id": "a" * 32,
}
ALERT = SimpleNamespace(
    id=4,
    task_name="backup",
    kind="failure",
    severity="critical",
    summary="Failed with exit status 3.",
    notify_count=0,
    execution_id=7,
)


def _sections() -> dict[str, str]:
    parts = re.split(r"^-- ([0-9a-f]{32})\n", catalog(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_entries_catalog_explains_exactly_the_ids_sent() -> None:
    assert set(_sections()) == set(MESSAGE_IDS)
    assert len(set(MESSAGE_IDS)) == len(MESSAGE_IDS)


@pytest.mark.parametrize("message_id", MESSAGE_IDS)
def test_entries_catalog_section_has_its_headers_and_known_fields(message_id: str) -> None:
    text = _sections()[message_id]
    docs = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert re.search(r"^Subject: \S", text, re.M)
    assert re.search(r"^Defined-By: smartcron$", text, re.M)
    assert re.search(rf"^Documentation: {re.escape(docs['Documentation'])}/\S+\.md$", text, re.M)
    sent = run_entry(RUN, "h1") if message_id == MSG_RUN_RECORDED else alert_entry(ALERT, "h1")
    assert sent["MESSAGE_ID"] == message_id
    assert set(re.findall(r"@([A-Z_]+)@", text)) <= set(sent)


def test_entries_run_entry_carries_the_run() -> None:
    entry = run_entry(RUN, "shop-1")
    assert entry["MESSAGE"] == "backup: Failed with exit status 3 after 0.1 s."
    assert entry["SMARTCRON_RUN"] == "7" and entry["SMARTCRON_OUTCOME"] == "failed"
    assert entry["SMARTCRON_HOST"] == "shop-1" and entry["PRIORITY"] == str(ERR)
    assert entry["SMARTCRON_INVOCATION"] == "a" * 32 and entry["SMARTCRON_ATTEMPT"] == "2"
    # Never the names the journal readers take for systemd's words or the task's output.
    assert not {"INVOCATION_ID", "UNIT", "SYSLOG_IDENTIFIER", "_PID"} & set(entry)


def test_entries_alert_entry_carries_the_alert() -> None:
    entry = alert_entry(ALERT, "shop-1")
    assert entry["MESSAGE_ID"] == MSG_ALERT_RAISED and entry["SMARTCRON_ALERT"] == "4"
    assert entry["SMARTCRON_ALERT_KIND"] == "failure"
    assert entry["SMARTCRON_RUN"] == "7" and entry["SMARTCRON_NOTICE"] == "1"
    assert entry["PRIORITY"] == "2" and entry["MESSAGE"].startswith("backup: failure alert: ")
    late = alert_entry(SimpleNamespace(**{**vars(ALERT), "execution_id": None}), None)
    assert "SMARTCRON_RUN" not in late


def test_entries_priority_is_err_for_every_failure_and_info_for_success() -> None:
    assert {run_priority(o) for o in FAILURE_OUTCOMES} == {ERR}
    assert run_priority("success") == INFO and run_priority("not-run") == WARNING
    assert {run_priority(o) for o in OUTCOMES if o not in FAILURE_OUTCOMES} <= {INFO, WARNING}


def test_entries_writer_says_once_that_journald_refuses_and_again_when_it_takes() -> None:
    answers = ["buffer full", "buffer full", ""]
    writer = EntryWriter(send=lambda fields: answers.pop(0))
    assert not writer.write(run_entry(RUN, None)) and not writer.write(run_entry(RUN, None))
    assert writer.problem == "buffer full" and writer.sent == 0
    assert writer.write(run_entry(RUN, None))
    assert writer.problem == "" and writer.sent == 1
