"""GET /api/meta/transitions: the tables the server holds status changes to, in its own words."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from lazyaf import openapi
from lazyaf.cards.models import CardStatus
from lazyaf.repos.models import Repo
from tests.factories import make_card, make_repo

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def board_repo(app: FastAPI) -> Repo:
    async with app.state.sessionmaker() as session:
        repo = await make_repo(session, name="board")
        await session.commit()
    return repo


async def test_the_card_table_says_what_a_drag_does(client: httpx.AsyncClient) -> None:
    tables = (await client.get("/api/meta/transitions")).json()
    cards = tables["cards"]
    assert cards["states"] == ["todo", "in_progress", "in_review", "done", "failed"]
    drags = {(m["source"], m["target"]): m["action"] for m in cards["moves"] if m["drag"]}
    assert drags == {
        ("todo", "in_progress"): "start",
        ("in_review", "done"): "approve",
        ("in_review", "todo"): "reject",
        ("failed", "in_progress"): "retry",
        ("failed", "todo"): "requeue",
    }
    refused = {(r["source"], r["target"]) for r in cards["refusals"]}
    assert refused.isdisjoint(drags) and len(refused) + len(drags) == 5 * 4  # every other pair
    assert {t["name"] for t in tables.values()} == {"card", "run", "step", "attempt"}


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("todo", "done"),
        ("todo", "in_review"),
        ("in_review", "done"),
        ("in_progress", "todo"),
        ("done", "todo"),
    ],
)
async def test_a_refused_patch_gives_the_sentence_the_table_serves(
    client: httpx.AsyncClient, app: FastAPI, board_repo: Repo, current: str, target: str
) -> None:
    """One source for the wording: what the board shows before asking is what the API answers."""
    async with app.state.sessionmaker() as session:
        card = await make_card(session, repo=board_repo, title="C", status=CardStatus(current))
        await session.commit()
    served = (await client.get("/api/meta/transitions")).json()["cards"]
    patched = (await client.patch(f"/api/cards/{card.id}", json={"status": target})).json()
    if (current, target) == ("in_review", "done"):  # a drag approves; a PATCH cannot
        assert ("in_review", "done") not in {(r["source"], r["target"]) for r in served["refusals"]}
        reason = "A card in review becomes done only when it is approved and its branch merged."
    else:
        (reason,) = [
            r["reason"] for r in served["refusals"] if (r["source"], r["target"]) == (current, target)
        ]
    assert patched == {"detail": f"Card 'C' is {current}: {reason}", "code": "invalid_transition"}


def test_the_boards_copy_of_the_tables_matches_the_server() -> None:
    committed = (ROOT / "frontend" / "src" / "lib" / "api" / "transitions.json").read_text()
    assert json.loads(committed) == json.loads(openapi.render_transitions()), (
        "frontend/src/lib/api/transitions.json is stale: run scripts/gen-api.sh and commit the result"
    )
