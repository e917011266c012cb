"""Cards done end to end by real local runner processes, with the real git client everywhere."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError
from websockets.sync.client import connect

from lazyaf.events.schemas import SocketFrame
from lazyaf.testing import LiveServer, wait_until
from tests.gitutil import git
from tests.jobs.conftest import ingest, job_of, new_card, scale, wait_job, wait_runners_idle

SOCKET_FRAME: TypeAdapter[Any] = TypeAdapter(SocketFrame)


class BoardWatcher:
    """A /ws client collecting every frame in a thread; each must fit the published frame models
    (events/schemas.py, what the board's types are generated from)."""

    def __init__(self, url: str, since: int | None = None) -> None:
        self.frames: list[dict[str, Any]] = []
        self.misfits: list[str] = []
        query = f"?since={since}" if since is not None else ""
        self._ws = connect(url.replace("http", "ws", 1) + "/ws" + query)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self._ws:
                self.frames.append(json.loads(raw))
                try:
                    SOCKET_FRAME.validate_json(raw)
                except ValidationError as exc:
                    self.misfits.append(f"{raw[:200]}: {exc}")
        except Exception:
            pass

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") == kind]

    def close(self) -> None:
        self._ws.close()
        self._thread.join(5)
        assert self.misfits == [], "frames that do not fit events/schemas.py"


def test_card_runs_on_a_local_runner_to_in_review(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server()
    repo = ingest(server, tmp_path)
    watcher = BoardWatcher(server.url)
    try:
        assert scale(server, 1)["local"] == 1
        card = new_card(server, repo)
        job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
        assert job["status"] == "queued"
        done = wait_job(server, job["id"])
        assert done["status"] == "completed", done["error"]
        assert (done["commits"], done["files_changed"], done["lines_added"], done["lines_removed"]) == (
            1,
            1,
            1,
            0,
        )
        assert done["attempt"] == 1 and done["exit_code"] == 0
        card = httpx.get(server.api(f"/cards/{card['id']}")).json()
        assert card["status"] == "in_review" and card["job_id"] == job["id"]
        assert card["branch_name"] == f"lazyaf/{card['id'].replace('-', '')[:8]}-add-agent-notes"
        clone = tmp_path / "check"
        git("clone", "-q", "--branch", card["branch_name"], str(repo["clone_url"]), str(clone))
        assert (clone / "AGENT.md").read_text() == "written by the agent\n"
        assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == done["head_sha"]
        assert git("log", "-1", "--format=%an <%ae>|%s", cwd=clone).stdout.strip() == (
            "LazyAF Agent <agent@lazyaf.local>|Add agent notes"
        )
        logs = httpx.get(server.api(f"/jobs/{job['id']}/logs")).json()
        assert [e["data"].get("text") for e in logs["events"]] == ["wrote AGENT.md", "done"]
        assert logs["job_status"] == "completed"
        work = server.settings.data_dir / "work"  # the pool's local runners work there, privately
        assert work.is_dir() and (work.stat().st_mode & 0o777) == 0o700
        assert not (work / card["id"]).exists(), "the job's workspace was left on disk"
        wait_until(
            lambda: any(f["data"]["job"]["status"] == "completed" for f in watcher.of_type("job_status")), 10
        )
    finally:
        watcher.close()
        scale(server, 0)
    seqs = [f["seq"] for f in watcher.frames if "seq" in f]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # gap-free, in order, no duplicates
    statuses = [f["data"]["job"]["status"] for f in watcher.of_type("job_status")]
    assert statuses[0] == "queued" and statuses[-1] == "completed" and "running" in statuses
    phases = [f["data"]["job"]["phase"] for f in watcher.of_type("job_status")]
    # Phases over within PHASE_QUIET go unreported; those reported come in order, "agent" always.
    reported = [p for p in phases if p in ("cloning", "agent", "committing", "pushing")]
    assert "agent" in reported
    assert reported == sorted(reported, key=["cloning", "agent", "committing", "pushing"].index)
    assert [f["data"]["event"]["text"] for f in watcher.of_type("job_event")] == ["wrote AGENT.md", "done"]
    card_states = [f["data"]["card"]["status"] for f in watcher.of_type("card_updated")]
    assert card_states[0] == "todo" and "in_progress" in card_states and card_states[-1] == "in_review"
    runner_states = [f["data"]["runner"]["status"] for f in watcher.of_type("runner_status")]
    assert "busy" in runner_states and "idle" in runner_states


def test_a_reconnecting_board_catches_up_by_sequence(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server()
    repo = ingest(server, tmp_path)
    first = BoardWatcher(server.url)
    new_card(server, repo, "One")
    wait_until(lambda: len(first.of_type("card_updated")) == 1)
    last = first.of_type("card_updated")[-1]["seq"]
    first.close()
    new_card(server, repo, "Two")
    new_card(server, repo, "Three")
    second = BoardWatcher(server.url, since=last)
    try:
        wait_until(lambda: len(second.of_type("card_updated")) == 2)
        assert [f["data"]["card"]["title"] for f in second.of_type("card_updated")] == ["Two", "Three"]
        assert [f["seq"] for f in second.of_type("card_updated")] == [last + 1, last + 2]
        new_card(server, repo, "Four")
        wait_until(lambda: len(second.of_type("card_updated")) == 3)
        assert second.frames[0]["type"] == "hello"
    finally:
        second.close()


def test_jobs_run_in_priority_order_then_oldest_first(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server()
    repo = ingest(server, tmp_path)
    cards = [
        new_card(server, repo, title, priority=p)
        for title, p in [("low", 0), ("normal one", 1), ("urgent", 3), ("normal two", 1)]
    ]
    jobs = {c["title"]: httpx.post(server.api(f"/cards/{c['id']}/start")).json()["id"] for c in cards}
    scale(server, 1)
    try:
        for job_id in jobs.values():
            wait_job(server, job_id)
        started = sorted(jobs, key=lambda title: job_of(server, jobs[title])["started_at"])
        assert started == ["urgent", "normal one", "normal two", "low"]
    finally:
        scale(server, 0)


def test_two_runners_share_the_queue_one_job_each(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server()
    repo = ingest(server, tmp_path)
    scale(server, 2)
    try:
        wait_runners_idle(server, 2)
        cards = [new_card(server, repo, f"Card {i}") for i in range(4)]
        jobs = [httpx.post(server.api(f"/cards/{c['id']}/start")).json()["id"] for c in cards]
        finished = [wait_job(server, j) for j in jobs]
        assert [j["status"] for j in finished] == ["completed"] * 4
        assert all(j["attempt"] == 1 for j in finished)
        assert len({j["runner_id"] for j in finished}) == 2
        branches = httpx.get(server.api(f"/repos/{repo['id']}/branches")).json()
        assert len([b for b in branches if b["name"].startswith("lazyaf/")]) == 4
    finally:
        scale(server, 0)
    pool = httpx.get(server.api("/runners")).json()
    assert pool["local"] == 0 and pool["runners"] == []


def test_logs_page_and_follow_until_the_job_ends(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    from tests.jobs.conftest import python_agent

    agent = python_agent(
        "import pathlib, sys, time\n"
        "for i in range(5): print('line', i, flush=True); time.sleep(0.2)\n"
        "(pathlib.Path(sys.argv[1]) / 'out.txt').write_text('x')"
    )
    server = make_server(agent)
    repo = ingest(server, tmp_path)
    scale(server, 1)
    try:
        card = new_card(server, repo)
        job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
        lines = []
        with httpx.stream("GET", server.api(f"/jobs/{job['id']}/logs"), params={"follow": "true"}, timeout=60) as r:
            assert r.headers["content-type"].startswith("application/x-ndjson")
            for raw in r.iter_lines():
                lines.append(json.loads(raw))
        assert [entry["data"]["text"] for entry in lines[:-1]] == [f"line {i}" for i in range(5)]
        assert lines[-1] == {"end": True, "job_status": "completed"}
        first = httpx.get(server.api(f"/jobs/{job['id']}/logs"), params={"limit": 2}).json()
        assert [e["data"]["text"] for e in first["events"]] == ["line 0", "line 1"]
        rest = httpx.get(server.api(f"/jobs/{job['id']}/logs"), params={"after": first["next_after"]}).json()
        assert [e["data"]["text"] for e in rest["events"]] == ["line 2", "line 3", "line 4"]
        assert rest["next_after"] == lines[-2]["id"]
        missing = httpx.get(server.api(f"/jobs/{uuid.uuid4()}/logs"))
        assert missing.status_code == 404
    finally:
        scale(server, 0)
