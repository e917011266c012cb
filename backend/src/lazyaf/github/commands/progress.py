"""The progress comment: LazyAF's, not the model's. Rendered from the command's state, edited in place.

One comment per command (a reply in the review thread when the command came from a review
comment), rendered by ``prompts/github/progress.md.j2`` from the command row: the verb and who
asked, the checklist of steps with their duration and cost, links to the card and the pull
request, and a final line (``done in 3m 12s`` / ``failed: …`` / ``cancelled``). Its last line is a
hidden marker (``<!-- lazyaf:progress command=<id> -->``) by which a retried create finds the
comment instead of making a second one, and by which the gate knows LazyAF's own comments.

Writes go through the outbox (one row per command, ``progress:<id>``): ``touch`` asks for an
update, at once for a change of status or step, else no sooner than ``github_progress_interval``
after the last edit. The row renders the *current* state when it runs, and after each edit looks
again: a change made meanwhile is sent by the next edit, so the last state always reaches GitHub,
also after a restart (the row waits in the database; ``reconcile`` on start-up asks for every
comment whose last edit was not final).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card
from lazyaf.db.engine import session_scope
from lazyaf.github import outbox
from lazyaf.github.commands.models import FINAL_COMMAND_STATUSES, GitHubCommand, GitHubThread
from lazyaf.github.errors import GitHubNotFound
from lazyaf.github.models import GitHubOutbox, OutboxStatus
from lazyaf.redaction import server_redactor
from lazyaf.settings import Settings
from lazyaf.workflows import prompts

OP = "command_progress"
ICONS = {"pending": "⬜", "running": "⏳", "done": "✅", "failed": "❌", "cancelled": "⛔", "skipped": "➖"}
SESSION_FLAG = "github_commands"  # a commit that sets it wakes the command worker


def utcnow() -> datetime:
    return datetime.now(UTC)


def marker(command_id: uuid.UUID | str) -> str:
    return f"<!-- lazyaf:progress command={command_id} -->"


def duration(seconds: float | None) -> str:
    """``8s``, ``1m 3s``, ``2h 5m``."""
    if seconds is None:
        return ""
    whole = max(0, int(round(seconds)))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60}s"
    return f"{whole // 3600}h {whole % 3600 // 60}m"


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def card_url(settings: Settings, card_id: uuid.UUID | None) -> str | None:
    if card_id is None:
        return None
    base = (settings.public_url or f"http://{_host(settings.host)}:{settings.port}").rstrip("/")
    return f"{base}/?card={card_id}"


def _host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def one_line_error(settings: Settings, text: str | None, limit: int = 300) -> str:
    """The first line of an error, redacted of every secret the server knows (tokens by pattern too)."""
    first = next((line.strip() for line in (text or "").splitlines() if line.strip()), "no reason given")
    first = str(server_redactor(settings).text(first))
    return first if len(first) <= limit else first[: limit - 1] + "…"


def context(
    settings: Settings, command: GitHubCommand, thread: GitHubThread | None, card: Card | None
) -> dict[str, Any]:
    """The variables of progress.md.j2."""
    steps = []
    for step in command.steps or []:
        started, finished = _time(step.get("started_at")), _time(step.get("finished_at"))
        took = (finished - started).total_seconds() if started and finished else None
        steps.append(
            {
                "title": step.get("title") or step.get("key"),
                "status": step.get("status", "pending"),
                "icon": ICONS.get(step.get("status", "pending"), "⬜"),
                "duration": duration(took) if took is not None else "",
                "cost": f"${step['cost_usd']:.4f}" if step.get("cost_usd") else "",
                "detail": one_line_error(settings, step["detail"], 200) if step.get("detail") else "",
            }
        )
    final = None
    if command.status in FINAL_COMMAND_STATUSES:
        started = _time(command.started_at) or _time(command.created_at)
        finished = _time(command.finished_at) or utcnow()
        spent = duration((finished - started).total_seconds()) if started else ""
        if command.status == "done":
            final = f"✅ done in {spent}"
        elif command.status == "cancelled":
            final = (
                f"⛔ cancelled{f' by @{command.cancelled_by}' if command.cancelled_by else ''} after {spent}"
            )
        else:
            final = f"❌ failed after {spent}: {one_line_error(settings, command.error)}"
    costs = [float(s["cost_usd"]) for s in command.steps or [] if s.get("cost_usd")]
    return {
        "command": {
            "verb": command.verb,
            "text": command.text,
            "actor": command.actor_login,
            "source": command.source,
            "status": command.status,
            "comment_url": command.comment_url,
        },
        "steps": steps,
        "total_cost": f"${sum(costs):.4f}" if costs else "",
        "card_url": card_url(settings, command.card_id),
        "card_title": card.title if card is not None else None,
        "pr_url": thread.pr_url if thread is not None else None,
        "pr_number": thread.pr_number if thread is not None else None,
        "branch": thread.branch if thread is not None else None,
        "final": final,
    }


def render(settings: Settings, command: GitHubCommand, thread: GitHubThread | None, card: Card | None) -> str:
    body = prompts.render(settings, "github/progress.md.j2", **context(settings, command, thread, card))
    return body.rstrip() + "\n\n" + marker(command.id) + "\n"


def sha(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


async def touch(session: AsyncSession, settings: Settings, command: GitHubCommand, *, urgent: bool) -> None:
    """Ask for the comment to show the command's state now (``urgent``) or within the interval."""
    if command.progress_final and command.status in FINAL_COMMAND_STATUSES:
        return  # already says how it ended
    row = await outbox.enqueue(
        session,
        repo_id=command.repo_id,
        card_id=command.card_id,
        op=OP,
        idem_key=f"progress:{command.id}",
        payload={"command_id": str(command.id)},
    )
    if row.status == OutboxStatus.PENDING:
        row.next_attempt_at = _due(settings, command, urgent)
    session.info[SESSION_FLAG] = True
    await session.flush()


def _due(settings: Settings, command: GitHubCommand, urgent: bool) -> datetime:
    last = _time(command.progress_sent_at)
    if urgent or last is None:
        return utcnow()
    return max(utcnow(), last + timedelta(seconds=settings.github_progress_interval))


# --- the outbox operation -----------------------------------------------------------------------


class SyncProgress:
    """Create the comment (or find it by its marker), else edit it to the current render."""

    async def perform(self, job: outbox.Job) -> dict[str, Any]:
        service, link, client = job.service, job.link, job.client
        async with service.sessionmaker() as session:
            command = await session.get(GitHubCommand, uuid.UUID(job.payload["command_id"]))
            if command is None:
                return {"gone": True}
            thread = await session.get(GitHubThread, command.thread_id)
            card = await session.get(Card, command.card_id) if command.card_id else None
            body = render(service.settings, command, thread, card)
            final = command.status in FINAL_COMMAND_STATUSES
            known, sent = command.progress_comment_id, command.progress_sha
            review = command.comment_kind == "review_comment"
            number, reply_to = command.number, command.reply_to_id  # where the command was given
        digest = sha(body)
        repo = f"/repos/{link.owner}/{link.name}"
        kind = "pulls" if review else "issues"
        if known is not None and digest == sent:
            return {"id": known, "sha": digest, "final": final, "edited": False}
        if known is not None:
            try:
                await client.request("PATCH", f"{repo}/{kind}/comments/{known}", json={"body": body})
                return {"id": known, "sha": digest, "final": final, "edited": True}
            except GitHubNotFound:
                known = None  # someone deleted it: write a new one
        mark = marker(job.payload["command_id"])
        found = await _find(client, repo, review, number, mark)
        if found is not None:
            await client.request("PATCH", f"{repo}/{kind}/comments/{found}", json={"body": body})
            return {"id": found, "sha": digest, "final": final, "edited": True}
        if review and reply_to is not None:
            made = await client.request(
                "POST", f"{repo}/pulls/{number}/comments/{reply_to}/replies", json={"body": body}
            )
        else:
            made = await client.request("POST", f"{repo}/issues/{number}/comments", json={"body": body})
        return {"id": made["id"], "sha": digest, "final": final, "edited": True}

    async def applied(self, session: AsyncSession, row: GitHubOutbox, result: dict[str, Any]) -> None:
        if result.get("gone"):
            return
        command = await session.get(GitHubCommand, uuid.UUID(row.payload["command_id"]))
        if command is None:
            return
        command.progress_comment_id = result["id"]
        command.progress_sha = result["sha"]
        if result.get("edited"):
            command.progress_sent_at = utcnow()
        command.progress_final = bool(result["final"])
        session.info[SESSION_FLAG] = True  # the worker looks again: did the state move on meanwhile?

    async def failed(self, session: AsyncSession, row: GitHubOutbox, message: str, *, held: bool) -> None:
        return None


async def refresh(session: AsyncSession, settings: Settings, command: GitHubCommand) -> bool:
    """Ask for an edit when the comment does not show the command's current state; whether it did."""
    if command.progress_final and command.status in FINAL_COMMAND_STATUSES:
        return False
    row = await session.scalar(select(GitHubOutbox).where(GitHubOutbox.idem_key == f"progress:{command.id}"))
    if row is not None and row.status != OutboxStatus.DONE:
        return False  # a write is on its way (it renders the state as it is then) or held on an error
    thread = await session.get(GitHubThread, command.thread_id)
    card = await session.get(Card, command.card_id) if command.card_id else None
    if (
        command.progress_sha is not None
        and sha(render(settings, command, thread, card)) == command.progress_sha
    ):
        return False
    await touch(session, settings, command, urgent=command.status in FINAL_COMMAND_STATUSES)
    return True


async def _find(client: Any, repo: str, review: bool, number: int | None, mark: str) -> int | None:
    """The comment carrying ``mark``, if a create already happened (a retry after a lost answer)."""
    if number is None:
        return None
    path = f"{repo}/pulls/{number}/comments" if review else f"{repo}/issues/{number}/comments"
    page = 1
    while True:
        items = await client.request("GET", path, params={"per_page": 100, "page": page})
        for item in items or []:
            if mark in (item.get("body") or ""):
                return int(item["id"])
        if not items or len(items) < 100:
            return None
        page += 1


async def reconcile(sessionmaker: Any, settings: Settings) -> int:
    """On start-up: every command whose comment does not show its final state gets an edit."""
    count = 0
    async with session_scope(sessionmaker) as session:
        query = select(GitHubCommand).where(
            GitHubCommand.status.in_(list(FINAL_COMMAND_STATUSES)), GitHubCommand.progress_final.is_(False)
        )
        for command in (await session.scalars(query)).all():
            await touch(session, settings, command, urgent=True)
            count += 1
    return count


outbox.HANDLERS[OP] = SyncProgress()
