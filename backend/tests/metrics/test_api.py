"""GET /api/metrics equals what ran: cards driven through the real core at chosen times, the
expected figures computed from the floor's ledger (what the test ran), on SQLite and PostgreSQL."""

from __future__ import annotations

import statistics
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from lazyaf_protocol.credentials import NO_CREDENTIAL
from lazyaf_runner.agents.base import interruption_reason
from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, Uuid, func, select

from lazyaf.cards.models import Card, CardActivity
from lazyaf.jobs.models import Job
from tests.metrics.floor import Ended, Floor

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
MIDNIGHT = NOW.replace(hour=0, minute=0)


def day(ago: int, hour: int, minute: int = 0) -> datetime:
    return MIDNIGHT - timedelta(days=ago) + timedelta(hours=hour, minutes=minute)


@dataclass
class Story:
    """What the test did besides the attempts (those are in the floor's ledger)."""

    started: dict[str, datetime] = field(default_factory=dict)
    approved: dict[str, datetime] = field(default_factory=dict)
    refused: list[tuple[str, datetime]] = field(default_factory=list)


async def run_the_month(floor: Floor) -> Story:
    """Cards of two repos over ~40 days: one-shots, retries, failed checks fixed, a review round, a
    conflict at merge, a card that runs out of attempts, one still running, and old ones."""
    story = Story()
    await floor.repo("alpha")
    await floor.repo("beta")

    async def start(repo: str, title: str, when: datetime, **fields: object) -> None:
        await floor.start(repo, title, when, **fields)
        story.started[title] = when

    async def approve(title: str, when: datetime) -> None:
        if await floor.approve(title, when):
            story.approved[title] = when
        else:
            story.refused.append((title, when))

    # Long ago (outside 30 days, inside 60).
    await start("alpha", "old", day(40, 9))
    await floor.complete(await floor.claim(day(40, 9, 1)), day(40, 9, 30), cost=2.0, tokens=(9000, 900))
    await approve("old", day(39, 10))

    # One shot: done the same morning.
    await start("alpha", "one shot", day(10, 8))
    await floor.complete(await floor.claim(day(10, 8, 1)), day(10, 8, 20), cost=0.5, tokens=(1000, 200))
    await approve("one shot", day(10, 10, 20))

    # Timed out in the agent, retried, done.
    await start("alpha", "retried", day(8, 9))
    job = await floor.claim(day(8, 9, 1))
    stopped = interruption_reason("Claude Code", timed_out=True, cancelled=False, timeout=1800)
    assert stopped is not None
    await floor.fail(job, day(8, 9, 5), error=stopped, reason="timeout", cost=0.1, tokens=(100, 10))
    await floor.retry("retried", day(8, 9, 30))
    await floor.complete(await floor.claim(day(8, 9, 31)), day(8, 10), cost=0.35, tokens=(300, 30))
    await approve("retried", day(8, 13))

    # Failed checks, fixed; a review round; done. Crosses midnight into the next day for the merge.
    # The repo has checks meanwhile, so each run is its agent step, then a verify step (a job that
    # runs no agent): the first verify fails and sends the build step back as a fix.
    await floor.checks("alpha", "pytest -q")
    await start("alpha", "checks fixed", day(5, 14))
    await floor.complete(await floor.claim(day(5, 14, 1)), day(5, 14, 9), cost=0.2, tokens=(400, 40))
    verify = await floor.claim(day(5, 14, 9))
    await floor.complete(verify, day(5, 14, 10), cost=None, tokens=None, failed_check="test")
    await floor.complete(await floor.claim(day(5, 14, 11)), day(5, 14, 39), cost=0.25, tokens=(500, 50))
    await floor.complete(await floor.claim(day(5, 14, 39)), day(5, 14, 40), cost=None, tokens=None)
    await floor.request_changes("checks fixed", day(5, 16), "Rename it.")
    await floor.complete(await floor.claim(day(5, 16, 1)), day(5, 16, 29), cost=0.06, tokens=(50, 5))
    await floor.complete(await floor.claim(day(5, 16, 29)), day(5, 16, 30), cost=None, tokens=None)
    await floor.checks("alpha", None)
    await approve("checks fixed", day(4, 9))

    # A conflict at merge: the branch and main both add README.md.
    await start("alpha", "conflicting", day(3, 10))
    await floor.complete(
        await floor.claim(day(3, 10, 1)),
        day(3, 10, 15),
        cost=0.4,
        tokens=(800, 80),
        files={"README.md": "card\n"},
    )
    await floor.move_main("alpha", {"README.md": "main\n"})
    await approve("conflicting", day(3, 11))
    await approve("conflicting", day(2, 9))  # still conflicting: refused again

    # Runs out of its two attempts: the reaper's timeout, then an agent crash without a cost.
    await start("alpha", "hopeless", day(2, 8), max_attempts=2)
    job = await floor.claim(day(2, 8, 1))
    await floor.time_out(
        job, day(2, 8, 1) + timedelta(seconds=floor.settings.job_timeout + 2 * floor.settings.lease_ttl + 5)
    )
    await floor.retry("hopeless", day(2, 11))
    crash = "Claude Code exited with code 1 without a result; stderr: boom."
    await floor.fail(
        await floor.claim(day(2, 11, 1)),
        day(2, 11, 3),
        error=crash,
        reason="agent_crashed",
        cost=None,
        tokens=None,
    )

    # Another repo's card, and one still running here.
    await start("beta", "elsewhere", day(1, 9))
    job = await floor.claim(day(1, 9, 1))
    await floor.fail(job, day(1, 9, 2), error=NO_CREDENTIAL, reason="credential", cost=0.0, tokens=(0, 0))
    await floor.retry("elsewhere", day(1, 10))
    await floor.complete(await floor.claim(day(1, 10, 1)), day(1, 10, 30), cost=5.0, tokens=(7000, 700))
    await approve("elsewhere", day(1, 12))
    await start("alpha", "running", day(0, 11))
    await floor.claim(day(0, 11, 1))
    return story


# --- what the test expects, from what it ran -------------------------------------------------------


def quantiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "mean": None, "median": None, "p90": None, "max": None}
    p90 = values[0] if len(values) == 1 else statistics.quantiles(values, n=10, method="inclusive")[8]
    return {
        "count": len(values),
        "mean": pytest.approx(statistics.fmean(values)),
        "median": pytest.approx(statistics.median(values)),
        "p90": pytest.approx(p90),
        "max": pytest.approx(max(values)),
    }


def rate(count: int, of: list[str]) -> Any:
    return pytest.approx(count / len(of)) if of else None


def expected(floor: Floor, story: Story, repos: set[str], days: int) -> dict[str, Any]:
    since = MIDNIGHT - timedelta(days=days - 1)
    mine = [e for e in floor.ledger if floor.card_repo[e.card] in repos]
    ended = [e for e in mine if e.at >= since]
    by_card: dict[str, list[Ended]] = defaultdict(list)
    for e in mine:
        by_card[e.card].append(e)
    cohort = [t for t, at in story.started.items() if floor.card_repo[t] in repos and at >= since]
    settled = [t for t in cohort if by_card[t]]
    first_review = {
        t: next(e.at for e in by_card[t] if e.to_review) for t in by_card if any(e.to_review for e in by_card[t])
    }
    done = {t: at for t, at in story.approved.items() if floor.card_repo[t] in repos and at >= since}
    per_card_cost: dict[str, float] = defaultdict(float)
    per_card_tokens: dict[str, float] = defaultdict(float)
    for e in ended:
        per_card_cost[e.card] += e.cost or 0.0
        per_card_tokens[e.card] += (e.tokens_in or 0) + (e.tokens_out or 0)
    days_list = [(since + timedelta(days=i)).date() for i in range(days)]
    per_day = {
        d: {
            "day": d.isoformat(),
            "cards_done": sum(1 for at in done.values() if at.date() == d),
            "attempts": sum(1 for e in ended if e.at.date() == d),
            "failed_attempts": sum(1 for e in ended if e.at.date() == d and e.status == "failed"),
            "cost_usd": pytest.approx(sum(e.cost or 0.0 for e in ended if e.at.date() == d)),
            "input_tokens": sum(e.tokens_in or 0 for e in ended if e.at.date() == d),
            "output_tokens": sum(e.tokens_out or 0 for e in ended if e.at.date() == d),
        }
        for d in days_list
    }
    refusals = [(t, at) for t, at in story.refused if floor.card_repo[t] in repos and at >= since]
    histogram = Counter(len(by_card[t]) for t in settled)
    return {
        "cards": {
            "started": len(cohort),
            "settled": len(settled),
            "done": len(done),
            "first_time_success_rate": rate(
                sum(by_card[t][0].status == "completed" for t in settled), settled
            ),
            "success_rate_after_retries": rate(
                sum(any(e.status == "completed" for e in by_card[t]) for t in settled), settled
            ),
            "attempts_per_card": quantiles([float(len(by_card[t])) for t in settled]),
            "attempts_histogram": [{"attempts": n, "cards": histogram[n]} for n in sorted(histogram)],
        },
        "durations": {
            "time_to_review_s": quantiles(
                [
                    (at - story.started[t]).total_seconds()
                    for t, at in first_review.items()
                    if at >= since and t in story.started and floor.card_repo[t] in repos
                ]
            ),
            "review_to_merge_s": quantiles(
                [(at - first_review[t]).total_seconds() for t, at in done.items()]
            ),
        },
        "cost": {
            "total_usd": pytest.approx(sum(e.cost or 0.0 for e in ended)),
            "input_tokens": sum(e.tokens_in or 0 for e in ended),
            "output_tokens": sum(e.tokens_out or 0 for e in ended),
            "attempts": len(ended),
            "per_card_usd": quantiles(list(per_card_cost.values())),
            "per_card_tokens": quantiles(list(per_card_tokens.values())),
        },
        "per_day": [per_day[d] for d in days_list],
        "failures": {
            "total": sum(1 for e in ended if e.status == "failed"),
            "reasons": Counter(e.reason for e in ended if e.status == "failed"),
        },
        "conflicts": {
            "met_at_merge": len(refusals),
            "cards_met_at_merge": len({t for t, _ in refusals}),
            # The scenario drives the orchestration directly, so no conflict pass ran: no prediction
            # was recorded (tests/metrics count predictions on their own in test_conflicts*).
            "predicted": 0,
            "predicted_then_met": 0,
        },
        "learnings": {"used": 0},  # no learning was accepted, so none was used
        "costliest": sorted(per_card_cost.items(), key=lambda item: -item[1])[:10],
    }


def assert_matches(answer: dict[str, Any], want: dict[str, Any]) -> None:
    assert answer["cards"] == want["cards"]
    assert answer["durations"] == want["durations"]
    assert answer["cost"] == want["cost"]
    assert answer["per_day"] == want["per_day"]
    assert answer["failures"]["total"] == want["failures"]["total"]
    assert (
        Counter({r["reason"]: r["count"] for r in answer["failures"]["reasons"]})
        == want["failures"]["reasons"]
    )
    counts = [r["count"] for r in answer["failures"]["reasons"]]
    assert counts == sorted(counts, reverse=True)
    assert answer["conflicts"] == want["conflicts"]
    assert answer["learnings"] == want["learnings"]
    costliest = [(c["title"], c["cost_usd"]) for c in answer["costliest_cards"]]
    assert costliest == [(t, pytest.approx(c)) for t, c in want["costliest"]]


async def get(api: httpx.AsyncClient, floor: Floor, **params: Any) -> dict[str, Any]:
    with floor.at(NOW):
        response = await api.get("/api/metrics", params={"tz": "UTC", **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_metrics_of_a_month_equal_what_ran(api: httpx.AsyncClient, floor: Floor) -> None:
    story = await run_the_month(floor)
    alpha = str(floor.repos["alpha"].id)

    answer = await get(api, floor, repo=alpha)
    assert (answer["repo_id"], answer["days"], answer["timezone"]) == (alpha, 30, "UTC")
    assert answer["since"] == (MIDNIGHT - timedelta(days=29)).isoformat().replace("+00:00", "Z")
    assert_matches(answer, expected(floor, story, {"alpha"}, 30))
    # What the floor ran, spelled out once (the ledger's figures above are these):
    assert (
        answer["cards"]["done"] == 3 and answer["cards"]["started"] == 6 and answer["cards"]["settled"] == 5
    )
    assert answer["conflicts"]["met_at_merge"] == 2 and answer["conflicts"]["cards_met_at_merge"] == 1
    assert {r["reason"]: r["count"] for r in answer["failures"]["reasons"]} == {
        "timeout": 2,
        "verification:test": 1,
        "agent_crashed": 1,
    }

    # The repo by name answers the same; all repos and a longer period take in the rest.
    assert await get(api, floor, repo="alpha") == answer
    assert_matches(await get(api, floor), expected(floor, story, {"alpha", "beta"}, 30))
    assert_matches(await get(api, floor, days=60), expected(floor, story, {"alpha", "beta"}, 60))
    assert_matches(await get(api, floor, repo="beta", days=1), expected(floor, story, {"beta"}, 1))


async def test_the_per_day_figures_add_up_to_the_records(api: httpx.AsyncClient, floor: Floor) -> None:
    """Cross-check against the rows themselves: the sums over the days are the jobs' and the
    cards' own figures (total_cost_usd is kept by the core as attempts complete)."""
    await run_the_month(floor)
    answer = await get(api, floor, days=365)
    async with floor.app.state.sessionmaker() as session:
        jobs_cost = await session.scalar(select(func.sum(Job.cost_usd)))
        cards_cost = await session.scalar(select(func.sum(Card.total_cost_usd)))
        merges = await session.scalar(select(func.count()).where(CardActivity.kind == "merged"))
    assert sum(d["cost_usd"] for d in answer["per_day"]) == pytest.approx(jobs_cost)
    assert answer["cost"]["total_usd"] == pytest.approx(cards_cost)
    assert sum(d["cards_done"] for d in answer["per_day"]) == merges == answer["cards"]["done"]


async def test_days_follow_the_time_zone_asked_for_across_a_dst_change(
    api: httpx.AsyncClient, floor: Floor
) -> None:
    """Berlin moves to summer time at 01:00 UTC on 29 March 2026: an attempt at 22:30 UTC on the
    29th is already the 30th there (UTC+2), one at 21:30 UTC is still the 29th; Kathmandu is
    UTC+5:45."""
    await floor.repo("alpha")
    ends = [
        datetime(2026, 3, 28, 23, 30, tzinfo=UTC),  # Berlin 29 Mar 00:30 (+1)
        datetime(2026, 3, 29, 21, 30, tzinfo=UTC),  # Berlin 29 Mar 23:30 (+2)
        datetime(2026, 3, 29, 22, 30, tzinfo=UTC),  # Berlin 30 Mar 00:30 (+2)
        datetime(2026, 3, 30, 18, 10, tzinfo=UTC),  # Kathmandu 30 Mar 23:55, Berlin 30 Mar 20:10
        datetime(2026, 3, 30, 18, 20, tzinfo=UTC),  # Kathmandu 31 Mar 00:05
    ]
    for i, at in enumerate(ends):
        await floor.start("alpha", f"card {i}", at - timedelta(minutes=5))
        await floor.complete(
            await floor.claim(at - timedelta(minutes=4)), at, cost=1.0 + i, tokens=(10**i, i)
        )
    now = datetime(2026, 3, 31, 12, tzinfo=UTC)

    async def days(tz: str) -> dict[date, float]:
        with floor.at(now):
            response = await api.get("/api/metrics", params={"tz": tz, "days": 4})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["timezone"] == tz
        return {date.fromisoformat(d["day"]): d["cost_usd"] for d in body["per_day"] if d["attempts"]}

    assert await days("Europe/Berlin") == {date(2026, 3, 29): 1.0 + 2.0, date(2026, 3, 30): 3.0 + 4.0 + 5.0}
    assert await days("UTC") == {
        date(2026, 3, 28): 1.0,
        date(2026, 3, 29): 2.0 + 3.0,
        date(2026, 3, 30): 4.0 + 5.0,
    }
    assert await days("Asia/Kathmandu") == {
        date(2026, 3, 29): 1.0,
        date(2026, 3, 30): 2.0 + 3.0 + 4.0,
        date(2026, 3, 31): 5.0,
    }


async def test_conflicts_predicted_are_counted_once_predictions_are_recorded(
    api: httpx.AsyncClient, floor: Floor
) -> None:
    """Cards predicted to conflict in the period, and those that then met a conflict at merge:
    none before a prediction is recorded (the conflict watcher does not run under this floor),
    then the rows written here as lazyaf.conflicts writes them."""
    await floor.repo("alpha")
    await floor.start("alpha", "conflicting", day(3, 10))
    job = await floor.claim(day(3, 10, 1))
    await floor.complete(job, day(3, 10, 15), cost=0.1, tokens=(1, 1), files={"README.md": "card\n"})
    await floor.start("alpha", "quiet", day(3, 11))
    await floor.complete(await floor.claim(day(3, 11, 1)), day(3, 11, 15), cost=0.1, tokens=(1, 1))
    await floor.move_main("alpha", {"README.md": "main\n"})
    assert not await floor.approve("conflicting", day(2, 9))
    answer = await get(api, floor, repo="alpha")
    assert (answer["conflicts"]["predicted"], answer["conflicts"]["predicted_then_met"]) == (0, 0)
    assert answer["conflicts"]["met_at_merge"] == 1

    predictions = Table(
        "conflict_prediction",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("repo_id", Uuid, nullable=False),
        Column("card_id", Uuid, nullable=False),
        Column("other_card_id", Uuid),
        Column("target_branch", String(255)),
        Column("kind", String(10), nullable=False),
        Column("files", JSON, nullable=False),
        Column("card_sha", String(64), nullable=False),
        Column("other_sha", String(64), nullable=False),
        Column("detected_at", DateTime(timezone=True), nullable=False),
        Column("checked_at", DateTime(timezone=True), nullable=False),
        Column("cleared_at", DateTime(timezone=True)),
        Column("cleared_reason", String(20)),
    )
    repo_id = floor.repos["alpha"].id
    conflicting, quiet = floor.cards["conflicting"], floor.cards["quiet"]

    def row(card: uuid.UUID, other: uuid.UUID | None, kind: str, at: datetime) -> dict[str, Any]:
        naive = at.astimezone(UTC).replace(tzinfo=None) if floor.settings.database_url is None else at
        return {
            "repo_id": repo_id,
            "card_id": card,
            "other_card_id": other,
            "target_branch": None if other else "main",
            "kind": kind,
            "files": ["README.md"],
            "card_sha": "a" * 40,
            "other_sha": "b" * 40,
            "detected_at": naive,
            "checked_at": naive,
        }

    async with floor.app.state.engine.begin() as connection:
        await connection.run_sync(lambda sync: predictions.create(sync, checkfirst=True))
        await connection.execute(
            predictions.insert(),
            [
                row(conflicting, None, "conflict", day(3, 10, 20)),  # foreseen, then met at merge
                row(quiet, conflicting, "conflict", day(3, 11, 20)),
                row(conflicting, quiet, "overlap", day(3, 11, 20)),  # an overlap is no conflict
                row(quiet, None, "conflict", day(40, 9)),  # before the period
            ],
        )
    answer = await get(api, floor, repo="alpha")
    assert (answer["conflicts"]["predicted"], answer["conflicts"]["predicted_then_met"]) == (2, 1)
    assert (await get(api, floor, repo="alpha", days=1))["conflicts"]["predicted"] == 0
