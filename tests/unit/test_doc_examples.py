"""The chain and group examples in the docs can be pasted in order: every task they edit, run
after or show is one they added before, and the made-up programs are said to be made up."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _commands(text: str) -> list[list[str]]:
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["smartcron"]:
                out.append(words[1:])
    return out


@pytest.mark.parametrize("doc", ["chains.md", "groups.md"])
def test_doc_examples_name_only_tasks_they_added(doc: str) -> None:
    text = (DOCS / doc).read_text()
    added: set[str] = set()
    for words in _commands(text):
        if words[:2] == ["task", "add"]:
            assert words[2] not in added, f"{doc}: {words[2]} is added twice"
            added.add(words[2])
        elif words[:1] == ["task"] and len(words) > 2:
            assert words[2] in added, f"{doc}: `{shlex.join(words)}` before `task add`"
        if "--after" in words:
            for pred in words[words.index("--after") + 1].split(","):
                assert pred in added, f"{doc}: --after {pred} before `task add {pred}`"
    assert added
    if "--command /opt/" in text:
        assert "stand for" in text and "/bin/true" in text, f"{doc}: say the paths are made up"
