"""A card done end to end by a real local runner process, with the real git client everywhere."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server, wait_until
from tests.gitutil import git, make_source_repo

WRITE_FILE = (
    "import pathlib, sys; p = pathlib.Path(sys.argv[1]) / 'AGENT.md'; "
    "p.write_text('written by the agent\\n'); print('wrote', p.name); print('done')"
)


@pytest.fixture
def server(settings: Settings) -> LiveServer:
    settings.default_agent = "command"
    settings.agent_command = f"{sys.executable} -c \"{WRITE_FILE}\" {{workdir}}"
    settings.lease_ttl = 6
    with live_server(settings, migrate=False) as srv:
        yield srv


def _ingest(srv: LiveServer, tmp_path: Path) -> dict[str, object]:
    repo = httpx.post(srv.api("/repos/ingest"), json={"name": "e2e"}).json()
    source = make_source_repo(tmp_path / "src", commits=2)
    git("push", "-q", str(repo["clone_url"]), "main", cwd=source)
    return repo


class BoardWatcher:
    """A /ws client collecting every frame in a thread."""

    def __init__(self, url: str) -> None:
        self.frames: list[dict[str, object]] = []
        self._ws = connect(url.replace("http", "ws", 1) + "/ws")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self._ws:
                self.frames.append(json.loads(raw))
        except Exception:
            pass

    def close(self) -> None:
        self._ws.close()
        self._thread.join(5)


def test_card_runs_on_a_local_runner_to_in_review(server: LiveServer, tmp_path: Path) -> None:
    repo = _ingest(server, tmp_path)
    watcher = BoardWatcher(server.url)
    try:
        pool = httpx.post(server.api("/runners/scale"), json={"kind": "local", "count": 1}, timeout=30).json()
        assert pool["local"] == 1
        card = httpx.post(server.api(f"/repos/{repo['id']}/cards"), json={"title": "Add agent notes"}).json()
        job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
        assert job["status"] == "queued"
        wait_until(lambda: httpx.get(server.api(f"/jobs/{job['id']}")).json()["status"] in ("completed", "failed"), 60)
        done = httpx.get(server.api(f"/jobs/{job['id']}")).json()
        assert done["status"] == "completed", done["error"]
        assert (done["commits"], done["files_changed"], done["lines_added"], done["lines_removed"]) == (1, 1, 1, 0)
        card = httpx.get(server.api(f"/cards/{card['id']}")).json()
        assert card["status"] == "in_review" and card["branch_name"].startswith(f"lazyaf/{card['id'][:8]}-add-agent-notes")
        clone = tmp_path / "check"
        git("clone", "-q", "--branch", card["branch_name"], str(repo["clone_url"]), str(clone))
        assert (clone / "AGENT.md").read_text() == "written by the agent\n"
        assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == done["head_sha"]
        logs = httpx.get(server.api(f"/jobs/{job['id']}/logs")).json()
        assert [e["data"].get("text") for e in logs["events"]] == ["wrote AGENT.md", "done"]
        wait_until(lambda: any(f.get("type") == "job_status" and f["data"]["job"]["status"] == "completed"
                               for f in watcher.frames), 10)
    finally:
        watcher.close()
        httpx.post(server.api("/runners/scale"), json={"kind": "local", "count": 0}, timeout=30)
    seqs = [f["seq"] for f in watcher.frames if "seq" in f]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    statuses = [f["data"]["job"]["status"] for f in watcher.frames if f.get("type") == "job_status"]
    assert statuses[0] == "queued" and statuses[-1] == "completed" and "running" in statuses
    events = [f["data"]["event"]["text"] for f in watcher.frames if f.get("type") == "job_event"]
    assert events == ["wrote AGENT.md", "done"]
