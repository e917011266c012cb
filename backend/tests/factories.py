"""Small async builders for test data; override only what matters."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card, CardStatus
from lazyaf.repos.models import Repo


async def make_repo(session: AsyncSession, **fields: Any) -> Repo:
    repo = Repo(**{"name": f"repo-{id(fields)}", "default_branch": "main", **fields})
    session.add(repo)
    await session.flush()
    return repo


async def make_card(
    session: AsyncSession, *, repo: Repo, status: CardStatus = CardStatus.TODO, **fields: Any
) -> Card:
    card = Card(repo_id=repo.id, status=status, **{"title": "A card", "position": 0, **fields})
    session.add(card)
    await session.flush()
    return card
