"""Job queries: list and store agent events. (The atomic claim, a status change, is
``orchestration.attempts``'s.)"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.jobs.models import Job, JobEvent


def dialect(session: AsyncSession) -> str:
    """The database the session talks to: ``sqlite`` or ``postgresql``."""
    bind = session.get_bind()
    return bind.dialect.name


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
    insert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
    stored: set[int] = set()
    # SQLite allows 32,766 bound values per statement; six per row.
    for start in range(0, len(rows), 1000):
        statement = insert(JobEvent).values(rows[start : start + 1000]).on_conflict_do_nothing()
        result = await session.execute(statement.returning(JobEvent.seq))
        stored.update(result.scalars().all())
    return stored
