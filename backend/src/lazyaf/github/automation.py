"""The automation switch and the WIP limits it hands the scheduler (jobs/admission.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card, CardStatus
from lazyaf.github.models import GitHubLink
from lazyaf.github.schemas import SyncRule
from lazyaf.orchestration import announce


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


async def auto_start_workflow(session: AsyncSession, repo_id: uuid.UUID) -> str | None:
    """The workflow the repo's sync rule starts its cards with (None: no rule, the repo's default)."""
    raw = await session.scalar(select(GitHubLink.sync_rule).where(GitHubLink.repo_id == repo_id))
    return SyncRule.model_validate(raw).workflow if raw else None


async def auto_start_changed(session: AsyncSession, repo_id: uuid.UUID, rule: SyncRule) -> int:
    """The rule's auto-start was switched: synced To Do cards start waiting for a slot (on) or stop
    waiting (off). How many cards changed."""
    query = select(Card).where(
        Card.repo_id == repo_id,
        Card.status == CardStatus.TODO,
        Card.archived_at.is_(None),
        Card.github_issue_number.is_not(None),
    )
    excluded = {label.lower() for label in rule.exclude_labels}
    changed = 0
    now = datetime.now(UTC)
    for card in (await session.scalars(query)).all():
        wanted = (
            rule.auto_start
            and card.github_issue_state == "open"
            and not {label.lower() for label in card.labels or []} & excluded
        )
        if wanted == (card.start_waiting_since is not None):
            continue
        card.start_waiting_since = now if wanted else None
        changed += 1
        announce.card_changed(session, card)
    await session.flush()
    return changed
