"""GET /api/metrics over a year of work: 10,000 attempts on ~8,000 cards in 5 repos.

A benchmark, not a test: it prints a markdown table, writes ``bench/out/metrics_bench.json`` and
exits 0. Run it with the checkout's venv::

    .venv/bin/python bench/metrics_bench.py                      # SQLite, 10,000 jobs, 21 runs each
    .venv/bin/python bench/metrics_bench.py --jobs 50000 --runs 11
    .venv/bin/python bench/metrics_bench.py --database-url postgresql+asyncpg://user@127.0.0.1:5432/db

The database is migrated and filled in bulk (SQL inserts, not the orchestration core: a year of
runs through it would take hours): cards started over 365 days, 1-4 attempts each (build, then
retries, fixes, review rounds), failures with the sentences LazyAF writes (checks with their
output, timeouts, lost runners, crashes), the timeline entries the core records (in_progress,
in_review, merged, refused approvals). Each figure is the median (and p95) of ``--runs`` requests
through the app (ASGI, the JSON included), after one warm-up. With ``--job-index`` the job table
also gets ``ix_job_completed_at`` (added by the limits migration of issue 15) to show its effect.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from lazyaf.cards.models import Card, CardActivity
from lazyaf.db.migrate import upgrade
from lazyaf.jobs.models import Job
from lazyaf.logging import configure_logging
from lazyaf.main import create_app
from lazyaf.repos.models import Repo
from lazyaf.settings import Settings
from sqlalchemy import insert, text

OUT = Path(__file__).resolve().parent / "out"
NOW = datetime.now(UTC).replace(microsecond=0)
ERRORS = [
    lambda r: (
        f"Verification failed: test (`pytest -q`) exited with code 1.\n{'F' * r.randint(5, 60)}\n"
        + "\n".join(
            f"tests/test_{r.randint(1, 99)}.py::test_x FAILED"
            for _ in range(r.randint(1, 30))
        )
    ),
    lambda r: (
        f"Verification failed: lint (`ruff check .`) exited with code 1.\nE501 line {r.randint(1, 999)}"
    ),
    lambda r: (
        f"Claude Code timed out after {r.choice([600, 1800, 3600])} s and was stopped; give it a longer "
        "timeout or a smaller task."
    ),
    lambda r: "Runner lost: it stopped sending heartbeats while running the agent.",
    lambda r: (
        f"Claude Code exited with code {r.randint(1, 3)} without a result; stderr: {uuid.uuid4().hex}"
    ),
    lambda r: "The agent finished without changing anything.",
]


def seed_rows(jobs: int, seed: int = 15) -> dict[str, list[dict[str, Any]]]:
    """Rows for repo, card, job and card_activity: ``jobs`` attempts over the last 365 days."""
    r = random.Random(seed)
    repos = [
        {"id": uuid.uuid4(), "name": f"repo-{i}", "default_branch": "main"}
        for i in range(5)
    ]
    cards: list[dict[str, Any]] = []
    job_rows: list[dict[str, Any]] = []
    activities: list[dict[str, Any]] = []
    while len(job_rows) < jobs:
        repo = r.choice(repos)
        card_id = uuid.uuid4()
        at = NOW - timedelta(seconds=r.randint(0, 365 * 86400))
        activities.append(_activity(card_id, "status", {"status": "in_progress"}, at))
        status = "todo"
        reviewed = False
        for attempt in range(r.choice([1, 1, 1, 2, 2, 3, 4])):
            queued, ended = at, at + timedelta(seconds=r.randint(60, 3600))
            ok = r.random() < 0.7
            cost = round(r.uniform(0.01, 2.5), 4)
            job_rows.append(
                {
                    "id": uuid.uuid4(),
                    "card_id": card_id,
                    "status": "completed" if ok else "failed",
                    "kind": "build"
                    if attempt == 0
                    else r.choice(["retry", "fix", "iterate"]),
                    "error": None if ok else r.choice(ERRORS)(r),
                    "cost_usd": cost,
                    "input_tokens": r.randint(1_000, 400_000),
                    "output_tokens": r.randint(100, 40_000),
                    "queued_at": queued,
                    "started_at": queued,
                    "completed_at": ended,
                }
            )
            status = "in_review" if ok else "failed"
            if ok:
                activities.append(
                    _activity(card_id, "status", {"status": "in_review"}, ended)
                )
                reviewed = True
                break
            at = ended + timedelta(minutes=r.randint(1, 120))
            if attempt < 3:
                activities.append(
                    _activity(card_id, "status", {"status": "in_progress"}, at)
                )
        if reviewed and r.random() < 0.8:
            done_at = at + timedelta(seconds=r.randint(600, 5 * 86400))
            if r.random() < 0.1:
                activities.append(
                    _activity(
                        card_id,
                        "conflict",
                        {"files": ["README.md"], "markers": False},
                        done_at,
                    )
                )
                done_at += timedelta(hours=2)
            if done_at < NOW:
                activities.append(
                    _activity(
                        card_id, "merged", {"sha": "a" * 40, "kind": "merge"}, done_at
                    )
                )
                status = "done"
        cards.append(
            {
                "id": card_id,
                "repo_id": repo["id"],
                "title": f"Card {len(cards)}",
                "status": status,
            }
        )
    return {
        "repo": repos,
        "card": cards,
        "job": job_rows[:jobs],
        "card_activity": activities,
    }


def _activity(
    card_id: uuid.UUID, kind: str, data: dict[str, Any], at: datetime
) -> dict[str, Any]:
    return {"card_id": card_id, "kind": kind, "data": data, "created_at": at}


async def fill(app: Any, rows: dict[str, list[dict[str, Any]]]) -> None:
    async with app.state.sessionmaker() as session:
        for model, name in (
            (Repo, "repo"),
            (Card, "card"),
            (Job, "job"),
            (CardActivity, "card_activity"),
        ):
            batch = rows[name]
            for start in range(0, len(batch), 2000):
                await session.execute(insert(model), batch[start : start + 2000])
        await session.commit()


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lazyaf-metrics-bench-") as tmp:
        data_dir = Path(tmp)
        url = args.database_url or f"sqlite+aiosqlite:///{data_dir / 'lazyaf.db'}"
        await asyncio.to_thread(upgrade, url)
        settings = Settings(data_dir=data_dir, database_url=url, log_level="warning")  # type: ignore[call-arg]
        configure_logging(settings)  # the request log off: it is not what is measured
        app = create_app(settings)
        rows = seed_rows(args.jobs)
        started = time.perf_counter()
        await fill(app, rows)
        fill_s = time.perf_counter() - started
        if args.job_index:
            async with app.state.engine.begin() as connection:
                await connection.execute(
                    text(
                        "CREATE INDEX IF NOT EXISTS ix_job_completed_at ON job (completed_at)"
                    )
                )
        async with app.state.engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
        one = rows["repo"][0]["id"]
        cases = {
            "all repos, 30 days": {"days": 30, "tz": "UTC"},
            "all repos, 365 days": {"days": 365, "tz": "UTC"},
            "one repo, 30 days": {"days": 30, "tz": "UTC", "repo": str(one)},
            "one repo, 365 days": {"days": 365, "tz": "UTC", "repo": str(one)},
            "all repos, 365 days, Europe/Berlin (2 DST changes)": {
                "days": 365,
                "tz": "Europe/Berlin",
            },
        }
        results: dict[str, Any] = {}
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost"
        ) as client:
            for name, params in cases.items():
                times = []
                for i in range(args.runs + 1):
                    begin = time.perf_counter()
                    response = await client.get("/api/metrics", params=params)
                    elapsed = (time.perf_counter() - begin) * 1000
                    response.raise_for_status()
                    if i:
                        times.append(elapsed)
                body = response.json()
                times.sort()
                results[name] = {
                    "median_ms": round(statistics.median(times), 1),
                    "p95_ms": round(
                        times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 1
                    ),
                    "attempts": body["cost"]["attempts"],
                    "cards_done": body["cards"]["done"],
                }
        await app.state.engine.dispose()
        return {
            "database": url.split(":", 1)[0],
            "jobs": len(rows["job"]),
            "cards": len(rows["card"]),
            "activities": len(rows["card_activity"]),
            "job_index": args.job_index,
            "fill_s": round(fill_s, 1),
            "runs": args.runs,
            "cases": results,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument(
        "--database-url",
        help="An empty database to fill (default: a SQLite file in a temp dir).",
    )
    parser.add_argument(
        "--job-index",
        action="store_true",
        help="Add ix_job_completed_at (the limits migration's).",
    )
    args = parser.parse_args()
    result = asyncio.run(measure(args))
    OUT.mkdir(exist_ok=True)
    (OUT / "metrics_bench.json").write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"\n{result['jobs']:,} jobs, {result['cards']:,} cards, {result['activities']:,} timeline entries "
        f"on {result['database']} (job index: {'yes' if result['job_index'] else 'no'}); {result['runs']} runs; "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print(
        "| request | median | p95 | attempts counted | cards done |\n| --- | --- | --- | --- | --- |"
    )
    for name, case in result["cases"].items():
        print(
            f"| {name} | {case['median_ms']} ms | {case['p95_ms']} ms | {case['attempts']:,} | {case['cards_done']:,} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
