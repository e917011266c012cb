"""A factory floor for metrics tests: cards driven through the real orchestration core (start,
claim, complete with a real commit pushed to the attempt ref, fail, retry, request changes,
approve with a real merge) at times the test chooses (time-machine: time is the one thing mocked).

Every attempt that ends is written down in ``ledger``: what the test ran, from which the tests
compute the figures they expect.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import time_machine
from fastapi import FastAPI
from lazyaf_protocol import messages as protocol

from lazyaf.cards.models import Card, CardStatus, Comment
from lazyaf.errors import Conflict
from lazyaf.git import refs as git_refs
from lazyaf.jobs.models import Job, JobKind
from lazyaf.orchestration import attempts, review, runs
from lazyaf.orchestration import cards as card_moves
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.runners.models import Runner, RunnerKind
from lazyaf.settings import Settings
from tests.gitutil import git, make_source_repo, rev


@dataclass
class Ended:
    """One attempt that ended, as the test ran it."""

    repo: str
    card: str
    at: datetime
    status: str
    cost: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    reason: str | None = None
    """The failure reason the test expects it to count under."""
    to_review: bool = False
    """Its end put the card in review (the last step of a run; a run's agent step with a verify
    step after it does not)."""


@dataclass
class Floor:
    app: FastAPI
    settings: Settings
    tmp: Path
    ledger: list[Ended] = field(default_factory=list)
    repos: dict[str, Repo] = field(default_factory=dict)
    cards: dict[str, uuid.UUID] = field(default_factory=dict)
    card_repo: dict[str, str] = field(default_factory=dict)
    runner_id: uuid.UUID | None = None

    @contextmanager
    def at(self, when: datetime) -> Iterator[None]:
        with time_machine.travel(when, tick=False):
            yield

    def path(self, repo: str) -> Path:
        return repo_service.git_path(self.settings, self.repos[repo])

    async def repo(self, name: str) -> Repo:
        async with self.app.state.sessionmaker() as session:
            repo = await repo_service.create(
                session=session, settings=self.settings, repo_in=RepoCreate(name=name)
            )
        source = make_source_repo(self.tmp / f"src-{name}")
        git("push", "-q", str(repo_service.git_path(self.settings, repo)), "main", cwd=source)
        async with self.app.state.sessionmaker() as session:
            row = await session.get(Repo, repo.id)
            assert row is not None
            self.repos[name] = row
        if self.runner_id is None:
            async with self.app.state.sessionmaker() as session:
                runner = Runner(name="floor", kind=RunnerKind.LOCAL)
                session.add(runner)
                await session.commit()
                self.runner_id = runner.id
        return row

    async def start(self, repo: str, title: str, when: datetime, **fields: object) -> uuid.UUID:
        with self.at(when):
            async with self.app.state.sessionmaker() as session:
                card = Card(repo_id=self.repos[repo].id, title=title, position=0, **fields)
                session.add(card)
                await session.flush()
                await card_moves.start_card(session=session, settings=self.settings, card=card)
                await session.commit()
        self.cards[title], self.card_repo[title] = card.id, repo
        return card.id

    async def claim(self, when: datetime) -> Job:
        assert self.runner_id is not None
        with self.at(when):
            async with self.app.state.sessionmaker() as session:
                got = await attempts.claim(session=session, settings=self.settings, runner_id=self.runner_id)
                await session.commit()
        assert got is not None, "no queued attempt to claim"
        return got[0]

    def commit_on(self, repo: str, parent: str, files: dict[str, str], message: str) -> tuple[str, Path]:
        """A real commit with ``files`` on top of ``parent``, fetched into the repo (no ref moved)."""
        work = self.tmp / f"work-{uuid.uuid4().hex[:8]}"
        git("clone", "-q", "--no-checkout", str(self.path(repo)), str(work))
        git("checkout", "-q", parent, cwd=work)
        for name, content in files.items():
            (work / name).write_text(content)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", message, cwd=work)
        return rev(work, "HEAD"), work

    def push_to(self, repo: str, work: Path, ref: str) -> None:
        git("fetch", "-q", str(work), f"+HEAD:{ref}", cwd=self.path(repo))

    async def complete(
        self,
        job: Job,
        when: datetime,
        *,
        cost: float | None,
        tokens: tuple[int, int] | None,
        files: dict[str, str] | None = None,
        failed_check: str | None = None,
    ) -> None:
        """The runner's completion: the agent's commit pushed to the attempt ref, its cost, its checks."""
        title = self._title(job)
        repo = self.card_repo[title]
        (start,) = git_refs.branch_shas(self.path(repo), job.branch)
        assert job.base_sha is not None
        checks = None
        if job.kind == JobKind.VERIFY:
            # A workflow's verify step: the runner runs the repo's checks and pushes nothing.
            assert start is not None
            head = start
            checks = [
                protocol.VerifyResult(
                    name=failed_check or "test",
                    command="pytest -q",
                    exit_code=1 if failed_check else 0,
                    duration_ms=9,
                    output="1 failed" if failed_check else "1 passed",
                )
            ]
        else:
            assert failed_check is None, "checks fail in a verify step (set the repo's checks first)"
            head, work = self.commit_on(
                repo,
                start or job.base_sha,
                files or {f"{job.id.hex[:8]}.txt": f"{title}\n"},
                f"Work on {title}",
            )
            self.push_to(repo, work, protocol.attempt_ref(str(job.id), job.attempt))
        message = protocol.Complete(
            job_id=str(job.id),
            attempt=job.attempt,
            status="completed",
            base_sha=job.base_sha,
            branch_start_sha=start,
            head_sha=head,
            cost_usd=cost,
            input_tokens=tokens[0] if tokens else None,
            output_tokens=tokens[1] if tokens else None,
            verification=checks,
        )
        await self._report(message, when)
        status = "failed" if failed_check else "completed"
        reason = f"verification:{failed_check}" if failed_check else None
        async with self.app.state.sessionmaker() as session:
            card = await session.get(Card, job.card_id)
            to_review = card is not None and card.status == CardStatus.IN_REVIEW
        self._write_down(repo, title, when, status, cost, tokens, reason, to_review=to_review)

    async def fail(
        self,
        job: Job,
        when: datetime,
        *,
        error: str,
        reason: str,
        cost: float | None,
        tokens: tuple[int, int] | None,
    ) -> None:
        """The runner reports the attempt failed with ``error`` (the test expects ``reason``)."""
        message = protocol.Complete(
            job_id=str(job.id),
            attempt=job.attempt,
            status="failed",
            error=error,
            cost_usd=cost,
            input_tokens=tokens[0] if tokens else None,
            output_tokens=tokens[1] if tokens else None,
        )
        await self._report(message, when)
        title = self._title(job)
        self._write_down(self.card_repo[title], title, when, "failed", cost, tokens, reason)

    async def time_out(self, job: Job, when: datetime) -> None:
        """The reaper's safety net fails the attempt far past the job timeout (``when`` must be)."""
        with self.at(when):
            async with self.app.state.sessionmaker() as session:
                failed = await runs.fail_stale_timeouts(session=session, settings=self.settings)
                await session.commit()
        assert [j.id for j in failed] == [job.id]
        title = self._title(job)
        self._write_down(self.card_repo[title], title, when, "failed", None, None, "timeout")

    async def checks(self, repo: str, command: str | None) -> None:
        """Set (or clear) the repo's test command: its cards' workflows then verify."""
        async with self.app.state.sessionmaker() as session:
            row = await session.get(Repo, self.repos[repo].id)
            assert row is not None
            row.test_command = command
            await session.commit()

    async def retry(self, title: str, when: datetime) -> None:
        with self.at(when):
            async with self.app.state.sessionmaker() as session:
                card = await session.get(Card, self.cards[title])
                assert card is not None
                await card_moves.retry_card(session=session, settings=self.settings, card=card)
                await session.commit()

    async def request_changes(self, title: str, when: datetime, comment: str) -> None:
        with self.at(when):
            async with self.app.state.sessionmaker() as session:
                card = await session.get(Card, self.cards[title])
                assert card is not None
                session.add(Comment(card_id=card.id, body=comment))
                await session.flush()
                await review.request_changes(session=session, settings=self.settings, card=card)
                await session.commit()

    async def approve(self, title: str, when: datetime) -> bool:
        """Approve (a real merge); False when it was refused for conflicts."""
        with self.at(when):
            async with self.app.state.sessionmaker() as session:
                card = await session.get(Card, self.cards[title])
                assert card is not None
                try:
                    await review.approve_card(session=session, settings=self.settings, card=card)
                except Conflict:
                    return False
                await session.commit()
        return True

    async def move_main(self, repo: str, files: dict[str, str]) -> None:
        """Someone pushes to the default branch."""
        (main,) = git_refs.branch_shas(self.path(repo), "main")
        assert main is not None
        _, work = self.commit_on(repo, main, files, "Meanwhile on main")
        self.push_to(repo, work, "refs/heads/main")

    async def _report(self, message: protocol.Complete, when: datetime) -> None:
        assert self.runner_id is not None
        with self.at(when):
            async with self.app.state.sessionmaker() as session:
                assert await runs.complete_attempt(
                    session=session, settings=self.settings, message=message, runner_id=self.runner_id
                )
                await session.commit()

    def _title(self, job: Job) -> str:
        return next(t for t, card_id in self.cards.items() if card_id == job.card_id)

    def _write_down(
        self,
        repo: str,
        title: str,
        when: datetime,
        status: str,
        cost: float | None,
        tokens: tuple[int, int] | None,
        reason: str | None,
        *,
        to_review: bool = False,
    ) -> None:
        self.ledger.append(
            Ended(
                repo,
                title,
                when,
                status,
                cost,
                tokens[0] if tokens else None,
                tokens[1] if tokens else None,
                reason,
                to_review,
            )
        )
