"""The pool keeps the count the user asked for (runners/pool.py), with real local runner processes:
a runner that is killed is started again (same row, after a backoff) and says how it ended; one
that keeps crashing is marked failed with its log tail, and scaling again retries it; a server
that comes back restarts the runners that died meanwhile; scaling down announces each removal."""

from __future__ import annotations

import json
import os
import shutil
import signal
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lazyaf.runners.pool import RESTART_CAP, RunnerPool, describe_container_exit, describe_exit
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server, wait_until
from tests.jobs.conftest import scale, wait_runners_idle
from tests.runners.fakerunner import db_rows


def runners(server: LiveServer) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(server.api("/runners")).json()["runners"]
    return found


def pid_of(server: LiveServer, name: str) -> int:
    ((pid,),) = db_rows(server, "SELECT pid FROM runner WHERE name = ?", name)
    assert pid is not None
    return int(pid)


def event_types(server: LiveServer) -> list[tuple[str, str]]:
    return [(t, d) for t, d in db_rows(server, "SELECT type, data FROM board_event ORDER BY seq")]


def test_a_killed_runner_is_started_again_and_says_how_it_ended(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(runner_restart_delay=0.2)
    pool = scale(server, 1)
    assert pool["local"] == 1
    wait_runners_idle(server, 1)
    (before,) = runners(server)
    assert before["pooled"] is True and before["restarts"] == 0 and before["last_exit"] is None
    first = pid_of(server, "local-1")
    os.killpg(first, signal.SIGKILL)

    def restarted() -> bool:
        rows = runners(server)
        return len(rows) == 1 and rows[0]["restarts"] == 1 and rows[0]["status"] == "idle"

    wait_until(restarted, 30)
    (after,) = runners(server)
    assert after["id"] == before["id"] and after["name"] == "local-1"  # the same runner, started again
    assert after["last_exit"] == "killed by SIGKILL" and after["last_exit_at"] is not None
    assert after["restart_at"] is None and after["failed_at"] is None
    assert pid_of(server, "local-1") != first
    assert httpx.get(server.api("/runners")).json()["local"] == 1
    # The board saw it go and come back.
    statuses = [json.loads(d)["runner"] for t, d in event_types(server) if t == "runner_status"]
    seen = [(r["restarts"], r["status"]) for r in statuses if r["last_exit"] == "killed by SIGKILL"]
    assert seen[0] == (0, "offline") and (1, "idle") in seen
    scale(server, 0)


@pytest.fixture
def crashing_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Local runners that print a line and exit 3 at start-up (a package shadowing the runner's);
    calling the fixture's value mends them."""
    shadow = tmp_path / "shadow" / "lazyaf_runner"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    (shadow / "__main__.py").write_text(
        textwrap.dedent(
            """
            import sys
            print("boom: this runner cannot start", file=sys.stderr)
            sys.exit(3)
            """
        )
    )
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    return lambda: monkeypatch.delenv("PYTHONPATH")


def test_a_runner_that_keeps_crashing_is_marked_failed_and_scaling_again_retries_it(
    make_server: Callable[..., LiveServer], crashing_runner: Callable[[], None], tmp_path: Path
) -> None:
    server = make_server(runner_restart_delay=0.05, runner_crash_limit=3)
    scale(server, 1)
    wait_until(lambda: runners(server)[0]["failed_at"] is not None, 30)
    (failed,) = runners(server)
    assert failed["status"] == "offline" and failed["restart_at"] is None
    assert failed["restarts"] == 2  # started three times: the first start and two restarts
    assert failed["last_exit"] == "exited with code 3"
    assert "boom: this runner cannot start" in failed["log_tail"]
    # It stays failed: no more restarts (nothing to wait for but a few backoffs' worth).
    assert db_rows(server, "SELECT pid FROM runner") == [(None,)]
    assert httpx.get(server.api("/runners")).json()["local"] == 1

    crashing_runner()  # fixed
    retried = scale(server, 1)
    assert retried["runners"][0]["failed_at"] is None
    wait_runners_idle(server, 1)
    (row,) = runners(server)
    assert row["id"] == failed["id"] and row["restarts"] == 3 and row["failed_at"] is None
    scale(server, 0)


def test_scaling_down_removes_runners_and_announces_it(make_server: Callable[..., LiveServer]) -> None:
    server = make_server()
    scale(server, 2)
    wait_runners_idle(server, 2)
    ids = {r["id"] for r in runners(server)}
    pids = [pid_of(server, name) for name in ("local-1", "local-2")]
    pool = scale(server, 0)
    assert pool["local"] == 0 and pool["runners"] == []
    deleted = [json.loads(d) for t, d in event_types(server) if t == "runner_deleted"]
    assert sorted(d["runner_id"] for d in deleted) == sorted(ids)
    wait_until(lambda: not any(_alive(p) for p in pids), 10)


def test_scaling_to_zero_while_a_runner_waits_to_restart_leaves_nothing_behind(
    make_server: Callable[..., LiveServer], crashing_runner: Callable[[], None]
) -> None:
    server = make_server(runner_restart_delay=30)
    scale(server, 1)
    wait_until(lambda: runners(server)[0]["restart_at"] is not None, 30)
    assert scale(server, 0)["runners"] == []
    pool: RunnerPool = server.app.state.pool
    assert pool._timers == {}  # the pending restart is gone with its runner


def test_a_server_that_comes_back_restarts_the_runners_that_died_meanwhile(settings: Settings) -> None:
    settings.lease_ttl = 4
    settings.runner_restart_delay = 0.1
    with live_server(settings, migrate=False) as first:
        scale(first, 1)
        wait_runners_idle(first, 1)
        (row,) = runners(first)
    # The server stopped and took its runner with it (live_server stops the processes it started).
    with live_server(settings, migrate=False) as second:
        try:
            wait_runners_idle(second, 1)
            (again,) = runners(second)
            assert again["id"] == row["id"] and again["restarts"] == 1
            assert again["last_exit"] == "its process was gone when the server started"
        finally:
            scale(second, 0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_backoff_doubles_with_jitter_up_to_its_cap(settings: Settings) -> None:
    settings.runner_restart_delay = 1.0
    pool = RunnerPool.__new__(RunnerPool)
    pool.settings = settings
    for exits, full in ((1, 1.0), (2, 2.0), (3, 4.0), (7, 60.0), (30, RESTART_CAP)):
        delays = [pool.restart_delay(exits) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays), (exits, min(delays), max(delays))
        assert len(set(delays)) > 1  # jittered


def test_exits_in_words() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(None).startswith("its process ended (exit status unknown")
    assert (
        describe_container_exit(137, oom_killed=False, error="", removed=False)
        == "exited with code 137 (SIGKILL)"
    )
    assert describe_container_exit(137, oom_killed=True, error="", removed=False) == (
        "killed: out of memory (exit code 137)"
    )
    assert (
        describe_container_exit(None, oom_killed=False, error="", removed=True) == "its container was removed"
    )


def test_a_runner_that_cannot_start_is_a_clear_error_and_the_count_stays_what_runs(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server()
    logs = server.settings.logs_dir
    shutil.rmtree(logs)
    logs.write_text("not a folder")  # the runner's log cannot be opened
    response = httpx.post(server.api("/runners/scale"), json={"kind": "local", "count": 1}, timeout=60)
    assert response.status_code == 500
    assert response.json()["detail"].startswith("Could not start local runner local-1: ")
    assert "Check that the data directory" in response.json()["detail"]
    pool = httpx.get(server.api("/runners")).json()
    assert pool["local"] == 0 and pool["runners"] == []
    logs.unlink()
    assert scale(server, 1)["local"] == 1
    wait_runners_idle(server, 1)
    scale(server, 0)
