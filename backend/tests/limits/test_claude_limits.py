"""Budgets and limits with the real Claude Code CLI (pinned) in real local runners, against the scripted
Messages API (runner/tests/fakemodel.py): a spent daily budget holds the next card until it is raised;
a repo capped at one running attempt never runs two, with three runners free.

What the scheduler decided is observed, not waited for: the server runs in this process, and the
claims its runners make go through ``app.state.dispatcher.claim``, which the tests wrap to record
what each claim returned (the real decision runs)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lazyaf.limits.policy import usd_pair
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server, wait_until
from tests.jobs.conftest import ingest, new_card, scale, wait_job, wait_runners_idle
from tests.jobs.test_claude_end_to_end import CLAUDE, fm
from tests.jobs.test_end_to_end import BoardWatcher

pytestmark = pytest.mark.skipif(
    not CLAUDE.exists(),
    reason="the pinned Claude Code CLI is not installed (scripts/install-claude.sh, which `make test` runs)",
)


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with fm.FakeModel() as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)  # local runners inherit the server's environment
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        yield fake


@pytest.fixture
def server(settings: Settings, model: Any) -> Iterator[LiveServer]:
    settings.default_agent = "claude"
    settings.claude_binary = str(CLAUDE)
    settings.anthropic_api_key = f"sk-ant-test-{secrets.token_hex(16)}"  # type: ignore[assignment]
    settings.lease_ttl = 10
    with live_server(settings, migrate=False) as srv:
        yield srv
        scale(srv, 0)


class ClaimLog:
    """Records what each claim the scheduler decided returned (the job id, or None), in order."""

    def __init__(self, srv: LiveServer) -> None:
        self.results: list[str | None] = []
        dispatcher = srv.app.state.dispatcher
        real = dispatcher.claim

        async def claim(**kwargs: Any) -> Any:
            claimed = await real(**kwargs)
            self.results.append(str(claimed[0].id) if claimed else None)
            return claimed

        dispatcher.claim = claim

    def refused_since(self, mark: int) -> int:
        return sum(result is None for result in self.results[mark:])


def _start(srv: LiveServer, repo: dict[str, Any], title: str) -> dict[str, Any]:
    card = new_card(srv, repo, title, description="Write hello.txt with a greeting.")
    response = httpx.post(srv.api(f"/cards/{card['id']}/start"))
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


def _queue_entry(srv: LiveServer, job_id: str) -> dict[str, Any]:
    entries = httpx.get(srv.api("/queue")).json()["jobs"]
    found: dict[str, Any] = next(e for e in entries if e["job_id"] == job_id)
    return found


def test_a_spent_daily_budget_holds_the_next_card_until_the_limit_is_raised(
    server: LiveServer, model: Any, tmp_path: Path
) -> None:
    model.script = fm.write_file_script("hello.txt", "Hello\n")
    scale(server, 1)
    repo = ingest(server, tmp_path)
    first = wait_job(server, _start(server, repo, "Spend first")["id"], timeout=90)
    assert first["status"] == "completed", first["error"]
    spent = first["cost_usd"]
    assert spent and spent > 0  # Claude Code reports what the run cost
    usage = httpx.get(server.api("/limits")).json()["usage"]
    assert usage["spent_usd"] == pytest.approx(spent) and usage["agent_runs"] == 1
    assert usage["input_tokens"] == first["input_tokens"] and usage["output_tokens"] == first["output_tokens"]

    limit = round(spent / 2, 6)
    assert httpx.put(server.api("/limits"), json={"daily_usd": limit}).status_code == 200
    watcher = BoardWatcher(server.url)
    claims = ClaimLog(server)
    mark = len(claims.results)
    held = _start(server, repo, "Held by the budget")
    # The idle runner was woken for it and asked: the scheduler gave it nothing.
    wait_until(lambda: claims.refused_since(mark) >= 1, 30)
    message = f"held: daily_usd {usd_pair(spent, limit)}"
    entry = _queue_entry(server, held["id"])
    assert entry["held"] is True and entry["reason"]["code"] == "held"
    assert entry["reason"]["message"] == message
    assert entry["reason"]["hold"]["limit"] == "daily_usd"
    assert entry["reason"]["hold"]["value"] == pytest.approx(spent)
    assert entry["reason"]["hold"]["maximum"] == limit
    assert httpx.get(server.api("/queue")).json()["stats"]["held"] == 1
    card = httpx.get(server.api(f"/cards/{held['card_id']}")).json()
    assert card["status"] == "in_progress" and card["waiting_reason"]["message"] == message
    job = httpx.get(server.api(f"/jobs/{held['id']}")).json()
    assert (job["status"], job["attempt"]) == ("queued", 0)
    # The board was told, on the card's job, without asking.
    wait_until(
        lambda: any(
            (f["data"]["waiting"].get(held["id"]) or {}).get("message") == message
            for f in watcher.of_type("queue_updated")
        )
    )

    assert httpx.put(server.api("/limits"), json={"daily_usd": round(spent * 10, 6)}).status_code == 200
    released = wait_job(server, held["id"], timeout=90)
    assert released["status"] == "completed", released["error"]
    assert [c for c in claims.results[mark:] if c is not None] == [held["id"]]
    wait_until(lambda: any(f["data"]["changed"] for f in watcher.of_type("limits_updated")))
    watcher.close()


def test_a_repo_capped_at_one_never_runs_two_of_three_cards_at_once(
    server: LiveServer, model: Any, tmp_path: Path
) -> None:
    gate = threading.Event()
    inner = fm.write_file_script("hello.txt", "Hello\n")

    def script(request: Any) -> Any:
        # The first card's agent waits at its first turn until the test has seen the others held.
        if request.turn == 0 and any("Title: First" in p for p in request.prompts):
            gate.wait(120)
        return inner(request)

    model.script = script
    scale(server, 3)
    wait_runners_idle(server, 3)
    repo = ingest(server, tmp_path)
    assert httpx.put(server.api("/limits"), json={"max_running_per_repo": 1}).status_code == 200
    watcher = BoardWatcher(server.url)
    claims = ClaimLog(server)
    jobs = [_start(server, repo, title) for title in ("First", "Second", "Third")]
    ids = [j["id"] for j in jobs]
    mark = len(claims.results)
    wait_until(lambda: any("Title: First" in p for r in model.requests for p in r.prompts), 60)
    running = [j for j in ids if httpx.get(server.api(f"/jobs/{j}")).json()["status"] == "running"]
    assert running == [ids[0]]
    # Two runners are free and were asked; the scheduler held the repo's other cards.
    wait_until(lambda: claims.refused_since(mark) >= 1, 30)
    runners = httpx.get(server.api("/runners")).json()["runners"]
    assert sum(r["status"] == "idle" for r in runners) == 2
    for job_id in ids[1:]:
        entry = _queue_entry(server, job_id)
        assert entry["reason"]["message"] == "held: max_running_per_repo 1 of 1 in repo e2e"
    gate.set()
    finished = [wait_job(server, job_id, timeout=120) for job_id in ids]
    assert [j["status"] for j in finished] == ["completed"] * 3, [j["error"] for j in finished]
    watcher.close()

    # Replayed from the board's events in order: at no point were two of the repo's jobs running.
    status: dict[str, str] = {}
    most = 0
    for frame in sorted(watcher.of_type("job_status"), key=lambda f: f["seq"]):
        job = frame["data"]["job"]
        if job["id"] in ids:
            status[job["id"]] = job["status"]
            most = max(most, sum(s == "running" for s in status.values()))
    assert most == 1
    assert all(
        any(
            f["data"]["job"]["id"] == j and f["data"]["job"]["status"] == "running"
            for f in watcher.of_type("job_status")
        )
        for j in ids
    )
