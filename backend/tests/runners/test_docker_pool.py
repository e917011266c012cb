"""Docker runners from the pool: two containers run two cards in parallel with the real Claude Code
CLI inside, against the scripted model on the host's loopback (host networking)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lazyaf.runners import docker as lazyaf_docker
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server
from tests.gitutil import git
from tests.jobs.conftest import ingest, new_card, scale, wait_job, wait_runners_idle
from tests.jobs.test_claude_end_to_end import fm

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def engine() -> None:
    setup = subprocess.run([str(ROOT / "scripts" / "docker-setup.sh")], capture_output=True, text=True)
    if setup.returncode != 0:
        pytest.skip((setup.stderr or setup.stdout).strip().splitlines()[-1])
    base = subprocess.run([str(ROOT / "scripts" / "docker-base-image.sh")], capture_output=True, text=True)
    assert base.returncode == 0, base.stderr[-2000:]


@pytest.fixture
def server(engine: None, settings: Settings) -> Iterator[tuple[LiveServer, Any]]:
    with fm.FakeModel() as model:
        settings.default_agent = "claude"
        settings.anthropic_api_key = "sk-ant-test-docker-0123456789"  # type: ignore[assignment]
        settings.anthropic_base_url = model.url
        settings.lease_ttl = 15
        with live_server(settings, migrate=False) as srv:
            try:
                yield srv, model
            finally:
                scale(srv, 0, kind="docker")


def test_two_docker_runners_run_two_cards_in_parallel(server: tuple[LiveServer, Any], tmp_path: Path) -> None:
    srv, model = server
    model.script = fm.write_file_script("hello.txt", "Hello from a container\n")
    pool = scale(srv, 2, kind="docker")
    assert pool["docker"] == 2 and pool["docker_available"] is True
    wait_runners_idle(srv, 2)
    containers = {c.id for c in lazyaf_docker.list_runner_containers(all=False)}
    assert {r["container_id"] for r in pool["runners"]} <= containers
    repo = ingest(srv, tmp_path)
    cards = [new_card(srv, repo, f"Greeting {i}") for i in range(2)]
    jobs = [httpx.post(srv.api(f"/cards/{c['id']}/start")).json()["id"] for c in cards]
    done = [wait_job(srv, j, timeout=180) for j in jobs]
    assert [j["status"] for j in done] == ["completed", "completed"], [j["error"] for j in done]
    assert len({j["runner_id"] for j in done}) == 2
    # Parallel: each started before the other finished.
    assert done[0]["started_at"] < done[1]["completed_at"] and done[1]["started_at"] < done[0]["completed_at"]
    for card in cards:
        card = httpx.get(srv.api(f"/cards/{card['id']}")).json()
        assert card["status"] == "in_review"
        clone = tmp_path / card["id"]
        git("clone", "-q", "--branch", card["branch_name"], repo["clone_url"], str(clone))
        assert (clone / "hello.txt").read_text() == "Hello from a container\n"
    scale(srv, 0, kind="docker")
    remaining = {c.id for c in lazyaf_docker.list_runner_containers(all=True)}
    assert not containers & remaining
