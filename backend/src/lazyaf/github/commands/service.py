"""The command worker: deliveries in, commands started, runs moved on, progress kept current.

One task per server, woken by a commit that stored a delivery or changed a command (the
``github_commands`` session flag), by board events about jobs (a run's job moved), and by a
clock (retries). Each pass, in order — every step reads the database, so a restart loses nothing:

1. **Deliveries** (``queued``, oldest first): normalized to a ``CommentEvent``, put through the
   gate (gate.py), and then ignored with the reason, answered (``status``, ``cancel``, help for an
   unknown verb), or accepted as a command on the thread's card: ``eyes`` on the trigger and the
   progress comment ("queued") go to the outbox in the same transaction.
2. **Starts**: a queued command whose thread is idle (no other command running, its card not in
   progress) gets its context from GitHub (context.py), its prompts rendered from
   ``prompts/github/`` and its run started through the seam (runs.py). A command behind a busy
   thread waits its turn: it is never run twice, never beside another on the same branch.
3. **Runs**: each running command's run is read (``runs.status``); agent steps update the
   checklist; once they are done, GitHub's steps go to the outbox one after the other (push and
   pull request, ready for review, answers); the last one done, the command is done.
4. **Progress**: a command whose comment does not show its state gets an edit (progress.py);
   at start-up that includes the commands that ended while LazyAF was down.
"""

from __future__ import annotations

import asyncio
import copy
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from lazyaf.cards.models import Card, CardStatus
from lazyaf.db.engine import session_scope
from lazyaf.errors import LazyAFError
from lazyaf.events.models import BoardEvent
from lazyaf.git import refs as git_refs
from lazyaf.git.run import in_thread
from lazyaf.github import outbox
from lazyaf.github.commands import checklist, context, gitlocal, grammar, ops, progress, runs, threads
from lazyaf.github.commands.events import HANDLED, CommentEvent, Malformed, from_webhook
from lazyaf.github.commands.gate import PermissionCache, Verdict, check
from lazyaf.github.commands.models import (
    CommandStatus,
    DeliveryStatus,
    GitHubCommand,
    GitHubDelivery,
    GitHubThread,
)
from lazyaf.github.commands.poller import CommentPoller
from lazyaf.github.commands.progress import SESSION_FLAG
from lazyaf.github.errors import GitHubError
from lazyaf.github.models import GitHubLink
from lazyaf.orchestration import announce
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.workflows import prompts

log = structlog.get_logger(__name__)

IDLE_WAIT = 30.0
START_ATTEMPTS = 5
# Deliveries that became nothing are kept this long (to see why), then pruned; the others stay.
KEEP_IGNORED = timedelta(days=14)
PRUNE_EVERY = timedelta(hours=1)
ANSWERED = re.compile(r"addressed threads?\s*:\s*([0-9 ,#and]+)", re.IGNORECASE)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Refusal(Exception):
    """A command that cannot run as asked; the message is the sentence its comment shows."""


@dataclass
class _Delivery:
    id: uuid.UUID
    delivery_id: str
    source: str
    event: str
    action: str | None
    repo_id: uuid.UUID | None
    payload: dict[str, Any]


class CommandService:
    def __init__(self, github: Any) -> None:
        self.github = github
        self.settings = github.settings
        self.sessionmaker = github.sessionmaker
        self.permissions = PermissionCache()
        self.poller = CommentPoller(self)
        self._doorbell = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: Callable[[Session], None] | None = None
        self._session_class: type[Session] = self.sessionmaker.kw["sync_session_class"]
        self._pruned_at: datetime | None = None

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        def after_commit(sync_session: Session) -> None:
            if sync_session.info.pop(SESSION_FLAG, False):
                self.wake()

        self._listener = after_commit
        event.listen(self._session_class, "after_commit", after_commit)
        self._task = asyncio.create_task(self._run(), name="github-commands")
        self.poller.start()

    async def stop(self) -> None:
        await self.poller.stop()
        if self._listener is not None:
            event.remove(self._session_class, "after_commit", self._listener)
            self._listener = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def wake(self) -> None:
        self._doorbell.set()
        self.github.outbox.wake()

    def on_board_event(self, row: BoardEvent) -> None:
        """Bus listener: a job moved (a run's step may have started, progressed or ended)."""
        if row.type in ("job_status", "card_updated"):
            self._doorbell.set()

    async def _run(self) -> None:
        while True:
            self._doorbell.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("github_commands_failed")
            try:
                await asyncio.wait_for(self._doorbell.wait(), IDLE_WAIT)
            except TimeoutError:
                pass

    async def run_once(self) -> None:
        """One pass of the four phases (module docstring), and now and then a prune."""
        await self.process_deliveries()
        await self.start_commands()
        await self.advance_commands()
        await self.sweep_progress()
        if self._pruned_at is None or utcnow() - self._pruned_at > PRUNE_EVERY:
            await self.prune()

    async def prune(self, now: datetime | None = None) -> int:
        """Forget deliveries that became nothing (ignored) after ``KEEP_IGNORED``; how many."""
        now = now or utcnow()
        self._pruned_at = now
        async with session_scope(self.sessionmaker) as session:
            result = await session.execute(
                delete(GitHubDelivery).where(
                    GitHubDelivery.status == DeliveryStatus.IGNORED,
                    GitHubDelivery.received_at < now - KEEP_IGNORED,
                )
            )
        count: int = result.rowcount  # type: ignore[attr-defined]
        return count

    # -- 1. deliveries -----------------------------------------------------------------------

    async def process_deliveries(self) -> int:
        done = 0
        while True:
            async with self.sessionmaker() as session:
                row = await session.scalar(
                    select(GitHubDelivery)
                    .where(GitHubDelivery.status == DeliveryStatus.QUEUED)
                    .order_by(GitHubDelivery.received_at)
                    .limit(1)
                )
                if row is None:
                    return done
                item = _Delivery(
                    row.id, row.delivery_id, row.source, row.event, row.action, row.repo_id, row.payload
                )
            try:
                await self._process(item)
            except Exception as exc:  # a bug must not wedge the queue: record it, go on
                log.exception("github_delivery_crashed", delivery=item.delivery_id)
                await self._settle(
                    item.id,
                    DeliveryStatus.FAILED,
                    f"LazyAF failed on it ({type(exc).__name__}); see the server log.",
                )
            done += 1

    async def _settle(
        self, delivery_id: uuid.UUID, status: str, reason: str | None, command_id: uuid.UUID | None = None
    ) -> None:
        async with session_scope(self.sessionmaker) as session:
            self._mark(await session.get(GitHubDelivery, delivery_id), status, reason, command_id)

    @staticmethod
    def _mark(
        row: GitHubDelivery | None, status: str, reason: str | None, command_id: uuid.UUID | None
    ) -> None:
        if row is not None:
            row.status, row.reason, row.command_id = status, reason, command_id
            row.processed_at, row.attempts = utcnow(), row.attempts + 1

    async def _process(self, item: _Delivery) -> None:
        if item.source == "webhook":
            if item.event == "ping":
                await self._settle(
                    item.id, DeliveryStatus.IGNORED, "ping: GitHub checked the webhook, and it works."
                )
                return
            if (item.event, item.action) not in HANDLED:
                reason = (
                    f"{item.event} '{item.action}' is not a command LazyAF handles (only new comments are)."
                )
                await self._settle(item.id, DeliveryStatus.IGNORED, reason)
                return
            try:
                comment = from_webhook(item.event, item.payload)
            except Malformed as exc:
                await self._settle(item.id, DeliveryStatus.IGNORED, str(exc))
                return
        else:
            comment = CommentEvent.from_json(item.payload)
        async with self.sessionmaker() as session:
            link = (
                await session.scalar(select(GitHubLink).where(GitHubLink.repo_id == item.repo_id))
                if item.repo_id
                else None
            )
        if link is None:
            await self._settle(
                item.id, DeliveryStatus.IGNORED, f"{comment.repository} is not linked to a LazyAF repo."
            )
            return
        verdict = await check(comment, link, lambda login: self._permission(link, login))
        async with session_scope(self.sessionmaker) as session:
            outcome = await self._record(session, item, comment, link.repo_id, verdict)
            # In the same transaction as the command: a crash leaves both undone, or both done.
            self._mark(await session.get(GitHubDelivery, item.id), *outcome)

    async def _permission(self, link: GitHubLink, login: str) -> str | None:
        cached, role = self.permissions.get(link.full_name, login)
        if cached:
            return role
        client = self.github.clients.for_link(link)
        try:
            answer = await client.request(
                "GET", f"/repos/{link.owner}/{link.name}/collaborators/{login}/permission"
            )
            role = (answer or {}).get("role_name") or (answer or {}).get("permission")
        except GitHubError as exc:
            if exc.status != 404:
                raise
            role = None
        self.permissions.put(link.full_name, login, role)
        return role

    async def _record(
        self,
        session: AsyncSession,
        item: _Delivery,
        comment: CommentEvent,
        repo_id: uuid.UUID,
        verdict: Verdict,
    ) -> tuple[str, str | None, uuid.UUID | None]:
        if comment.key is not None:
            earlier = await session.scalar(
                select(GitHubCommand).where(GitHubCommand.comment_key == comment.key)
            )
            if earlier is not None:
                return (
                    DeliveryStatus.IGNORED,
                    (
                        f"Already handled: this comment came by {earlier.source} too "
                        f"(delivery {earlier.delivery_id}); "
                        "a comment runs once."
                    ),
                    earlier.id,
                )
        link = await session.scalar(select(GitHubLink).where(GitHubLink.repo_id == repo_id))
        repo = await session.get(Repo, repo_id)
        assert link is not None and repo is not None
        if verdict.help:
            await self._reply(
                session,
                link,
                comment.number,
                comment.reply_to_id if comment.kind == "review_comment" else None,
                "github/help.md.j2",
                key=comment.key or item.delivery_id,
                phrase=link.trigger_phrase,
                verb=verdict.parsed.verb if verdict.parsed else None,
            )
            return DeliveryStatus.IGNORED, verdict.reason, None
        if verdict.reason is not None or verdict.parsed is None:
            return DeliveryStatus.IGNORED, verdict.reason, None
        verb = verdict.parsed.verb or ""
        thread = await threads.open_thread(session, repo, link, comment)
        command = GitHubCommand(
            repo_id=repo_id,
            thread_id=thread.id,
            card_id=thread.card_id,
            delivery_id=item.delivery_id,
            source=comment.source,
            number=comment.number,
            comment_key=comment.key,
            comment_kind=comment.kind,
            comment_id=comment.comment_id,
            reply_to_id=comment.reply_to_id,
            comment_url=comment.url,
            comment_at=comment.created_at,
            verb=verb,
            text=verdict.parsed.text,
            actor_login=comment.author_login,
            actor_id=comment.author_id,
            steps=checklist.make(verb),
            next_attempt_at=utcnow(),
        )
        session.add(command)
        await session.flush()
        if comment.comment_id is not None and comment.kind in ("issue_comment", "review_comment"):
            await outbox.enqueue(
                session,
                repo_id=repo_id,
                card_id=thread.card_id,
                op=ops.REACTION,
                idem_key=f"reaction:{comment.key}",
                payload={"kind": comment.kind, "comment_id": comment.comment_id, "content": "eyes"},
            )
        if verb == "status":
            await self._answer_status(session, link, thread, command)
        elif verb == "cancel":
            await self._answer_cancel(session, link, thread, command)
        else:
            card = await session.get(Card, thread.card_id) if thread.card_id else None
            if card is not None:
                card.github_command, card.github_command_by = verb, comment.author_login
                announce.card_changed(session, card)
            await progress.touch(session, self.settings, command, urgent=True)
        session.info[SESSION_FLAG] = True
        return DeliveryStatus.ACCEPTED, None, command.id

    async def _reply(
        self,
        session: AsyncSession,
        link: GitHubLink,
        number: int,
        reply_to: int | None,
        template: str,
        *,
        key: str,
        **variables: Any,
    ) -> None:
        """A reply (a comment; in the review thread for a review comment), sent once per ``key``."""
        mark = f"<!-- lazyaf:reply {key} -->"
        body = prompts.render(self.settings, template, **variables).rstrip() + "\n\n" + mark + "\n"
        payload = {"number": number, "body": body, "marker": mark, "reply_to": reply_to}
        await outbox.enqueue(
            session, repo_id=link.repo_id, op=ops.REPLY, idem_key=f"reply:{key}", payload=payload
        )

    async def _answer_status(
        self, session: AsyncSession, link: GitHubLink, thread: GitHubThread, command: GitHubCommand
    ) -> None:
        card = await session.get(Card, thread.card_id) if thread.card_id else None
        others = (
            await session.scalars(
                select(GitHubCommand)
                .where(GitHubCommand.thread_id == thread.id, GitHubCommand.verb.in_(grammar.RUNS))
                .order_by(GitHubCommand.created_at.desc())
                .limit(5)
            )
        ).all()
        await self._reply(
            session,
            link,
            *_reply_place(thread, command),
            "github/status.md.j2",
            key=command.comment_key or command.delivery_id,
            card=card,
            card_url=progress.card_url(self.settings, card.id if card else None),
            thread=thread,
            commands=[{"verb": c.verb, "actor": c.actor_login, "status": c.status} for c in others],
        )
        command.status, command.finished_at, command.progress_final = CommandStatus.DONE, utcnow(), True

    async def _answer_cancel(
        self, session: AsyncSession, link: GitHubLink, thread: GitHubThread, command: GitHubCommand
    ) -> None:
        active = (
            await session.scalars(
                select(GitHubCommand).where(
                    GitHubCommand.thread_id == thread.id,
                    GitHubCommand.status.in_([CommandStatus.QUEUED, CommandStatus.RUNNING]),
                    GitHubCommand.id != command.id,
                )
            )
        ).all()
        stopped = []
        for other in active:
            other.cancelled_by = command.actor_login
            if other.status == CommandStatus.RUNNING and other.run is not None:
                run = copy.deepcopy(other.run)
                await runs.cancel(session, run)
                other.run = run
                await session.flush()
                state = await runs.status(session, self.settings, run)
                if state.status == "running":
                    stopped.append(other.verb)
                    continue  # its job stops; the next pass finishes the command as cancelled
            await self._finish(session, other, CommandStatus.CANCELLED, None)
            stopped.append(other.verb)
        await self._reply(
            session,
            link,
            *_reply_place(thread, command),
            "github/cancelled.md.j2",
            key=command.comment_key or command.delivery_id,
            stopped=stopped,
            actor=command.actor_login,
        )
        command.status, command.finished_at, command.progress_final = CommandStatus.DONE, utcnow(), True

    # -- 2. starts ---------------------------------------------------------------------------

    async def start_commands(self) -> int:
        started = 0
        async with self.sessionmaker() as session:
            running = set(
                (
                    await session.scalars(
                        select(GitHubCommand.thread_id).where(GitHubCommand.status == CommandStatus.RUNNING)
                    )
                ).all()
            )
            queued = (
                await session.execute(
                    select(GitHubCommand.id, GitHubCommand.thread_id)
                    .where(
                        GitHubCommand.status == CommandStatus.QUEUED,
                        GitHubCommand.next_attempt_at <= utcnow(),
                    )
                    .order_by(GitHubCommand.created_at)
                )
            ).all()
        first: dict[uuid.UUID, uuid.UUID] = {}
        for command_id, thread_id in queued:
            first.setdefault(thread_id, command_id)
        for thread_id, command_id in first.items():
            if thread_id in running:
                continue
            if await self._start(command_id):
                started += 1
        return started

    async def _start(self, command_id: uuid.UUID) -> bool:
        try:
            plan = await self._plan_start(command_id)
            if plan is None:
                return False
            variables = await self._gather(plan)
            async with session_scope(self.sessionmaker) as session:
                return await self._launch(session, command_id, plan, variables)
        except Refusal as exc:
            async with session_scope(self.sessionmaker) as session:
                command = await session.get(GitHubCommand, command_id)
                if command is not None and command.status == CommandStatus.QUEUED:
                    await self._finish(session, command, CommandStatus.FAILED, str(exc))
            return False
        except GitHubError as exc:
            await self._retry_later(command_id, exc)
            return False

    async def _retry_later(self, command_id: uuid.UUID, exc: GitHubError) -> None:
        async with session_scope(self.sessionmaker) as session:
            command = await session.get(GitHubCommand, command_id)
            if command is None or command.status != CommandStatus.QUEUED:
                return
            command.attempts += 1
            if not exc.retryable or command.attempts >= START_ATTEMPTS:
                await self._finish(
                    session, command, CommandStatus.FAILED, f"Reading the thread from GitHub: {exc.detail}"
                )
                return
            command.next_attempt_at = utcnow() + timedelta(
                seconds=outbox.backoff(self.settings.github_retry_base, command.attempts)
            )
        log.info("github_command_start_retry", command_id=str(command_id), error=exc.detail)

    async def _plan_start(self, command_id: uuid.UUID) -> dict[str, Any] | None:
        """What starting needs, read in one short transaction; None: wait (the card is busy)."""
        async with self.sessionmaker() as session:
            command = await session.get(GitHubCommand, command_id)
            if command is None or command.status != CommandStatus.QUEUED:
                return None
            thread = await session.get(GitHubThread, command.thread_id)
            link = await session.scalar(select(GitHubLink).where(GitHubLink.repo_id == command.repo_id))
            repo = await session.get(Repo, command.repo_id)
            card = await session.get(Card, thread.card_id) if thread and thread.card_id else None
            if thread is None or link is None or repo is None:
                raise Refusal("The repo's GitHub link or this thread is gone.")
            if card is None:
                raise Refusal("The thread's card was deleted; give the command again to make a new one.")
            if card.status == CardStatus.IN_PROGRESS:
                return None  # someone started it from the board: wait for that job
            verb = command.verb
            if card.status == CardStatus.DONE:
                raise Refusal(
                    f"Card '{card.title}' is done (merged in LazyAF); open a new issue for more work."
                )
            if thread.is_pr and verb in ("plan", "refine", "oneshot"):
                raise Refusal(f"`{verb}` works on an issue; on a pull request use `iterate`.")
            if verb in ("refine", "build") and not thread.plan_path:
                raise Refusal(
                    f"There is no plan yet on this thread; run `plan` first (or `oneshot`) before `{verb}`."
                )
            if verb == "iterate" and thread.pr_number is None:
                raise Refusal(
                    "`iterate` works on a pull request; this thread has none yet (run `plan` or `oneshot`)."
                )
            if thread.head_repo and thread.head_repo.lower() != link.full_name.lower():
                raise Refusal(
                    f"The pull request's branch is in {thread.head_repo}, a fork; LazyAF cannot push there."
                )
            return {
                "command_id": command.id,
                "verb": verb,
                "text": command.text,
                "actor": command.actor_login,
                "comment_id": command.comment_id,
                "comment_at": command.comment_at,
                "comment_url": command.comment_url,
                "link": link,
                "repo": repo,
                "thread_number": thread.number,
                "is_pr": thread.is_pr,
                "pr_number": thread.pr_number,
                "branch": thread.branch or card.branch_name,
                "slug": thread.slug,
                "plan_path": thread.plan_path,
                "plan_at": thread.plan_at,
                "trigger_body": await self._trigger_body(session, command),
            }

    async def _trigger_body(self, session: AsyncSession, command: GitHubCommand) -> str:
        delivery = await session.scalar(
            select(GitHubDelivery).where(GitHubDelivery.delivery_id == command.delivery_id)
        )
        if delivery is None:
            return command.text
        if delivery.source == "webhook":
            try:
                return from_webhook(delivery.event, delivery.payload).body
            except Malformed:
                return command.text
        return str(delivery.payload.get("body") or command.text)

    async def _gather(self, plan: dict[str, Any]) -> dict[str, Any]:
        """The thread from GitHub and from LazyAF's branch: the prompts' variables."""
        link: GitHubLink = plan["link"]
        repo: Repo = plan["repo"]
        client = self.github.clients.for_link(link)
        issue = (
            None
            if plan["is_pr"]
            else await context.fetch(client, link.owner, link.name, plan["thread_number"])
        )
        pull = (
            await context.fetch(client, link.owner, link.name, plan["pr_number"])
            if plan["pr_number"]
            else None
        )
        branch = plan["branch"] or f"lazyaf/{plan['slug']}"
        path = git_path(self.settings, repo)
        if pull is not None:
            if pull.cross_repository:
                raise Refusal("The pull request's branch is in a fork; LazyAF cannot push there.")
            if pull.head:
                branch = pull.head
                current = await _branch_sha(path, branch)
                token = self.github.clients.token(link)
                await gitlocal.bring_in(self.settings, path, link.git_url, token, branch, current)
        base = repo.default_branch
        commits = await gitlocal.commits(self.settings, path, base, branch)
        files = await gitlocal.files(self.settings, path, base, branch) if pull is not None else []
        trigger = {
            "author": plan["actor"],
            "at": plan["comment_at"],
            "url": plan["comment_url"],
            "body": plan["trigger_body"],
            "verb": plan["verb"],
            "text": plan["text"],
            "comment_id": plan["comment_id"],
        }
        github = context.assemble(
            repository=link.full_name,
            issue=issue,
            pull=pull,
            trigger=trigger,
            commits=commits,
            files=files,
            new_since=plan["plan_at"],
        )
        plan_path = plan["plan_path"] or f"docs/plans/{plan['slug']}.md"
        return {
            "github": github,
            "branch": branch,
            "base_branch": base,
            "plan_path": plan_path,
            "issue": issue,
            "pull": pull,
        }

    async def _launch(
        self, session: AsyncSession, command_id: uuid.UUID, plan: dict[str, Any], found: dict[str, Any]
    ) -> bool:
        command = await session.get(GitHubCommand, command_id)
        if command is None or command.status != CommandStatus.QUEUED:
            return False  # cancelled while its context was read
        thread = await session.get(GitHubThread, command.thread_id)
        repo = await session.get(Repo, command.repo_id)
        card = await session.get(Card, thread.card_id) if thread and thread.card_id else None
        if thread is None or repo is None or card is None:
            raise Refusal("The thread's card was deleted; give the command again to make a new one.")
        source = found["issue"] or found["pull"]
        if source is not None:
            threads.update_from_github(thread, card, source.title, source.body, source.url)
        if found["pull"] is not None:
            thread.pr_url = found["pull"].url or thread.pr_url
        thread.branch, thread.plan_path = found["branch"], found["plan_path"]
        variables = {
            "github": found["github"],
            "branch": found["branch"],
            "base_branch": found["base_branch"],
            "plan_path": found["plan_path"],
            "repo": {"name": repo.name, "default_branch": repo.default_branch},
            "verb": command.verb,
            "oneshot": command.verb == "oneshot",
        }
        where = runs.Thread(card=card, repo=repo, branch=found["branch"], plan_path=found["plan_path"])
        verb = command.verb
        try:
            if verb == "plan":
                run = await runs.start_plan(session, self.settings, where, self._prompt("plan", variables))
            elif verb == "refine":
                run = await runs.start_refine(
                    session, self.settings, where, self._prompt("refine", variables)
                )
            elif verb == "build":
                run = await runs.start_build(session, self.settings, where, self._prompt("build", variables))
            elif verb == "oneshot":
                run = await runs.start_oneshot(
                    session,
                    self.settings,
                    where,
                    self._prompt("plan", variables),
                    self._prompt("build", variables),
                )
            else:
                run = await runs.start_iterate(
                    session, self.settings, where, self._prompt("iterate", variables)
                )
        except LazyAFError as exc:
            raise Refusal(exc.detail) from None
        command.run, command.status, command.started_at = run, CommandStatus.RUNNING, utcnow()
        if verb == "iterate":
            threads_given = [
                {"index": t["index"], "comment_id": t["first_comment_id"]}
                for t in found["github"]["threads"]
                if t.get("first_comment_id")
            ]
            checklist.set_step(command, "answer", "pending", threads=threads_given)
        card.github_command, card.github_command_by = verb, command.actor_login
        announce.card_changed(session, card)
        await self._sync_steps(session, command)
        await progress.touch(session, self.settings, command, urgent=True)
        log.info("github_command_started", command_id=str(command.id), verb=verb, card_id=str(card.id))
        return True

    def _prompt(self, name: str, variables: dict[str, Any]) -> str:
        return prompts.render(self.settings, f"github/{name}.md.j2", **variables)

    # -- 3. runs -----------------------------------------------------------------------------

    async def advance_commands(self) -> int:
        async with self.sessionmaker() as session:
            ids = (
                await session.scalars(
                    select(GitHubCommand.id).where(GitHubCommand.status == CommandStatus.RUNNING)
                )
            ).all()
        for command_id in ids:
            async with session_scope(self.sessionmaker) as session:
                command = await session.get(GitHubCommand, command_id)
                if command is not None and command.status == CommandStatus.RUNNING:
                    await self._advance(session, command)
        return len(ids)

    async def _sync_steps(self, session: AsyncSession, command: GitHubCommand) -> runs.RunState | None:
        """Copy the run's agent steps onto the checklist; the run's state."""
        if command.run is None:
            return None
        run = copy.deepcopy(command.run)  # the seam may change it; the JSON column sees a new value
        state = await runs.status(session, self.settings, run)
        if run != command.run:
            command.run = run  # the run started its next step
        for step in state.steps:
            fields: dict[str, Any] = {"cost_usd": step.cost_usd}
            if step.started_at:
                fields["started_at"] = step.started_at.isoformat()
            if step.finished_at:
                fields["finished_at"] = step.finished_at.isoformat()
            detail = step.error or (f"{step.phase}" if step.status == "running" and step.phase else None)
            if step.status == "done" and step.no_changes:
                detail = "no changes"
            fields["detail"] = detail
            status = step.status if step.status != "pending" else "pending"
            checklist.set_step(command, step.name, status, **fields)
        return state

    async def _advance(self, session: AsyncSession, command: GitHubCommand) -> None:
        before = [dict(s) for s in command.steps]
        state = await self._sync_steps(session, command)
        if state is None:
            return
        if state.status in ("failed", "cancelled"):
            status = CommandStatus.FAILED if state.status == "failed" else CommandStatus.CANCELLED
            await self._finish(session, command, status, state.error)
            return
        if state.status == "completed":
            thread = await session.get(GitHubThread, command.thread_id)
            if thread is not None and command.verb in ("plan", "refine", "oneshot") and command.started_at:
                if thread.plan_at is None or thread.plan_at < command.started_at:
                    thread.plan_at = utcnow()  # refine's "new feedback" is what comes after this
            if command.cancelled_by:
                await self._finish(session, command, CommandStatus.CANCELLED, None)
                return
            for step in checklist.github_steps(command):
                if step["status"] in ("done", "skipped"):
                    continue
                if step["status"] == "failed":
                    await self._finish(
                        session, command, CommandStatus.FAILED, f"{step['title']}: {step.get('detail')}"
                    )
                    return
                if step["status"] == "pending":
                    await self._github_step(session, command, step, state)
                break
            else:
                await self._finish(session, command, CommandStatus.DONE, None)
                return
        if command.steps != before:
            moved = [s["status"] for s in command.steps] != [s["status"] for s in before]
            await progress.touch(session, self.settings, command, urgent=moved)

    async def _github_step(
        self, session: AsyncSession, command: GitHubCommand, step: dict[str, Any], state: runs.RunState
    ) -> None:
        thread = await session.get(GitHubThread, command.thread_id)
        card = await session.get(Card, command.card_id) if command.card_id else None
        assert thread is not None
        key = step["key"]
        payload: dict[str, Any] = {"command_id": str(command.id), "step": key}
        if key == "pull_request":
            issue = None if thread.is_pr else thread.number
            variables = {
                "title": thread.title,
                "issue": issue,
                "plan_path": thread.plan_path,
                "verb": command.verb,
                "actor": command.actor_login,
                "card_url": progress.card_url(self.settings, command.card_id),
                "summary": await runs.final_text(session, command.run or {}),
            }
            draft = command.verb in ("plan", "refine")
            title = f"Plan: {thread.title}" if draft else thread.title
            payload.update(
                branch=thread.branch,
                title=title[:256],
                draft=draft,
                base=None,
                body=prompts.render(self.settings, "github/pull_request.md.j2", **variables).strip(),
            )
            op = ops.PULL
        elif key == "ready":
            payload["pr_number"] = thread.pr_number
            op = ops.READY
        else:  # answer
            text = await runs.final_text(session, command.run or {}) or ""
            named = _addressed(text)
            given = {t["index"]: t["comment_id"] for t in step.get("threads") or []}
            head = (state.head_sha or "")[:12]
            said = f"Addressed by LazyAF in `{head}` (`{command.verb}` asked by @{command.actor_login})."
            replies = []
            for index in named:
                if index in given:
                    mark = f"<!-- lazyaf:answer command={command.id} thread={index} -->"
                    replies.append({"comment_id": given[index], "marker": mark, "body": f"{said}\n\n{mark}"})
            payload.update(pr_number=thread.pr_number, replies=replies)
            op = ops.ANSWERS
        await outbox.enqueue(
            session,
            repo_id=command.repo_id,
            card_id=card.id if card else None,
            op=op,
            idem_key=f"{op}:{command.id}:{key}",
            payload=payload,
        )
        checklist.set_step(command, key, "running")

    async def _finish(
        self, session: AsyncSession, command: GitHubCommand, status: str, error: str | None
    ) -> None:
        command.status, command.error, command.finished_at = status, error, utcnow()
        for step in list(command.steps or []):
            if step["status"] in ("pending", "running") and status != CommandStatus.DONE:
                checklist.set_step(
                    command, step["key"], "skipped" if step["status"] == "pending" else "cancelled"
                )
        await progress.touch(session, self.settings, command, urgent=True)
        session.info[SESSION_FLAG] = True  # the thread's next command may start
        log.info("github_command_finished", command_id=str(command.id), status=status, error=error)

    # -- 4. progress -------------------------------------------------------------------------

    async def sweep_progress(self) -> int:
        asked = 0
        async with session_scope(self.sessionmaker) as session:
            query = select(GitHubCommand).where(GitHubCommand.progress_final.is_(False))
            for command in (await session.scalars(query)).all():
                asked += await progress.refresh(session, self.settings, command)
        return asked


def _reply_place(thread: GitHubThread, command: GitHubCommand) -> tuple[int, int | None]:
    """Where a reply to ``command`` goes: (issue or pull request number, review comment to answer)."""
    return command.number, command.reply_to_id if command.comment_kind == "review_comment" else None


def _addressed(text: str) -> list[int]:
    """The thread numbers the agent says it addressed ("Addressed threads: 1, 3")."""
    found = ANSWERED.findall(text)
    if not found:
        return []
    return sorted({int(n) for n in re.findall(r"\d+", found[-1])})


async def _branch_sha(path: Any, branch: str) -> str | None:
    (sha,) = await in_thread(git_refs.branch_shas, path, branch)
    return sha
