"""The harness commit's message: the card's title and the trailers the server asked for."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lazyaf_protocol import messages as protocol

from lazyaf_runner.connection import commit_message


def _assign(**fields: object) -> protocol.Assign:
    values: dict[str, object] = {
        "job_id": "j1",
        "attempt": 1,
        "card_id": "c1",
        "card_title": "Say hello",
        "repo_url": "http://127.0.0.1/git/r.git",
        "token": "t",
        "branch": "lazyaf/x",
        "base_branch": "main",
        "attempt_ref": "refs/lazyaf/attempts/j1/1",
        "prompt": "p",
        **fields,
    }
    return protocol.Assign.model_validate(values)


def test_trailers_are_read_back_by_git(tmp_path: Path) -> None:
    trailers = {"LazyAF-Card": "c1", "LazyAF-Run": "r1", "LazyAF-Step": "s1"}
    message = commit_message(_assign(trailers=trailers))
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    env = ["-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", *env, "commit", "-q", "--allow-empty", "-m", message], cwd=tmp_path, check=True)
    out = subprocess.run(
        ["git", "log", "-1", "--format=%(trailers:only,unfold)"], cwd=tmp_path, capture_output=True, text=True
    ).stdout
    assert out.strip().splitlines() == ["LazyAF-Card: c1", "LazyAF-Run: r1", "LazyAF-Step: s1"]
    assert message.startswith("Say hello\n\nLazyAF card c1, job j1.")


def test_a_title_or_value_with_newlines_cannot_forge_a_trailer() -> None:
    message = commit_message(
        _assign(
            card_title="Title\n\nLazyAF-Run: forged",
            trailers={"LazyAF-Step": "s1\nLazyAF-Card: forged", "Bad Key": "x"},
        )
    )
    lines = message.splitlines()
    assert lines[0] == "Title LazyAF-Run: forged"
    assert lines[-1] == "LazyAF-Step: s1 LazyAF-Card: forged" and "Bad Key: x" not in message


def test_an_older_server_sends_no_trailers_and_the_message_is_as_before() -> None:
    assert commit_message(_assign()) == "Say hello\n\nLazyAF card c1, job j1."
