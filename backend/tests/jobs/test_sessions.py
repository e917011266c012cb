"""Agent session files: stored only by the runner holding the attempt, bound to that attempt, and
served only to the runner of the job that resumes them (jobs/sessions.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from lazyaf_protocol import messages as protocol

from lazyaf.testing import LiveServer
from tests.jobs.conftest import ingest, new_card
from tests.runners.fakerunner import registered

SESSION = "5b1f0c2e-0000-4000-8000-00000000c1a5"


def sessions_dir(server: LiveServer) -> Path:
    return server.settings.data_dir / "sessions"


def stored(server: LiveServer) -> list[str]:
    folder = sessions_dir(server)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def upload(
    server: LiveServer, job: str, attempt: int, session_id: str, credential: str | None, body: bytes
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    return httpx.put(
        server.api(f"/jobs/{job}/session"),
        params={"attempt": attempt, "session_id": session_id},
        content=body,
        headers=headers,
    )


def download(server: LiveServer, session_id: str, credential: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    return httpx.get(server.api(f"/sessions/{session_id}"), headers=headers)


class Started:
    """A started card whose job a registered runner claimed."""

    def __init__(self, server: LiveServer, repo: dict[str, Any], title: str) -> None:
        self.card = new_card(server, repo, title)
        assert httpx.post(server.api(f"/cards/{self.card['id']}/start")).status_code == 201
        self.runner, welcome = registered(server, f"runner-{title}")
        assert welcome.runner_secret is not None
        self.secret = welcome.runner_secret
        self.assign = self.runner.claim()

    def complete(self, session_id: str) -> None:
        a = self.assign
        self.runner.send(
            protocol.Complete(
                job_id=a.job_id,
                attempt=a.attempt,
                status="failed",
                error="The agent failed.",
                session_id=session_id,
            )
        )
        assert self.runner.next(protocol.CompleteAck).accepted


def test_only_the_runner_holding_the_attempt_stores_its_session(live: LiveServer, tmp_path: Path) -> None:
    held = Started(live, ingest(live, tmp_path), "a")
    _, other = registered(live, "other")
    job, attempt, token = held.assign.job_id, held.assign.attempt, held.assign.token
    refusals = [
        (other.runner_secret, attempt, "This runner does not hold that job"),  # another runner
        (token, attempt + 1, "This attempt token is for another attempt"),  # another attempt
        (
            None,
            attempt,
            "Session files come only from the runner holding the attempt",
        ),  # the user on loopback
    ]
    for credential, number, reason in refusals:
        response = upload(live, job, number, SESSION, credential, b'{"forged": true}\n')
        assert response.status_code == 403 and response.json()["detail"].startswith(reason), response.text
    assert stored(live) == []

    assert upload(live, job, attempt, SESSION, token, b'{"real": 1}\n').status_code == 204
    assert upload(live, job, attempt, SESSION, held.secret, b'{"real": 2}\n').status_code == 204  # its runner
    (name,) = stored(live)  # one file per attempt, named for it
    assert name == f"{job}-{attempt}-{SESSION}.jsonl"
    assert (sessions_dir(live) / name).read_bytes() == b'{"real": 2}\n'
    assert (sessions_dir(live) / name).stat().st_mode & 0o777 == 0o600


def test_a_session_is_served_only_to_the_runner_resuming_it(live: LiveServer, tmp_path: Path) -> None:
    first = Started(live, ingest(live, tmp_path), "a")
    a = first.assign
    assert upload(live, a.job_id, a.attempt, SESSION, a.token, b'{"turn": 1}\n').status_code == 204
    assert download(live, SESSION, a.token).status_code == 403  # nobody resumes it yet
    first.complete(SESSION)
    retried = httpx.post(live.api(f"/cards/{first.card['id']}/retry")).json()["job"]
    second, _ = registered(live, "second")
    resume = second.claim()
    assert (resume.job_id, resume.resume_session) == (retried["id"], SESSION)
    assert resume.session_url is not None and resume.session_url.endswith(f"/api/sessions/{SESSION}")

    served = httpx.get(resume.session_url, headers={"Authorization": f"Bearer {resume.token}"})
    assert served.status_code == 200 and served.content == b'{"turn": 1}\n'
    # The runner that made it holds no job resuming it; its attempt token ended with its attempt.
    assert download(live, SESSION, first.secret).status_code == 403
    assert download(live, SESSION, a.token).status_code == 401
    assert download(live, SESSION, None).status_code == 200  # the user reads anything


def test_a_session_not_reported_by_its_attempt_is_never_resumed(live: LiveServer, tmp_path: Path) -> None:
    held = Started(live, ingest(live, tmp_path), "a")
    a = held.assign
    assert upload(live, a.job_id, a.attempt, SESSION, a.token, b"planted\n").status_code == 204
    reported = "0d15ea5e-0000-4000-8000-000000000000"
    held.complete(reported)
    assert httpx.post(live.api(f"/cards/{held.card['id']}/retry")).status_code == 201
    second, _ = registered(live, "second")
    assert second.claim().resume_session is None  # a fresh start: no file of the session it reported
    assert download(live, SESSION, None).status_code == 404
    assert download(live, reported, None).status_code == 404


def test_an_attempt_cannot_store_another_cards_session(live: LiveServer, tmp_path: Path) -> None:
    repo = ingest(live, tmp_path)
    victim = Started(live, repo, "victim")
    v = victim.assign
    assert upload(live, v.job_id, v.attempt, SESSION, v.token, b"victim\n").status_code == 204
    victim.complete(SESSION)
    attacker = Started(live, repo, "attacker").assign
    before = stored(live)
    response = upload(live, attacker.job_id, attacker.attempt, SESSION, attacker.token, b"attacker\n")
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"Session {SESSION} belongs to another card's job; a runner stores only its own session."
    )
    assert stored(live) == before
    assert download(live, SESSION, None).content == b"victim\n"
