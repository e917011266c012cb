"""lazyaf learnings: list, and export the accepted ones as .claude/rules/lazyaf.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import Invoke, error_line
from lazyaf.testing import LiveServer


def _repo(server: LiveServer, name: str = "web") -> dict[str, Any]:
    response = httpx.post(server.api("/repos"), json={"name": name}, timeout=10)
    response.raise_for_status()
    repo: dict[str, Any] = response.json()
    return repo


def _learn(server: LiveServer, repo: dict[str, Any], text: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(
        server.api(f"/repos/{repo['id']}/learnings"), json={"text": text, **body}, timeout=10
    )
    response.raise_for_status()
    learning: dict[str, Any] = response.json()
    return learning


@pytest.fixture
def web(server: LiveServer) -> dict[str, Any]:
    repo = _repo(server)
    _learn(server, repo, "Run make fmt before committing.", paths=["src/**", "tests/**"], kind="command")
    _learn(server, repo, "Commit messages say why.", kind="convention")
    _learn(server, repo, "Handlers stay thin;\nlogic goes in services.", paths=["src/api/**"])
    _learn(server, repo, "Not yet: rewrite it in Rust.", status="proposed", paths=["src/**"])
    retired = _learn(server, repo, "Old advice.")
    httpx.patch(server.api(f"/learnings/{retired['id']}"), json={"status": "retired"}, timeout=10)
    return repo


def test_export_writes_the_accepted_learnings_as_claude_code_rules_in_the_current_folder(
    lazyaf: Invoke, web: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = lazyaf("learnings", "export", "web")
    target = tmp_path / ".claude" / "rules" / "lazyaf.md"
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Wrote 3 accepted learnings of web to {target}\n"
    text = target.read_text()
    assert text.splitlines()[1:] == [
        "# What agents learned about web",
        "",
        "## The whole repository",
        "",
        "- **convention**: Commit messages say why.",
        "",
        "## `src/**`, `tests/**`",
        "",
        "- **command**: Run make fmt before committing.",
        "",
        "## `src/api/**`",
        "",
        "- Handlers stay thin;",
        "  logic goes in services.",
    ]
    assert "Rust" not in text and "Old advice" not in text  # proposed and retired stay out
    assert text.startswith("<!-- Written by `lazyaf learnings export web`")


def test_export_to_a_chosen_folder_or_file_replaces_it_whole(
    lazyaf: Invoke, web: dict[str, Any], server: LiveServer, tmp_path: Path
) -> None:
    result = lazyaf("learnings", "export", "web", "--output", tmp_path / "checkout", "--json")
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    assert written == {"path": str(tmp_path / "checkout" / ".claude/rules/lazyaf.md"), "count": 3}

    empty = _repo(server, "empty")
    target = tmp_path / "rules.md"
    target.write_text("stale rules\n")
    result = lazyaf("learnings", "export", empty["id"], "-o", target)
    assert result.exit_code == 0 and result.stdout == f"Wrote 0 accepted learnings of empty to {target}\n"
    assert (
        "stale rules" not in target.read_text()
        and "No learnings have been accepted yet." in target.read_text()
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".lazyaf-")] == []


def test_export_errors_are_one_line_and_leave_nothing(
    lazyaf: Invoke, web: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert error_line(lazyaf("learnings", "export", "nope", "-o", out)) == (
        "No repo named 'nope' (or with that id); see `lazyaf repos`."
    )
    blocker = out / "file"
    blocker.write_text("a file where a folder should be\n")
    message = error_line(lazyaf("learnings", "export", "web", "-o", blocker / "sub"))
    assert message.startswith(f"Could not write {blocker / 'sub' / '.claude/rules/lazyaf.md'}: ")
    assert message.endswith("; pick another --output.")
    assert sorted(p.name for p in out.iterdir()) == ["file"]


def test_list_shows_every_status_or_one(lazyaf: Invoke, web: dict[str, Any]) -> None:
    result = lazyaf("learnings", "list", "web")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "KIND", "PATHS", "USES", "+/-", "TEXT"]
    assert len(rows) == 5
    result = lazyaf("learnings", "list", "web", "--status", "proposed", "--json")
    (only,) = json.loads(result.stdout)
    assert (only["text"], only["status"]) == ("Not yet: rewrite it in Rust.", "proposed")
    assert lazyaf("learnings", "list", "web", "--status", "retired").stdout.count("Old advice.") == 1


def test_list_of_a_repo_without_learnings_says_so(lazyaf: Invoke, server: LiveServer) -> None:
    _repo(server, "bare")
    assert lazyaf("learnings", "list", "bare").stdout == "No learnings in bare yet.\n"
