#!/usr/bin/env python3
"""Benchmark the scheduler's decision (``orchestration.dispatch``) with 1,000 queued cards and 50 running.

One run builds a SQLite database (migrated, like a server's) holding 20 repos, 1,000 queued
attempts (priorities 0-3, queued over the last two hours, 1% of their cards over their budget),
50 running attempts (the first ten repos at their cap), 2,000 finished runs over the last three
days (costs, tokens, a repo with three failures in a row) and the limits: max_running 200,
max_running_per_repo 5, daily_usd 10,000, daily_agent_runs 100,000, per_card_usd 10,
failure_cooldown_after 3 with cooldown_s 600, and a registered hold check standing in for the
conflicts policy (one indexed query per attempt it sees, holding one card in ten).

It then times, interleaved and in turn, one claim by an idle runner through the decision
(``Dispatcher.claim``) and the reference, the claim without limits (``attempts.claim``: one
UPDATE ... RETURNING of the best queued attempt), each in a transaction rolled back afterwards so
every sample decides over the same queue. Also timed: ``Dispatcher.preview`` of the whole queue
(what ``GET /api/queue`` and the board's waiting reasons compute). Prints a markdown table (p50,
p95, p99 in ms) and writes bench/out/dispatch_bench.json.

A benchmark, not a test: exits 0 whether or not the 20 ms p95 target is met. Run it with the
backend's virtualenv: ``.venv/bin/python bench/dispatch_bench.py [--samples 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "backend" / "src"))

from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from lazyaf.cards.models import Card, CardStatus  # noqa: E402
from lazyaf.db.migrate import upgrade  # noqa: E402
from lazyaf.jobs.models import Job, JobKind, JobStatus  # noqa: E402
from lazyaf.limits import service as limits_service  # noqa: E402
from lazyaf.logging import configure_logging  # noqa: E402
from lazyaf.main import create_app  # noqa: E402
from lazyaf.orchestration import attempts  # noqa: E402
from lazyaf.orchestration.dispatch import Dispatcher  # noqa: E402
from lazyaf.repos.models import Repo  # noqa: E402
from lazyaf.runners.models import Runner, RunnerKind, RunnerStatus  # noqa: E402
from lazyaf.settings import Settings  # noqa: E402

OUT = BENCH / "out" / "dispatch_bench.json"
TARGET_MS = 20.0
REPOS, QUEUED, RUNNING, HISTORY = 20, 1000, 50, 2000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def populate(session: AsyncSession, rng: random.Random) -> uuid.UUID:
    """The queue, the running work, the history and the limits; the idle runner's id."""
    now = datetime.now(UTC)
    repos = [{"id": uuid.uuid4(), "name": f"repo-{i:02d}", "default_branch": "main"} for i in range(REPOS)]
    await session.execute(insert(Repo), [{**r, "created_at": now, "updated_at": now} for r in repos])
    cards: list[dict[str, Any]] = []
    jobs: list[dict[str, Any]] = []
    runners: list[dict[str, Any]] = []

    def card(repo: dict[str, Any], status: CardStatus, i: int, cost: float = 0.0) -> uuid.UUID:
        card_id = uuid.uuid4()
        cards.append(
            {
                "id": card_id,
                "repo_id": repo["id"],
                "title": f"card {len(cards)}{' [overlap]' if i % 10 == 3 else ''}",
                "status": status,
                "position": i,
                "priority": 1,
                "total_cost_usd": cost,
                "created_at": now,
                "updated_at": now,
            }
        )
        return card_id

    def job(card_id: uuid.UUID, status: JobStatus, **fields: Any) -> dict[str, Any]:
        row = {
            "id": uuid.uuid4(),
            "card_id": card_id,
            "status": status,
            "kind": JobKind.BUILD,
            "agent": "claude",
            "priority": 1,
            "attempt": 0,
            "queued_at": now,
            "created_at": now,
            "updated_at": now,
            **fields,
        }
        jobs.append(row)
        return row

    # 50 running: five in each of the first ten repos (at their cap of five).
    for i in range(RUNNING):
        repo = repos[i // 5]
        runner_id = uuid.uuid4()
        job(
            card(repo, CardStatus.IN_PROGRESS, i),
            JobStatus.RUNNING,
            attempt=1,
            runner_id=runner_id,
            started_at=now - timedelta(minutes=rng.randint(1, 30)),
            lease_expires_at=now + timedelta(minutes=1),
        )
        runners.append(
            {
                "id": runner_id,
                "name": f"busy-{i}",
                "kind": RunnerKind.LOCAL,
                "status": RunnerStatus.BUSY,
                "created_at": now,
                "updated_at": now,
            }
        )
    # 1,000 queued, spread over every repo; the capped repos' work is as likely to be first.
    for i in range(QUEUED):
        priority = rng.choice((0, 1, 1, 1, 2, 3))
        cost = 12.0 if i % 100 == 7 else rng.uniform(0, 5)
        card_id = card(rng.choice(repos), CardStatus.IN_PROGRESS, i, cost)
        cards[-1]["priority"] = priority
        job(
            card_id,
            JobStatus.QUEUED,
            priority=priority,
            queued_at=now - timedelta(seconds=rng.uniform(0, 7200)),
        )
    # 2,000 finished runs over three days; repo-19's last three failed a minute ago.
    for i in range(HISTORY):
        repo = repos[rng.randrange(REPOS - 1)]
        ended = now - timedelta(seconds=rng.uniform(120, 3 * 86400))
        status = JobStatus.FAILED if rng.random() < 0.15 else JobStatus.COMPLETED
        job(
            card(repo, CardStatus.IN_REVIEW, i),
            status,
            attempt=1,
            cost_usd=rng.uniform(0.01, 0.8),
            input_tokens=rng.randint(1000, 90000),
            output_tokens=rng.randint(50, 4000),
            started_at=ended - timedelta(seconds=rng.uniform(30, 900)),
            completed_at=ended,
        )
    for minutes in (3, 2, 1):
        ended = now - timedelta(minutes=minutes)
        job(
            card(repos[-1], CardStatus.FAILED, 0),
            JobStatus.FAILED,
            attempt=1,
            cost_usd=0.1,
            started_at=ended - timedelta(seconds=60),
            completed_at=ended,
        )
    idle = uuid.uuid4()
    runners.append(
        {
            "id": idle,
            "name": "idle",
            "kind": RunnerKind.LOCAL,
            "status": RunnerStatus.IDLE,
            "created_at": now,
            "updated_at": now,
        }
    )
    await session.execute(insert(Card), cards)
    await session.execute(insert(Runner), runners)
    for start in range(0, len(jobs), 500):
        await session.execute(insert(Job), jobs[start : start + 500])
    await limits_service.write(
        session,
        {
            "max_running": 200,
            "max_running_per_repo": 5,
            "daily_usd": 10_000.0,
            "daily_agent_runs": 100_000,
            "per_card_usd": 10.0,
            "cooldown_s": 600,
            "failure_cooldown_after": 3,
        },
    )
    await session.commit()
    return idle


async def overlap_check(session: AsyncSession, settings: Settings, job: Job) -> str | None:
    """A stand-in for the conflicts policy's hold check: one indexed query per attempt it is given."""
    title = await session.scalar(select(Card.title).where(Card.id == job.card_id))
    return "conflict_policy hold: plans overlap" if title and title.endswith("[overlap]") else None


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "mean": statistics.fmean(ordered),
    }


async def measure(settings: Settings, samples: int, seed: int) -> dict[str, Any]:
    if True:
        app = create_app(settings)
        sessionmaker = app.state.sessionmaker
        dispatcher: Dispatcher = app.state.dispatcher
        dispatcher.holds.append(overlap_check)
        async with sessionmaker() as session:
            runner_id = await populate(session, random.Random(seed))

        async def limited(session: AsyncSession) -> Any:
            return await dispatcher.claim(session=session, runner_id=runner_id)

        async def limits_only(session: AsyncSession) -> Any:
            dispatcher.holds.clear()
            try:
                return await dispatcher.claim(session=session, runner_id=runner_id)
            finally:
                dispatcher.holds.append(overlap_check)

        async def reference(session: AsyncSession) -> Any:
            return await attempts.claim(session=session, settings=settings, runner_id=runner_id)

        async def board(session: AsyncSession) -> Any:
            return await dispatcher.preview(session, limit=200)

        async def whole_queue(session: AsyncSession) -> Any:
            dispatcher.holds.clear()
            try:
                return await dispatcher.preview(session)
            finally:
                dispatcher.holds.append(overlap_check)

        cases = [
            ("decision", limited),
            ("reference", reference),
            ("limits_only", limits_only),
            ("board_preview", board),
            ("queue_preview", whole_queue),
        ]
        timings: dict[str, list[float]] = {name: [] for name, _ in cases}
        picks: dict[str, set[str]] = {
            "decision": set(),
            "reference": set(),
            "limits_only": set(),
        }
        for i in range(samples + 10):
            order = cases if i % 2 == 0 else cases[::-1]
            for name, call in order:
                async with sessionmaker() as session:
                    start = time.perf_counter()
                    result = await call(session)
                    elapsed = (time.perf_counter() - start) * 1000
                    picked = str(result[0].id) if name in picks and result else None
                    await session.rollback()
                if i < 10:
                    continue  # warm-up
                timings[name].append(elapsed)
                if picked:
                    picks[name].add(picked)
        await app.state.engine.dispose()
    results = {name: percentiles(values) for name, values in timings.items()}
    ratios = [d / r for d, r in zip(timings["decision"], timings["reference"], strict=True)]
    results["ratio_median"] = {"p50": statistics.median(ratios)}
    results["picks"] = {name: sorted(found) for name, found in picks.items()}
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="timed claims per case (default 300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    os.environ.setdefault("LAZYAF_LOG_LEVEL", "warning")
    load = os.getloadavg()[0]
    log(f"populating {QUEUED} queued and {RUNNING} running attempts, then {args.samples} samples per case")
    with tempfile.TemporaryDirectory(prefix="lazyaf-dispatch-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), log_level="warning", log_format="console")
        upgrade(settings.sqlalchemy_url)  # alembic runs its own event loop: before ours
        configure_logging(settings)  # warnings only: a log line per claim would be measured too
        results = asyncio.run(measure(settings, args.samples, args.seed))
    after = os.getloadavg()[0]
    decision = results["decision"]
    print(f"\nScheduler decision, {QUEUED} queued and {RUNNING} running (load {load:.1f}-{after:.1f}):\n")
    print("| measure | p50 ms | p95 ms | p99 ms |")
    print("| --- | --- | --- | --- |")
    for name, label in (
        ("decision", "claim through the decision (limits and a hold check)"),
        ("limits_only", "claim through the decision, limits only"),
        ("reference", "reference: the claim without limits"),
        ("board_preview", "the board's reasons: first 200 queued, with the hold check"),
        ("queue_preview", "GET /api/queue's decision: all 1,000 queued, limits only"),
    ):
        found = results[name]
        print(f"| {label} | {found['p50']:.2f} | {found['p95']:.2f} | {found['p99']:.2f} |")
    met = "met" if decision["p95"] < TARGET_MS else "missed"
    print(
        f"\nmedian per-sample ratio decision/reference: x{results['ratio_median']['p50']:.2f}; "
        f"target p95 < {TARGET_MS:.0f} ms: {met}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "results": results,
                "load": [load, after],
                "python": platform.python_version(),
                "samples": args.samples,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
