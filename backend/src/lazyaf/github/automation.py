"""The automation switch and the WIP limits it hands the scheduler (jobs/admission.py)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.github.models import GitHubLink
from lazyaf.github.schemas import SyncRule


async def wip_limits(session: AsyncSession) -> dict[uuid.UUID, int]:
    """Repos whose waiting cards may start, and how many of their cards may be in progress:
    the linked repos with automation on and a rule that auto-starts."""
    query = select(GitHubLink.repo_id, GitHubLink.sync_rule).where(GitHubLink.automation_enabled.is_(True))
    limits = {}
    for repo_id, raw in (await session.execute(query)).all():
        if raw:
            rule = SyncRule.model_validate(raw)
            if rule.auto_start:
                limits[repo_id] = rule.max_concurrent
    return limits
