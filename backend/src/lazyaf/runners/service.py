"""Runners: remove one that was added by hand and has stopped."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.errors import Conflict, NotFound
from lazyaf.events.bus import EventBus
from lazyaf.events.schemas import RunnerDeleted
from lazyaf.runners.models import Runner, RunnerStatus


async def delete(*, session: AsyncSession, runner_id: uuid.UUID, connected: bool) -> None:
    """Forget a stopped runner added by hand; its past jobs keep their history.

    Args:
        connected: whether the runner holds a connection to this server right now.

    Raises:
        Conflict: the pool manages it (scale down instead), or it is still running or holds a job.
    """
    runner = await session.get(Runner, runner_id)
    if runner is None:
        raise NotFound(f"No runner with id {runner_id}.")
    if runner.pooled:
        raise Conflict(
            f"Runner '{runner.name}' belongs to the {runner.kind} pool; scale the pool down instead "
            "(the − button in the runner panel, or POST /api/runners/scale)."
        )
    if runner.current_job_id is not None:
        raise Conflict(
            f"Runner '{runner.name}' still holds job {runner.current_job_id}; "
            "wait for the job to end or cancel it, then remove the runner."
        )
    if connected or runner.status != RunnerStatus.OFFLINE:
        raise Conflict(
            f"Runner '{runner.name}' is connected; stop its process first (Ctrl-C where "
            "`lazyaf runner` runs, or `docker stop` its container), then remove it."
        )
    await session.delete(runner)
    EventBus.record(session, RunnerDeleted(runner_id=runner.id))
    await session.flush()
