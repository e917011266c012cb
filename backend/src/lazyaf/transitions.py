"""The one place that changes card and job status, and records the board event for each change.

Moves people may make by dragging are listed in ``MANUAL_MOVES``; todo -> in_progress starts an
agent job. Every other change of column belongs to the backend itself (a job completing or
failing), and a PATCH asking for it is refused with the reason.

Job attempts are fenced: every runner message names (job, attempt), and a write applies only
while that attempt holds the job (status running, same attempt number). A message from an
attempt that lost its lease changes nothing. Board events are recorded in the same transaction
as the change and broadcast after commit (events/bus.py), so each change is announced once.
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import structlog
from lazyaf_protocol import messages as protocol
from lazyaf_protocol.redact import Redactor, redact_complete
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf import auth, prompts
from lazyaf.cards import service as card_service
from lazyaf.cards.models import Card, CardActivity, CardStatus, Comment
from lazyaf.cards.schemas import CardRead, CardUpdate
from lazyaf.errors import Conflict, InvalidTransition
from lazyaf.events.bus import EventBus
from lazyaf.git import files as git_files
from lazyaf.git import refs as git_refs
from lazyaf.git.run import in_thread
from lazyaf.jobs import service as job_service
from lazyaf.jobs import sessions as job_sessions
from lazyaf.jobs.models import FINAL_JOB_STATUSES, Job, JobStatus
from lazyaf.jobs.schemas import JobRead
from lazyaf.redaction import server_redactor
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.runners.models import Runner, RunnerStatus
from lazyaf.runners.schemas import RunnerRead
from lazyaf.settings import Settings

if TYPE_CHECKING:
    from lazyaf.git.merge import MergeResult

log = structlog.get_logger(__name__)
S = CardStatus

# (from, to) moves a PATCH may make. Reject (in_review -> todo) keeps the branch; a failed
# card may be put back in the backlog; todo -> in_progress starts an agent, failed -> in_progress
# retries it.
MANUAL_MOVES: frozenset[tuple[CardStatus, CardStatus]] = frozenset(
    {(S.IN_REVIEW, S.TODO), (S.FAILED, S.TODO), (S.TODO, S.IN_PROGRESS), (S.FAILED, S.IN_PROGRESS)}
)


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- board events -----------------------------------------------------------------------------


def card_changed(session: AsyncSession, card: Card) -> None:
    EventBus.record(session, "card_updated", {"card": CardRead.model_validate(card).model_dump(mode="json")})


def job_changed(session: AsyncSession, job: Job) -> None:
    EventBus.record(session, "job_status", {"job": JobRead.model_validate(job).model_dump(mode="json")})


def runner_changed(session: AsyncSession, runner: Runner) -> None:
    EventBus.record(
        session, "runner_status", {"runner": RunnerRead.model_validate(runner).model_dump(mode="json")}
    )


# --- cards ------------------------------------------------------------------------------------


def refusal(current: CardStatus, target: CardStatus) -> str:
    """The sentence saying why a card may not move from ``current`` to ``target``."""
    if current == S.IN_PROGRESS:
        return "The card's agent is still working on it; wait for it to finish or cancel its job first."
    if current == S.DONE:
        return "Done cards are merged and final; create a new card for more work."
    if target == S.IN_PROGRESS:
        return "Only a card in todo can be started."
    if target == S.IN_REVIEW:
        return "A card moves to in_review only when its agent job has finished and pushed its branch."
    if target == S.DONE:
        if current == S.IN_REVIEW:
            return "A card in review becomes done only when it is approved and its branch merged."
        return "Only a card in review can become done; it needs an agent's work to review first."
    if target == S.FAILED:
        return "Only a failed job moves a card to failed."
    return f"A card cannot move from {current} to {target}."


async def update_card(*, session: AsyncSession, settings: Settings, card: Card, change: CardUpdate) -> Card:
    """Check the move, apply edits, then move the card (starting its agent for todo -> in_progress)."""
    target = change.status or card.status
    if target != card.status and (card.status, target) not in MANUAL_MOVES:
        raise InvalidTransition(f"Card '{card.title}' is {card.status}: {refusal(card.status, target)}")
    for field in ("title", "description", "priority", "max_attempts"):
        value = getattr(change, field)
        if value is not None:
            setattr(card, field, value)
    if target == S.IN_PROGRESS and card.status == S.TODO:
        await start_card(session=session, settings=settings, card=card, position=change.position)
        return card
    if target == S.IN_PROGRESS and card.status == S.FAILED:
        await retry_card(session=session, settings=settings, card=card)
        return card
    if target == S.TODO and card.status == S.IN_REVIEW:
        return await reject_card(session=session, settings=settings, card=card, position=change.position)
    if change.status is not None or change.position is not None:
        await _move(session, card, target, change.position)
    await session.flush()
    card_changed(session, card)
    return card


async def delete_card(*, session: AsyncSession, card: Card) -> None:
    if card.status == S.IN_PROGRESS:
        raise InvalidTransition(f"Card '{card.title}' is in_progress: cancel its job first, then delete it.")
    await card_service.delete(session=session, card=card)
    EventBus.record(session, "card_deleted", {"card_id": str(card.id), "repo_id": str(card.repo_id)})


async def _move(session: AsyncSession, card: Card, target: CardStatus, position: int | None) -> None:
    """Place the card at ``position`` in ``target``'s column (bottom when None) and renumber both columns."""
    source = card.status
    if target != source:
        with session.no_autoflush:  # the card's own pending edits do not change the columns
            remaining = [c for c in await card_service.column(session, card.repo_id, source) if c.id != card.id]
        card_service.renumber(remaining)
        for moved in remaining:
            if moved in session.dirty:
                card_changed(session, moved)
    with session.no_autoflush:  # the source column's new positions are flushed once, with the rest
        dest = [c for c in await card_service.column(session, card.repo_id, target) if c.id != card.id]
    index = len(dest) if position is None else min(position, len(dest))
    dest.insert(index, card)
    card.status = target
    card_service.renumber(dest)
    for moved in dest:
        if moved is not card and moved in session.dirty:
            card_changed(session, moved)


def branch_name(card: Card) -> str:
    """``lazyaf/<short card id>-<slug of the title>``."""
    slug = re.sub(r"[^a-z0-9]+", "-", card.title.lower()).strip("-")[:40].rstrip("-") or "card"
    return f"lazyaf/{card.id.hex[:8]}-{slug}"


async def start_card(
    *, session: AsyncSession, settings: Settings, card: Card, position: int | None = None,
    agent: str | None = None, fresh: bool = False,
) -> Job:
    """Queue an agent job for a todo card and move it to in_progress.

    The card goes on with its branch; with ``fresh`` (or when it has none) it gets a new branch,
    made from the default branch under a name no branch has yet: an old branch stays in git.
    """
    if card.status != S.TODO:
        raise InvalidTransition(f"Card '{card.title}' is {card.status}: {refusal(card.status, S.IN_PROGRESS)}")
    repo, base_sha = await _repo_with_base(session, settings, card)
    path = git_path(settings, repo)
    readme = await in_thread(git_files.readme, path, base_sha)
    if fresh or not card.branch_name:
        card.branch_name = await in_thread(git_refs.free_branch_name, path, branch_name(card))
    prompt = prompts.render(
        settings, "job.md.j2", card=card, repo=repo, readme=prompts.readme_excerpt(readme),
        job={"kind": "build", "attempt": 1},
    )
    return await queue_job(session=session, settings=settings, card=card, repo=repo, base_sha=base_sha,
                           kind="build", prompt=prompt, agent=agent, position=position)


async def _repo_with_base(session: AsyncSession, settings: Settings, card: Card) -> tuple[Repo, str]:
    """The card's repo and the sha of its default branch; a clear 409 while that branch is empty."""
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    (base,) = await in_thread(git_refs.branch_shas, git_path(settings, repo), repo.default_branch)
    if base is None:
        raise _no_base(repo)
    return repo, base


def _no_base(repo: Repo) -> InvalidTransition:
    return InvalidTransition(
        f"Repo '{repo.name}' has no commits on its default branch '{repo.default_branch}' yet; "
        "push to it first (lazyaf ingest)."
    )


async def queue_job(
    *, session: AsyncSession, settings: Settings, card: Card, repo: Repo, base_sha: str, kind: str, prompt: str,
    agent: str | None = None, resume_session: str | None = None, position: int | None = None,
) -> Job:
    """Queue a job of ``kind`` on the card's branch (based on ``base_sha``) and move the card to in_progress."""
    job = Job(
        card_id=card.id, priority=card.priority, kind=kind, agent=agent or settings.default_agent,
        branch=card.branch_name or branch_name(card), base_branch=repo.default_branch, base_sha=base_sha,
        prompt=prompt, resume_session=resume_session, queued_at=utcnow(),
    )
    session.add(job)
    await session.flush()  # the job row first: card.job_id refers to it
    card.job_id = job.id
    if card.status != S.IN_PROGRESS:
        await _move(session, card, S.IN_PROGRESS, position)
        activity(session, card, "status", {"status": str(S.IN_PROGRESS), "job_id": str(job.id), "kind": kind})
    await session.flush()
    card_changed(session, card)
    job_changed(session, job)
    log.info("job_queued", job_id=str(job.id), card_id=str(card.id), agent=job.agent, kind=kind)
    return job


def activity(session: AsyncSession, card: Card, kind: str, data: dict[str, Any]) -> None:
    """Add a timeline entry for the card."""
    session.add(CardActivity(card_id=card.id, kind=kind, data=data))


# --- jobs -------------------------------------------------------------------------------------


async def claim(
    *, session: AsyncSession, settings: Settings, runner_id: uuid.UUID
) -> tuple[Job, Card, Repo, str] | None:
    """Give the runner the best queued job, if any: (job, card, repo, attempt token).

    The claim is one UPDATE ... RETURNING; card, repo and runner come in one more query, and
    only when there was a job (an empty claim reads nothing else). The attempt token
    (auth.attempt_token) is the attempt's git and session credential; the row keeps only the
    hash of its random part."""
    nonce = auth.new_nonce()
    now = utcnow()
    job = await job_service.claim_next(
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
    runner.status = RunnerStatus.BUSY
    runner.current_job_id = job.id
    await session.flush()
    job_changed(session, job)
    runner_changed(session, runner)
    log.info("job_claimed", job_id=str(job.id), attempt=job.attempt, runner=runner.name)
    return job, card, repo, auth.attempt_token(job.id, job.attempt, nonce)


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


async def record_progress(
    *, session: AsyncSession, job_id: str, attempt: int, phase: str, runner_id: uuid.UUID
) -> Job | None:
    job = await holding(session, job_id, attempt, runner_id=runner_id)
    if job is None or job.phase == phase:
        return job
    job.phase = phase[:30]
    if phase == "agent" and job.agent_started_at is None:
        job.agent_started_at = utcnow()
    await session.flush()
    job_changed(session, job)
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
    dropped). One fence check and one insert
    for the run: an agent printing thousands of lines a second is stored as fast as it prints.
    With ``lease_ttl``, the events also renew the attempt's lease (once a third of it has passed):
    a runner whose heartbeat waits behind a burst of its own events is plainly alive.
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
    messages = [m.model_copy(update={"event": redactor.any(m.event)}) for m in messages]
    stored = await job_service.insert_events(
        session, job_id=job.id, attempt=first.attempt, events=[(m.seq, m.event) for m in messages]
    )
    for message in messages:
        if message.seq in stored:
            EventBus.record(
                session,
                "job_event",
                {
                    "job_id": str(job.id),
                    "card_id": str(job.card_id),
                    "attempt": message.attempt,
                    "seq": message.seq,
                    "event": message.event,
                },
            )
    return True


async def complete_attempt(
    *, session: AsyncSession, settings: Settings, message: protocol.Complete, runner_id: uuid.UUID
) -> bool:
    """Record how an attempt ended; move the card branch (once) and the card. False: the attempt was
    fenced off, or ``runner_id`` (the runner that sent it) is not the one holding it.

    A resent completion for an attempt already recorded answers True and changes nothing. The
    error and the checks' output are redacted with the server's secrets before anything is stored.
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
    if job.status in FINAL_JOB_STATUSES:
        # A resend of a completion already recorded: acknowledge it again, change nothing.
        return str(job.status) == message.status and job.head_sha == message.head_sha
    if job.status != JobStatus.RUNNING:
        return False
    card = await session.get(Card, job.card_id)
    assert card is not None
    _apply_outcome(job, message)
    if message.cost_usd is not None:
        card.total_cost_usd += message.cost_usd
    status = JobStatus(message.status)
    error = message.error
    if status == JobStatus.COMPLETED:
        error = await _move_card_branch(session, settings, job, card, message)
        if error is not None:
            status = JobStatus.FAILED
        elif job.kind == "resolve" and message.head_sha != message.branch_start_sha and card.conflict_files:
            card.conflict_files = None  # the merge of the base branch is on the card branch now
    if job.cancel_requested and status != JobStatus.COMPLETED:
        status, error = JobStatus.CANCELLED, None
    if message.verification is not None:
        job.verification = [v.model_dump() for v in message.verification]
    failed_check = next((v for v in message.verification or [] if v.exit_code != 0), None)
    if status == JobStatus.COMPLETED and failed_check is not None:
        # The work is kept on the branch; the agent gets the output for another pass, if allowed.
        error = verification_failure(failed_check)
        if await attempts_used(session, card) < card.max_attempts:
            await finish_job(session=session, job=job, card=None, status=JobStatus.FAILED, error=error)
            await _queue_followup(session, settings, card, "fix", failure=error)
            return True
        status = JobStatus.FAILED
    unchanged = message.branch_start_sha is not None and message.head_sha == message.branch_start_sha
    if status == JobStatus.COMPLETED and unchanged:
        await _no_changes(session, job, card)
    elif status == JobStatus.FAILED and message.conflict_files:
        card.conflict_files = sorted({*(card.conflict_files or []), *message.conflict_files})
        activity(session, card, "conflict", {"files": message.conflict_files, "job_id": str(job.id)})
    await finish_job(session=session, job=job, card=card, status=status, error=error)
    return True


async def _no_changes(session: AsyncSession, job: Job, card: Card) -> None:
    """The agent left an existing branch where it was: say so, and reopen the comments it was given."""
    job.no_changes = True
    activity(session, card, "no_changes", {"job_id": str(job.id), "kind": job.kind})
    for comment in (await session.scalars(select(Comment).where(Comment.job_id == job.id))).all():
        comment.job_id = None
    log.info("job_changed_nothing", job_id=str(job.id), kind=job.kind)


def verification_failure(result: protocol.VerifyResult) -> str:
    how = "timed out" if result.exit_code is None else f"exited with code {result.exit_code}"
    tail = result.output.strip()[-3000:]
    return f"Verification failed: {result.name} (`{result.command}`) {how}.\n{tail}".rstrip()


async def attempts_used(session: AsyncSession, card: Card) -> int:
    """Agent passes this card has had (cancelled ones do not count)."""
    count = await session.scalar(
        select(func.count()).select_from(Job).where(Job.card_id == card.id, Job.status != JobStatus.CANCELLED)
    )
    return int(count or 0)


async def _queue_followup(
    session: AsyncSession, settings: Settings, card: Card, kind: str, *, failure: str | None = None,
    comments: list[Comment] | None = None, conflicts: list[str] | None = None, agent: str | None = None,
) -> Job:
    """Queue another pass on the card's branch, resuming the agent's last session when it can."""
    repo, base_sha = await _repo_with_base(session, settings, card)
    previous = await session.get(Job, card.job_id) if card.job_id else None
    agent = agent or (previous.agent if previous else settings.default_agent)
    resume = previous.session_id if previous and previous.agent == "claude" == agent else None
    if resume and (previous is None or job_sessions.file_of(settings, previous) is None):
        resume = None  # the session file never reached us: start fresh with full context
    diff_text = "" if resume else await _branch_patch(settings, repo, card)
    prompt = prompts.render(
        settings, "followup.md.j2", card=card, repo=repo, job={"kind": kind}, resumed=resume is not None,
        comments=comments or [], failure=failure or "", conflicts=conflicts or [], diff=diff_text,
    )
    return await queue_job(session=session, settings=settings, card=card, repo=repo, base_sha=base_sha,
                           kind=kind, prompt=prompt, agent=agent, resume_session=resume)


async def _branch_patch(settings: Settings, repo: Repo, card: Card, limit: int = 60_000) -> str:
    """The card branch's unified diff against the default branch, cut to ``limit`` characters."""
    from lazyaf.git import diff as git_diff

    try:
        result = await in_thread(
            git_diff.diff, git_path(settings, repo), repo.default_branch, card.branch_name or "", limit=200
        )
    except ValueError:
        return ""
    patch: str = result.patch
    return patch if len(patch) <= limit else patch[:limit] + "\n[… diff cut …]"


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
    session: AsyncSession, settings: Settings, job: Job, card: Card, message: protocol.Complete
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
    moved = await in_thread(
        git_refs.move_branch, path, job.branch, old=message.branch_start_sha, new=message.head_sha or "",
        reason="job completed",
    )
    if not moved:
        (current,) = await in_thread(git_refs.branch_shas, path, job.branch)
        if current == message.head_sha:
            return None
        return f"Branch {job.branch} moved while the agent worked (now {current}); retry the card."
    log.info("card_branch_moved", job_id=str(job.id), branch=job.branch, sha=message.head_sha)
    return None


async def finish_job(
    *, session: AsyncSession, job: Job, card: Card | None, status: JobStatus, error: str | None
) -> None:
    """End a job in ``status``; move its card (completed -> in_review, failed -> failed, cancelled -> todo)."""
    now = utcnow()
    job.status = status
    job.error = error
    job.completed_at = now
    job.lease_expires_at = None
    job.phase = None
    if job.runner_id is not None:
        runner = await session.get(Runner, job.runner_id)
        if runner is not None and runner.current_job_id == job.id:
            runner.current_job_id = None
            if runner.status == RunnerStatus.BUSY:
                runner.status = RunnerStatus.IDLE
            runner_changed(session, runner)
    if card is not None and card.job_id == job.id and card.status == S.IN_PROGRESS:
        target = {JobStatus.COMPLETED: S.IN_REVIEW, JobStatus.FAILED: S.FAILED}.get(status, S.TODO)
        await _move(session, card, target, None)
        activity(session, card, "status", {"status": str(target), "job_id": str(job.id), "error": error})
        card_changed(session, card)
    await session.flush()
    job_changed(session, job)
    log.info("job_finished", job_id=str(job.id), status=status, error=error)


async def cancel_job(*, session: AsyncSession, job: Job) -> Job:
    """Cancel a queued job at once; ask a running one's runner to stop (it reports back cancelled)."""
    if job.status in FINAL_JOB_STATUSES:
        raise InvalidTransition(f"Job {job.id} is already {job.status}; there is nothing to cancel.")
    if job.status == JobStatus.QUEUED:
        card = await session.get(Card, job.card_id)
        await finish_job(session=session, job=job, card=card, status=JobStatus.CANCELLED, error=None)
        return job
    job.cancel_requested = True
    await session.flush()
    job_changed(session, job)
    return job


async def expire_leases(*, session: AsyncSession, now: datetime | None = None) -> list[Job]:
    """Jobs whose attempt's lease ran out: requeue those lost before the agent started, fail the rest."""
    now = now or utcnow()
    query = select(Job).where(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now)
    expired = list((await session.scalars(query)).all())
    for job in expired:
        card = await session.get(Card, job.card_id)
        if job.agent_started_at is None and not job.cancel_requested:
            # Nothing ran yet: another runner may take it (at-least-once, but no agent ran twice).
            await _release_runner(session, job)
            job.status, job.runner_id, job.lease_expires_at, job.phase = JobStatus.QUEUED, None, None, None
            job.token_hash = None
            await session.flush()
            job_changed(session, job)
            log.warning(
                "job_requeued", job_id=str(job.id), attempt=job.attempt, reason="lost before agent start"
            )
        else:
            status = JobStatus.CANCELLED if job.cancel_requested else JobStatus.FAILED
            reason = (
                None
                if job.cancel_requested
                else "Runner lost: it stopped sending heartbeats while running the agent."
            )
            await finish_job(session=session, job=job, card=card, status=status, error=reason)
    return expired


async def _release_runner(session: AsyncSession, job: Job) -> None:
    if job.runner_id is None:
        return
    runner = await session.get(Runner, job.runner_id)
    if runner is not None and runner.current_job_id == job.id:
        runner.current_job_id = None
        runner_changed(session, runner)


async def fail_stale_timeouts(
    *, session: AsyncSession, settings: Settings, now: datetime | None = None
) -> list[Job]:
    """Running jobs far past the job timeout (the runner enforces it; this is the safety net)."""
    now = now or utcnow()
    limit = now - timedelta(seconds=settings.job_timeout + 2 * settings.lease_ttl)
    query = select(Job).where(Job.status == JobStatus.RUNNING, Job.started_at < limit)
    jobs = list((await session.scalars(query)).all())
    for job in jobs:
        card = await session.get(Card, job.card_id)
        await finish_job(
            session=session,
            job=job,
            card=card,
            status=JobStatus.FAILED,
            error=f"Timed out: the job ran longer than {settings.job_timeout:.0f} s.",
        )
    return jobs


async def runner_seen(*, session: AsyncSession, runner: Runner, status: RunnerStatus | None = None) -> None:
    runner.last_heartbeat = utcnow()
    if status is not None and runner.status != status:
        runner.status = status
        await session.flush()
        runner_changed(session, runner)


async def runner_offline(*, session: AsyncSession, runner: Runner) -> None:
    """The runner's connection ended: it is offline (its job, if any, runs on until the lease says otherwise)."""
    if runner.status != RunnerStatus.OFFLINE:
        runner.status = RunnerStatus.OFFLINE
        await session.flush()
        runner_changed(session, runner)


async def mark_silent_runners_offline(*, session: AsyncSession, settings: Settings) -> None:
    limit = utcnow() - timedelta(seconds=settings.lease_ttl)
    query = select(Runner).where(Runner.status != RunnerStatus.OFFLINE, Runner.last_heartbeat < limit)
    for runner in (await session.scalars(query)).all():
        await runner_offline(session=session, runner=runner)


# --- review -----------------------------------------------------------------------------------


async def approve_card(
    *, session: AsyncSession, settings: Settings, card: Card, expected_head: str | None = None
) -> Card:
    """Merge the card branch into the default branch (ff, merge commit or squash) and mark the card done.

    ``expected_head`` is the branch head the reviewer saw: when the branch points elsewhere now,
    nothing is merged and a 409 says so. Without it (curl, older clients) the branch is merged
    where it points when the request arrives. Either way the merge uses the sha read here, never
    the ref again, so a push racing the approve cannot slip in. On a conflict nothing is merged:
    the card stays in review, marked with the conflicting files, and a 409 names them.
    """
    from lazyaf.git import merge as git_merge

    if card.status != S.IN_REVIEW:
        raise InvalidTransition(f"Card '{card.title}' is {card.status}: only in_review cards can be approved.")
    repo, _ = await _repo_with_base(session, settings, card)
    head = await card_service.branch_head(settings=settings, repo=repo, card=card)
    if expected_head is not None and head != expected_head.lower():
        raise Conflict(
            f"Branch {card.branch_name} moved since it was reviewed: it is at {head[:12]}, "
            f"not {expected_head[:12]}. Nothing was merged; review the new diff and approve again."
        )
    path = git_path(settings, repo)
    message = f"{card.title}\n\nLazyAF card {card.id} (branch {card.branch_name}), approved."
    try:
        result = await _merge_retrying(path, repo, head, message)
    except (git_merge.MergeConflict, git_merge.ConflictMarkers) as conflict:
        card.conflict_files = list(conflict.files)
        markers = isinstance(conflict, git_merge.ConflictMarkers)
        activity(session, card, "conflict", {"files": card.conflict_files, "markers": markers})
        await session.flush()
        card_changed(session, card)
        await session.commit()  # the conflict marker stays although the request fails
        what = (
            f"holds conflict markers (<<<<<<< / >>>>>>> lines) that {repo.default_branch} lacks"
            if markers else f"conflicts with {repo.default_branch}"
        )
        raise Conflict(
            f"Branch {card.branch_name} {what} in: {', '.join(conflict.files)}. "
            "Nothing was merged; request changes to have the agent resolve them."
        ) from None
    # What was merged stays readable after the branch is gone (a done card's diff and commits).
    await in_thread(git_refs.set_ref, path, merged_ref(card), result.head, reason="approved")
    card.merge_sha, card.merged_head_sha, card.merge_base_sha = result.sha, result.head, result.base
    card.conflict_files = None
    await _move(session, card, S.DONE, None)
    activity(session, card, "merged", {"sha": result.sha, "kind": result.kind, "into": repo.default_branch})
    await session.flush()
    card_changed(session, card)
    log.info("card_approved", card_id=str(card.id), sha=result.sha, kind=result.kind)
    return card


APPROVE_TRIES = 3
"""Merges tried when the default branch moves between reading it and moving it (a push, or an
approval in another server process: approvals in one process wait in line, review/queue.py)."""


async def _merge_retrying(path: Path, repo: Repo, head: str, message: str) -> MergeResult:
    from lazyaf.git import merge as git_merge

    for tries_left in range(APPROVE_TRIES - 1, -1, -1):
        try:
            return await in_thread(
                git_merge.merge, path, target_branch=repo.default_branch, source=head,
                strategy=repo.merge_strategy,  # type: ignore[arg-type]
                message=message, author=("LazyAF", "lazyaf@localhost"),
            )
        except git_merge.TargetMoved:
            if not tries_left:
                raise
            log.info("approve_retry", repo=repo.name, reason="target moved")
            # The other writer may still hold the ref's lock: give it a moment to publish.
            await anyio.sleep(0.05 * (APPROVE_TRIES - tries_left) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def merged_ref(card: Card) -> str:
    """The ref that keeps what approve merged reachable (the branch may be deleted)."""
    return f"refs/lazyaf/merged/{card.id}"


async def reject_card(
    *, session: AsyncSession, settings: Settings, card: Card, delete_branch: bool = False, position: int | None = None
) -> Card:
    """Send a reviewed card back to todo; its jobs stay, its branch too unless asked to delete it."""
    if card.status != S.IN_REVIEW:
        raise InvalidTransition(f"Card '{card.title}' is {card.status}: only in_review cards can be rejected.")
    if delete_branch and card.branch_name:
        repo = await session.get(Repo, card.repo_id)
        assert repo is not None
        await in_thread(git_refs.delete_branch, git_path(settings, repo), card.branch_name)
        activity(session, card, "branch_deleted", {"branch": card.branch_name})
        card.branch_name = None
    card.conflict_files = None
    await _move(session, card, S.TODO, position)
    activity(session, card, "status", {"status": str(S.TODO), "rejected": True})
    await session.flush()
    card_changed(session, card)
    return card


async def request_changes(*, session: AsyncSession, settings: Settings, card: Card, agent: str | None = None) -> Job:
    """Queue another agent pass on the branch with the open comments (and the conflicts, if any)."""
    if card.status != S.IN_REVIEW:
        raise InvalidTransition(f"Card '{card.title}' is {card.status}: changes can be requested only in review.")
    repo, _ = await _repo_with_base(session, settings, card)
    await card_service.branch_head(settings=settings, repo=repo, card=card)
    query = select(Comment).where(Comment.card_id == card.id, Comment.job_id.is_(None)).order_by(Comment.created_at)
    comments = list((await session.scalars(query)).all())
    conflicts = card.conflict_files or []
    if not comments and not conflicts:
        raise InvalidTransition(f"Card '{card.title}' has no open comments; add a comment saying what to change.")
    if await attempts_used(session, card) >= card.max_attempts:
        raise InvalidTransition(_attempts_spent(card))
    kind = "resolve" if conflicts else "iterate"
    job = await _queue_followup(session, settings, card, kind, comments=comments, conflicts=conflicts, agent=agent)
    for comment in comments:
        comment.job_id = job.id
    # conflict_files stay until a resolve job has pushed a merge (complete_attempt clears them).
    await session.flush()
    return job


async def retry_card(*, session: AsyncSession, settings: Settings, card: Card, agent: str | None = None) -> Job:
    """A new job on a failed card's branch, told why the last attempt failed."""
    if card.status != S.FAILED:
        raise InvalidTransition(f"Card '{card.title}' is {card.status}: only failed cards can be retried.")
    if await attempts_used(session, card) >= card.max_attempts:
        raise InvalidTransition(_attempts_spent(card))
    if card.conflict_files:  # the branch still conflicts: the new pass merges the base in again
        return await _queue_followup(
            session, settings, card, "resolve", conflicts=card.conflict_files, agent=agent
        )
    previous = await session.get(Job, card.job_id) if card.job_id else None
    failure = (previous.error if previous else None) or "The previous attempt failed without a reason."
    return await _queue_followup(session, settings, card, "retry", failure=failure, agent=agent)


def _attempts_spent(card: Card) -> str:
    return (
        f"Card '{card.title}' has used all {card.max_attempts} of its attempts; "
        "raise its max_attempts to try again."
    )


# --- repos ------------------------------------------------------------------------------------


async def delete_repo(
    *, session: AsyncSession, settings: Settings, repo: Repo, cancel: bool = False
) -> list[tuple[str, int]]:
    """Delete a repo unless its cards have queued or running jobs (409 naming the cards); with
    ``cancel``, cancel them first. Commits. Returns the running attempts that were fenced off, for
    the caller to tell their runners to stop.

    A running attempt is not waited for: it ends *cancelled* in the same transaction as the delete,
    so whatever it reports later is refused by the fence (its job is gone), and its runner is freed
    at once. Told to stop, the runner kills its agent, reports, and claims its next job.
    """
    from lazyaf.repos import service as repo_service

    # Write first: on SQLite the transaction takes the write lock here, so no runner can claim one
    # of these jobs between the read below and the delete (PostgreSQL: the rows are locked).
    await session.execute(update(Repo).where(Repo.id == repo.id).values(updated_at=utcnow()))
    query = (
        select(Job, Card)
        .join(Card, Card.id == Job.card_id)
        .where(Card.repo_id == repo.id, Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
        .order_by(Card.position)
        .with_for_update(of=Job)
        .execution_options(populate_existing=True)
    )
    active = [(job, card) for job, card in (await session.execute(query)).all()]
    if active and not cancel:
        titles = list(dict.fromkeys(f"'{card.title}'" for _, card in active))
        cards = "card" if len(titles) == 1 else "cards"
        raise Conflict(
            f"Repo '{repo.name}' has agent work queued or running on {len(titles)} {cards}: "
            f"{', '.join(titles[:10])}{' and more' if len(titles) > 10 else ''}. Cancel those jobs first, "
            "or delete with ?cancel=true to cancel them and delete the repo."
        )
    fenced = [(str(job.id), job.attempt) for job, _ in active if job.status == JobStatus.RUNNING]
    for job, card in active:
        await finish_job(session=session, job=job, card=card, status=JobStatus.CANCELLED,
                         error="Cancelled: its repo was deleted.")
    await repo_service.delete(session=session, settings=settings, repo=repo)
    log.info("repo_deleted_with_work", repo=repo.name, cancelled=len(active), fenced=len(fenced))
    return fenced
