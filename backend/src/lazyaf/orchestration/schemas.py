"""The state tables as the API serves them (``GET /api/meta/transitions``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from lazyaf.orchestration.states import ATTEMPTS, CARDS, RUNS, STEPS, Actor, StateTable


class MoveRead(BaseModel):
    source: str
    target: str
    by: Actor = Field(description="user: a person asks for it; lazyaf: LazyAF makes it on its own.")
    action: str = Field(description="What makes it: the API action (start, approve, reject, retry, ...).")
    summary: str
    drag: bool = Field(description="The board makes it when a card is dropped in the target column.")
    patch: bool = Field(description='PATCH /api/cards/{id} {"status": target} makes it too.')


class RefusalRead(BaseModel):
    source: str
    target: str
    reason: str = Field(description="Why a person cannot move a thing from source to target directly.")


class TransitionTableRead(BaseModel):
    name: str
    states: list[str] = Field(description="Every status, in the order the board shows them.")
    final: list[str] = Field(description="Statuses nothing leaves.")
    moves: list[MoveRead]
    refusals: list[RefusalRead] = Field(
        description="Every (source, target) of two statuses that no drag makes, with the sentence to show."
    )
    actions: dict[str, str] = Field(
        description="Why an action is refused from a status it does not start from (by action name)."
    )


class TransitionsRead(BaseModel):
    """Who may move what from where to where: the tables the server holds every status change to."""

    cards: TransitionTableRead
    runs: TransitionTableRead
    steps: TransitionTableRead
    attempts: TransitionTableRead


def _table(table: StateTable[Any]) -> TransitionTableRead:
    drags = {(m.source, m.target) for m in table.moves if m.drag}
    return TransitionTableRead(
        name=table.name,
        states=[str(s) for s in table.states],
        final=[str(s) for s in table.states if s in table.final],
        moves=[
            MoveRead(
                source=m.source,
                target=m.target,
                by=m.by,
                action=m.action,
                summary=m.summary,
                drag=m.drag,
                patch=m.patch,
            )
            for m in table.moves
        ],
        refusals=[
            RefusalRead(source=a, target=b, reason=table.reason(a, b))
            for a, b in table.pairs()
            if (a, b) not in drags
        ],
        actions=dict(table.actions),
    )


def transitions() -> TransitionsRead:
    return TransitionsRead(
        cards=_table(CARDS), runs=_table(RUNS), steps=_table(STEPS), attempts=_table(ATTEMPTS)
    )
