"""Predictions in the database against real bare repos: what each card's list says, how rows clear
(and why), which board events say so, and that a card of another repo never appears."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select

from lazyaf.cards.models import Card, CardStatus
from lazyaf.conflicts import service
from lazyaf.conflicts.models import ConflictPrediction
from lazyaf.events.models import BoardEvent
from lazyaf.orchestration import review
from lazyaf.repos import service as repo_service
from lazyaf.repos.models import Repo
from lazyaf.repos.schemas import RepoCreate
from lazyaf.settings import Settings
from tests.conflicts.conftest import BASE, branch, edit
from tests.gitutil import Work, git


@pytest.fixture(autouse=True)
async def _dispose_engine(app: FastAPI) -> AsyncIterator[None]:
    # The app's database without its lifespan: close its connections in this test's event loop.
    yield
    await app.state.engine.dispose()


class World:
    """A repo on disk and in the database, cards on branches, and passes of the prediction."""

    def __init__(self, app: FastAPI, settings: Settings, repo: Repo, work: Work) -> None:
        self.app, self.settings, self.repo, self.work = app, settings, repo, work
        self.passes = service.Passes()

    async def card(self, title: str, status: CardStatus, files: dict[str, Any] | None, **fields: Any) -> Card:
        """A card in ``status``; with ``files``, on its own branch with one commit of them."""
        name = f"lazyaf/{uuid.uuid4().hex[:8]}-{title.lower().replace(' ', '-')}"
        if files is not None:
            branch(self.work, name, files)
        async with self.app.state.sessionmaker() as session:
            card = Card(repo_id=self.repo.id, title=title, status=status, branch_name=name, **fields)
            session.add(card)
            await session.commit()
        return card

    async def refresh(self) -> service.Outcome:
        return await service.refresh(
            sessionmaker=self.app.state.sessionmaker,
            settings=self.settings,
            repo_id=self.repo.id,
            passes=self.passes,
        )

    async def conflicts(self, card: Card) -> list[dict[str, Any]]:
        async with self.app.state.sessionmaker() as session:
            found = await service.for_card(session, card)
        return [c.model_dump(mode="json") for c in found]

    async def rows(self) -> list[ConflictPrediction]:
        async with self.app.state.sessionmaker() as session:
            query = select(ConflictPrediction).order_by(ConflictPrediction.id)
            return list((await session.scalars(query)).all())

    async def set(self, card: Card, **fields: Any) -> None:
        async with self.app.state.sessionmaker() as session:
            row = await session.get(Card, card.id)
            assert row is not None
            for key, value in fields.items():
                setattr(row, key, value)
            await session.commit()


async def _events(app: FastAPI) -> list[dict[str, Any]]:
    """The card_conflicts events recorded so far (and forget them, so the next read is fresh)."""
    async with app.state.sessionmaker() as session:
        rows = (await session.scalars(select(BoardEvent).where(BoardEvent.type == "card_conflicts"))).all()
        await session.execute(delete(BoardEvent))
        await session.commit()
    return [r.data for r in rows]


async def _new_repo(app: FastAPI, settings: Settings, tmp_path: Path, name: str) -> tuple[Repo, Work]:
    async with app.state.sessionmaker() as session:
        repo = await repo_service.create(session=session, settings=settings, repo_in=RepoCreate(name=name))
    work = Work(tmp_path / f"work-{name}", repo_service.git_path(settings, repo))
    work.commit(dict(BASE), "Base")
    work.push("main")
    return repo, work


@pytest.fixture
async def world(app: FastAPI, settings: Settings, tmp_path: Path) -> World:
    repo, work = await _new_repo(app, settings, tmp_path, "demo")
    await _events(app)
    return World(app, settings, repo, work)


def _readme(line: int, text: str) -> dict[str, Any]:
    return {"README.md": edit(BASE["README.md"], line, text)}


async def test_two_cards_changing_readme_list_each_other(world: World) -> None:
    a = await world.card("Readme A", CardStatus.IN_REVIEW, _readme(2, "by a"))
    b = await world.card("Readme B", CardStatus.IN_PROGRESS, _readme(2, "by b"))
    outcome = await world.refresh()
    assert outcome.changed == {a.id, b.id}
    (seen_by_a,) = await world.conflicts(a)
    assert {k: seen_by_a[k] for k in ("with", "with_title", "target", "files", "kind")} == {
        "with": str(b.id),
        "with_title": "Readme B",
        "target": False,
        "files": ["README.md"],
        "kind": "conflict",
    }
    (seen_by_b,) = await world.conflicts(b)
    assert seen_by_b["with"] == str(a.id) and seen_by_b["files"] == ["README.md"]
    events = {e["card_id"]: e for e in await _events(world.app)}
    assert set(events) == {str(a.id), str(b.id)}
    assert events[str(a.id)]["repo_id"] == str(world.repo.id)
    assert events[str(a.id)]["conflicts"] == [seen_by_a]


async def test_a_pass_that_sees_nothing_new_writes_nothing(world: World) -> None:
    await world.card("Readme A", CardStatus.IN_REVIEW, _readme(2, "by a"))
    await world.card("Readme B", CardStatus.IN_REVIEW, _readme(2, "by b"))
    await world.refresh()
    await _events(world.app)
    again = await world.refresh()
    assert again.skipped and again.changed == frozenset()
    # A pass that cannot skip (no memory of the last one) still changes nothing: same rows, no event.
    before = [(r.id, r.detected_at) for r in await world.rows()]
    world.passes = service.Passes()
    assert (await world.refresh()).changed == frozenset()
    assert [(r.id, r.detected_at) for r in await world.rows()] == before
    assert await _events(world.app) == []


async def test_after_one_merges_the_other_conflicts_with_the_target_until_resolved(world: World) -> None:
    a = await world.card("Readme A", CardStatus.IN_REVIEW, _readme(2, "by a"))
    b = await world.card("Readme B", CardStatus.IN_REVIEW, _readme(2, "by b"))
    await world.refresh()
    async with world.app.state.sessionmaker() as session:
        card = await session.get(Card, a.id)
        assert card is not None
        await review.approve_card(session=session, settings=world.settings, card=card)
        await session.commit()
    await _events(world.app)
    assert (await world.refresh()).changed == {a.id, b.id}
    assert await world.conflicts(a) == []
    (target,) = await world.conflicts(b)
    assert (target["with"], target["target"], target["kind"], target["files"]) == (
        "main",
        True,
        "conflict",
        ["README.md"],
    )
    assert "with_title" not in target or target["with_title"] is None
    cleared = {(r.card_id, r.cleared_reason) for r in await world.rows() if r.cleared_at is not None}
    assert cleared == {(a.id, "merged"), (b.id, "other_merged")}
    events = {e["card_id"]: e["conflicts"] for e in await _events(world.app)}
    assert events[str(a.id)] == [] and events[str(b.id)] == [target]

    # The agent resolves it: main merged into the card branch, the conflict settled.
    assert b.branch_name is not None
    world.work.run("fetch", "-q", "origin")
    world.work.run("checkout", "-q", "-B", b.branch_name, f"origin/{b.branch_name}")
    git("merge", "-q", "origin/main", cwd=world.work.path, check=False)
    world.work.commit(_readme(2, "by a and b"), "Resolve the conflict with main")
    world.work.push(b.branch_name)
    assert (await world.refresh()).changed == {b.id}
    assert await world.conflicts(b) == []
    assert [r.cleared_reason for r in await world.rows() if r.card_id == b.id and r.target_branch] == [
        "resolved"
    ]
    assert await _events(world.app) == [
        {"card_id": str(b.id), "repo_id": str(world.repo.id), "conflicts": []}
    ]


async def test_overlap_then_conflict_is_a_new_prediction(world: World) -> None:
    a = await world.card("Top", CardStatus.IN_PROGRESS, _readme(2, "top by a"))
    b = await world.card("Bottom", CardStatus.IN_PROGRESS, _readme(9, "bottom by b"))
    await world.refresh()
    assert [(c["kind"], c["files"]) for c in await world.conflicts(a)] == [("overlap", ["README.md"])]
    assert b.branch_name is not None
    branch(world.work, b.branch_name, _readme(2, "top by b too"), start=b.branch_name)
    assert (await world.refresh()).changed == {a.id, b.id}
    assert [c["kind"] for c in await world.conflicts(a)] == ["conflict"]
    rows = [(str(r.card_id), r.kind, r.cleared_reason) for r in await world.rows()]
    assert rows.count((str(a.id), "overlap", "changed")) == 1
    assert rows.count((str(a.id), "conflict", None)) == 1


@pytest.mark.parametrize(
    "leave",
    [
        pytest.param({"archived_at": "now"}, id="archived"),
        pytest.param({"status": CardStatus.DONE}, id="done"),
        pytest.param({"status": CardStatus.TODO}, id="back-to-todo"),
        pytest.param({"status": CardStatus.FAILED}, id="failed"),
        pytest.param(None, id="deleted"),
    ],
)
async def test_cards_that_leave_drop_out_of_the_others_lists(
    world: World, leave: dict[str, Any] | None
) -> None:
    from datetime import UTC, datetime

    a = await world.card("Readme A", CardStatus.IN_REVIEW, _readme(2, "by a"))
    b = await world.card("Readme B", CardStatus.IN_REVIEW, _readme(2, "by b"))
    await world.refresh()
    await _events(world.app)
    if leave is None:
        async with world.app.state.sessionmaker() as session:
            await session.execute(delete(Card).where(Card.id == a.id))
            await session.commit()
    else:
        await world.set(a, **{k: datetime.now(UTC) if v == "now" else v for k, v in leave.items()})
    await world.refresh()
    assert await world.conflicts(b) == []
    events = {e["card_id"]: e["conflicts"] for e in await _events(world.app)}
    assert events[str(b.id)] == []
    reasons = {r.card_id: r.cleared_reason for r in await world.rows()}
    expected = "other_merged" if leave == {"status": CardStatus.DONE} else "inactive"
    assert reasons[b.id] == expected
    if leave is None:
        assert a.id not in reasons and str(a.id) not in events  # its own rows went with it
    else:
        assert events[str(a.id)] == [] and await world.conflicts(a) == []


async def test_todo_cards_and_cards_without_a_branch_are_not_compared(world: World) -> None:
    a = await world.card("Readme A", CardStatus.IN_REVIEW, _readme(2, "by a"))
    await world.card("Readme B", CardStatus.TODO, _readme(2, "by b"))
    await world.card("Not pushed yet", CardStatus.IN_PROGRESS, None)
    await world.refresh()
    assert await world.conflicts(a) == [] and await world.rows() == []


async def test_a_card_of_another_repo_never_appears(
    world: World, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    a = await world.card("Readme A", CardStatus.IN_REVIEW, _readme(2, "by a"))
    b = await world.card("Readme B", CardStatus.IN_REVIEW, _readme(2, "by b"))
    repo2, work2 = await _new_repo(app, settings, tmp_path, "other")
    other = World(app, settings, repo2, work2)
    c = await other.card("Readme C", CardStatus.IN_REVIEW, _readme(2, "by c"))
    d = await other.card("Readme D", CardStatus.IN_REVIEW, _readme(2, "by d"))
    await world.refresh()
    await other.refresh()
    assert [x["with"] for x in await world.conflicts(a)] == [str(b.id)]
    assert [x["with"] for x in await other.conflicts(c)] == [str(d.id)]
    async with app.state.sessionmaker() as session:
        by_card = await service.for_repo(session, world.repo.id)
    assert set(by_card) == {a.id, b.id}
    assert {r.repo_id for r in await world.rows() if r.card_id in (c.id, d.id)} == {repo2.id}
