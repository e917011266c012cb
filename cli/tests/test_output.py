"""One format for each kind of number the CLI prints."""

from __future__ import annotations

import pytest

from lazyaf_cli import output
from lazyaf_cli.follow import render_event, tool_summary


@pytest.mark.parametrize(
    ("usd", "text"),
    [(None, "-"), (0, "$0.0000"), (0.01234, "$0.0123"), (0.00005, "$0.0001"), (12.5, "$12.5000")],
)
def test_cost(usd: float | None, text: str) -> None:
    assert output.cost(usd) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0.0s"),
        (4.24, "4.2s"),
        (59.94, "59.9s"),
        (59.96, "1m 00s"),
        (185, "3m 05s"),
        (3725, "1h 02m"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert output.duration(seconds) == text


def test_plural() -> None:
    assert [output.plural(n, "commit") for n in (0, 1, 2)] == ["0 commits", "1 commit", "2 commits"]
    assert output.plural(1, "branch", "branches") == "1 branch"
    assert output.plural(3, "branch", "branches") == "3 branches"


def test_stats() -> None:
    job = {"commits": 1, "files_changed": 2, "lines_added": 10, "lines_removed": 0}
    assert output.stats(job) == "1 commit, 2 files, +10 -0"
    assert output.stats({"commits": None, "files_changed": None}) == ""


def test_table_aligns_on_visible_text() -> None:
    coloured = output.status("failed")
    assert coloured != "failed"
    assert output.table([("A", "B"), (coloured, "x"), ("todo", "y")]).splitlines() == [
        "A       B",
        f"{coloured}  x",
        "todo    y",
    ]


def test_tool_calls_fold_to_one_line() -> None:
    call = {"kind": "tool_call", "tool": "Bash", "input": {"command": "git add -A &&\n  git commit -m x"}}
    assert render_event(call) == "\x1b[1m▸ Bash\x1b[0m git add -A && git commit -m x"
    assert tool_summary({"todos": [1, 2]}) == "2 todos"
    assert tool_summary({"file_path": "a" * 300}).endswith("…")
    assert render_event({"kind": "tool_result", "is_error": False, "output": "fine"}) is None
    assert render_event({"kind": "text", "text": "line one\nline two"}) == "line one\nline two"
