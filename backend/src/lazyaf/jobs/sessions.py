"""Agent session files (Claude Code transcripts) kept between jobs, bound to the attempt that made them.

The runner holding an attempt uploads the attempt's session file (``PUT /api/jobs/{id}/session``,
with its attempt token); it is stored as ``<data dir>/sessions/<job id>-<attempt>-<session id>.jsonl``,
so no attempt can write another's file, and an attempt keeps one file (a new upload replaces its
older ones). A follow-up job of the same card resumes the session its previous job *reported* at
completion (``job.session_id``), from the file that job's last attempt uploaded: a file under a
session id the attempt did not report is never used. ``GET /api/sessions/{id}`` serves it to the
runner of the job that resumes it (and to the user).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.jobs.models import FINAL_JOB_STATUSES, Job
from lazyaf.settings import Settings

SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")


def session_file(settings: Settings, job_id: uuid.UUID, attempt: int, session_id: str) -> Path:
    return settings.data_dir / "sessions" / f"{job_id}-{attempt}-{session_id}.jsonl"


def attempt_files(settings: Settings, job_id: uuid.UUID, attempt: int) -> list[Path]:
    """Every session file an attempt stored (at most one, barring a crash mid-upload)."""
    return list((settings.data_dir / "sessions").glob(f"{job_id}-{attempt}-*.jsonl"))


def file_of(settings: Settings, job: Job) -> Path | None:
    """The session file of the session ``job`` reported, if its last attempt stored it."""
    if not job.session_id or not SESSION_ID.match(job.session_id):
        return None
    path = session_file(settings, job.id, job.attempt, job.session_id)
    return path if path.is_file() else None


async def source(
    session: AsyncSession, settings: Settings, session_id: str, *, card_id: uuid.UUID | None
) -> Path | None:
    """The stored file of ``session_id``: from the latest finished job (of ``card_id`` when given)
    that reported it."""
    query = select(Job).where(Job.session_id == session_id, Job.status.in_(FINAL_JOB_STATUSES))
    if card_id is not None:
        query = query.where(Job.card_id == card_id)
    for job in await session.scalars(query.order_by(Job.completed_at.desc()).limit(20)):
        path = file_of(settings, job)
        if path is not None:
            return path
    return None
