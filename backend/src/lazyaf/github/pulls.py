"""Pull requests: push a card's branch to the link's ``git_url``, open or reuse its pull request,
then say so on the issue the card came from. Both writes go through the outbox.

``pull_request`` (one per card and branch, or per branch for `lazyaf land --pr`):
  push the branch (forward only, token in git's environment) → the open pull request whose head
  is ``owner:branch``, else a new one (title from the card; body with the summary, the
  verification results, the cost and ``Closes #n``) → the card gets ``pr_url``.
``issue_comment`` (one per issue and pull request): a comment on the issue with the link, found
  again by the marker it carries, so a retry never posts it twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards import service as card_service
from lazyaf.cards.models import ActivityKind, Card, CardStatus
from lazyaf.errors import BranchMissing, InvalidTransition
from lazyaf.git import refs as git_refs
from lazyaf.git.run import in_thread
from lazyaf.github import gitremote, links, outbox
from lazyaf.github.errors import GitHubRejected
from lazyaf.github.models import GitHubOutbox
from lazyaf.github.schemas import BranchPullRequestCreate, PullRequestCreate
from lazyaf.jobs.models import Job, JobEvent, JobStatus
from lazyaf.orchestration import announce, review
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.settings import Settings

PR_OP, COMMENT_OP = "pull_request", "issue_comment"
SUMMARY_CHARS = 3_000
PR_STATUSES = (CardStatus.IN_REVIEW, CardStatus.DONE)


def marker(card_id: uuid.UUID | None, number: int) -> str:
    return f"<!-- lazyaf:pull-request card={card_id or '-'} pr={number} -->"


# --- asking for one ---------------------------------------------------------------------------


async def request_for_card(
    *, session: AsyncSession, settings: Settings, card: Card, body: PullRequestCreate
) -> GitHubOutbox:
    """Queue the card's pull request (again: a retry reuses what exists)."""
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    await links.require(session, repo)
    if card.status not in PR_STATUSES:
        raise InvalidTransition(
            f"Card '{card.title}' is {card.status}: a pull request carries reviewed work, so open it from "
            "a card in review (or done)."
        )
    await card_service.branch_head(settings=settings, repo=repo, card=card)  # 409 branch_missing
    payload = {
        "branch": card.branch_name,
        "base": body.base,
        "draft": body.draft,
        "title": card.title[:256],
        "body": await pr_body(session, card),
    }
    row = await outbox.enqueue(
        session,
        repo_id=repo.id,
        card_id=card.id,
        op=PR_OP,
        idem_key=f"{PR_OP}:{card.id}:{card.branch_name}",
        payload=payload,
    )
    card.pr_status, card.github_error = "queued", None
    await session.flush()
    announce.card_changed(session, card)
    return row


async def request_for_branch(
    *, session: AsyncSession, settings: Settings, repo: Repo, body: BranchPullRequestCreate
) -> GitHubOutbox:
    """Queue a pull request for any branch of the repo; a card's branch gets the card's."""
    await links.require(session, repo)
    card = await session.scalar(
        select(Card).where(
            Card.repo_id == repo.id, Card.branch_name == body.branch, Card.status.in_(PR_STATUSES)
        )
    )
    if card is not None:
        return await request_for_card(session=session, settings=settings, card=card, body=body)
    (sha,) = await in_thread(git_refs.branch_shas, git_path(settings, repo), body.branch)
    if sha is None:  # the answer a card's missing branch gets too (cards.service.branch_head)
        raise BranchMissing(
            f"Repo '{repo.name}' has no branch '{body.branch}'; see `lazyaf repos` for its branches."
        )
    if body.branch == repo.default_branch and body.base in (None, repo.default_branch):
        raise InvalidTransition(
            f"'{body.branch}' is the default branch; a pull request needs another branch to merge from "
            "(--branch)."
        )
    payload = {
        "branch": body.branch,
        "base": body.base,
        "draft": body.draft,
        "title": body.title or body.branch,
        "body": (
            f"Branch `{body.branch}` from LazyAF (repo {repo.name}).\n\n---\n<sub>Opened by LazyAF.</sub>"
        ),
    }
    return await outbox.enqueue(
        session,
        repo_id=repo.id,
        op=PR_OP,
        idem_key=f"{PR_OP}:branch:{repo.id}:{body.branch}",
        payload=payload,
    )


async def approve_opens_pull_request(session: AsyncSession, card: Card) -> bool:
    """True when the card's repo is linked with ``on_approve: pull_request``."""
    link = await links.get(session, card.repo_id)
    return link is not None and link.on_approve == "pull_request"


async def approve_with_pull_request(*, session: AsyncSession, settings: Settings, card: Card) -> Card:
    """Approve as the link says (``on_approve: pull_request``): queue the pull request, mark the card done."""
    if card.status != CardStatus.IN_REVIEW:
        raise InvalidTransition(
            f"Card '{card.title}' is {card.status}: only in_review cards can be approved."
        )
    await request_for_card(session=session, settings=settings, card=card, body=PullRequestCreate())
    return await review.approve_elsewhere(session=session, card=card, how="pull_request")


async def pr_body(session: AsyncSession, card: Card) -> str:
    """Summary, verification results, cost and ``Closes #n``: what a reviewer on GitHub needs."""
    jobs = list(
        (await session.scalars(select(Job).where(Job.card_id == card.id).order_by(Job.queued_at))).all()
    )
    done = [j for j in jobs if j.status == JobStatus.COMPLETED]
    last = done[-1] if done else None
    summary = (await _agent_summary(session, last)) if last else None
    parts = ["## Summary", "", summary or card.description.strip() or card.title, ""]
    parts += ["## Verification", ""]
    checks = (last.verification if last else None) or []
    if checks:
        for check in checks:
            mark = "✅" if check.get("exit_code") == 0 else "❌"
            took = (check.get("duration_ms") or 0) / 1000
            parts.append(f"- {mark} **{check.get('name')}** `{check.get('command')}` ({took:.1f} s)")
    else:
        parts.append("No verification commands are set for this repository in LazyAF.")
    parts += ["", "## Cost", ""]
    runs = sum(1 for j in jobs if j.status != JobStatus.CANCELLED)
    stats = ""
    if last and last.commits is not None:
        files = last.files_changed or 0
        stats = (
            f" · {last.commits} commit{'s' if last.commits != 1 else ''}, +{last.lines_added or 0} "
            f"−{last.lines_removed or 0} in {files} file{'s' if files != 1 else ''}"
        )
    parts.append(f"${card.total_cost_usd:.4f} over {runs} agent run{'s' if runs != 1 else ''}{stats}")
    if card.github_issue_number is not None:
        parts += ["", f"Closes #{card.github_issue_number}"]
    parts += ["", "---", f"<sub>Opened by LazyAF from card “{card.title}”.</sub>"]
    return "\n".join(parts)


async def _agent_summary(session: AsyncSession, job: Job) -> str | None:
    """The agent's last words in its last completed run (its own summary of the change)."""
    events = await session.scalars(
        select(JobEvent)
        .where(JobEvent.job_id == job.id, JobEvent.kind.in_(("text", "result")))
        .order_by(JobEvent.id.desc())
        .limit(20)
    )
    for item in events:
        text = (item.data or {}).get("text")
        if isinstance(text, str) and text.strip():
            text = text.strip()
            return text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS].rstrip() + " […]"
    return None


# --- doing it (outbox handlers) ---------------------------------------------------------------


class OpenPullRequest:
    async def perform(self, job: outbox.Job) -> dict[str, Any]:
        service, link, client, data = job.service, job.link, job.client, job.payload
        branch = data["branch"]
        path = git_path(service.settings, job.repo_id)
        (sha,) = await in_thread(git_refs.branch_shas, path, branch)
        if sha is None:
            raise GitHubRejected(f"Branch {branch} no longer exists in LazyAF; nothing to push.")
        pushed = await gitremote.push_branch(service.settings, path, link.git_url, job.token, sha, branch)
        base = (
            data.get("base")
            or (await client.rest.repos.async_get(link.owner, link.name)).parsed_data.default_branch
        )
        found = await _open_pull(client, link.owner, link.name, branch)
        reused = found is not None
        if found is None:
            try:
                created = await client.rest.pulls.async_create(
                    link.owner,
                    link.name,
                    data={
                        "title": data["title"],
                        "head": branch,
                        "base": base,
                        "body": data["body"],
                        "draft": bool(data.get("draft")),
                    },
                )
                found = (created.parsed_data.number, created.parsed_data.html_url)
            except GitHubRejected as exc:
                # Another run (or a person) opened it between our look and our create.
                found = await _open_pull(client, link.owner, link.name, branch)
                if found is None or "already exists" not in exc.detail:
                    raise
                reused = True
        number, url = found
        return {"number": number, "url": url, "reused": reused, "sha": sha, "base": base, "push": pushed}

    async def applied(self, session: AsyncSession, row: GitHubOutbox, result: dict[str, Any]) -> None:
        card = await session.get(Card, row.card_id) if row.card_id else None
        if card is None:
            return
        card.pr_url, card.pr_status, card.github_error = result["url"], "opened", None
        opened = {"event": "pull_request", "url": result["url"], "number": result["number"]}
        announce.activity(session, card, ActivityKind.GITHUB, opened)
        if card.github_issue_number is not None:
            await outbox.enqueue(
                session,
                repo_id=row.repo_id,
                card_id=card.id,
                op=COMMENT_OP,
                idem_key=f"{COMMENT_OP}:{row.repo_id}:{card.github_issue_number}:pr{result['number']}",
                payload={
                    "issue_number": card.github_issue_number,
                    "body": (
                        f"LazyAF opened pull request #{result['number']} for this issue: {result['url']}\n\n"
                        f"{marker(card.id, result['number'])}"
                    ),
                    "marker": marker(card.id, result["number"]),
                },
            )
        await session.flush()
        announce.card_changed(session, card)

    async def failed(self, session: AsyncSession, row: GitHubOutbox, message: str, *, held: bool) -> None:
        await _show_on_card(session, row, message, "held" if held else "queued")


class CommentOnIssue:
    async def perform(self, job: outbox.Job) -> dict[str, Any]:
        link, client, data = job.link, job.client, job.payload
        comments = await client.paginate(
            client.rest.issues.async_list_comments,
            owner=link.owner,
            repo=link.name,
            issue_number=data["issue_number"],
            per_page=100,
        )
        for comment in comments:
            if data["marker"] in (comment.body or ""):
                return {"id": comment.id, "url": comment.html_url, "reused": True}
        created = await client.rest.issues.async_create_comment(
            link.owner, link.name, data["issue_number"], data={"body": data["body"]}
        )
        return {"id": created.parsed_data.id, "url": created.parsed_data.html_url, "reused": False}

    async def applied(self, session: AsyncSession, row: GitHubOutbox, result: dict[str, Any]) -> None:
        card = await session.get(Card, row.card_id) if row.card_id else None
        if card is not None:
            commented = {"event": "commented", "url": result["url"]}
            announce.activity(session, card, ActivityKind.GITHUB, commented)
            if card.github_error:
                card.github_error = None
                announce.card_changed(session, card)

    async def failed(self, session: AsyncSession, row: GitHubOutbox, message: str, *, held: bool) -> None:
        await _show_on_card(
            session, row, f"Commenting on issue #{row.payload['issue_number']}: {message}", None
        )


async def _open_pull(client: Any, owner: str, name: str, branch: str) -> tuple[int, str] | None:
    # "owner:" is required: GitHub ignores a head filter without it (and lists every pull request).
    found = (
        await client.rest.pulls.async_list(owner, name, head=f"{owner}:{branch}", state="open")
    ).parsed_data
    return (found[0].number, found[0].html_url) if found else None


async def _show_on_card(
    session: AsyncSession, row: GitHubOutbox, message: str, pr_status: str | None
) -> None:
    card = await session.get(Card, row.card_id) if row.card_id else None
    if card is None:
        return
    card.github_error = message
    if pr_status is not None:
        card.pr_status = pr_status
    await session.flush()
    announce.card_changed(session, card)


outbox.HANDLERS[PR_OP] = OpenPullRequest()
outbox.HANDLERS[COMMENT_OP] = CommentOnIssue()
