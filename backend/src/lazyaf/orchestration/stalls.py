"""Stall detection: a running agent that went quiet, told apart from a lost runner.

A runner that stops talking loses its lease (``runs.expire_leases``: "Runner lost"). A runner that
keeps its heartbeat while its agent emits nothing is another case: the agent may sit in a long
tool call, or be stuck. The reaper calls ``watch`` on every sweep; silence is counted from the
agent's last event (``job.last_event_at``, kept by ``attempts.record_events``), or from its start:

- an agent silent for its repo's ``stall_after_s`` is marked stalled (``job.stalled_at``, a
  ``job_status`` event, a timeline entry); nothing is killed, and its next event clears the mark;
- one silent for ``kill_after_s``, or an attempt running past its wall-clock limit, is stopped
  (``attempts.request_stop``): its runner is told to cancel (the hub sends ``cancel`` on the
  ``job_status`` event and answers every heartbeat with it), kills the agent's whole process tree
  (in a container, every process but its own) and reports; the attempt fails with the reason;
- a stop its runner has not answered within ``stop_grace`` ends here, failed with the reason: the
  runner is fenced off, told ``revoked`` on its next message, and kills what is left.

Only the agent's phase counts as silence: cloning, committing, pushing and the checks have the
runner's own timeouts, and a runner that goes silent there loses its lease.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.orchestration import attempts, runs
from lazyaf.repos.models import Repo
from lazyaf.repos.service import stall_limits
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)

RUNNER_KILL_TIME = 15.0
"""Seconds a runner may take to kill an agent's tree and report (its SIGTERM grace, SIGKILL, the
report), before a stop it did not answer ends the attempt here."""


@dataclass
class Watched:
    """What one sweep did, by job."""

    stalled: list[Job] = field(default_factory=list)
    stopping: list[Job] = field(default_factory=list)
    ended: list[Job] = field(default_factory=list)


def wall_clock_limit(settings: Settings, job: Job) -> float:
    """Seconds an attempt may run in all (the job timeout; the runner enforces it too)."""
    return settings.job_timeout


def stop_grace(settings: Settings) -> float:
    return RUNNER_KILL_TIME + 2 * settings.lease_ttl


async def watch(*, session: AsyncSession, settings: Settings, now: datetime | None = None) -> Watched:
    """Mark silent agents stalled, stop those silent too long or past their wall-clock limit, and
    end the stops their runners did not answer."""
    now = now or runs.utcnow()
    query = (
        select(Job, Repo)
        .join(Card, Card.id == Job.card_id)
        .join(Repo, Repo.id == Card.repo_id)
        .where(Job.status == JobStatus.RUNNING)
    )
    watched = Watched()
    for job, repo in (await session.execute(query)).all():
        await _watch_one(session, settings, job, repo, now, watched)
    return watched


async def _watch_one(
    session: AsyncSession, settings: Settings, job: Job, repo: Repo, now: datetime, watched: Watched
) -> None:
    if job.stop_requested_at is not None and job.stop_reason:
        if (now - job.stop_requested_at).total_seconds() >= stop_grace(settings):
            card = await session.get(Card, job.card_id)
            await runs.end_attempt(
                session=session, job=job, card=card, status=JobStatus.FAILED, error=job.stop_reason
            )
            watched.ended.append(job)
        return
    if job.cancel_requested:
        return  # a person's cancel is on its way
    limit = wall_clock_limit(settings, job)
    if job.started_at is not None and (now - job.started_at).total_seconds() >= limit + settings.lease_ttl:
        reason = f"Timed out: the attempt ran past its wall-clock limit of {limit:g} s and was stopped."
        await attempts.request_stop(session=session, job=job, reason=reason, now=now)
        watched.stopping.append(job)
        return
    quiet = silence(job, now)
    if quiet is None:
        return
    silent = quiet.total_seconds()
    stall_after, kill_after = stall_limits(settings, repo)
    if silent >= kill_after:
        reason = (
            f"Stalled: the agent emitted nothing for {silent:.0f} s (kill_after_s is {kill_after:g}); "
            "it was stopped with everything it started."
        )
        await attempts.request_stop(session=session, job=job, reason=reason, now=now)
        watched.stopping.append(job)
    elif silent >= stall_after and job.stalled_at is None:
        await attempts.mark_stalled(session=session, job=job, silent=silent, now=now)
        watched.stalled.append(job)


def silence(job: Job, now: datetime) -> timedelta | None:
    """How long the running agent has been silent (None: it is not in its agent phase)."""
    if job.phase != "agent" or job.agent_started_at is None:
        return None
    return now - max(job.agent_started_at, job.last_event_at or job.agent_started_at)
