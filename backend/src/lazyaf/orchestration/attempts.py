"""An attempt's life on a runner: claimed, held under a lease, reporting, ending.

An attempt is one run of a job (``job.attempt`` counts them); the job row is its current
attempt. Every runner message names (job, attempt) and is *fenced*: it applies only while that
attempt holds the job (status running, same attempt number) and comes from the runner holding
it. A message from an attempt that lost its lease changes nothing, and the runner is told.

What an attempt's end means for its step, run and card is ``runs``'s business: this module
records facts about attempts (``complete`` returns what the runner reported, checked), ``runs``
decides what follows.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from lazyaf_protocol import messages as protocol
from lazyaf_protocol.redact import Redactor, redact_complete
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf import auth
from lazyaf.cards.models import Card
from lazyaf.git import diff as git_diff
from lazyaf.git import refs as git_refs
from lazyaf.git.run import in_thread
from lazyaf.jobs import service as job_service
from lazyaf.jobs.models import Job, JobKind, JobStatus
from lazyaf.orchestration import announce, runners
from lazyaf.orchestration.states import ATTEMPTS
from lazyaf.redaction import server_redactor
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.runners.models import Runner
from lazyaf.settings import Settings
from lazyaf.workflows import paths as workflow_paths

log = structlog.get_logger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- claim and lease --------------------------------------------------------------------------


async def claim(
    *, session: AsyncSession, settings: Settings, runner_id: uuid.UUID
) -> tuple[Job, Card, Repo, str] | None:
    """Give the runner the best queued job, if any: (job, card, repo, attempt token).

    The claim is one UPDATE ... RETURNING (``_claim_next``); card, repo and runner come in one
    more query, and only when there was a job (an empty claim reads nothing else). The attempt
    token (auth.attempt_token) is the attempt's git and session credential; the row keeps only
    the hash of its random part."""
    nonce = auth.new_nonce()
    now = utcnow()
    job = await _claim_next(
        session,
        runner_id=runner_id,
        lease_until=now + timedelta(seconds=settings.lease_ttl),
        token_hash=auth.hash_nonce(nonce),
        now=now,
    )
    if job is None:
        return None
    query = (
        select(Card, Repo, Runner)
        .join(Repo, Repo.id == Card.repo_id)
        .join(Runner, Runner.id == runner_id)
        .where(Card.id == job.card_id)
    )
    card, repo, runner = (await session.execute(query)).one()
    runners.take(runner, job)
    await session.flush()
    announce.job_changed(session, job)
    announce.runner_changed(session, runner)
    log.info("job_claimed", job_id=str(job.id), attempt=job.attempt, runner=runner.name)
    return job, card, repo, auth.attempt_token(job.id, job.attempt, nonce)


async def _claim_next(
    session: AsyncSession, *, runner_id: uuid.UUID, lease_until: datetime, token_hash: str, now: datetime
) -> Job | None:
    """Atomically take the best queued job for ``runner_id``: highest priority, then oldest.

    One UPDATE ... WHERE status = 'queued' RETURNING: two runners can never take the same job,
    whatever the interleaving (SQLite serializes writers; PostgreSQL skips locked rows).
    """
    ATTEMPTS.require(JobStatus.QUEUED, JobStatus.RUNNING)
    candidate = (
        select(Job.id)
        .where(Job.status == JobStatus.QUEUED)
        .order_by(Job.priority.desc(), Job.queued_at, Job.id)
        .limit(1)
    )
    if job_service.dialect(session) == "postgresql":
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


async def holding(
    session: AsyncSession, job_id: str, attempt: int, *, runner_id: uuid.UUID | None
) -> Job | None:
    """The job, if ``attempt`` still holds it (running, same attempt) for ``runner_id``; else None.

    ``runner_id`` is the runner the message came from: a runner speaks only for the attempt it
    holds (None: the caller is the backend itself, not a runner).
    """
    try:
        key = uuid.UUID(job_id)
    except ValueError:
        return None
    job = await session.get(Job, key, populate_existing=True)
    if job is None or job.status != JobStatus.RUNNING or job.attempt != attempt:
        return None
    if runner_id is not None and job.runner_id != runner_id:
        log.warning("runner_message_for_another_runner", job_id=job_id, runner_id=str(runner_id))
        return None
    return job


async def renew_lease(
    *, session: AsyncSession, settings: Settings, job_id: str, attempt: int, runner_id: uuid.UUID
) -> Job | None:
    """Extend the attempt's lease; None when the attempt no longer holds the job (or not for this runner)."""
    job = await holding(session, job_id, attempt, runner_id=runner_id)
    if job is None:
        return None
    job.lease_expires_at = utcnow() + timedelta(seconds=settings.lease_ttl)
    await session.flush()
    return job


# --- what a running attempt reports ------------------------------------------------------------


async def record_progress(
    *, session: AsyncSession, job_id: str, attempt: int, phase: str, runner_id: uuid.UUID
) -> Job | None:
    """The attempt entered ``phase``; None when it no longer holds the job."""
    job = await holding(session, job_id, attempt, runner_id=runner_id)
    if job is None or job.phase == phase:
        return job
    job.phase = phase[:30]
    if phase == "agent" and job.agent_started_at is None:
        job.agent_started_at = utcnow()
    await session.flush()
    announce.job_changed(session, job)
    return job


async def record_events(
    *,
    session: AsyncSession,
    messages: list[protocol.Event],
    runner_id: uuid.UUID,
    lease_ttl: float | None = None,
    redactor: Redactor | None = None,
) -> bool:
    """Store and broadcast a run of one attempt's agent events, in seq order; resends are skipped.

    Each event is redacted first (``redactor``: the server's secrets; without one, only secrets
    recognized by pattern), whatever the runner already did.

    False when the attempt lost the job or ``runner_id`` does not hold it (the events are
    dropped). One fence check and one insert for the run: an agent printing thousands of lines a
    second is stored as fast as it prints. With ``lease_ttl``, the events also renew the
    attempt's lease (once a third of it has passed): a runner whose heartbeat waits behind a
    burst of its own events is plainly alive.
    """
    first = messages[0]
    job = await holding(session, first.job_id, first.attempt, runner_id=runner_id)
    if job is None:
        return False
    if lease_ttl is not None:
        now = utcnow()
        lease = job.lease_expires_at
        if lease is None or lease - now < timedelta(seconds=lease_ttl * 2 / 3):
            job.lease_expires_at = now + timedelta(seconds=lease_ttl)
    redactor = redactor or Redactor()
    events = [(m.seq, readable(redactor.any(m.event))) for m in messages]
    stored = await job_service.insert_events(
        session,
        job_id=job.id,
        attempt=first.attempt,
        events=[(seq, event.model_dump(mode="json", exclude_none=True)) for seq, event in events],
    )
    for seq, event in events:
        if seq in stored:
            announce.agent_event(session, job, first.attempt, seq, event)
    return True


def readable(event: dict[str, Any]) -> protocol.AgentEventData:
    """The agent event a runner sent, checked against the wire's model; one that does not fit
    becomes an ``error`` event saying so (stored under its seq, so the runner's resends end)."""
    try:
        return protocol.AgentEventData.model_validate(event)
    except ValidationError as exc:
        problem = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors()[:3]
        )
        log.warning("agent_event_unreadable", problem=problem)
        return protocol.AgentEventData(
            kind="error", text=f"The runner sent an agent event this server cannot read ({problem})."
        )


# --- how an attempt ends -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reported:
    """A completion the fence let through, checked: what the attempt's end was. ``status`` is
    what the runner said unless the check says otherwise (a push that does not match, a
    cancel that was asked for); ``failed_check`` is the first verification command that failed."""

    job: Job
    card: Card
    status: JobStatus
    error: str | None
    failed_check: protocol.VerifyResult | None
    unchanged: bool
    """The attempt left an existing branch where it was (the agent changed nothing)."""
    conflict_files: list[str]
    progress: tuple[str, str, git_diff.Progress] | None = None
    """What the path check read of the attempt's changes: (from, to, progress)."""


@dataclass(slots=True)
class PathRule:
    """The paths an attempt may change (globs, ``workflows.paths.matches``) and the sentence that
    names the others when it changed some (``refusal(paths)``). ``found``: what the check read,
    (from, to, progress), for the step's own figures to reuse."""

    allowed: Sequence[str]
    refusal: Callable[[list[str]], str]
    found: tuple[str, str, git_diff.Progress] | None = None


async def complete(
    *,
    session: AsyncSession,
    settings: Settings,
    message: protocol.Complete,
    runner_id: uuid.UUID,
    path_rule: Callable[[AsyncSession, Job], Awaitable[PathRule | None]] | None = None,
) -> Reported | bool:
    """Record a runner's completion on the attempt: its stats, cost and checks; for a completed
    attempt, move the card branch to the pushed head (compare-and-swap, once), unless the
    attempt changed paths its ``path_rule`` does not allow (then it failed, naming them, and the
    branch stays). A ``verify`` attempt pushes nothing: the branch stays where it is.

    Returns what ended (for ``runs`` to settle), or a bool when there is nothing to settle: False
    when the attempt was fenced off or ``runner_id`` is not the runner holding it; for a resent
    completion of an attempt already recorded, whether it matches (nothing changes).
    The error and the checks' output are redacted with the server's secrets before anything is stored.
    """
    message = redact_complete(server_redactor(settings), message)
    try:
        job = await session.get(Job, uuid.UUID(message.job_id), populate_existing=True)
    except ValueError:
        return False
    if job is None or job.attempt != message.attempt:
        return False
    if job.runner_id != runner_id:
        log.warning("runner_completion_for_another_runner", job_id=message.job_id, runner_id=str(runner_id))
        return False
    if job.status in ATTEMPTS.final:
        # A resend of a completion already recorded: acknowledge it again, change nothing.
        return str(job.status) == message.status and job.head_sha == message.head_sha
    if job.status != JobStatus.RUNNING:
        return False
    card = await session.get(Card, job.card_id)
    assert card is not None
    _apply_outcome(job, message)
    if message.cost_usd is not None:
        card.total_cost_usd += message.cost_usd
    status, error = JobStatus(message.status), message.error
    rule = None
    if status == JobStatus.COMPLETED and job.kind != JobKind.VERIFY:
        rule = await path_rule(session, job) if path_rule is not None else None
        error = await _move_card_branch(session, settings, job, card, message, rule)
        if error is not None:
            status = JobStatus.FAILED
        elif (
            job.kind == JobKind.RESOLVE
            and message.head_sha != message.branch_start_sha
            and card.conflict_files
        ):
            card.conflict_files = None  # the merge of the base branch is on the card branch now
    if job.cancel_requested and status != JobStatus.COMPLETED:
        status, error = JobStatus.CANCELLED, None
    if message.verification is not None:
        job.verification = [v.model_dump() for v in message.verification]
    return Reported(
        job=job,
        card=card,
        status=status,
        error=error,
        failed_check=next((v for v in message.verification or [] if v.exit_code != 0), None),
        unchanged=message.branch_start_sha is not None and message.head_sha == message.branch_start_sha,
        conflict_files=list(message.conflict_files or []),
        progress=rule.found if rule is not None else None,
    )


def _apply_outcome(job: Job, message: protocol.Complete) -> None:
    for field in (
        "exit_code",
        "base_sha",
        "head_sha",
        "session_id",
        "cost_usd",
        "input_tokens",
        "output_tokens",
        "num_turns",
        "duration_ms",
    ):
        value = getattr(message, field)
        if value is not None:
            setattr(job, field, value)
    if message.stats is not None:
        job.commits = message.stats.commits
        job.files_changed = message.stats.files_changed
        job.lines_added = message.stats.lines_added
        job.lines_removed = message.stats.lines_removed


async def _move_card_branch(
    session: AsyncSession,
    settings: Settings,
    job: Job,
    card: Card,
    message: protocol.Complete,
    rule: PathRule | None = None,
) -> str | None:
    """Point the card branch at the attempt's pushed head (compare-and-swap); an error sentence or None."""
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    path = git_path(settings, repo)
    (pushed,) = await in_thread(git_refs.read, path, protocol.attempt_ref(str(job.id), job.attempt))
    if message.head_sha is None or pushed != message.head_sha:
        return (
            f"The runner reported head {message.head_sha} but pushed {pushed or 'nothing'} for this attempt."
        )
    if rule is not None:
        start = message.branch_start_sha or message.base_sha or job.base_sha
        if start is None:
            return "The runner reported no starting point, so the step's changed paths cannot be checked."
        try:
            found = await in_thread(git_diff.progress, path, start, message.head_sha)
        except git_diff.GitError as exc:
            return f"The step's changed paths could not be read: {exc}"
        rule.found = (start, message.head_sha, found)
        touched = [p for p in found.paths if not workflow_paths.matches(p, rule.allowed)]
        if touched:
            log.info("attempt_outside_its_paths", job_id=str(job.id), paths=touched[:20])
            return rule.refusal(touched)
    moved = await in_thread(
        git_refs.move_branch,
        path,
        job.branch,
        old=message.branch_start_sha,
        new=message.head_sha,
        reason="job completed",
    )
    if not moved:
        (current,) = await in_thread(git_refs.branch_shas, path, job.branch)
        if current == message.head_sha:
            return None
        return f"Branch {job.branch} moved while the agent worked (now {current}); retry the card."
    log.info("card_branch_moved", job_id=str(job.id), branch=job.branch, sha=message.head_sha)
    return None


async def finish(*, session: AsyncSession, job: Job, status: JobStatus, error: str | None) -> None:
    """End the attempt in ``status`` (a final one) and free its runner. What follows for its step,
    run and card is ``runs.end_attempt``'s: call that, not this."""
    ATTEMPTS.require(job.status, status)
    job.status = status
    job.error = error
    job.completed_at = utcnow()
    job.lease_expires_at = None
    job.phase = None
    await runners.release(session, job, idle=True)
    log.info("job_finished", job_id=str(job.id), status=status, error=error)


async def requeue(*, session: AsyncSession, job: Job) -> None:
    """The attempt's runner went silent before its agent started: another runner may take the job
    as a new attempt (at-least-once, but no agent ran twice); its token stops working."""
    ATTEMPTS.require(job.status, JobStatus.QUEUED)
    await runners.release(session, job, idle=False)
    job.status, job.runner_id, job.lease_expires_at, job.phase = JobStatus.QUEUED, None, None, None
    job.token_hash = None
    await session.flush()
    announce.job_changed(session, job)
    log.warning("job_requeued", job_id=str(job.id), attempt=job.attempt, reason="lost before agent start")


async def request_cancel(*, session: AsyncSession, job: Job) -> None:
    """Ask the running attempt's runner to stop (the hub tells it; it reports back cancelled)."""
    job.cancel_requested = True
    await session.flush()
    announce.job_changed(session, job)


async def expired(
    *,
    session: AsyncSession,
    now: datetime,
    heard_from: Callable[[uuid.UUID, str, int], bool] | None = None,
    lease_ttl: float = 0.0,
) -> list[Job]:
    """Running attempts whose lease ran out.

    `heard_from(runner_id, job_id, attempt)` says whether the connection holding the attempt still
    delivers frames (its heartbeat can sit behind thousands of agent events on a loaded machine):
    such a lease is renewed, not expired.
    """
    query = select(Job).where(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now)
    lapsed: list[Job] = []
    for job in (await session.scalars(query)).all():
        holder = job.runner_id
        if heard_from is not None and holder is not None and heard_from(holder, str(job.id), job.attempt):
            job.lease_expires_at = now + timedelta(seconds=lease_ttl)
            continue
        lapsed.append(job)
    return lapsed


async def overdue(*, session: AsyncSession, settings: Settings, now: datetime) -> list[Job]:
    """Running attempts far past the job timeout (the runner enforces it; this is the safety net)."""
    limit = now - timedelta(seconds=settings.job_timeout + 2 * settings.lease_ttl)
    query = select(Job).where(Job.status == JobStatus.RUNNING, Job.started_at < limit)
    return list((await session.scalars(query)).all())
