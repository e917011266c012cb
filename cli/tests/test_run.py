"""`lazyaf run`: a work order from the terminal. Refusals are one line and create nothing; with
--follow, a plan_build work order is followed step by step to its end on a real local runner and
the real Claude Code CLI on the scripted model (the installed `lazyaf`, on a pseudo-terminal)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import Invoke, error_line, invoke, make_repo, run_on_pty, run_piped
from conftest import fm
from lazyaf.testing import LiveServer

PLAN_PATH = re.compile(r"Write the plan to `([^`]+)`")


def api(srv: LiveServer, path: str, **params: Any) -> Any:
    return httpx.get(srv.api(path), params=params, timeout=10).json()


@pytest.fixture
def demo(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    assert lazyaf("ingest", make_repo(tmp_path / "demo"), "--name", "demo").exit_code == 0


def test_run_prints_the_work_order_and_says_how_to_follow_it(
    lazyaf: Invoke, server: LiveServer, demo: None
) -> None:
    result = lazyaf("run", "demo", "Add a --version flag\n\nPrint the version.", "--workflow", "plan_build")
    assert result.exit_code == 0, result.output
    order_id = result.stdout.strip()
    order = api(server, f"/work-orders/{uuid.UUID(order_id)}")
    assert order["workflow"] == "plan_build" and order["title"] == "Add a --version flag"
    card = api(server, f"/cards/{order['card_id']}")
    assert card["status"] == "in_progress"
    assert card["description"] == "Add a --version flag\n\nPrint the version."
    assert result.stderr.strip() == (
        f"Started work order {order_id[:8]} in demo: plan_build (plan → build → verify), card "
        f"'Add a --version flag' (#{card['id'][:8]}). "
        f"Follow it with `lazyaf card logs {card['id'][:8]} --follow`."
    )


def test_run_json_is_the_work_order(lazyaf: Invoke, server: LiveServer, demo: None) -> None:
    args = ["Tidy up", "--title", "Tidy", "--review-plan", "--workflow", "plan", "--json"]
    result = lazyaf("run", "demo", *args)
    assert result.exit_code == 0, result.output
    order = json.loads(result.stdout)
    assert order == api(server, f"/work-orders/{order['id']}")
    assert order["title"] == "Tidy" and order["review_plan"] is True


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["nope", "Do it"], "No repo named 'nope' (or with that id); the repos are: demo."),
        (["demo", "Do it", "--workflow", "deploy"], "Unknown workflow 'deploy'; the workflows are: build, "),
        (["demo", "  "], "say what the agent should do; the prompt is empty"),
    ],
)
def test_refusals_are_one_line_and_create_nothing(
    lazyaf: Invoke, server: LiveServer, demo: None, args: list[str], words: str
) -> None:
    result = lazyaf("run", *args)
    assert words in error_line(result)
    assert api(server, "/work-orders") == []
    repo = api(server, "/repos")[0]
    assert api(server, f"/repos/{repo['id']}/cards") == []


def test_run_against_a_server_that_is_down(down_url: str) -> None:
    result = invoke("--server", down_url, "run", "demo", "Do it")
    assert error_line(result) == f"LazyAF server not reachable at {down_url}; start it with `lazyaf serve`."


# --- followed to the end, for real -------------------------------------------------------------------


def planner(request: Any) -> Any:
    """Write the plan where the plan step's prompt says, else hello.txt."""
    asked = PLAN_PATH.search(request.prompts[0] if request.prompts else "")
    if asked:
        plan = "---\nfiles:\n  - hello.txt\n---\n# Plan: Say hello\n\nWrite hello.txt.\n"
        return fm.write_file_script(asked.group(1), plan, final="The plan is written.")(request)
    return fm.write_file_script("hello.txt", "Hello\n", final="I wrote hello.txt, as planned.")(request)


@pytest.fixture
def agent_demo(agent_server: LiveServer, tmp_path: Path) -> LiveServer:
    result = run_piped("ingest", make_repo(tmp_path / "src"), "--name", "demo", server=agent_server.url)
    assert result.returncode == 0, result.stderr
    # The verify step runs this check on the branch the build step left.
    repo = api(agent_server, "/repos")[0]
    httpx.patch(agent_server.api(f"/repos/{repo['id']}"), json={"test_command": "test -f hello.txt"})
    return agent_server


def test_run_follow_prints_each_step_and_the_agents_log_and_exits_0(
    agent_demo: LiveServer, model: Any
) -> None:
    model.script = planner
    args = ["Say hello", "--workflow", "plan_build", "--follow"]
    result = run_on_pty("run", "demo", *args, server=agent_demo.url)

    assert result.returncode == 0, result.text
    text = result.text
    order = api(agent_demo, "/work-orders")[0]
    assert order["status"] == "succeeded" and order["card_status"] == "in_review"
    ref = order["card_id"][:8]
    lines = [line.strip() for line in text.splitlines()]
    started = next(i for i, line in enumerate(lines) if line.startswith("Started 'Say hello'"))
    assert lines[started].endswith(f"work order {order['id'][:8]}, plan_build (plan → build → verify)")
    order_of = [
        next(i for i, line in enumerate(lines) if line.startswith(prefix))
        for prefix in (
            "── step 1/3: plan",
            "The plan is written.",
            "· plan done",
            "── step 2/3: build",
            "I wrote hello.txt, as planned.",
            "· build done",
            "── step 3/3: verify",
            "· verify done",
            f"✓ Work order {order['id'][:8]} succeeded: 'Say hello' is in review",
        )
    ]
    assert order_of == sorted(order_of), lines
    assert lines[order_of[-1]].endswith(f"Next: `lazyaf card diff {ref}`, then `lazyaf card approve {ref}`.")


def test_run_follow_of_a_failing_step_exits_1_with_the_reason(agent_demo: LiveServer, model: Any) -> None:
    model.script = fm.error_script(400, "scripted bad request")
    args = ["Say hello", "--workflow", "plan_build", "--follow"]
    result = run_piped("run", "demo", *args, server=agent_demo.url)

    assert result.returncode == 1, result.stdout + result.stderr
    order = api(agent_demo, "/work-orders")[0]
    assert order["status"] == "failed"
    (line,) = result.stderr.strip().splitlines()
    assert "scripted bad request" in line, line
    assert line.startswith(f"Error: Work order {order['id'][:8]} failed at its plan step: ")
    ref = order["card_id"][:8]
    assert line.endswith(f"See `lazyaf card show {ref}`; retry with `lazyaf card retry {ref}`.")


def test_run_follow_json_is_one_object_per_line(agent_demo: LiveServer, model: Any) -> None:
    model.script = planner
    args = ["Say hello", "--workflow", "plan", "--follow", "--json"]
    result = run_piped("run", "demo", *args, server=agent_demo.url)

    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["type"] == "started" and records[-1]["type"] == "end"
    assert records[-1]["work_order"]["status"] == "succeeded"
    assert {"event", "run"} <= {r["type"] for r in records}
    assert all(r["run"]["id"] == records[0]["work_order"]["id"] for r in records if r["type"] == "run")
