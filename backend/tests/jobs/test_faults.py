"""Every job ends in a final state with a clear reason: agent failures, timeouts, cancels, lost runners,
and a backend killed mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, free_port, wait_until
from tests.gitutil import git
from tests.jobs.conftest import (
    PY,
    WRITE_AGENT,
    ingest,
    job_of,
    new_card,
    python_agent,
    scale,
    wait_job,
    wait_runners_idle,
)


def processes_with(marker: str) -> list[int]:
    """Pids whose command line contains ``marker`` (our agents' process trees)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if stat[0] != "Z":
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def sleeping_agent(marker: str, seconds: int = 600) -> str:
    """An agent that starts a child and sleeps: both must die when the job is stopped."""
    child = f"import time; time.sleep({seconds})"
    return (
        python_agent(
            f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', '{child}', '{marker}']); "
            f"print('working', flush=True); time.sleep({seconds})"
        )
        + f" {marker}"
    )


def start(server: LiveServer, tmp_path: Path) -> tuple[dict[str, object], dict[str, object]]:
    repo = ingest(server, tmp_path)
    card = new_card(server, repo)
    job = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
    return card, job


def test_agent_exiting_non_zero_fails_the_job_with_its_reason(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(python_agent("import sys; print('oops', file=sys.stderr); sys.exit(3)"))
    scale(server, 1)
    card, job = start(server, tmp_path)
    done = wait_job(server, str(job["id"]))
    assert done["status"] == "failed" and done["exit_code"] == 3
    assert "3" in done["error"] and "oops" in done["error"]
    assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "failed"
    scale(server, 0)


def test_agent_that_changes_nothing_fails_the_job(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(python_agent("print('nothing to do')"))
    scale(server, 1)
    card, job = start(server, tmp_path)
    done = wait_job(server, str(job["id"]))
    assert done["status"] == "failed"
    assert done["error"] == "The agent finished without changing anything."
    branches = httpx.get(server.api(f"/repos/{card['repo_id']}/branches")).json()
    assert [b["name"] for b in branches] == ["main"]
    scale(server, 0)


def test_timeout_kills_the_agent_process_tree(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    marker = f"lazyaf-test-{uuid.uuid4().hex}"
    server = make_server(sleeping_agent(marker), job_timeout=3)
    scale(server, 1)
    card, job = start(server, tmp_path)
    wait_until(lambda: len(processes_with(marker)) >= 2, 30)
    done = wait_job(server, str(job["id"]))
    assert done["status"] == "failed" and "timed out" in done["error"]
    wait_until(lambda: processes_with(marker) == [], 10)
    assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "failed"
    scale(server, 0)


def test_cancel_of_a_running_job_kills_the_agent_and_returns_the_card(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    marker = f"lazyaf-test-{uuid.uuid4().hex}"
    server = make_server(sleeping_agent(marker))
    scale(server, 1)
    card, job = start(server, tmp_path)
    wait_until(lambda: len(processes_with(marker)) >= 2, 30)
    response = httpx.post(server.api(f"/jobs/{job['id']}/cancel"))
    assert response.status_code == 200 and response.json()["cancel_requested"] is True
    done = wait_job(server, str(job["id"]), timeout=20)
    assert done["status"] == "cancelled" and done["error"] is None
    wait_until(lambda: processes_with(marker) == [], 10)
    assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "todo"
    again = httpx.post(server.api(f"/jobs/{job['id']}/cancel"))
    assert again.status_code == 409
    assert again.json()["detail"] == f"Job {job['id']} is already cancelled; there is nothing to cancel."
    scale(server, 0)


def test_cancel_of_a_queued_job_is_immediate(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server = make_server()
    card, job = start(server, tmp_path)
    response = httpx.post(server.api(f"/jobs/{job['id']}/cancel"))
    assert response.json()["status"] == "cancelled"
    assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "todo"


def test_a_killed_runner_fails_its_job_within_the_lease_and_its_replacement_takes_the_next_card(
    make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    marker = f"lazyaf-test-{uuid.uuid4().hex}"
    server = make_server(sleeping_agent(marker), lease_ttl=3)
    scale(server, 1)
    card, job = start(server, tmp_path)
    wait_until(lambda: job_of(server, str(job["id"]))["phase"] == "agent", 30)
    runner_pid = next(r for r in _pool_pids(server))
    os.killpg(runner_pid, signal.SIGKILL)
    for pid in processes_with(
        marker
    ):  # the agent's own group: a real crash takes the machine's processes too
        os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    done = wait_job(server, str(job["id"]), timeout=30)
    assert done["status"] == "failed"
    assert done["error"] == "Runner lost: it stopped sending heartbeats while running the agent."
    assert (
        time.monotonic() - killed_at < 3 * 3 + 5
    )  # within the lease plus reaping, with slack for a busy machine
    assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "failed"

    # The pool started the runner again: the next card reaches review on it.
    (runner,) = httpx.get(server.api("/runners")).json()["runners"]
    assert runner["last_exit"] == "killed by SIGKILL"
    server.settings.agent_command = WRITE_AGENT
    wait_runners_idle(server, 1)
    second = new_card(server, {"id": card["repo_id"]}, "Second card")
    job = httpx.post(server.api(f"/cards/{second['id']}/start")).json()
    done = wait_job(server, str(job["id"]))
    assert done["status"] == "completed", done["error"]
    assert done["runner_id"] == runner["id"]
    assert httpx.get(server.api(f"/cards/{second['id']}")).json()["status"] == "in_review"
    (runner,) = httpx.get(server.api("/runners")).json()["runners"]
    assert runner["restarts"] == 1 and runner["status"] == "idle"
    scale(server, 0)


def _pool_pids(server: LiveServer) -> list[int]:
    return list(server.app.state.pool._children)


def _backend(settings: Settings, port: int, agent_command: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAZYAF_")}
    env.update(
        LAZYAF_DATA_DIR=str(settings.data_dir),
        LAZYAF_PORT=str(port),
        LAZYAF_DEFAULT_AGENT="command",
        LAZYAF_AGENT_COMMAND=agent_command,
        LAZYAF_LEASE_TTL="4",
        LAZYAF_LOG_FORMAT="json",
    )
    code = "from lazyaf.server import run; from lazyaf.settings import load_settings; run(load_settings())"
    log = open(settings.data_dir / f"backend-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [PY, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def test_backend_killed_mid_job_comes_back_and_records_the_completion(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    agent = python_agent(
        "import pathlib, sys, time; print('working', flush=True); time.sleep(6); "
        "(pathlib.Path(sys.argv[1]) / 'AGENT.md').write_text('survived\\n'); print('done')"
    )
    backend = _backend(settings, port, agent)
    runner_pid = None
    try:
        wait_until(lambda: _up(url), 30)
        server = LiveServer(url=url, app=None, settings=settings)  # type: ignore[arg-type]
        pool = scale(server, 1)
        runner_pid = next(r["id"] for r in pool["runners"])
        card, job = start(server, tmp_path)
        wait_until(lambda: job_of(server, str(job["id"]))["phase"] == "agent", 30)
        os.killpg(backend.pid, signal.SIGKILL)
        backend.wait()
        time.sleep(1)
        backend = _backend(settings, port, agent)
        wait_until(lambda: _up(url), 30)
        done = wait_job(server, str(job["id"]), timeout=60)
        assert done["status"] == "completed", done["error"]
        assert done["attempt"] == 1
        card = httpx.get(server.api(f"/cards/{card['id']}")).json()
        assert card["status"] == "in_review"
        clone = tmp_path / "check"
        git(
            "clone",
            "-q",
            "--branch",
            str(card["branch_name"]),
            f"{url}/git/{card['repo_id']}.git",
            str(clone),
        )
        assert (clone / "AGENT.md").read_text() == "survived\n"
        statuses = [
            e["data"].get("text") for e in httpx.get(server.api(f"/jobs/{job['id']}/logs")).json()["events"]
        ]
        assert statuses == ["working", "done"]
    finally:
        if _up(url):
            httpx.post(f"{url}/api/runners/scale", json={"kind": "local", "count": 0}, timeout=30)
        os.killpg(backend.pid, signal.SIGKILL)
        backend.wait()
    assert runner_pid is not None


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_an_agent_flooding_its_log_keeps_its_lease(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    """Thousands of events in a burst are stored in batches: the heartbeats behind them still renew
    the lease in time, so a live runner is not declared lost (it was, one commit per event)."""
    lines = 10_000
    flood = python_agent(
        f"import pathlib, sys; [print('line', i) for i in range({lines})]; "
        "(pathlib.Path(sys.argv[1]) / 'FLOOD.md').write_text('flooded\\n')"
    )
    server = make_server(flood, lease_ttl=3)
    scale(server, 1)
    card, job = start(server, tmp_path)
    done = wait_job(server, str(job["id"]))
    assert done["status"] == "completed", done["error"]
    texts: list[str] = []
    after = 0
    while True:
        page = httpx.get(server.api(f"/jobs/{job['id']}/logs"), params={"after": after, "limit": 1000}).json()
        if not page["events"]:
            break
        texts += [e["data"]["text"] for e in page["events"] if e["kind"] == "text"]
        after = page["next_after"]
    flooded = [t for t in texts if t.startswith("line ")]
    assert flooded == [f"line {i}" for i in range(lines)]  # every line, once, in order
    assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "in_review"
    scale(server, 0)
