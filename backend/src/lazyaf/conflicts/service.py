"""Predictions in the database: one pass per repo brings the table in line with git, and says so.

``refresh`` reads the repo's active cards (in progress or in review, not archived, with a
branch), surveys their branches in a worker thread with no session open (``predict.survey``), then
in one transaction inserts what is new, updates what changed, clears what git no longer predicts or
whose cards left, and records a ``card_conflicts`` board event with the card's whole list for every
card whose list changed (the board replaces what it had). A pass whose branches and cards are
exactly those of the repo's last pass (``Passes``) stops before git and writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lazyaf.cards.models import Card, CardStatus
from lazyaf.conflicts import predict
from lazyaf.conflicts.models import ConflictPrediction
from lazyaf.conflicts.schemas import ClearedReason, ConflictKind, ConflictRead
from lazyaf.db.engine import session_scope
from lazyaf.events.bus import EventBus
from lazyaf.events.schemas import ConflictsUpdated
from lazyaf.git.run import in_thread
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)

ACTIVE = (CardStatus.IN_PROGRESS, CardStatus.IN_REVIEW)
"""Cards whose branches are compared: work under way or waiting for review."""

Key = tuple[uuid.UUID, str]
"""A prediction's identity: the card, and ``card:<id>`` or ``branch:<name>`` for the other side."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _active(repo_id: uuid.UUID) -> Any:
    return (
        select(Card.id, Card.title, Card.branch_name)
        .where(
            Card.repo_id == repo_id,
            Card.status.in_(ACTIVE),
            Card.archived_at.is_(None),
            Card.branch_name.is_not(None),
        )
        .order_by(Card.id)
    )


def _key(card_id: uuid.UUID, other_card_id: uuid.UUID | None, target: str | None) -> Key:
    return card_id, f"card:{other_card_id}" if other_card_id is not None else f"branch:{target}"


def _row_key(row: ConflictPrediction) -> Key:
    return _key(row.card_id, row.other_card_id, row.target_branch)


def read(row: ConflictPrediction, titles: dict[uuid.UUID, str]) -> ConflictRead:
    """The API's shape of a row; ``titles`` has the other cards' titles."""
    if row.other_card_id is None:
        return ConflictRead(
            with_=row.target_branch or "",
            target=True,
            files=row.files,
            kind=ConflictKind(row.kind),
            detected_at=row.detected_at,
        )
    return ConflictRead(
        with_=str(row.other_card_id),
        with_title=titles.get(row.other_card_id),
        target=False,
        files=row.files,
        kind=ConflictKind(row.kind),
        detected_at=row.detected_at,
    )


def _order(rows: Iterable[ConflictPrediction]) -> list[ConflictPrediction]:
    # Conflicts first, then the target, then by when they were seen.
    return sorted(
        rows,
        key=lambda r: (
            r.kind != ConflictKind.CONFLICT,
            r.other_card_id is not None,
            r.detected_at,
            r.id or 0,
        ),
    )


async def _titles(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Card.id, Card.title).where(Card.id.in_(ids)))
    return {card_id: title for card_id, title in rows.all()}


async def for_card(session: AsyncSession, card: Card) -> list[ConflictRead]:
    """The card's active predictions: conflicts first."""
    query = select(ConflictPrediction).where(
        ConflictPrediction.card_id == card.id,
        ConflictPrediction.repo_id == card.repo_id,
        ConflictPrediction.cleared_at.is_(None),
    )
    rows = _order((await session.scalars(query)).all())
    titles = await _titles(session, {r.other_card_id for r in rows if r.other_card_id is not None})
    return [read(r, titles) for r in rows]


async def for_repo(session: AsyncSession, repo_id: uuid.UUID) -> dict[uuid.UUID, list[ConflictRead]]:
    """Every card's active predictions in the repo, by card id."""
    query = select(ConflictPrediction).where(
        ConflictPrediction.repo_id == repo_id, ConflictPrediction.cleared_at.is_(None)
    )
    rows = _order((await session.scalars(query)).all())
    titles = await _titles(session, {r.other_card_id for r in rows if r.other_card_id is not None})
    found: dict[uuid.UUID, list[ConflictRead]] = {}
    for row in rows:
        found.setdefault(row.card_id, []).append(read(row, titles))
    return found


# --- the pass -------------------------------------------------------------------------------------


Fingerprint = tuple[str, str | None, tuple[tuple[str, str, str | None], ...]]
"""What a pass depends on: the target branch and its tip, each active card, its branch and tip."""


class Passes:
    """What each repo's last pass saw: a pass that would see the same has nothing to do. In memory:
    after a restart the first pass of each repo runs in full."""

    def __init__(self) -> None:
        self._last: dict[uuid.UUID, Fingerprint] = {}

    def last(self, repo_id: uuid.UUID) -> Fingerprint | None:
        return self._last.get(repo_id)

    def remember(self, repo_id: uuid.UUID, fingerprint: Fingerprint) -> None:
        self._last[repo_id] = fingerprint

    def forget(self, repo_id: uuid.UUID) -> None:
        self._last.pop(repo_id, None)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a pass did: the cards whose lists it changed (and announced); ``skipped``: nothing had
    changed since the last pass (or the repo is gone)."""

    changed: frozenset[uuid.UUID]
    skipped: bool = False


async def refresh(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    repo_id: uuid.UUID,
    passes: Passes | None = None,
) -> Outcome:
    """Bring the repo's predictions in line with its branches now (module docstring)."""
    async with sessionmaker() as session:
        repo = await session.get(Repo, repo_id)
        if repo is None:
            if passes is not None:
                passes.forget(repo_id)
            return Outcome(frozenset(), skipped=True)
        target = repo.default_branch
        sides = [
            predict.Side(card_id, branch) for card_id, _title, branch in await _active_cards(session, repo_id)
        ]
    last = passes.last(repo_id) if passes is not None else None
    looked = await in_thread(_look, git_path(settings, repo_id), target, sides, last)
    if looked is None:
        return Outcome(frozenset(), skipped=True)
    fingerprint, survey = looked
    async with session_scope(sessionmaker) as session:
        changed = await _apply(session, repo_id, target, survey.found)
    if passes is not None:
        passes.remember(repo_id, fingerprint)
    if changed:
        log.info("conflicts_predicted", repo_id=str(repo_id), cards=len(changed), found=len(survey.found))
    return Outcome(frozenset(changed))


def _look(
    path: Path, target: str, sides: Sequence[predict.Side], last: Fingerprint | None
) -> tuple[Fingerprint, predict.Survey] | None:
    """The survey of ``sides`` (one worker-thread trip), unless the refs are where ``last`` saw them."""
    target_sha, at = predict.tips(path, target, sides)
    fingerprint = (
        target,
        target_sha,
        tuple((str(s.card_id), s.branch, t) for s, t in zip(sides, at, strict=True)),
    )
    if fingerprint == last:
        return None
    return fingerprint, predict.survey_at(path, target_sha, at, sides)


async def _active_cards(session: AsyncSession, repo_id: uuid.UUID) -> list[tuple[uuid.UUID, str, str]]:
    rows = await session.execute(_active(repo_id))
    return [(card_id, title, branch) for card_id, title, branch in rows.all()]


async def _apply(
    session: AsyncSession, repo_id: uuid.UUID, target: str, found: list[predict.Found]
) -> set[uuid.UUID]:
    """Write the survey's findings over the repo's active rows; announce the cards whose list changed."""
    now = utcnow()
    # Cards may have left since the survey read them: only what is active now is kept.
    active = {card_id for card_id, _t, _b in await _active_cards(session, repo_id)}
    wanted: dict[Key, predict.Found] = {}
    for f in found:
        if f.card_id in active and (f.other_card_id is None or f.other_card_id in active):
            wanted[_key(f.card_id, f.other_card_id, None if f.other_card_id else target)] = f
    rows = (
        await session.scalars(
            select(ConflictPrediction).where(
                ConflictPrediction.repo_id == repo_id, ConflictPrediction.cleared_at.is_(None)
            )
        )
    ).all()
    held = {_row_key(r): r for r in rows}
    others = {r.other_card_id for r in rows if r.other_card_id is not None}
    gone = await _statuses(session, ({r.card_id for r in rows} | others) - active)
    changed: set[uuid.UUID] = set()
    for key, row in held.items():
        want = wanted.get(key)
        if want is None:
            _clear(row, now, _why(row, active, gone))
            changed.add(row.card_id)
        elif want.kind != row.kind:
            _clear(row, now, "changed")
            changed.add(row.card_id)
        else:
            if list(want.files) != row.files:
                row.files = list(want.files)
                changed.add(row.card_id)
            row.card_sha, row.other_sha, row.checked_at = want.card_sha, want.other_sha, now
    for key, want in wanted.items():
        kept = held.get(key)
        if kept is not None and kept.cleared_at is None:
            continue
        session.add(
            ConflictPrediction(
                repo_id=repo_id,
                card_id=want.card_id,
                other_card_id=want.other_card_id,
                target_branch=target if want.other_card_id is None else None,
                kind=str(want.kind),
                files=list(want.files),
                card_sha=want.card_sha,
                other_sha=want.other_sha,
                detected_at=now,
                checked_at=now,
            )
        )
        changed.add(want.card_id)
    await session.flush()
    await _announce(session, repo_id, changed)
    return changed


async def _statuses(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, CardStatus | None]:
    """The status of each card in ``ids``; None for a card that no longer exists."""
    if not ids:
        return {}
    rows = await session.execute(select(Card.id, Card.status).where(Card.id.in_(ids)))
    found: dict[uuid.UUID, CardStatus | None] = dict.fromkeys(ids)
    found.update({card_id: status for card_id, status in rows.all()})
    return found


def _why(
    row: ConflictPrediction, active: set[uuid.UUID], statuses: dict[uuid.UUID, CardStatus | None]
) -> ClearedReason:
    if row.card_id not in active:
        return "merged" if statuses.get(row.card_id) == CardStatus.DONE else "inactive"
    if row.other_card_id is not None and row.other_card_id not in active:
        return "other_merged" if statuses.get(row.other_card_id) == CardStatus.DONE else "inactive"
    return "resolved"


def _clear(row: ConflictPrediction, now: datetime, reason: ClearedReason) -> None:
    row.cleared_at, row.cleared_reason = now, reason


async def _announce(session: AsyncSession, repo_id: uuid.UUID, cards: set[uuid.UUID]) -> None:
    if not cards:
        return
    query = select(ConflictPrediction).where(
        ConflictPrediction.card_id.in_(cards), ConflictPrediction.cleared_at.is_(None)
    )
    rows = _order((await session.scalars(query)).all())
    titles = await _titles(session, {r.other_card_id for r in rows if r.other_card_id is not None})
    lists: dict[uuid.UUID, list[ConflictRead]] = {card_id: [] for card_id in cards}
    for row in rows:
        lists[row.card_id].append(read(row, titles))
    for card_id in sorted(cards):
        EventBus.record(session, ConflictsUpdated(card_id=card_id, repo_id=repo_id, conflicts=lists[card_id]))
