"""What an agent's prompt carries of the GitHub issue its card came from (``github`` in prompts/steps/).

Everything here was sanitized when it was synced (``sync``/``sanitize``) and goes into the
prompt inside a ``<github_issue>`` block that the template calls data, not instructions. The
card's own title and description are the instructions only when a person edited them;
otherwise the task is "resolve the issue", and the issue's text is evidence, not orders.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card
from lazyaf.github.models import GitHubIssue


async def issue_context(session: AsyncSession, card: Card) -> dict[str, Any] | None:
    """The issue of ``card`` for the prompt, or None when the card came from no issue."""
    if card.github_issue_number is None:
        return None
    row = await session.scalar(select(GitHubIssue).where(GitHubIssue.card_id == card.id))
    if row is None:
        return None
    return {
        "number": row.number,
        "url": row.html_url,
        "repository": row.full_name,
        "title": row.title,
        "body": row.body,
        "labels": list(row.labels),
        "author": row.author or "ghost",
        "state": row.state,
        "comments": list(row.comments),
        "comments_left_out": max(0, row.comment_count - len(row.comments)),
        "edited": card.title != row.synced_title or card.description != row.synced_body,
    }
