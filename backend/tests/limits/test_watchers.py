"""What keeps boards and runners current without polling: limits_updated after a change of the limits
or of today's usage, and the queue's reasons recomputed (and a runner woken) when a hold ends by time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from lazyaf_protocol import messages as protocol
from sqlalchemy import select

from lazyaf.events.models import BoardEvent
from lazyaf.jobs.models import JobStatus
from lazyaf.orchestration import runs
from lazyaf.repos.models import Repo
from lazyaf.settings import Settings
from tests.limits.conftest import claim, finished, runners, start


async def _events(app: FastAPI, kind: str) -> list[dict[str, Any]]:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(
            select(BoardEvent).where(BoardEvent.type == kind).order_by(BoardEvent.seq)
        )
        return [row.data for row in rows]


async def _until(predicate: Any, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never came true")


async def test_changing_the_limits_is_a_board_event_that_says_so(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await client.put("/api/limits", json={"daily_usd": 3})
    (event,) = await _events(app, "limits_updated")
    assert event["changed"] is True
    assert event["limits"]["limits"]["daily_usd"] == 3
    assert event["limits"] == (await client.get("/api/limits")).json()


async def test_an_attempt_that_ends_with_a_cost_updates_todays_spend_on_the_board(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, alpha: Repo
) -> None:
    (job,) = await start(app, settings, alpha)
    (runner,) = await runners(app, 1)
    taken = await claim(app, app.state.dispatcher, runner)
    assert taken is not None and taken.id == job.id

    async def running_shown() -> bool:
        return any(e["limits"]["usage"]["running"] == 1 for e in await _events(app, "limits_updated"))

    await _until(running_shown)
    message = protocol.Complete(job_id=str(job.id), attempt=1, status="failed", error="no", cost_usd=0.42)
    async with app.state.sessionmaker() as session:
        assert await runs.complete_attempt(
            session=session, settings=settings, message=message, runner_id=runner.id
        )
        await session.commit()

    async def spend_shown() -> bool:
        events = await _events(app, "limits_updated")
        return bool(events) and events[-1]["limits"]["usage"]["spent_usd"] == 0.42

    await _until(spend_shown)
    last = (await _events(app, "limits_updated"))[-1]
    assert last["changed"] is False and last["limits"]["usage"]["running"] == 0
    assert last["limits"]["repos"][0]["usage"]["spent_usd"] == 0.42


async def test_a_hold_that_time_ends_is_recomputed_then_and_a_runner_is_woken(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, alpha: Repo
) -> None:
    woken = asyncio.Event()

    async def wake() -> None:
        woken.set()

    app.state.queue.on_release.append(wake)
    now = datetime.now(UTC)
    # Two failures in a row, the last one a cooldown ago but three seconds: the pause ends soon.
    await finished(app, alpha, status=JobStatus.FAILED, ended=now - timedelta(seconds=90))
    await finished(app, alpha, status=JobStatus.FAILED, ended=now - timedelta(seconds=57))
    await client.put("/api/limits", json={"failure_cooldown_after": 2, "cooldown_s": 60})
    card = (await client.post(f"/api/repos/{alpha.id}/cards", json={"title": "After the pause"})).json()
    job = (await client.post(f"/api/cards/{card['id']}/start")).json()

    def reason_of(event: dict[str, Any]) -> dict[str, Any] | None:
        reason: dict[str, Any] | None = event["waiting"].get(job["id"])
        return reason

    async def held_then_released() -> bool:
        codes = [r["code"] for e in await _events(app, "queue_updated") if (r := reason_of(e))]
        return "held" in codes and codes[-1] == "no_runner"

    await _until(held_then_released)
    held = next(r for e in await _events(app, "queue_updated") if (r := reason_of(e)) and r["code"] == "held")
    assert held["hold"]["limit"] == "failure_cooldown_after" and held["hold"]["until"] is not None
    await asyncio.wait_for(woken.wait(), 10)
    detail = (await client.get(f"/api/cards/{card['id']}")).json()
    assert detail["waiting_reason"]["code"] == "no_runner"
