"""Request dependencies: sessions, settings, get-or-404 lookups."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card
from lazyaf.errors import NotFound
from lazyaf.repos.models import Repo
from lazyaf.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: commit on success, roll back on error."""
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": commit before the response goes out. With FastAPI's default ("request") the
# commit ran after the client had its answer, so a client that created a card and started it at
# once could be told the card did not exist (seen in the board's end-to-end tests under load).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_repo_or_404(repo_id: uuid.UUID, session: SessionDep) -> Repo:
    repo = await session.get(Repo, repo_id)
    if repo is None:
        raise NotFound(f"No repo with id {repo_id}; list repos with GET /api/repos.")
    return repo


async def get_card_or_404(card_id: uuid.UUID, session: SessionDep) -> Card:
    card = await session.get(Card, card_id)
    if card is None:
        raise NotFound(f"No card with id {card_id}; it may have been deleted.")
    return card


RepoDep = Annotated[Repo, Depends(get_repo_or_404)]
CardDep = Annotated[Card, Depends(get_card_or_404)]


def public_base_url(request: Request, settings: Settings) -> str:
    """Where clients reach this server: the configured public URL, else the request's own."""
    return (settings.public_url or str(request.base_url)).rstrip("/")
