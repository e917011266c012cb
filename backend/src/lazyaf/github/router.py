"""/api/repos/{id}/github…, /api/cards/{id}/pull-request: link, verify, sync, automate, open pull requests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import select

from lazyaf.api.deps import CardDep, RepoDep, SessionDep, SettingsDep
from lazyaf.cards.models import Card
from lazyaf.cards.schemas import CardRead
from lazyaf.errors import Conflict, InvalidInput, NotFound, error_responses
from lazyaf.github import automation, links, pulls, sync
from lazyaf.github.clients import observe_quota
from lazyaf.github.commands import linksettings
from lazyaf.github.models import GitHubOutbox, OutboxStatus
from lazyaf.github.schemas import (
    AutomationWrite,
    BranchPullRequestCreate,
    GitHubLinkRead,
    GitHubLinkWrite,
    OutboxRead,
    PullRequestCreate,
    SyncResult,
    SyncRule,
    VerifyRead,
)
from lazyaf.github.service import GitHubService
from lazyaf.github.verify import verify
from lazyaf.workflows import presets
from lazyaf.workflows import service as workflow_service

router = APIRouter(tags=["github"])
GITHUB_ERRORS = error_responses(404, 409, 422, 502, 503)


def get_github(request: Request) -> GitHubService:
    service: GitHubService = request.app.state.github
    return service


GitHubDep = Annotated[GitHubService, Depends(get_github)]


class PullRequestQueued(BaseModel):
    """The write that opens the pull request; the card (if any) shows it as ``pr_status: queued``."""

    card: CardRead | None
    op: OutboxRead


@router.put("/repos/{repo_id}/github", responses=error_responses(404, 422, 502, 503))
async def link_github(
    repo: RepoDep, data: GitHubLinkWrite, session: SessionDep, settings: SettingsDep, github: GitHubDep
) -> GitHubLinkRead:
    """Link the repo to a GitHub repository (the token is stored encrypted and never returned)."""
    link = await links.put(session=session, settings=settings, secrets=github.secrets, repo=repo, data=data)
    github.clients.forget(link.id)
    client = github.clients.for_link(link) if linksettings.needs_lookup(data) else None
    # A login GitHub does not know is a 422, and nothing is kept.
    await linksettings.apply(link, data, client, now=github.clients.clock())
    github.poller.reset(repo.id)
    github.commands.poller.reset(repo.id)
    return await links.changed(session, link)


@router.get("/repos/{repo_id}/github", responses=error_responses(404))
async def get_github_link(repo: RepoDep, session: SessionDep) -> GitHubLinkRead:
    """The repo's GitHub link: ``has_token``, never the token; the last sync, verification and quota."""
    return await links.to_read(session, await links.require(session, repo))


@router.delete(
    "/repos/{repo_id}/github", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404)
)
async def unlink_github(repo: RepoDep, session: SessionDep, github: GitHubDep) -> Response:
    """Unlink the repo: the token and sync rule are deleted; cards keep their issue links."""
    link = await links.require(session, repo)
    github.clients.forget(link.id)
    await links.delete(session=session, link=link)
    links.unlinked(session, repo.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/repos/{repo_id}/github/verify", responses=error_responses(404, 409))
async def verify_github_link(
    repo: RepoDep, session: SessionDep, settings: SettingsDep, github: GitHubDep
) -> VerifyRead:
    """Check the token, its write permission and that git_url answers; ``error`` says what to fix."""
    link = await links.require(session, repo)
    client = github.clients.for_link(link)
    answer = await verify(settings, link, client, github.clients.token(link))
    link.verify, link.verified_at = answer.model_dump(), datetime.now(UTC)
    observe_quota(link, client)
    if answer.ok:
        link.last_error = link.last_error_at = None
        await links.resume_held(session, repo.id)
    else:
        links.record_error(link, answer.error or "Verification failed.")
    await links.changed(session, link)
    return answer


@router.put("/repos/{repo_id}/github/sync", responses=error_responses(404, 422))
async def set_sync_rule(
    repo: RepoDep, rule: SyncRule, session: SessionDep, settings: SettingsDep, github: GitHubDep
) -> GitHubLinkRead:
    """Set which issues become cards, whether they auto-start, the WIP limit and the poll interval."""
    link = await links.require(session, repo)
    catalog = await workflow_service.catalog(settings, repo)
    if catalog.get(rule.workflow) is None:
        raise InvalidInput(presets.unknown_workflow(rule.workflow, catalog))
    previous = SyncRule.model_validate(link.sync_rule) if link.sync_rule else None
    link.sync_rule = rule.model_dump()
    if previous is None or _selection(previous) != _selection(rule):
        link.sync_since = link.sync_etag = None  # other issues match now: look at all of them again
    if (previous.auto_start if previous else False) != rule.auto_start:
        await automation.auto_start_changed(session, repo.id, rule)
    github.poller.reset(repo.id)
    return await links.changed(session, link)


def _selection(rule: SyncRule) -> tuple[object, ...]:
    return (rule.state, rule.labels, rule.exclude_labels, rule.assignee, rule.milestone)


@router.post("/repos/{repo_id}/github/sync/run", responses=GITHUB_ERRORS)
async def run_sync(repo: RepoDep, github: GitHubDep) -> SyncResult:
    """Sync the repo's issues into cards now: ``{created, updated, closed, skipped}``."""
    return await sync.run(github, repo.id)


@router.post("/repos/{repo_id}/github/automation", responses=error_responses(404, 409, 422))
async def set_automation(
    repo: RepoDep, change: AutomationWrite, session: SessionDep, github: GitHubDep
) -> GitHubLinkRead:
    """Turn the repo's automation on (poll and auto-start) or off."""
    link = await links.require(session, repo)
    if change.enabled and not link.sync_rule:
        raise Conflict(
            f"Repo '{repo.name}' has no sync rule; set one (which issues, auto-start, interval) before "
            "turning automation on."
        )
    link.automation_enabled = change.enabled
    github.poller.reset(repo.id)
    return await links.changed(session, link)


@router.post(
    "/cards/{card_id}/pull-request",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409, 422),
)
async def open_pull_request(
    card: CardDep, session: SessionDep, settings: SettingsDep, body: PullRequestCreate | None = None
) -> PullRequestQueued:
    """Push the card's branch to GitHub and open (or reuse) its pull request, through the outbox."""
    op = await pulls.request_for_card(
        session=session, settings=settings, card=card, body=body or PullRequestCreate()
    )
    return PullRequestQueued(card=CardRead.model_validate(card), op=OutboxRead.model_validate(op))


@router.post(
    "/repos/{repo_id}/github/pull-request",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(404, 409, 422),
)
async def open_branch_pull_request(
    repo: RepoDep, body: BranchPullRequestCreate, session: SessionDep, settings: SettingsDep
) -> PullRequestQueued:
    """Push a branch to GitHub and open (or reuse) its pull request (`lazyaf land --pr`)."""
    op = await pulls.request_for_branch(session=session, settings=settings, repo=repo, body=body)
    card = await session.get(Card, op.card_id) if op.card_id else None
    return PullRequestQueued(
        card=CardRead.model_validate(card) if card else None, op=OutboxRead.model_validate(op)
    )


@router.get("/repos/{repo_id}/github/outbox", responses=error_responses(404))
async def list_outbox(
    repo: RepoDep,
    session: SessionDep,
    status: Annotated[
        Literal["pending", "running", "done", "held"] | None, Query(description="Only writes in this state.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OutboxRead]:
    """The repo's writes to GitHub, newest first: what is waiting, done, or held on an error."""
    query = select(GitHubOutbox).where(GitHubOutbox.repo_id == repo.id)
    if status is not None:
        query = query.where(GitHubOutbox.status == status)
    rows = await session.scalars(query.order_by(GitHubOutbox.created_at.desc()).limit(limit))
    return [OutboxRead.model_validate(r) for r in rows]


async def _op(session: SessionDep, repo_id: uuid.UUID, op_id: uuid.UUID) -> GitHubOutbox:
    row = await session.get(GitHubOutbox, op_id)
    if row is None or row.repo_id != repo_id:
        raise NotFound(f"Repo {repo_id} has no GitHub write {op_id}; list them with GET …/github/outbox.")
    return row


@router.get("/repos/{repo_id}/github/outbox/{op_id}", responses=error_responses(404))
async def get_outbox_op(repo: RepoDep, op_id: uuid.UUID, session: SessionDep) -> OutboxRead:
    """One write to GitHub: its state, attempts, error and result (a pull request's number and url)."""
    return OutboxRead.model_validate(await _op(session, repo.id, op_id))


@router.post("/repos/{repo_id}/github/outbox/{op_id}/retry", responses=error_responses(404, 409))
async def retry_outbox_op(repo: RepoDep, op_id: uuid.UUID, session: SessionDep) -> OutboxRead:
    """Try a held or waiting write again now."""
    row = await _op(session, repo.id, op_id)
    if row.status in (OutboxStatus.DONE, OutboxStatus.RUNNING):
        raise Conflict(f"This write is {row.status}; there is nothing to retry.")
    row.status, row.next_attempt_at, row.attempts = OutboxStatus.PENDING, datetime.now(UTC), 0
    session.info["github_outbox"] = True
    await session.flush()
    return OutboxRead.model_validate(row)
