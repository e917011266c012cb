"""The hold policy's check on real bare repos: which job waits for which card, and why, and which
does not (other policy, no plan, other files, behind it, another repo)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from lazyaf.cards.models import Card, CardStatus
from lazyaf.conflicts.holds import hold_reason
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.settings import Settings
from tests.conflicts.conftest import BASE, branch, edit
from tests.gitutil import Work

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
async def _dispose_engine(app: FastAPI) -> AsyncIterator[None]:
    yield
    await app.state.engine.dispose()


def plan(*files: str) -> dict[str, Any]:
    listed = "".join(f"  - {f}\n" for f in files)
    return {"plan": f"---\nfiles:\n{listed}---\n\n# The plan\n\nDo it.\n"}


class HeldRepo:
    def __init__(self, app: FastAPI, settings: Settings, repo: Repo, work: Work) -> None:
        self.app, self.settings, self.repo, self.work = app, settings, repo, work

    async def card(
        self,
        title: str,
        status: CardStatus,
        *,
        files: dict[str, Any] | None = None,
        planned: tuple[str, ...] | None = None,
        job: JobStatus | None = None,
        queued: int = 0,
        priority: int = 1,
    ) -> tuple[Card, Job | None]:
        """A card on its own branch with ``files`` changed and a plan listing ``planned`` (at
        ``docs/plans/<slug>.md``), its current job in status ``job``, queued ``queued`` minutes after T0."""
        slug = f"{uuid.uuid4().hex[:8]}-{title.lower().replace(' ', '-')}"
        name = f"lazyaf/{slug}"
        content = dict(files or {})
        if planned is not None:
            content[f"docs/plans/{slug}.md"] = plan(*planned)["plan"]
        branch(self.work, name, content)
        async with self.app.state.sessionmaker() as session:
            card = Card(repo_id=self.repo.id, title=title, status=status, branch_name=name)
            session.add(card)
            await session.flush()
            row = None
            if job is not None:
                row = Job(
                    card_id=card.id,
                    status=job,
                    priority=priority,
                    queued_at=T0 + timedelta(minutes=queued),
                    branch=name,
                )
                session.add(row)
                await session.flush()
                card.job_id = row.id
            await session.commit()
        return card, row

    async def reason(self, job: Job | None) -> str | None:
        assert job is not None
        async with self.app.state.sessionmaker() as session:
            return await hold_reason(session, self.settings, job)

    async def policy(self, policy: str) -> None:
        async with self.app.state.sessionmaker() as session:
            repo = await session.get(Repo, self.repo.id)
            assert repo is not None
            repo.conflict_policy = policy
            await session.commit()

    async def set(self, card: Card, **fields: Any) -> None:
        async with self.app.state.sessionmaker() as session:
            row = await session.get(Card, card.id)
            assert row is not None
            for key, value in fields.items():
                setattr(row, key, value)
            await session.commit()


async def _repo(
    app: FastAPI, settings: Settings, tmp_path: Path, name: str, policy: str = "hold"
) -> HeldRepo:
    async with app.state.sessionmaker() as session:
        repo = await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name=name))
    work = Work(tmp_path / f"work-{name}", repo_service.git_path(settings, repo))
    work.commit(dict(BASE), "Base")
    work.push("main")
    made = HeldRepo(app, settings, repo, work)
    await made.policy(policy)
    return made


@pytest.fixture
async def r(app: FastAPI, settings: Settings, tmp_path: Path) -> HeldRepo:
    return await _repo(app, settings, tmp_path, "held")


README = {"README.md": edit(BASE["README.md"], 2, "changed")}


async def test_a_plan_overlapping_a_running_cards_changes_is_held(r: HeldRepo) -> None:
    await r.card("Running one", CardStatus.IN_PROGRESS, files=README, job=JobStatus.RUNNING)
    _, job = await r.card(
        "Planned one", CardStatus.IN_PROGRESS, planned=("README.md", "src/new.py"), job=JobStatus.QUEUED
    )
    assert await r.reason(job) == (
        "conflict_policy hold: its plan touches files of 'Running one' (running): README.md; "
        "it starts once that card is reviewed"
    )


async def test_warn_never_holds(r: HeldRepo) -> None:
    await r.card("Running one", CardStatus.IN_PROGRESS, files=README, job=JobStatus.RUNNING)
    _, job = await r.card("Planned one", CardStatus.IN_PROGRESS, planned=("README.md",), job=JobStatus.QUEUED)
    await r.policy("warn")
    assert await r.reason(job) is None


async def test_without_a_plan_or_with_other_files_nothing_is_held(r: HeldRepo) -> None:
    await r.card("Running one", CardStatus.IN_PROGRESS, files=README, job=JobStatus.RUNNING)
    _, no_plan = await r.card("No plan", CardStatus.IN_PROGRESS, files=README, job=JobStatus.QUEUED)
    _, elsewhere = await r.card("Elsewhere", CardStatus.IN_PROGRESS, planned=("docs/",), job=JobStatus.QUEUED)
    assert await r.reason(no_plan) is None
    assert await r.reason(elsewhere) is None


async def test_an_in_review_card_holds_until_it_is_reviewed(r: HeldRepo) -> None:
    reviewed, _ = await r.card(
        "Waiting review", CardStatus.IN_REVIEW, files={"src/app.py": "new\n"}, job=JobStatus.COMPLETED
    )
    _, job = await r.card("Planned one", CardStatus.IN_PROGRESS, planned=("src/",), job=JobStatus.QUEUED)
    reason = await r.reason(job)
    assert reason is not None and "'Waiting review' (in review): src/app.py" in reason
    await r.set(reviewed, status=CardStatus.DONE)
    assert await r.reason(job) is None


async def test_the_other_cards_plan_counts_before_it_changes_anything(r: HeldRepo) -> None:
    await r.card("Plan only", CardStatus.IN_PROGRESS, planned=("README.md",), job=JobStatus.RUNNING)
    _, job = await r.card(
        "Planned one", CardStatus.IN_PROGRESS, planned=("./README.md",), job=JobStatus.QUEUED
    )
    reason = await r.reason(job)
    assert reason is not None and "'Plan only'" in reason


async def test_two_queued_cards_never_hold_each_other(r: HeldRepo) -> None:
    _, first = await r.card(
        "First", CardStatus.IN_PROGRESS, planned=("README.md",), job=JobStatus.QUEUED, queued=0
    )
    _, second = await r.card(
        "Second", CardStatus.IN_PROGRESS, planned=("README.md",), job=JobStatus.QUEUED, queued=1
    )
    assert await r.reason(first) is None
    reason = await r.reason(second)
    assert reason is not None and "'First' (queued first)" in reason
    # Priority goes before age, as in the claim: a more urgent later card goes first.
    _, urgent = await r.card(
        "Urgent", CardStatus.IN_PROGRESS, planned=("README.md",), job=JobStatus.QUEUED, queued=2, priority=3
    )
    assert await r.reason(urgent) is None
    assert "'Urgent'" in (await r.reason(first) or "")


async def test_cards_that_left_and_cards_of_other_repos_hold_nothing(
    r: HeldRepo, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    other = await _repo(app, settings, tmp_path, "elsewhere")
    await other.card("Other repo", CardStatus.IN_PROGRESS, files=README, job=JobStatus.RUNNING)
    archived, _ = await r.card("Archived", CardStatus.IN_PROGRESS, files=README, job=JobStatus.RUNNING)
    await r.set(archived, archived_at=T0)
    await r.card("Todo", CardStatus.TODO, files=README)
    await r.card("Failed", CardStatus.FAILED, files=README, job=JobStatus.FAILED)
    _, job = await r.card("Planned one", CardStatus.IN_PROGRESS, planned=("README.md",), job=JobStatus.QUEUED)
    assert await r.reason(job) is None


async def test_a_job_whose_card_is_gone_is_not_held(r: HeldRepo) -> None:
    _, job = await r.card("Planned one", CardStatus.IN_PROGRESS, planned=("README.md",), job=JobStatus.QUEUED)
    assert job is not None
    stray = Job(card_id=uuid.uuid4(), status=JobStatus.QUEUED, queued_at=T0)
    assert await r.reason(stray) is None


async def test_the_servers_decision_holds_by_the_repos_conflict_policy(r: HeldRepo) -> None:
    """Wired into the scheduler (main.py registers the check): the dispatcher's own walk of the
    queue holds the planned card with the policy's sentence, and frees it once the other is done."""
    assert hold_reason in r.app.state.hold_checks
    running, _ = await r.card("Running one", CardStatus.IN_PROGRESS, files=README, job=JobStatus.RUNNING)
    _, job = await r.card("Planned one", CardStatus.IN_PROGRESS, planned=("README.md",), job=JobStatus.QUEUED)
    assert job is not None

    async def verdict() -> Any:
        async with r.app.state.sessionmaker() as session:
            verdicts, _ = await r.app.state.dispatcher.preview(session)
        (mine,) = [v for v in verdicts if v.queued.job_id == job.id]
        return mine

    held = await verdict()
    assert held.hold is not None and held.fail is None
    assert held.hold.message.startswith("held: conflict_policy hold: its plan touches files of 'Running one'")
    await r.set(running, status=CardStatus.DONE)
    assert (await verdict()).hold is None
