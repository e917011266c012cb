"""A work order run to its end: a live server, a real local runner, real git, and a command agent
that writes the plan when its prompt asks for one and the code otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from lazyaf.testing import LiveServer, wait_until
from tests.gitutil import git
from tests.jobs.conftest import ingest, scale, wait_runners_idle

AGENT = """
import pathlib, re, sys
prompt = pathlib.Path(sys.argv[1]).read_text()
work = pathlib.Path(sys.argv[2])
planned = re.search(r"Write the plan to `([^`]+)`", prompt)
if planned:
    target = work / planned.group(1)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("---\\nfiles:\\n  - hello.py\\n---\\n# Plan\\n\\nWrite hello.py.\\n")
    print("planned in", planned.group(1))
else:
    (work / "hello.py").write_text("print('hello')\\nprint('again')\\n")
    print("built hello.py")
"""


def _agent(tmp_path: Path) -> str:
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    return f"{sys.executable} {script} {{prompt_file}} {{workdir}}"


def _order(srv: LiveServer, order_id: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(srv.api(f"/work-orders/{order_id}")).json()
    return found


def test_a_plan_build_work_order_runs_its_steps_and_shows_their_figures_logs_and_git_progress(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    srv = make_server(_agent(tmp_path))
    repo = ingest(srv, tmp_path, name="shop")
    # The verify step runs the repo's checks on the branch: the built hello.py must run.
    httpx.patch(srv.api(f"/repos/{repo['id']}"), json={"test_command": f"{sys.executable} hello.py"})
    scale(srv, 1)
    wait_runners_idle(srv, 1)
    created = httpx.post(
        srv.api("/work-orders"),
        json={"repo": "shop", "prompt": "Say hello\n\nA hello.py that greets.", "workflow": "plan_build"},
    )
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]

    wait_until(lambda: _order(srv, order_id)["status"] in ("succeeded", "failed", "cancelled"), 90)
    order = _order(srv, order_id)
    assert order["status"] == "succeeded", order
    assert order["card_status"] == "in_review" and order["phase"] is None
    plan, build, verify = order["steps"]
    assert [s["status"] for s in order["steps"]] == ["succeeded"] * 3
    assert (plan["kind"], plan["agent"], plan["commits"], plan["files_changed"]) == ("plan", "command", 1, 1)
    assert (build["kind"], build["files_changed"], build["lines_added"]) == ("build", 1, 2)
    assert verify["kind"] == "verify" and verify["agent"] is None
    assert [(c["name"], c["exit_code"]) for c in verify["verification"]] == [("test", 0)]

    progress = httpx.get(srv.api(f"/work-orders/{order_id}/git-progress")).json()
    assert progress["commits"] == plan["commits"] + build["commits"]
    assert progress["files_changed"] == 2 and progress["lines_added"] == plan["lines_added"] + 2
    bare = srv.settings.git_repos_dir / f"{order['repo_id']}.git"
    assert git("rev-parse", order["branch"], cwd=bare).stdout.strip() == progress["head_sha"]
    assert git("merge-base", "main", order["branch"], cwd=bare).stdout.strip() == progress["base_sha"]
    # Merged (a fast-forward: the default branch is the card's head now), it still shows its work.
    approved = httpx.post(srv.api(f"/cards/{order['card_id']}/approve"), json={})
    assert approved.status_code == 200, approved.text
    assert _order(srv, order_id)["card_status"] == "done"
    assert httpx.get(srv.api(f"/work-orders/{order_id}/git-progress")).json() == progress
    assert [(s["kind"], s["commits"]) for s in progress["steps"]] == [
        ("plan", plan["commits"]),
        ("build", build["commits"]),
        ("verify", verify["commits"]),
    ]

    logs = httpx.get(srv.api(f"/work-orders/{order_id}/logs")).json()
    assert logs["status"] == "succeeded"
    said = [(e["step_kind"], e["data"].get("text", "")) for e in logs["events"]]
    assert any(kind == "plan" and "planned in docs/plans/" in text for kind, text in said), said
    assert any(kind == "build" and "built hello.py" in text for kind, text in said), said
    ids = [e["id"] for e in logs["events"]]
    assert ids == sorted(ids) and logs["next_after"] == ids[-1]
    first = httpx.get(srv.api(f"/work-orders/{order_id}/logs"), params={"limit": 1}).json()
    rest = httpx.get(srv.api(f"/work-orders/{order_id}/logs"), params={"after": first["next_after"]}).json()
    assert [e["id"] for e in first["events"] + rest["events"]] == ids
    only_plan = httpx.get(srv.api(f"/work-orders/{order_id}/logs"), params={"step": 0}).json()
    assert only_plan["events"] and {e["step_kind"] for e in only_plan["events"]} == {"plan"}
