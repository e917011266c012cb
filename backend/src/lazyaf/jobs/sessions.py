"""Agent session files (Claude Code transcripts) kept between jobs, bound to the attempt that made them.

The runner holding an attempt uploads the attempt's session file (``PUT /api/jobs/{id}/session``,
with its attempt token); it is stored as ``<data dir>/sessions/<job id>-<attempt>-<session id>.jsonl``,
so no attempt can write another's file, and an attempt keeps one file (a new upload replaces its
older ones). A follow-up job of the same card resumes the session its previous job *reported* at
completion (``job.session_id``), from the file that job's last attempt uploaded: a file under a
session id the attempt did not report is never used. ``GET /api/sessions/{id}`` serves it to the
runner of the job that resumes it (and to the user).

Which session a follow-up resumes is decided here too (``resumable``). Every function that
touches a file is sync and runs in a worker thread (the async ones hop there themselves).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.errors import InvalidInput
from lazyaf.jobs.models import FINAL_JOB_STATUSES, Job
from lazyaf.settings import Settings

RESUMING_AGENTS = frozenset({"claude"})
"""Agents whose sessions a later job can continue (Claude Code --resume)."""
MAX_SESSION_BYTES = 512 * 1024 * 1024

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


async def resumable(settings: Settings, previous: Job | None, agent: str) -> str | None:
    """The session a follow-up of ``previous`` run by ``agent`` continues: the one ``previous``
    reported, when the same agent can resume it and its file reached us (else the follow-up
    starts fresh, with the full context in its prompt)."""
    if previous is None or previous.agent != agent or agent not in RESUMING_AGENTS or not previous.session_id:
        return None
    path = await anyio.to_thread.run_sync(file_of, settings, previous)
    return previous.session_id if path is not None else None


async def store(
    settings: Settings, job: Job, attempt: int, session_id: str, chunks: AsyncIterator[bytes]
) -> None:
    """Store an attempt's session file from ``chunks``, replacing the attempt's older one; a
    partial file never stays behind (written aside, renamed into place).

    Raises:
        InvalidInput: the file is larger than MAX_SESSION_BYTES.
    """
    target = session_file(settings, job.id, attempt, session_id)
    await anyio.Path(target.parent).mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = anyio.Path(target.with_suffix(f".{uuid.uuid4().hex}.part"))
    size = 0
    try:
        async with await anyio.open_file(partial, "wb") as out:
            await partial.chmod(0o600)
            async for chunk in chunks:
                size += len(chunk)
                if size > MAX_SESSION_BYTES:
                    raise InvalidInput("The session file is larger than 512 MiB.")
                await out.write(chunk)
        await anyio.to_thread.run_sync(_replace, settings, job.id, attempt, Path(partial), target)
    finally:
        await partial.unlink(missing_ok=True)


def _replace(settings: Settings, job_id: uuid.UUID, attempt: int, partial: Path, target: Path) -> None:
    for older in attempt_files(settings, job_id, attempt):
        if older != target:
            older.unlink(missing_ok=True)  # one session file per attempt
    partial.replace(target)


async def source(
    session: AsyncSession, settings: Settings, session_id: str, *, card_id: uuid.UUID | None
) -> Path | None:
    """The stored file of ``session_id``: from the latest finished job (of ``card_id`` when given)
    that reported it."""
    query = select(Job).where(Job.session_id == session_id, Job.status.in_(FINAL_JOB_STATUSES))
    if card_id is not None:
        query = query.where(Job.card_id == card_id)
    for job in await session.scalars(query.order_by(Job.completed_at.desc()).limit(20)):
        path = await anyio.to_thread.run_sync(file_of, settings, job)
        if path is not None:
            return path
    return None
