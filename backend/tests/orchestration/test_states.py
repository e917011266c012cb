"""The state tables: what they allow, the sentence of each refusal, and that LazyAF itself cannot
write a move a table lacks."""

from __future__ import annotations

import pytest

from lazyaf.cards.models import CardStatus
from lazyaf.errors import InvalidTransition
from lazyaf.jobs.models import JobStatus
from lazyaf.orchestration.states import (
    ATTEMPTS,
    CARDS,
    RUNS,
    STEPS,
    TABLES,
    Actor,
    IllegalMove,
    Move,
    StateTable,
)
from lazyaf.runs.models import RunStatus

C = CardStatus


def test_every_card_move_a_person_cannot_make_has_its_own_reason() -> None:
    """No card refusal falls back to the generic sentence: each says why and what to do."""
    generic = {f"A card cannot move from {a} to {b}." for a, b in CARDS.pairs()}
    for source, target in CARDS.pairs():
        if CARDS.move(source, target, Actor.USER) is None:
            assert CARDS.reason(source, target) not in generic, (source, target)


def test_the_board_drags_exactly_the_moves_it_always_did() -> None:
    drags = {(m.source, m.target): m.action for m in CARDS.moves if m.drag}
    assert drags == {
        (C.TODO, C.IN_PROGRESS): "start",
        (C.IN_REVIEW, C.DONE): "approve",
        (C.IN_REVIEW, C.TODO): "reject",
        (C.FAILED, C.IN_PROGRESS): "retry",
        (C.FAILED, C.TODO): "requeue",
    }


def test_a_patch_makes_only_its_moves_and_says_why_not() -> None:
    assert CARDS.patch(C.TODO, C.IN_PROGRESS, what="Card 'A'").action == "start"
    with pytest.raises(InvalidTransition) as refused:
        CARDS.patch(C.IN_REVIEW, C.DONE, what="Card 'A'")  # approve is its own endpoint
    assert str(refused.value) == (
        "Card 'A' is in_review: A card in review becomes done only when it is approved and its branch merged."
    )
    with pytest.raises(InvalidTransition) as refused:
        CARDS.patch(C.IN_PROGRESS, C.IN_REVIEW, what="Card 'A'")  # LazyAF's move, not a person's
    assert "still working on it" in str(refused.value)


def test_an_action_from_the_wrong_status_is_refused_in_its_own_words() -> None:
    with pytest.raises(
        InvalidTransition, match=r"^Card 'A' is todo: only in_review cards can be approved\.$"
    ):
        CARDS.act("approve", C.TODO, what="Card 'A'")
    with pytest.raises(
        InvalidTransition, match=r"^Card 'A' is failed: Only a card in todo can be started\.$"
    ):
        CARDS.act("start", C.FAILED, what="Card 'A'")  # retry is the failed card's way back
    assert CARDS.act("retry", C.FAILED, what="Card 'A'").target == C.IN_PROGRESS


def test_lazyaf_cannot_write_a_move_its_table_lacks() -> None:
    with pytest.raises(IllegalMove):
        CARDS.require(C.DONE, C.TODO)
    with pytest.raises(IllegalMove):
        ATTEMPTS.require(JobStatus.COMPLETED, JobStatus.RUNNING)
    with pytest.raises(IllegalMove):
        RUNS.require(RunStatus.SUCCEEDED, RunStatus.RUNNING)
    assert RUNS.require(RunStatus.FAILED, RunStatus.RUNNING).action == "retry"


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_nothing_leaves_a_final_status(table: StateTable) -> None:  # type: ignore[type-arg]
    assert not [m for m in table.moves if m.source in table.final]
    assert table.final, f"{table.name} has no final status"


def test_a_table_listing_a_move_twice_or_out_of_a_final_status_is_refused() -> None:
    move = Move(C.TODO, C.DONE, Actor.USER, "x", "x")
    with pytest.raises(ValueError, match="listed twice"):
        StateTable("card", CardStatus, (move, move), ())
    with pytest.raises(ValueError, match="is final"):
        StateTable(
            "card", CardStatus, (Move(C.DONE, C.TODO, Actor.USER, "x", "x"),), (), final=frozenset({C.DONE})
        )


def test_steps_and_runs_go_back_to_running_only_by_a_retry_a_review_or_the_engine_sending_a_step_back() -> (
    None
):
    back = [(t.name, m.source, m.action) for t in (RUNS, STEPS) for m in t.moves if m.target == "running"]
    assert {(name, str(source), action) for name, source, action in back} == {
        ("run", "waiting", "continue"),
        ("run", "failed", "retry"),
        ("step", "pending", "started"),
        ("step", "failed", "retry"),
        ("step", "succeeded", "sent_back"),
    }
