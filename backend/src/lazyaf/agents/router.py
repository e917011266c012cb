"""GET /api/agents: whether each agent can run, and with which kind of credential."""

from __future__ import annotations

from fastapi import APIRouter

from lazyaf.agents import service
from lazyaf.agents.schemas import AgentsRead
from lazyaf.api.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/agents", tags=["agents"])


@router.get("")
async def list_agents(session: SessionDep, settings: SettingsDep) -> AgentsRead:
    """Each agent, whether a usable model credential was found and where (kind only, never the
    value; a login's expiry if its file says), and what to do when none was."""
    return await service.agents(session=session, settings=settings)
