"""Which status moves are allowed, for cards, runs, steps and attempts: one declarative table each.

A table lists its *moves* (FROM -> TO, who makes it, the action that does it) and its *refusals*
(rules matching FROM and TO, each with the sentence a person reads when a move is refused; the
first rule that matches decides). Nothing else decides whether a status may change: the
orchestration modules call ``check`` (a person's request: a refusal is a 409 with the reason) or
``require`` (LazyAF's own move: a refusal is a bug, raised as ``IllegalMove``) before every
status write. ``GET /api/meta/transitions`` serves the tables, and the board reads its drag rules
and their wording from there.

This is Prefect's idea of orchestration rules (FROM_STATES -> TO_STATES, each refusal with its
reason), without the rule classes: the tables are small enough to read at a glance.

The hierarchy, for the workflows built on it: a card runs *runs* (a workflow: its ordered
steps), a run has *steps*, a step has *attempts* (jobs: one agent pass each, retried as a new
attempt of the same step). A step that succeeded may run again (``sent_back``: failed checks
after it, a follow-up prompt, its plan's review), so only skipped and cancelled steps are final.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from lazyaf.cards.models import CardStatus
from lazyaf.errors import InvalidTransition
from lazyaf.jobs.models import JobStatus
from lazyaf.runs.models import RunStatus, StepStatus

S = TypeVar("S", bound=StrEnum)


class Actor(StrEnum):
    """Who makes a move."""

    USER = "user"
    """A person: a drag or a button on the board, the API, the CLI."""
    LAZYAF = "lazyaf"
    """LazyAF itself: an attempt ended, a lease ran out, a run went on to its next step."""


class IllegalMove(AssertionError):
    """LazyAF itself tried a move its table does not allow: a bug, never a person's mistake."""


@dataclass(frozen=True, slots=True)
class Move(Generic[S]):
    """An allowed move. ``action`` names what makes it (the API action, for a person's moves).
    Cards only: ``drag``, the board makes it when a card is dropped in the target column;
    ``patch``, ``PATCH /api/cards/{id} {"status"}`` makes it too."""

    source: S
    target: S
    by: Actor
    action: str
    summary: str
    drag: bool = False
    patch: bool = False


@dataclass(frozen=True, slots=True)
class Refusal(Generic[S]):
    """Moves from any of ``sources`` to any of ``targets`` (empty: any status) are refused with
    ``reason``, unless a move of the table allows them."""

    reason: str
    sources: frozenset[S] = frozenset()
    targets: frozenset[S] = frozenset()

    def matches(self, source: S, target: S) -> bool:
        return (not self.sources or source in self.sources) and (not self.targets or target in self.targets)


def refuse(reason: str, *, sources: Iterable[S] = (), targets: Iterable[S] = ()) -> Refusal[S]:
    return Refusal(reason, frozenset(sources), frozenset(targets))


@dataclass(frozen=True)
class StateTable(Generic[S]):
    """The moves between the statuses of one kind of thing, and why the others are refused."""

    name: str
    states: type[S]
    moves: tuple[Move[S], ...]
    refusals: tuple[Refusal[S], ...]
    final: frozenset[S] = frozenset()
    actions: dict[str, str] = field(default_factory=dict)
    """Why an action is refused from a status it does not start from (by action); an action not
    listed is refused with the reason for its move."""
    _index: dict[tuple[S, S, Actor], Move[S]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[tuple[S, S, Actor], Move[S]] = {}
        for move in self.moves:
            key = (move.source, move.target, move.by)
            if key in index or move.source == move.target:
                raise ValueError(
                    f"{self.name}: {move.source} -> {move.target} is listed twice or goes nowhere"
                )
            if move.source in self.final:
                raise ValueError(f"{self.name}: {move.source} is final, yet {move.target} follows it")
            index[key] = move
        object.__setattr__(self, "_index", index)

    def move(self, source: S, target: S, by: Actor) -> Move[S] | None:
        """The move ``by`` may make from ``source`` to ``target``, if any."""
        return self._index.get((source, target, by))

    def reason(self, source: S, target: S) -> str:
        """Why a person may not move a thing from ``source`` to ``target``."""
        rule = next((r for r in self.refusals if r.matches(source, target)), None)
        return rule.reason if rule else f"A {self.name} cannot move from {source} to {target}."

    def patch(self, source: S, target: S, *, what: str) -> Move[S]:
        """The move a ``PATCH {"status"}`` asks for, or InvalidTransition (409) saying why not;
        ``what`` names the thing for the sentence (``Card 'Fix login'``)."""
        found = self.move(source, target, Actor.USER)
        if found is None or not found.patch:
            raise InvalidTransition(f"{what} is {source}: {self.reason(source, target)}")
        return found

    def act(self, action: str, source: S, *, what: str) -> Move[S]:
        """The move ``action`` makes from ``source``, or InvalidTransition (409) saying why not."""
        found = next((m for m in self.moves if m.action == action and m.source == source), None)
        if found is None:
            target = next(m.target for m in self.moves if m.action == action)
            raise InvalidTransition(
                f"{what} is {source}: {self.actions.get(action) or self.reason(source, target)}"
            )
        return found

    def require(self, source: S, target: S) -> Move[S]:
        """LazyAF's own move from ``source`` to ``target``; IllegalMove when the table has none."""
        found = self.move(source, target, Actor.LAZYAF) or self.move(source, target, Actor.USER)
        if found is None:
            raise IllegalMove(f"{self.name} {source} -> {target} is not in the {self.name} table")
        return found

    def pairs(self) -> Iterator[tuple[S, S]]:
        """Every (FROM, TO) of two different statuses, in the order the statuses are declared."""
        return ((a, b) for a in self.states for b in self.states if a != b)


C = CardStatus
CARDS: StateTable[CardStatus] = StateTable(
    name="card",
    states=CardStatus,
    moves=(
        Move(
            C.TODO,
            C.IN_PROGRESS,
            Actor.USER,
            "start",
            "Start: its agent run is queued.",
            drag=True,
            patch=True,
        ),
        Move(C.IN_REVIEW, C.DONE, Actor.USER, "approve", "Approve: the branch is merged.", drag=True),
        Move(C.IN_REVIEW, C.TODO, Actor.USER, "reject", "Reject: back to To Do.", drag=True, patch=True),
        Move(C.FAILED, C.IN_PROGRESS, Actor.USER, "retry", "Retry: another attempt.", drag=True, patch=True),
        Move(C.FAILED, C.TODO, Actor.USER, "requeue", "Back to To Do.", drag=True, patch=True),
        Move(
            C.IN_REVIEW,
            C.IN_PROGRESS,
            Actor.USER,
            "request_changes",
            "Request changes: the agent works through the open comments (and conflicts).",
        ),
        Move(
            C.IN_PROGRESS,
            C.IN_REVIEW,
            Actor.LAZYAF,
            "run_succeeded",
            "The run ended and pushed its branch (or its plan waits for a review).",
        ),
        Move(C.IN_PROGRESS, C.FAILED, Actor.LAZYAF, "run_failed", "The run failed and has no attempts left."),
        Move(C.IN_PROGRESS, C.TODO, Actor.LAZYAF, "run_cancelled", "The run was cancelled."),
    ),
    refusals=(
        refuse(
            "The card's agent is still working on it; wait for it to finish or cancel its job first.",
            sources=[C.IN_PROGRESS],
        ),
        refuse("Done cards are merged and final; create a new card for more work.", sources=[C.DONE]),
        refuse(
            "Ask for changes to send a reviewed card back to its agent (they need a comment).",
            sources=[C.IN_REVIEW],
            targets=[C.IN_PROGRESS],
        ),
        refuse("Only a card in todo can be started.", targets=[C.IN_PROGRESS]),
        refuse(
            "A card moves to in_review only when its agent job has finished and pushed its branch.",
            targets=[C.IN_REVIEW],
        ),
        refuse(
            "A card in review becomes done only when it is approved and its branch merged.",
            sources=[C.IN_REVIEW],
            targets=[C.DONE],
        ),
        refuse(
            "Only a card in review can become done; it needs an agent's work to review first.",
            targets=[C.DONE],
        ),
        refuse("Only a failed job moves a card to failed.", targets=[C.FAILED]),
    ),
    final=frozenset({C.DONE}),
    actions={
        "approve": "only in_review cards can be approved.",
        "reject": "only in_review cards can be rejected.",
        "retry": "only failed cards can be retried.",
        "request_changes": "changes can be requested only in review.",
    },
)

R = RunStatus
RUNS: StateTable[RunStatus] = StateTable(
    name="run",
    states=RunStatus,
    moves=(
        Move(R.RUNNING, R.WAITING, Actor.LAZYAF, "step_needs_review", "A step ended and waits for a review."),
        Move(
            R.WAITING,
            R.RUNNING,
            Actor.USER,
            "continue",
            "The review let the run go on (approve: its next step; request changes: the plan again).",
        ),
        Move(R.RUNNING, R.SUCCEEDED, Actor.LAZYAF, "steps_done", "Its last step succeeded."),
        Move(R.RUNNING, R.FAILED, Actor.LAZYAF, "step_failed", "A step failed with no attempts left."),
        Move(R.RUNNING, R.CANCELLED, Actor.USER, "cancel", "Its attempt was cancelled."),
        Move(R.WAITING, R.CANCELLED, Actor.USER, "reject", "The review ended it."),
        Move(R.FAILED, R.RUNNING, Actor.USER, "retry", "Retry: its failed step gets another attempt."),
    ),
    refusals=(
        refuse(
            "Succeeded and cancelled runs are over; start the card again for more work.",
            sources=[R.SUCCEEDED, R.CANCELLED],
        ),
        refuse("Runs move on their own as their steps end; start, retry, review or cancel the card instead."),
    ),
    final=frozenset({R.SUCCEEDED, R.CANCELLED}),
)

T = StepStatus
STEPS: StateTable[StepStatus] = StateTable(
    name="step",
    states=StepStatus,
    moves=(
        Move(
            T.PENDING, T.RUNNING, Actor.LAZYAF, "started", "The run reached it: its first attempt is queued."
        ),
        Move(
            T.PENDING,
            T.SKIPPED,
            Actor.LAZYAF,
            "skipped",
            "The run ended before reaching it, or it had nothing to do (a verify step, no checks set).",
        ),
        Move(T.RUNNING, T.SUCCEEDED, Actor.LAZYAF, "attempt_succeeded", "An attempt did what the step asks."),
        Move(T.RUNNING, T.FAILED, Actor.LAZYAF, "attempt_failed", "Its last allowed attempt failed."),
        Move(T.RUNNING, T.CANCELLED, Actor.USER, "cancel", "Its attempt was cancelled."),
        Move(T.FAILED, T.RUNNING, Actor.USER, "retry", "Retry: another attempt of the failed step."),
        Move(
            T.SUCCEEDED,
            T.RUNNING,
            Actor.LAZYAF,
            "sent_back",
            "Another attempt: the checks after it failed, a follow-up prompt came, or its plan's "
            "review asked for changes.",
        ),
        Move(
            T.RUNNING,
            T.PENDING,
            Actor.LAZYAF,
            "checks_failed",
            "Its checks failed: the agent step before it runs again, then it runs again.",
        ),
        Move(
            T.SUCCEEDED,
            T.PENDING,
            Actor.LAZYAF,
            "rerun",
            "A step before it runs again (a follow-up prompt, failed checks): it runs again after.",
        ),
        Move(
            T.FAILED,
            T.PENDING,
            Actor.USER,
            "retry_before",
            "Retry of failed checks: the agent step before it runs again first.",
        ),
    ),
    refusals=(refuse("Steps move on their own as their attempts end; retry or cancel the card instead."),),
    final=frozenset({T.SKIPPED, T.CANCELLED}),
)

J = JobStatus
ATTEMPTS: StateTable[JobStatus] = StateTable(
    name="attempt",
    states=JobStatus,
    moves=(
        Move(J.QUEUED, J.RUNNING, Actor.LAZYAF, "claimed", "A runner claimed it; it holds a lease."),
        Move(
            J.RUNNING,
            J.QUEUED,
            Actor.LAZYAF,
            "lease_lost",
            "Its runner went silent before the agent started.",
        ),
        Move(
            J.RUNNING, J.COMPLETED, Actor.LAZYAF, "completed", "The runner reported the agent's work pushed."
        ),
        Move(J.RUNNING, J.FAILED, Actor.LAZYAF, "failed", "The agent, the checks or the runner failed."),
        Move(J.QUEUED, J.CANCELLED, Actor.USER, "cancel", "Cancelled before a runner took it."),
        Move(J.RUNNING, J.CANCELLED, Actor.LAZYAF, "cancelled", "Its runner stopped the agent as asked."),
    ),
    refusals=(
        refuse("It is over; there is nothing to cancel.", sources=[J.COMPLETED, J.FAILED, J.CANCELLED]),
        refuse("Attempts move on their own as their runners report; cancel the job instead."),
    ),
    final=frozenset({J.COMPLETED, J.FAILED, J.CANCELLED}),
)

TABLES: tuple[
    StateTable[CardStatus], StateTable[RunStatus], StateTable[StepStatus], StateTable[JobStatus]
] = (
    CARDS,
    RUNS,
    STEPS,
    ATTEMPTS,
)
