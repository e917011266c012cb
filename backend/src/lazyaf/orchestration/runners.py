"""A runner's status: idle, busy with an attempt, or offline. The only writer of ``runner.status``
(the pool and the hub call these), each change announced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.jobs.models import Job
from lazyaf.orchestration import announce
from lazyaf.runners.models import Runner, RunnerStatus
from lazyaf.settings import Settings


def utcnow() -> datetime:
    return datetime.now(UTC)


async def seen(*, session: AsyncSession, runner: Runner, status: RunnerStatus | None = None) -> None:
    """The runner spoke: note when, and its new status if it has one."""
    runner.last_heartbeat = utcnow()
    if status is not None and runner.status != status:
        runner.status = status
        await session.flush()
        announce.runner_changed(session, runner)


async def offline(*, session: AsyncSession, runner: Runner) -> None:
    """The runner's connection ended: it is offline (its job, if any, runs on until its lease
    says otherwise)."""
    if runner.status != RunnerStatus.OFFLINE:
        runner.status = RunnerStatus.OFFLINE
        await session.flush()
        announce.runner_changed(session, runner)


async def mark_silent_offline(*, session: AsyncSession, settings: Settings) -> None:
    """Runners that sent nothing for a lease period are offline."""
    limit = utcnow() - timedelta(seconds=settings.lease_ttl)
    query = select(Runner).where(Runner.status != RunnerStatus.OFFLINE, Runner.last_heartbeat < limit)
    for runner in (await session.scalars(query)).all():
        await offline(session=session, runner=runner)


def take(runner: Runner, job: Job) -> None:
    """The runner claimed ``job``: it is busy with it (announced by the claim, after its flush)."""
    runner.status = RunnerStatus.BUSY
    runner.current_job_id = job.id


async def release(session: AsyncSession, job: Job, *, idle: bool) -> None:
    """``job`` no longer occupies its runner; with ``idle``, a busy runner becomes idle (an attempt
    that ended; a lost one leaves its runner as it was)."""
    if job.runner_id is None:
        return
    runner = await session.get(Runner, job.runner_id)
    if runner is None or runner.current_job_id != job.id:
        return
    runner.current_job_id = None
    if idle and runner.status == RunnerStatus.BUSY:
        runner.status = RunnerStatus.IDLE
    announce.runner_changed(session, runner)


def removed(session: AsyncSession, runner: Runner) -> None:
    """The pool stopped the runner and is deleting its row: it is offline, for the last event."""
    runner.status = RunnerStatus.OFFLINE
    runner.pid = None
    runner.container_id = None
    announce.runner_changed(session, runner)
