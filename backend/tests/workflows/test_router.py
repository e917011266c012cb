"""The workflows API: the presets (built-in and a repo's own), a repo's default workflow, starting a
card with a workflow, its runs, follow-up prompts, and the refusals (each with its sentence and
nothing written)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from lazyaf.events.models import BoardEvent
from lazyaf.jobs.models import Job
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.runs.models import FollowUp, Run
from lazyaf.settings import Settings
from tests.gitutil import Work, make_source_repo


@pytest.fixture
async def repo(app: FastAPI, settings: Settings, tmp_path: Path) -> Repo:
    async with app.state.sessionmaker() as session:
        repo = await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name="r"))
        await session.commit()
    return repo


@pytest.fixture
def work(settings: Settings, repo: Repo, tmp_path: Path) -> Work:
    """A clone-like work tree whose origin is the repo's bare repository, with a first commit on main."""
    make_source_repo(tmp_path / "unused")
    work = Work(tmp_path / "work", repo_service.git_path(settings, repo))
    work.commit({"README.md": "# r\n"}, "First")
    work.push("main")
    return work


async def _count(app: FastAPI, model: Any) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _card(client: httpx.AsyncClient, repo: Repo, **fields: Any) -> dict[str, Any]:
    response = await client.post(f"/api/repos/{repo.id}/cards", json={"title": "Say hello", **fields})
    assert response.status_code == 201, response.text
    card: dict[str, Any] = response.json()
    return card


async def test_the_builtin_presets_are_listed_with_their_steps(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/workflows")
    assert response.status_code == 200, response.text
    body = response.json()
    found = {w["name"]: (w["steps"], w["source"], w["alias_of"]) for w in body["workflows"]}
    assert found == {
        "build": (["build", "verify"], "builtin", None),
        "plan": (["plan"], "builtin", None),
        "plan_build": (["plan", "build", "verify"], "builtin", None),
        "plan_build_test": (["plan", "build", "test", "verify"], "builtin", None),
        "test": (["test", "verify"], "builtin", None),
        "oneshot": (["plan", "build", "verify"], "builtin", "plan_build"),
        "iterate": (["iterate", "verify"], "builtin", None),
        "long_build": (["plan", "loop", "verify"], "builtin", None),
    }
    assert body["default_workflow"] == "build" and body["problems"] == {}
    assert all(w["description"] for w in body["workflows"])


async def test_a_repo_adds_and_overrides_presets_and_a_broken_file_is_a_problem_not_a_crash(
    client: httpx.AsyncClient, repo: Repo, work: Work
) -> None:
    work.commit(
        {
            ".lazyaf/workflows/quick.yaml": "description: Just build.\nsteps: [build]\n",
            ".lazyaf/workflows/build.yaml": "description: Build twice.\nsteps: [build, build, verify]\n",
            ".lazyaf/workflows/broken.yaml": "steps: [build, deploy]\n",
            ".lazyaf/workflows/notyaml.yaml": "steps: [build\n",
            ".lazyaf/workflows/Bad Name.yaml": "steps: [build]\n",
        },
        "Workflows",
    )
    work.push("main")
    for ref in ("r", str(repo.id)):
        body = (await client.get("/api/workflows", params={"repo": ref})).json()
        found = {w["name"]: (w["steps"], w["source"]) for w in body["workflows"]}
        assert found["quick"] == (["build"], "repo")
        assert found["build"] == (["build", "build", "verify"], "repo")
        assert found["plan"] == (["plan"], "builtin")
        assert "broken" not in found and "notyaml" not in found and "Bad Name" not in found
        assert body["problems"]["broken"] == (
            ".lazyaf/workflows/broken.yaml: unknown step 'deploy'; the steps are: "
            "plan, build, test, verify, iterate, loop."
        )
        assert body["problems"]["notyaml"].startswith(".lazyaf/workflows/notyaml.yaml is not valid YAML")
    missing = await client.get("/api/workflows", params={"repo": "nope"})
    assert (
        missing.status_code == 404
        and missing.json()["detail"] == "No repo named 'nope'; list repos with GET /api/repos."
    )


async def test_the_default_workflow_is_a_repo_setting_checked_against_its_presets(
    client: httpx.AsyncClient, app: FastAPI, repo: Repo, work: Work
) -> None:
    refused = await client.patch(f"/api/repos/{repo.id}", json={"default_workflow": "plan_bild"})
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith(
        "Unknown workflow 'plan_bild'; the workflows are: build, iterate,"
    )
    assert (await client.get(f"/api/repos/{repo.id}")).json()["default_workflow"] == "build"

    changed = await client.patch(f"/api/repos/{repo.id}", json={"default_workflow": "plan_build"})
    assert changed.status_code == 200 and changed.json()["default_workflow"] == "plan_build"
    assert (await client.get("/api/workflows", params={"repo": "r"})).json()[
        "default_workflow"
    ] == "plan_build"
    # A drag (PATCH to in_progress) runs the repo's default.
    card = await _card(client, repo)
    moved = await client.patch(f"/api/cards/{card['id']}", json={"status": "in_progress"})
    assert moved.status_code == 200, moved.text
    (run,) = (await client.get(f"/api/cards/{card['id']}/runs")).json()
    assert run["workflow"] == "plan_build" and [s["kind"] for s in run["steps"]] == [
        "plan",
        "build",
        "verify",
    ]

    cleared = await client.patch(f"/api/repos/{repo.id}", json={"default_workflow": ""})
    assert cleared.json()["default_workflow"] == "build"


async def test_test_paths_default_and_can_be_set_and_cleared(client: httpx.AsyncClient, repo: Repo) -> None:
    read = (await client.get(f"/api/repos/{repo.id}")).json()
    assert "tests/**" in read["test_paths"] and "**/test_*.py" in read["test_paths"]
    set_ = await client.patch(f"/api/repos/{repo.id}", json={"test_paths": ["spec/**", "**/*.spec.ts"]})
    assert set_.json()["test_paths"] == ["spec/**", "**/*.spec.ts"]
    cleared = await client.patch(f"/api/repos/{repo.id}", json={"test_paths": []})
    assert cleared.json()["test_paths"] == read["test_paths"]
    bad = await client.patch(f"/api/repos/{repo.id}", json={"test_paths": ["/etc/**"]})
    assert bad.status_code == 422


async def test_start_with_a_workflow_and_the_runs_it_makes(
    client: httpx.AsyncClient, app: FastAPI, repo: Repo, work: Work
) -> None:
    card = await _card(client, repo)
    started = await client.post(
        f"/api/cards/{card['id']}/start", json={"workflow": "plan_build_test", "review_plan": True}
    )
    assert started.status_code == 201, started.text
    job = started.json()
    assert job["kind"] == "plan" and job["status"] == "queued"
    assert "Write the plan to `docs/plans/" in (await _prompt(app, job["id"]))
    (run,) = (await client.get(f"/api/cards/{card['id']}/runs")).json()
    assert (run["workflow"], run["status"], run["review_plan"], run["phase"]) == (
        "plan_build_test",
        "running",
        True,
        "plan",
    )
    assert [(s["position"], s["kind"], s["status"], s["attempts"]) for s in run["steps"]] == [
        (0, "plan", "running", 1),
        (1, "build", "pending", 0),
        (2, "test", "pending", 0),
        (3, "verify", "pending", 0),
    ]
    assert run["steps"][0]["job_id"] == job["id"] and run["steps"][1]["job_id"] is None
    assert (await client.get(f"/api/runs/{run['id']}")).json() == run
    (current,) = (await client.get(f"/api/repos/{repo.id}/current-runs")).json()
    assert current["id"] == run["id"]
    missing = await client.get(f"/api/runs/{uuid.uuid4()}")
    assert missing.status_code == 404


async def _prompt(app: FastAPI, job_id: str) -> str:
    async with app.state.sessionmaker() as session:
        job = await session.get(Job, uuid.UUID(job_id))
        assert job is not None
        return job.prompt


async def test_an_unknown_workflow_is_a_422_naming_the_known_ones_and_nothing_changes(
    client: httpx.AsyncClient, app: FastAPI, repo: Repo, work: Work
) -> None:
    card = await _card(client, repo)
    refused = await client.post(f"/api/cards/{card['id']}/start", json={"workflow": "deploy"})
    assert refused.status_code == 422
    assert refused.json() == {
        "detail": "Unknown workflow 'deploy'; the workflows are: build, iterate, long_build, oneshot, plan, "
        "plan_build, plan_build_test, test.",
        "code": "invalid_input",
    }
    assert (await client.get(f"/api/cards/{card['id']}")).json() == {**card, "waiting_reason": None}
    assert await _count(app, Run) == 0 and await _count(app, Job) == 0
    extra = await client.post(f"/api/cards/{card['id']}/start", json={"workflow": "build", "steps": ["x"]})
    assert extra.status_code == 422


async def test_run_changes_are_board_events(
    client: httpx.AsyncClient, app: FastAPI, repo: Repo, work: Work
) -> None:
    card = await _card(client, repo)
    job = (await client.post(f"/api/cards/{card['id']}/start", json={"workflow": "build"})).json()
    await client.post(f"/api/jobs/{job['id']}/cancel")
    async with app.state.sessionmaker() as session:
        rows = (await session.scalars(select(BoardEvent).where(BoardEvent.type == "run_updated"))).all()
    runs = [json.loads(json.dumps(r.data)) for r in rows]
    assert runs and all(r["repo_id"] == str(repo.id) for r in runs)
    assert runs[0]["run"]["status"] == "running" and runs[0]["run"]["steps"][0]["status"] == "running"
    assert runs[-1]["run"]["status"] == "cancelled"
    assert [s["status"] for s in runs[-1]["run"]["steps"]] == ["cancelled", "skipped"]


async def test_a_prompt_is_queued_while_a_step_runs_and_refused_where_there_is_no_session(
    client: httpx.AsyncClient, app: FastAPI, repo: Repo, work: Work
) -> None:
    card = await _card(client, repo)
    refused = await client.post(f"/api/cards/{card['id']}/prompt", json={"text": "Also do X."})
    assert refused.status_code == 409
    assert (
        refused.json()["detail"] == "Card 'Say hello' is todo: start it first (its agent has no session yet)."
    )
    assert await _count(app, FollowUp) == 0
    blank = await client.post(f"/api/cards/{card['id']}/prompt", json={"text": "  "})
    assert blank.status_code == 422
    control = await client.post(f"/api/cards/{card['id']}/prompt", json={"text": "a\x00b"})
    assert control.status_code == 422

    job = (await client.post(f"/api/cards/{card['id']}/start")).json()
    queued = await client.post(f"/api/cards/{card['id']}/prompt", json={"text": "Also do X."})
    assert queued.status_code == 202, queued.text
    body = queued.json()
    assert body["status"] == "queued" and body["job_id"] is None
    (run,) = (await client.get(f"/api/cards/{card['id']}/runs")).json()
    assert body["run_id"] == run["id"] and run["steps"][0]["job_id"] == job["id"]
    timeline = (await client.get(f"/api/cards/{card['id']}/timeline")).json()["entries"]
    assert any(e["kind"] == "prompt" and e["data"]["queued"] for e in timeline)
    # Cancelling the run drops what it never delivered.
    await client.post(f"/api/jobs/{job['id']}/cancel")
    assert await _count(app, FollowUp) == 0
