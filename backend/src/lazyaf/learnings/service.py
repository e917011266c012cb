"""Learnings: short advice about a repository, scoped to path globs, proposed by agents and
reviewers, accepted by people, put into the prompts of cards that touch their paths.

The rule that matters: **nothing reaches a prompt until a person accepts it.** Agents propose
(``propose``: the fenced ``learnings`` block of an attempt's final message, parsed as untrusted
data by ``parse.py``); a reviewer keeps a comment (``from_comment``); a person writes, accepts,
edits, retires or deletes (the API). ``for_prompt`` picks accepted learnings whose globs cover
the card's paths, most useful first (reviewers' helpful minus harmful marks, then uses), within
a character budget, counts each use (``learning_use``), and renders them as one block of data
that the template quotes (``untrusted``): an accepted learning is still not an instruction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.cards.models import Card, Comment
from lazyaf.db.base import utcnow
from lazyaf.errors import Conflict, InvalidInput, NotFound
from lazyaf.events.bus import EventBus
from lazyaf.events.schemas import LearningDeleted, LearningUpdated
from lazyaf.jobs.models import Job, JobEvent
from lazyaf.learnings import parse
from lazyaf.learnings import paths as learning_paths
from lazyaf.learnings.models import (
    Learning,
    LearningKind,
    LearningMark,
    LearningSource,
    LearningStatus,
    LearningUse,
    LearningVerdict,
)
from lazyaf.learnings.schemas import (
    TEXT_LIMIT,
    CardLearningRead,
    CardLearningsRead,
    CommentLearningCreate,
    LearningCreate,
    LearningRead,
    LearningUpdate,
)
from lazyaf.redaction import server_redactor
from lazyaf.repos.models import Repo
from lazyaf.repos.service import git_path
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)

MAX_PENDING = 50
"""Proposed learnings a repo keeps waiting for a person; agents' proposals beyond are dropped."""
DEFAULT_BUDGET = 3000


def _same(text: str) -> str:
    return " ".join(text.casefold().split())


def usefulness(learning: Learning) -> tuple[int, int]:
    """How learnings are ordered: reviewers' helpful minus harmful marks, then uses."""
    return (learning.helpful - learning.harmful, learning.uses)


def announce(session: AsyncSession, learning: Learning) -> None:
    EventBus.record(session, LearningUpdated(learning=LearningRead.model_validate(learning)))


# --- reading --------------------------------------------------------------------------------------


async def list_for_repo(
    *, session: AsyncSession, repo: Repo, status: LearningStatus | None = None
) -> list[Learning]:
    """The repo's learnings (of one status), most useful first, newest first among equals."""
    query = select(Learning).where(Learning.repo_id == repo.id)
    if status is not None:
        query = query.where(Learning.status == status)
    query = query.order_by(
        (Learning.helpful - Learning.harmful).desc(), Learning.uses.desc(), Learning.created_at.desc()
    )
    return list((await session.scalars(query)).all())


async def get(*, session: AsyncSession, learning_id: uuid.UUID) -> Learning:
    learning = await session.get(Learning, learning_id)
    if learning is None:
        raise NotFound(
            f"No learning with id {learning_id}; list a repo's with GET /api/repos/{{id}}/learnings."
        )
    return learning


async def _check_new_text(
    session: AsyncSession, repo_id: uuid.UUID, text: str, *, except_id: uuid.UUID | None = None
) -> None:
    """A 409 when the repo already has a learning saying the same (whatever its status)."""
    for other_id, other_text, status in (
        await session.execute(
            select(Learning.id, Learning.text, Learning.status).where(Learning.repo_id == repo_id)
        )
    ).all():
        if other_id != except_id and _same(other_text) == _same(text):
            raise Conflict(
                f"This repo already has that learning ({status}, id {other_id}); edit or accept that one."
            )


# --- what people do -------------------------------------------------------------------------------


async def create(
    *,
    session: AsyncSession,
    repo: Repo,
    learning_in: LearningCreate,
    source: LearningSource = LearningSource.PERSON,
    card_id: uuid.UUID | None = None,
    comment_id: uuid.UUID | None = None,
) -> Learning:
    """A learning a person wrote (or kept from a comment): accepted unless asked to be proposed."""
    await _check_new_text(session, repo.id, learning_in.text)
    status = LearningStatus(learning_in.status)
    learning = Learning(
        repo_id=repo.id,
        text=learning_in.text,
        paths=list(dict.fromkeys(learning_in.paths)),
        kind=learning_in.kind,
        status=status,
        source=source,
        card_id=card_id,
        comment_id=comment_id,
        helpful=0,
        harmful=0,
        uses=0,
        decided_at=utcnow() if status == LearningStatus.ACCEPTED else None,
    )
    session.add(learning)
    await session.flush()
    announce(session, learning)
    log.info("learning_created", learning_id=str(learning.id), status=status, source=source)
    return learning


async def update(*, session: AsyncSession, learning: Learning, change: LearningUpdate) -> Learning:
    """Accept, retire or edit a learning (any status may be accepted or retired again)."""
    fields = {k: v for k, v in change.model_dump(exclude_unset=True).items() if v is not None}
    if not fields:
        raise InvalidInput("Send at least one of status (accepted or retired), text, paths or kind.")
    if "text" in fields and _same(fields["text"]) != _same(learning.text):
        await _check_new_text(session, learning.repo_id, fields["text"], except_id=learning.id)
    if "paths" in fields:
        fields["paths"] = list(dict.fromkeys(fields["paths"]))
    status = fields.pop("status", None)
    if status is not None and status != learning.status:
        learning.status = LearningStatus(status)
        learning.decided_at = utcnow()
    for key, value in fields.items():
        setattr(learning, key, value)
    await session.flush()
    announce(session, learning)
    return learning


async def delete(*, session: AsyncSession, learning: Learning) -> None:
    await session.delete(learning)
    EventBus.record(session, LearningDeleted(learning_id=learning.id, repo_id=learning.repo_id))
    await session.flush()


async def from_comment(
    *, session: AsyncSession, card: Card, comment_id: uuid.UUID, body: CommentLearningCreate
) -> Learning:
    """Keep a reviewer's comment as an accepted learning of the card's repo: its text (or
    ``body.text``), about the file it is on (or ``body.paths``)."""
    comment = await session.get(Comment, comment_id)
    if comment is None or comment.card_id != card.id:
        raise NotFound(f"Card {card.id} has no comment {comment_id}.")
    text = body.text or comment.body.strip()
    if len(text) > TEXT_LIMIT:
        raise InvalidInput(
            f"The comment is {len(text)} characters and a learning holds at most {TEXT_LIMIT}; "
            "send a shorter text with it."
        )
    paths = body.paths if body.paths is not None else ([comment.file] if comment.file else [])
    repo = await session.get(Repo, card.repo_id)
    assert repo is not None
    learning_in = LearningCreate(text=text, paths=paths, kind=body.kind)
    return await create(
        session=session,
        repo=repo,
        learning_in=learning_in,
        source=LearningSource.REVIEW,
        card_id=card.id,
        comment_id=comment.id,
    )


async def mark(
    *, session: AsyncSession, card: Card, learning: Learning, verdict: LearningVerdict | None
) -> CardLearningRead:
    """The card's reviewer finds the learning helpful or harmful (one verdict per card; None takes
    it back); the learning's counts follow."""
    if learning.repo_id != card.repo_id:
        raise NotFound(f"Learning {learning.id} belongs to another repo than card {card.id}.")
    row = await session.scalar(
        select(LearningMark).where(LearningMark.learning_id == learning.id, LearningMark.card_id == card.id)
    )
    if row is not None:
        _count(learning, row.verdict, -1)
        if verdict is None:
            await session.delete(row)
        else:
            row.verdict = verdict
    elif verdict is not None:
        session.add(LearningMark(learning_id=learning.id, card_id=card.id, verdict=verdict))
    if verdict is not None:
        _count(learning, verdict, +1)
    await session.flush()
    announce(session, learning)
    uses = await session.scalar(
        select(func.count())
        .select_from(LearningUse)
        .where(LearningUse.learning_id == learning.id, LearningUse.card_id == card.id)
    )
    return _card_read(learning, int(uses or 0), verdict)


def _count(learning: Learning, verdict: LearningVerdict, step: int) -> None:
    if verdict == LearningVerdict.HELPFUL:
        learning.helpful = max(0, learning.helpful + step)
    else:
        learning.harmful = max(0, learning.harmful + step)


def _card_read(learning: Learning, uses: int, verdict: LearningVerdict | None) -> CardLearningRead:
    data: dict[str, Any] = LearningRead.model_validate(learning).model_dump()
    return CardLearningRead(**data, card_uses=uses, mark=verdict)


async def for_card(*, session: AsyncSession, card: Card) -> CardLearningsRead:
    """The learnings the card's agents were given (with its verdicts) and those they proposed."""
    used = (
        await session.execute(
            select(Learning, func.count(LearningUse.id))
            .join(LearningUse, LearningUse.learning_id == Learning.id)
            .where(LearningUse.card_id == card.id)
            .group_by(Learning.id)
            .order_by(func.count(LearningUse.id).desc(), Learning.created_at)
        )
    ).all()
    marks = dict(
        (
            await session.execute(
                select(LearningMark.learning_id, LearningMark.verdict).where(LearningMark.card_id == card.id)
            )
        ).all()
    )
    proposed = await session.scalars(
        select(Learning).where(Learning.card_id == card.id).order_by(Learning.created_at)
    )
    return CardLearningsRead(
        used=[_card_read(learning, uses, marks.get(learning.id)) for learning, uses in used],
        proposed=[LearningRead.model_validate(learning) for learning in proposed],
    )


# --- what agents propose --------------------------------------------------------------------------


async def final_text(session: AsyncSession, job: Job) -> str:
    """The agent's final message in the attempt's stored events: the result's text, else the last text."""
    rows = (
        await session.execute(
            select(JobEvent.kind, JobEvent.data)
            .where(
                JobEvent.job_id == job.id,
                JobEvent.attempt == job.attempt,
                JobEvent.kind.in_(("result", "text")),
            )
            .order_by(JobEvent.seq.desc())
            .limit(4)
        )
    ).all()
    for kind, data in rows:
        text = data.get("text") if isinstance(data, dict) else None
        if isinstance(text, str) and text.strip():
            return text
        if kind == "text":
            break
    return ""


async def propose(*, session: AsyncSession, settings: Settings, job: Job, card: Card) -> list[Learning]:
    """The learnings the attempt's agent proposed in its final message, stored as proposed (never
    in a prompt until a person accepts them); repeats of existing ones and those beyond the
    repo's ``MAX_PENDING`` waiting proposals are dropped."""
    found = parse.proposals(await final_text(session, job))
    if not found:
        return []
    existing = (
        await session.execute(select(Learning.text, Learning.status).where(Learning.repo_id == card.repo_id))
    ).all()
    known = {_same(text) for text, _ in existing}
    room = MAX_PENDING - sum(1 for _, status in existing if status == LearningStatus.PROPOSED)
    redactor = server_redactor(settings)
    made = []
    for proposal in found:
        text = redactor.text(proposal.text)
        if room <= 0 or _same(text) in known:
            continue
        learning = Learning(
            repo_id=card.repo_id,
            text=text,
            paths=[redactor.text(p) for p in proposal.paths],
            kind=LearningKind(proposal.kind),
            status=LearningStatus.PROPOSED,
            source=LearningSource.AGENT,
            card_id=card.id,
            job_id=job.id,
            helpful=0,
            harmful=0,
            uses=0,
        )
        session.add(learning)
        known.add(_same(text))
        room -= 1
        made.append(learning)
    if made:
        await session.flush()
        for learning in made:
            announce(session, learning)
        log.info("learnings_proposed", job_id=str(job.id), count=len(made), offered=len(found))
    return made


# --- into prompts ---------------------------------------------------------------------------------


def _entry(learning: Learning) -> str:
    scope = ", ".join(learning.paths) if learning.paths else "the whole repository"
    text = learning.text.strip().replace("\n", "\n  ")
    return f"- ({learning.kind}; {scope}) {text}"


async def for_prompt(
    session: AsyncSession,
    repo_id: uuid.UUID,
    paths: Sequence[str],
    *,
    card_id: uuid.UUID | None = None,
    budget: int = DEFAULT_BUDGET,
) -> str:
    """The accepted learnings of the repo about ``paths`` (those without globs are about every
    path), most useful first, as many as fit in ``budget`` characters, one per line; each one
    given is counted as used (for ``card_id``). Empty when none applies. Proposed and retired
    learnings never appear."""
    accepted = (
        await session.scalars(
            select(Learning).where(Learning.repo_id == repo_id, Learning.status == LearningStatus.ACCEPTED)
        )
    ).all()
    ranked = sorted(
        (learning for learning in accepted if learning_paths.applies(learning.paths, paths)),
        key=lambda learning: (*(-v for v in usefulness(learning)), learning.created_at),
    )
    lines: list[str] = []
    size = 0
    now = utcnow()
    for learning in ranked:
        entry = _entry(learning)
        if size + len(entry) + 1 > budget:
            continue
        lines.append(entry)
        size += len(entry) + 1
        learning.uses += 1
        learning.last_used_at = now
        session.add(LearningUse(learning_id=learning.id, repo_id=repo_id, card_id=card_id, used_at=now))
    if lines:
        await session.flush()
        for learning in ranked:
            if learning.last_used_at == now:
                announce(session, learning)
    return "\n".join(lines)


async def for_card_prompt(session: AsyncSession, settings: Settings, *, card: Any, repo: Any) -> str:
    """``for_prompt`` for a card: its paths are what its branch changes, what its plan lists and
    the file names its text mentions (``paths.of_card``)."""
    if settings.learnings_prompt_chars <= 0:
        return ""
    paths = await learning_paths.of_card(
        git_dir=git_path(settings, repo.id),
        default_branch=repo.default_branch,
        branch=card.branch_name,
        title=card.title,
        description=card.description,
    )
    return await for_prompt(session, repo.id, paths, card_id=card.id, budget=settings.learnings_prompt_chars)
