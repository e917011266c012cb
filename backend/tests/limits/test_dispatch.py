"""The scheduler's decision (orchestration/dispatch.py) against the database: what a claim takes, what
it holds and why, what fails for its card's budget, and what releases held work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from lazyaf.cards.models import Card, CardStatus
from lazyaf.jobs import waiting
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.limits import service as limits_service
from lazyaf.orchestration.dispatch import Dispatcher
from lazyaf.repos.models import Repo
from lazyaf.runs.models import Step, StepStatus
from lazyaf.settings import Settings
from tests.limits.conftest import claim, finished, runners, start


async def _limits(app: FastAPI, repo: Repo | None = None, **values: object) -> None:
    async with app.state.sessionmaker() as session:
        await limits_service.write(session, values, repo.id if repo else None)
        await session.commit()


async def _reasons(app: FastAPI, dispatcher: Dispatcher) -> list[tuple[str, str]]:
    """(card title, reason message) of every queued job, in dispatch order."""
    async with app.state.sessionmaker() as session:
        verdicts, _ = await dispatcher.preview(session)
        found = waiting.reasons(verdicts, await waiting.runners_now(session))
    return [(v.queued.card_title, found[v.queued.job_id].message) for v in verdicts]


async def _set(app: FastAPI, job: Job, **fields: object) -> None:
    async with app.state.sessionmaker() as session:
        row = await session.get(Job, job.id)
        assert row is not None
        for key, value in fields.items():
            setattr(row, key, value)
        await session.commit()


# --- order ------------------------------------------------------------------------------------------


async def test_priority_then_age_and_a_long_wait_outranks_a_higher_priority(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo
) -> None:
    settings.queue_aging_s = 600
    now = datetime.now(UTC)
    low_old, normal, urgent, low_new = [
        (await start(app, settings, alpha, title=title, priority=p))[0]
        for title, p in (("low, waited 40 min", 0), ("normal", 1), ("urgent", 3), ("low, new", 0))
    ]
    # 40 minutes of waiting are four priority levels: low (0) + 4 beats urgent (3) queued just now.
    await _set(app, low_old, queued_at=now - timedelta(minutes=40))
    for job in (normal, urgent, low_new):
        await _set(app, job, queued_at=now)
    order = [title for title, _ in await _reasons(app, dispatcher)]
    assert order == ["low, waited 40 min", "urgent", "normal", "low, new"]
    # Without aging: priority, then age.
    settings.queue_aging_s = 0
    order = [title for title, _ in await _reasons(app, dispatcher)]
    assert order == ["urgent", "normal", "low, waited 40 min", "low, new"]
    (runner,) = await runners(app, 1)
    taken = await claim(app, dispatcher, runner)
    assert taken is not None and taken.id == urgent.id


# --- counted limits ---------------------------------------------------------------------------------


async def test_a_repo_at_its_cap_is_skipped_and_the_next_repos_work_starts(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo, beta: Repo
) -> None:
    await _limits(app, max_running_per_repo=1)
    a1, a2, a3 = await start(app, settings, alpha, 3)
    (b1,) = await start(app, settings, beta, 1)
    one, two, three = await runners(app, 3)
    assert (await claim(app, dispatcher, one)).id == a1.id  # type: ignore[union-attr]
    # alpha is at its cap: its next cards are held, beta's card goes first although it came later.
    assert await _reasons(app, dispatcher) == [
        ("alpha card 1", "held: max_running_per_repo 1 of 1 in repo alpha"),
        ("alpha card 2", "held: max_running_per_repo 1 of 1 in repo alpha"),
        ("beta card 0", "waiting: a runner is taking it"),
    ]
    assert (await claim(app, dispatcher, two)).id == b1.id  # type: ignore[union-attr]
    assert await claim(app, dispatcher, three) is None
    # A repo's own max_running replaces the global default for it.
    await _limits(app, alpha, max_running=2)
    assert (await claim(app, dispatcher, three)).id == a2.id  # type: ignore[union-attr]
    assert [m for _, m in await _reasons(app, dispatcher)] == ["held: max_running 2 of 2 in repo alpha"]


async def test_the_preview_counts_the_jobs_ahead_as_taking_the_free_slots(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo, beta: Repo
) -> None:
    await _limits(app, max_running=2)
    await start(app, settings, alpha, 2)
    await start(app, settings, beta, 1)
    await runners(app, 3)
    assert await _reasons(app, dispatcher) == [
        ("alpha card 0", "waiting: a runner is taking it"),
        ("alpha card 1", "waiting: a runner is taking it"),
        ("beta card 0", "held: max_running 2 of 2"),
    ]


async def test_concurrent_claims_never_take_a_repos_last_slot_twice(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo
) -> None:
    await _limits(app, max_running_per_repo=1)
    await start(app, settings, alpha, 4)
    crowd = await runners(app, 6)
    got = await asyncio.gather(*(claim(app, dispatcher, r) for r in crowd))
    assert len([job for job in got if job is not None]) == 1
    async with app.state.sessionmaker() as session:
        running = (await session.scalars(select(Job).where(Job.status == JobStatus.RUNNING))).all()
    assert len(running) == 1


async def test_the_guard_refuses_a_claim_whose_slot_went_meanwhile(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo
) -> None:
    """The decision read the counts, then another claim took the slot: the UPDATE re-checks them."""
    from lazyaf.limits.policy import Policy
    from lazyaf.orchestration import attempts
    from lazyaf.orchestration.dispatch import guard

    await _limits(app, max_running_per_repo=1)
    first, second = await start(app, settings, alpha, 2)
    one, two = await runners(app, 2)
    async with app.state.sessionmaker() as session:
        policy = Policy(await limits_service.snapshot(session))  # nothing runs yet
    assert await claim(app, dispatcher, one) is not None
    conditions, params = guard(policy, alpha.id)
    async with app.state.sessionmaker() as session:
        late = await attempts.claim(
            session=session,
            settings=settings,
            runner_id=two.id,
            job_id=second.id,
            guard=conditions,
            guard_params=params,
        )
        await session.commit()
    assert late is None


async def test_daily_agent_runs_hold_everything_until_midnight(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo, clock: Callable[[datetime], None]
) -> None:
    now = datetime.now(UTC)
    clock(now)
    await finished(app, alpha)
    await finished(app, alpha)
    await _limits(app, daily_agent_runs=2)
    (job,) = await start(app, settings, alpha)
    (runner,) = await runners(app, 1)
    assert await _reasons(app, dispatcher) == [("alpha card 0", "held: daily_agent_runs 2 of 2")]
    assert await claim(app, dispatcher, runner) is None
    _, tomorrow = limits_service.day_bounds(now)
    clock(tomorrow + timedelta(seconds=1))
    assert (await claim(app, dispatcher, runner)).id == job.id  # type: ignore[union-attr]


# --- money ------------------------------------------------------------------------------------------


async def test_daily_usd_at_todays_spend_holds_with_the_figures_until_raised(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo, beta: Repo
) -> None:
    await finished(app, alpha, cost=12.30)
    await finished(app, beta, cost=7.50)
    await _limits(app, daily_usd=19.80)
    (job,) = await start(app, settings, alpha)
    (runner,) = await runners(app, 1)
    async with app.state.sessionmaker() as session:
        verdicts, snap = await dispatcher.preview(session)
    (verdict,) = verdicts
    assert verdict.hold is not None
    assert verdict.hold.message == "held: daily_usd 19.80 of 19.80"
    assert (verdict.hold.limit, verdict.hold.value, verdict.hold.maximum) == ("daily_usd", 19.8, 19.8)
    assert verdict.hold.until == snap.day_end
    assert await claim(app, dispatcher, runner) is None
    await _limits(app, daily_usd=20)
    assert (await claim(app, dispatcher, runner)).id == job.id  # type: ignore[union-attr]


async def test_yesterdays_spend_does_not_count_today(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo, clock: Callable[[datetime], None]
) -> None:
    now = datetime.now(UTC)
    start_of_today, tomorrow = limits_service.day_bounds(now)
    await finished(app, alpha, cost=5.0, ended=start_of_today - timedelta(seconds=1))
    await finished(app, alpha, cost=1.0, ended=start_of_today + timedelta(seconds=1))
    clock(start_of_today + timedelta(minutes=1))
    await _limits(app, daily_usd=3)
    async with app.state.sessionmaker() as session:
        assert (await limits_service.snapshot(session)).total.spent_usd == 1.0
    # A repo's own budget holds its own work only, besides the global one.
    await _limits(app, alpha, daily_usd=0.5)
    await start(app, settings, alpha)
    assert [m for _, m in await _reasons(app, dispatcher)] == ["held: daily_usd 1.00 of 0.50 in repo alpha"]
    clock(tomorrow + timedelta(minutes=1))
    assert [m for _, m in await _reasons(app, dispatcher)] == ["waiting for a runner — none is running"]


async def test_a_card_past_its_budget_fails_its_next_step_instead_of_starting(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo
) -> None:
    await _limits(app, per_card_usd=2)
    spent, fresh = await start(app, settings, alpha, 2)
    async with app.state.sessionmaker() as session:
        card = await session.get(Card, spent.card_id)
        assert card is not None
        card.total_cost_usd = 2.35
        await session.commit()
    assert await _reasons(app, dispatcher) == [
        (
            "alpha card 0",
            "over budget: per_card_usd 2.35 of 2.00: this card has spent its budget; raise per_card_usd "
            "(PUT /api/limits) and retry it",
        ),
        ("alpha card 1", "waiting for a runner — none is running"),
    ]
    (runner,) = await runners(app, 1)
    taken = await claim(app, dispatcher, runner)
    assert taken is not None and taken.id == fresh.id
    async with app.state.sessionmaker() as session:
        job = await session.get(Job, spent.id)
        card = await session.get(Card, spent.card_id)
        assert job is not None and card is not None and job.step_id is not None
        step = await session.get(Step, job.step_id)
        assert job.status == JobStatus.FAILED and job.started_at is None
        assert job.error is not None and job.error.startswith("over budget: per_card_usd 2.35 of 2.00")
        assert card.status == CardStatus.FAILED
        assert step is not None and step.status == StepStatus.FAILED and step.error == job.error


# --- failures in a row ------------------------------------------------------------------------------


async def test_a_repo_pauses_after_failures_in_a_row_and_resumes_after_the_cooldown(
    app: FastAPI,
    settings: Settings,
    dispatcher: Dispatcher,
    alpha: Repo,
    beta: Repo,
    clock: Callable[[datetime], None],
) -> None:
    now = datetime.now(UTC)
    clock(now)
    await finished(app, alpha, status=JobStatus.COMPLETED, ended=now - timedelta(minutes=9))
    for minutes in (8, 6, 4):
        await finished(app, alpha, status=JobStatus.FAILED, ended=now - timedelta(minutes=minutes))
    await finished(app, alpha, status=JobStatus.CANCELLED, ended=now - timedelta(minutes=3))  # not a failure
    await _limits(app, failure_cooldown_after=3, cooldown_s=600)
    (held,) = await start(app, settings, alpha)
    (other,) = await start(app, settings, beta)
    (runner,) = await runners(app, 1)
    ((_, message), (_, free)) = await _reasons(app, dispatcher)
    until = (now - timedelta(minutes=4) + timedelta(seconds=600)).astimezone().strftime("%H:%M:%S")
    assert message == (
        f"held: failure_cooldown_after 3 of 3 failed runs in a row in repo alpha; paused for cooldown_s 600 "
        f"until {until}"
    )
    assert free == "waiting: a runner is taking it"
    assert (await claim(app, dispatcher, runner)).id == other.id  # type: ignore[union-attr]
    # Two failures need a longer streak: a repo's own rule replaces the global one.
    await _limits(app, alpha, failure_cooldown_after=4)
    assert [m for _, m in await _reasons(app, dispatcher)] == ["waiting: next in line, 1 runner busy"]
    await _limits(app, alpha, failure_cooldown_after=None)
    # The cooldown ends 600 s after the last failure.
    clock(now + timedelta(minutes=6, seconds=1))
    (second,) = await runners(app, 1)
    assert (await claim(app, dispatcher, second)).id == held.id  # type: ignore[union-attr]


async def test_a_success_ends_the_streak(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo
) -> None:
    now = datetime.now(UTC)
    for minutes, status in ((5, JobStatus.FAILED), (4, JobStatus.FAILED), (3, JobStatus.COMPLETED)):
        await finished(app, alpha, status=status, ended=now - timedelta(minutes=minutes))
    await _limits(app, failure_cooldown_after=2, cooldown_s=3600)
    await start(app, settings, alpha)
    assert [m for _, m in await _reasons(app, dispatcher)] == ["waiting for a runner — none is running"]


# --- hold checks ------------------------------------------------------------------------------------


async def test_a_registered_hold_check_holds_what_it_names_and_a_broken_one_holds_nothing(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo
) -> None:
    first, second = await start(app, settings, alpha, 2)
    seen: list[str] = []

    async def plans_overlap(session: object, settings: Settings, job: Job) -> str | None:
        seen.append(str(job.id))
        return (
            "conflict_policy hold: its plan overlaps card #1234abcd on README.md"
            if job.id == first.id
            else None
        )

    async def broken(session: object, settings: Settings, job: Job) -> str | None:
        raise RuntimeError("a bug in a check")

    app.state.hold_checks.extend([broken, plans_overlap])
    assert app.state.hold_checks is dispatcher.holds
    assert await _reasons(app, dispatcher) == [
        ("alpha card 0", "held: conflict_policy hold: its plan overlaps card #1234abcd on README.md"),
        ("alpha card 1", "waiting for a runner — none is running"),
    ]
    (runner,) = await runners(app, 1)
    assert (await claim(app, dispatcher, runner)).id == second.id  # type: ignore[union-attr]
    assert str(first.id) in seen


async def test_a_job_held_by_a_limit_is_not_given_to_the_hold_checks(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo
) -> None:
    await _limits(app, max_running=0)
    await start(app, settings, alpha)
    calls: list[Job] = []

    async def check(session: object, settings: Settings, job: Job) -> str | None:
        calls.append(job)
        return None

    dispatcher.holds.append(check)
    assert [m for _, m in await _reasons(app, dispatcher)] == ["held: max_running 0 of 0"]
    (runner,) = await runners(app, 1)
    assert await claim(app, dispatcher, runner) is None
    assert calls == []


# --- the API ------------------------------------------------------------------------------------------


async def test_get_queue_lists_queued_and_held_work_in_dispatch_order_with_stats(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, alpha: Repo, beta: Repo
) -> None:
    await client.put("/api/limits", json={"max_running_per_repo": 1})
    a0, a1 = await start(app, settings, alpha, 2, priority=2)
    (b0,) = await start(app, settings, beta, 1, priority=0)
    body = (await client.get("/api/queue")).json()
    assert [(e["position"], e["card_title"], e["held"]) for e in body["jobs"]] == [
        (1, "alpha card 0", False),
        (2, "alpha card 1", True),
        (3, "beta card 0", False),
    ]
    held = body["jobs"][1]["reason"]
    assert held["code"] == "held" and held["message"] == "held: max_running_per_repo 1 of 1 in repo alpha"
    assert held["hold"] == {
        "limit": "max_running_per_repo",
        "scope": "repo",
        "repo_id": str(alpha.id),
        "value": 1,
        "maximum": 1,
        "until": None,
    }
    assert body["jobs"][2]["reason"]["ahead"] == 1  # the held job is not ahead of it
    stats = body["stats"]
    assert (stats["queued"], stats["held"], stats["running"]) == (3, 1, 0)
    assert stats["by_priority"] == [
        {"priority": 3, "queued": 0, "held": 0},
        {"priority": 2, "queued": 2, "held": 1},
        {"priority": 1, "queued": 0, "held": 0},
        {"priority": 0, "queued": 1, "held": 0},
    ]
    assert stats["oldest_wait_s"] >= 0 and stats["oldest_queued_at"] == body["jobs"][0]["queued_at"]
    only_beta = (await client.get("/api/queue", params={"repo": str(beta.id)})).json()
    assert [e["job_id"] for e in only_beta["jobs"]] == [str(b0.id)] and only_beta["jobs"][0]["position"] == 3
    assert only_beta["stats"]["queued"] == 3  # the stats are the whole queue's
    # The card says the same.
    card = (await client.get(f"/api/cards/{a1.card_id}")).json()
    assert card["waiting_reason"]["message"] == "held: max_running_per_repo 1 of 1 in repo alpha"
    assert a0.id != a1.id


async def test_a_held_job_can_be_cancelled(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, alpha: Repo
) -> None:
    await client.put("/api/limits", json={"max_running": 0})
    (job,) = await start(app, settings, alpha)
    assert (await client.get("/api/queue")).json()["jobs"][0]["held"] is True
    response = await client.post(f"/api/jobs/{job.id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert (await client.get("/api/queue")).json()["jobs"] == []
    assert (await client.get(f"/api/cards/{job.card_id}")).json()["status"] == "todo"
    again = await client.post(f"/api/jobs/{job.id}/cancel")
    assert again.status_code == 409 and "nothing to cancel" in again.json()["detail"]


async def test_get_limits_counts_todays_spend_tokens_runs_and_running_work(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, alpha: Repo, beta: Repo
) -> None:
    await finished(app, alpha, cost=0.25)
    await finished(app, alpha, cost=0.5, status=JobStatus.FAILED)
    await finished(app, beta, cost=None)
    await start(app, settings, beta)
    (runner,) = await runners(app, 1)
    assert await claim(app, app.state.dispatcher, runner) is not None
    body = (await client.get("/api/limits")).json()
    assert body["usage"] == {
        "spent_usd": 0.75,
        "agent_runs": 4,
        "input_tokens": 3000,
        "output_tokens": 150,
        "running": 1,
    }
    by_name = {r["repo_name"]: r["usage"] for r in body["repos"]}
    assert by_name["alpha"]["spent_usd"] == 0.75 and by_name["alpha"]["agent_runs"] == 2
    assert by_name["beta"]["running"] == 1 and by_name["beta"]["spent_usd"] == 0


async def test_a_streak_is_counted_past_many_cancelled_runs(
    app: FastAPI, settings: Settings, dispatcher: Dispatcher, alpha: Repo
) -> None:
    now = datetime.now(UTC)
    for minutes in (6, 5):
        await finished(app, alpha, status=JobStatus.FAILED, ended=now - timedelta(minutes=minutes))
    for i in range(40):  # more than the one query reads: the count goes on with a query of its own
        await finished(app, alpha, status=JobStatus.CANCELLED, ended=now - timedelta(seconds=200 - i))
    await _limits(app, failure_cooldown_after=2, cooldown_s=3600)
    await start(app, settings, alpha)
    ((_, message),) = await _reasons(app, dispatcher)
    assert message.startswith("held: failure_cooldown_after 2 of 2 failed runs in a row in repo alpha")


async def test_a_slice_of_the_queue_is_the_same_slice_of_the_whole_queue(
    app: FastAPI, settings: Settings, alpha: Repo, beta: Repo
) -> None:
    """The claim reads slices a priority at a time; GET /api/queue sorts the whole queue: same order."""
    import random

    rng = random.Random(7)
    now = datetime.now(UTC)
    jobs = await start(app, settings, alpha, 20) + await start(app, settings, beta, 20)
    for job in jobs:
        priority = rng.choice((0, 1, 2, 3, 3, 7))  # 7: no card has it, but the queue must not lose it
        await _set(app, job, priority=priority, queued_at=now - timedelta(seconds=rng.uniform(0, 4000)))
    async with app.state.sessionmaker() as session:
        whole = [q.job_id for q in await limits_service.queued(session, 600)]
        assert sorted(whole) == sorted(j.id for j in jobs)
        for offset, limit in ((0, 1), (0, 16), (5, 7), (16, 64), (39, 5)):
            part = await limits_service.queued(session, 600, offset=offset, limit=limit)
            assert [q.job_id for q in part] == whole[offset : offset + limit]
        without_alpha = [q.job_id for q in await limits_service.queued(session, 600) if q.repo_id != alpha.id]
        part = await limits_service.queued(session, 600, offset=3, limit=10, exclude={alpha.id})
        assert [q.job_id for q in part] == without_alpha[3:13]
