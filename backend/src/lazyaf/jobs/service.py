"""Job queries: get, list events, the atomic claim."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.jobs.models import Job, JobEvent, JobStatus


async def list_events(*, session: AsyncSession, job: Job, after: int, limit: int) -> list[JobEvent]:
    """Log events of every attempt of ``job`` with id greater than ``after``, oldest first."""
    query = (
        select(JobEvent)
        .where(JobEvent.job_id == job.id, JobEvent.id > after)
        .order_by(JobEvent.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def insert_events(
    session: AsyncSession, *, job_id: uuid.UUID, attempt: int, events: list[tuple[int, dict[str, Any]]]
) -> set[int]:
    """Store agent events ``(seq, data)`` in one statement; the seqs stored (resends are skipped)."""
    now = datetime.now().astimezone()
    rows = [
        {
            "job_id": job_id,
            "attempt": attempt,
            "seq": seq,
            "kind": str(data.get("kind", "text"))[:20],
            "data": data,
            "created_at": now,
        }
        for seq, data in events
    ]
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stored: set[int] = set()
    # SQLite allows 32,766 bound values per statement; six per row.
    for start in range(0, len(rows), 1000):
        statement = insert(JobEvent).values(rows[start : start + 1000]).on_conflict_do_nothing()
        result = await session.execute(statement.returning(JobEvent.seq))
        stored.update(result.scalars().all())
    return stored


async def claim_next(
    session: AsyncSession, *, runner_id: uuid.UUID, lease_until: datetime, token_hash: str, now: datetime
) -> Job | None:
    """Atomically take the best queued job for ``runner_id``: highest priority, then oldest.

    One UPDATE ... WHERE status = 'queued' RETURNING: two runners can never take the same job,
    whatever the interleaving (SQLite serializes writers; PostgreSQL skips locked rows).
    """
    candidate = (
        select(Job.id)
        .where(Job.status == JobStatus.QUEUED)
        .order_by(Job.priority.desc(), Job.queued_at, Job.id)
        .limit(1)
    )
    if session.bind.dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    statement = (
        update(Job)
        .where(Job.id == candidate.scalar_subquery(), Job.status == JobStatus.QUEUED)
        .values(
            status=JobStatus.RUNNING,
            runner_id=runner_id,
            attempt=Job.attempt + 1,
            lease_expires_at=lease_until,
            token_hash=token_hash,
            phase="assigned",
            started_at=now,
            agent_started_at=None,
            updated_at=now,
        )
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    job: Job | None = (await session.execute(statement)).scalar_one_or_none()
    return job
