"""Auto-start: the sync only marks cards as waiting; the scheduler starts them under the WIP limit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from lazyaf.settings import Settings
from tests.github.conftest import Setup, cards, linked_repo, push_commits, set_rule, sync_now


async def _columns(api: httpx.AsyncClient, repo: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for card in await cards(api, repo):
        key = "waiting" if card["start_waiting_since"] else card["status"]
        counts[key] = counts.get(key, 0) + 1
    return counts


async def _settled(app: FastAPI) -> None:
    """Wait until every committed board event reached its listeners and admission is idle (it runs
    in the background, asked by those events); twice in a row, since admission makes events too."""
    bus, admission, quiet = app.state.bus, app.state.admission, 0
    for _ in range(500):
        await asyncio.sleep(0.01)
        async with app.state.sessionmaker() as session:
            latest = (await session.execute(text("SELECT coalesce(max(seq), 0) FROM board_event"))).scalar()
        idle = bus.last_seq >= latest and (admission._task is None or admission._task.done())
        quiet = quiet + 1 if idle else 0
        if quiet >= 2:
            return
    raise AssertionError("admission did not settle")


async def test_waiting_cards_start_only_while_automation_is_on_and_within_the_limit(
    api: httpx.AsyncClient, setup: Setup, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    for i in range(3):
        setup.fake.add_issue(setup.repo, f"Task {i}")
    repo = await linked_repo(api, setup)
    push_commits(settings, repo, tmp_path)
    await set_rule(api, repo, auto_start=True, max_concurrent=1)

    await sync_now(api, repo)
    await _settled(app)
    assert await _columns(api, repo) == {"waiting": 3}  # automation is off: nothing starts

    await api.post(f"/api/repos/{repo['id']}/github/automation", json={"enabled": True})
    await _settled(app)
    assert await _columns(api, repo) == {"in_progress": 1, "waiting": 2}
    assert await app.state.admission.admit() == []  # the limit holds however often it is asked
    first = next(c for c in await cards(api, repo) if c["status"] == "in_progress")
    assert first["github_issue_number"] == 1  # oldest first, in issue order

    (run,) = (await api.get(f"/api/cards/{first['id']}/runs")).json()
    assert run["workflow"] == "build"  # the rule's workflow

    await set_rule(api, repo, auto_start=True, max_concurrent=2, workflow="plan_build")
    await _settled(app)
    assert await _columns(api, repo) == {"in_progress": 2, "waiting": 1}
    second = next(
        c for c in await cards(api, repo) if c["status"] == "in_progress" and c["id"] != first["id"]
    )
    (run,) = (await api.get(f"/api/cards/{second['id']}/runs")).json()
    assert run["workflow"] == "plan_build" and run["steps"][0]["kind"] == "plan"

    await set_rule(api, repo, auto_start=True, max_concurrent=1)
    await _settled(app)
    assert await _columns(api, repo) == {"in_progress": 2, "waiting": 1}  # running work is not stopped

    job_id = first["job_id"]
    await api.post(f"/api/jobs/{job_id}/cancel")  # one leaves In Progress: still at the limit (1 of 1)
    await _settled(app)
    assert (await _columns(api, repo))["in_progress"] == 1


async def test_a_card_that_cannot_start_stops_waiting_and_says_why(
    api: httpx.AsyncClient, setup: Setup, app: FastAPI
) -> None:
    setup.fake.add_issue(setup.repo, "Nothing to branch from")
    repo = await linked_repo(api, setup)  # no commits pushed: the default branch is empty
    await set_rule(api, repo, auto_start=True, max_concurrent=1)
    await api.post(f"/api/repos/{repo['id']}/github/automation", json={"enabled": True})

    await sync_now(api, repo)
    await _settled(app)

    (card,) = await cards(api, repo)
    assert card["status"] == "todo" and card["start_waiting_since"] is None
    assert card["github_error"].startswith("Auto-start failed: Repo 'hello' has no commits")


async def test_switching_auto_start_on_makes_the_synced_todo_cards_wait_and_off_stops_them(
    api: httpx.AsyncClient, setup: Setup, app: FastAPI
) -> None:
    setup.fake.add_issue(setup.repo, "Open one")
    setup.fake.add_issue(setup.repo, "Skipped later", labels=["lazyaf:skip"])
    repo = await linked_repo(api, setup)
    await set_rule(api, repo, exclude_labels=[])
    await sync_now(api, repo)
    handmade = (await api.post(f"/api/repos/{repo['id']}/cards", json={"title": "Not from GitHub"})).json()

    await set_rule(api, repo, auto_start=True)  # exclude_labels back to the default lazyaf:skip

    waiting = {c["title"] for c in await cards(api, repo) if c["start_waiting_since"]}
    assert waiting == {"Open one"}
    assert (await api.get(f"/api/cards/{handmade['id']}")).json()["start_waiting_since"] is None
    await set_rule(api, repo, auto_start=False)
    assert all(c["start_waiting_since"] is None for c in await cards(api, repo))
