"""Who may write which ref, on both backends (gitserver/access.py): an attempt token pushes only its
own attempt ref while the attempt runs; a runner secret only reads; the user's shell does anything.

Every push goes from 127.0.0.1 with the real git client, sending its credential the way the runner
does (``http.extraHeader``, so loopback alone grants nothing). Each refusal is checked in git's own
output, and the refs (and the push notifications) are checked unchanged.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from lazyaf_protocol import messages as protocol

from lazyaf.testing import LiveServer
from tests.gitserver.conftest import PushLog, Remote
from tests.gitserver.gitcli import commit_file, git, ls_remote, make_repo, rev
from tests.runners.fakerunner import FakeRunner, basic, registered


def as_credential(token: str) -> dict[str, str]:
    """git's environment presenting ``token`` on every request, as the runner's git does."""
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: {basic(token)}",
    }


@dataclass
class Attempt:
    runner: FakeRunner
    assign: protocol.Assign
    source: Path  # a work tree with main checked out and one commit of the "agent" on top

    @property
    def ref(self) -> str:
        return self.assign.attempt_ref


@pytest.fixture
def attempt(server: LiveServer, remote: Remote, tmp_path: Path) -> Attempt:
    source = make_repo(tmp_path / "source")
    git("push", "-q", remote.url, "main", cwd=source)
    card = httpx.post(server.api(f"/repos/{remote.id}/cards"), json={"title": "Card A"}).json()
    assert httpx.post(server.api(f"/cards/{card['id']}/start")).status_code == 201
    runner, _ = registered(server, "r1")
    assign = runner.claim()
    assert assign.token.startswith(protocol.ATTEMPT_TOKEN_PREFIX)
    commit_file(source, "agent.txt", b"the agent's work\n", "Agent work")
    return Attempt(runner, assign, source)


def push(attempt_or_token: Attempt | str, cwd: Path, url: str, *refspecs: str) -> tuple[int, str]:
    token = attempt_or_token.assign.token if isinstance(attempt_or_token, Attempt) else attempt_or_token
    done = git("push", "--force", url, *refspecs, cwd=cwd, check=False, env_extra=as_credential(token))
    return done.returncode, done.stderr


def test_an_attempt_token_pushes_its_own_ref(attempt: Attempt, remote: Remote, pushes: PushLog) -> None:
    code, stderr = push(attempt, attempt.source, remote.url, f"HEAD:{attempt.ref}")
    assert code == 0, stderr
    assert f"{rev(attempt.source, 'HEAD')}\t{attempt.ref}" in ls_remote(remote.url)
    assert [[u.ref for u in call] for call in pushes.calls] == [[attempt.ref]]


def test_an_attempt_token_cannot_push_main_another_branch_or_another_attempts_ref(
    attempt: Attempt, remote: Remote, pushes: PushLog, server: LiveServer
) -> None:
    # Another card's branch, made by the user from their shell (loopback, no credential: allowed).
    git("push", "-q", remote.url, "HEAD~1:refs/heads/lazyaf/other-card", cwd=attempt.source)
    before = ls_remote(remote.url)
    calls = len(pushes.calls)
    other_job = attempt.ref.replace(attempt.assign.job_id, str(uuid.uuid4()))
    targets = [
        "refs/heads/main",
        "refs/heads/lazyaf/other-card",
        f"refs/lazyaf/attempts/{attempt.assign.job_id}/{attempt.assign.attempt + 1}",
        other_job,
        "refs/tags/v1",
    ]
    for target in targets:
        code, stderr = push(attempt, attempt.source, remote.url, f"HEAD:{target}")
        assert code != 0
        assert f"LazyAF: refused {target}: this attempt token may push only {attempt.ref}" in stderr, stderr
    # Its own ref alongside a forbidden one: the whole push is refused, its own ref too.
    code, stderr = push(attempt, attempt.source, remote.url, f"HEAD:{attempt.ref}", "HEAD:refs/heads/main")
    assert code != 0 and "LazyAF: refused refs/heads/main" in stderr
    assert ls_remote(remote.url) == before
    assert len(pushes.calls) == calls


def test_an_attempt_token_cannot_delete_its_own_ref(attempt: Attempt, remote: Remote) -> None:
    assert push(attempt, attempt.source, remote.url, f"HEAD:{attempt.ref}")[0] == 0
    before = ls_remote(remote.url)
    code, stderr = push(attempt, attempt.source, remote.url, f":{attempt.ref}")
    assert code != 0
    assert f"LazyAF: refused to delete {attempt.ref}: an attempt may move its ref, never delete it" in stderr
    assert ls_remote(remote.url) == before


def test_an_attempt_token_stops_working_when_its_attempt_ends(
    attempt: Attempt, remote: Remote, server: LiveServer
) -> None:
    attempt.runner.send(
        protocol.Complete(
            job_id=attempt.assign.job_id, attempt=attempt.assign.attempt, status="failed", error="x"
        )
    )
    assert attempt.runner.next(protocol.CompleteAck).accepted
    before = ls_remote(remote.url)
    code, stderr = push(attempt, attempt.source, remote.url, f"HEAD:{attempt.ref}")
    assert code != 0
    a = attempt.assign
    ended = f"remote: Attempt {a.attempt} of job {a.job_id} has ended; its token no longer works."
    assert ended in stderr, stderr
    assert ls_remote(remote.url) == before


def test_an_attempt_token_reaches_only_its_own_repo(
    attempt: Attempt, server: LiveServer, tmp_path: Path
) -> None:
    other = httpx.post(server.api("/repos"), json={"name": "other"}).json()
    git("push", "-q", other["clone_url"], "main", cwd=attempt.source)
    before = ls_remote(other["clone_url"])
    code, stderr = push(attempt, attempt.source, other["clone_url"], f"HEAD:{attempt.ref}")
    assert code != 0 and "LazyAF: this attempt token is for another repository." in stderr, stderr
    clone = git(
        "clone",
        "-q",
        other["clone_url"],
        str(tmp_path / "c"),
        check=False,
        env_extra=as_credential(attempt.assign.token),
    )
    assert clone.returncode != 0 and "this attempt token is for another repository" in clone.stderr
    assert ls_remote(other["clone_url"]) == before


def test_a_runner_secret_fetches_but_never_pushes(
    attempt: Attempt, remote: Remote, server: LiveServer, tmp_path: Path, pushes: PushLog
) -> None:
    _, welcome = registered(server, "reader")
    assert welcome.runner_secret is not None
    credential = as_credential(welcome.runner_secret)
    git("clone", "-q", remote.url, str(tmp_path / "clone"), env_extra=credential)
    assert rev(tmp_path / "clone", "HEAD") == rev(attempt.source, "HEAD~1")  # main before the agent's commit
    before, calls = ls_remote(remote.url), len(pushes.calls)
    for target in ("refs/heads/main", attempt.ref):
        code, stderr = push(welcome.runner_secret, attempt.source, remote.url, f"HEAD:{target}")
        assert code != 0
        assert (
            "LazyAF: a runner secret may fetch but not push; push an attempt's ref with its attempt token."
            in stderr
        )
    assert ls_remote(remote.url) == before and len(pushes.calls) == calls


def test_the_users_shell_on_loopback_still_pushes_anything(attempt: Attempt, remote: Remote) -> None:
    git("push", "-q", "--force", remote.url, "HEAD:refs/heads/main", cwd=attempt.source)
    git("push", "-q", remote.url, f"HEAD:{attempt.ref}", cwd=attempt.source)
    git("push", "-q", remote.url, f":{attempt.ref}", cwd=attempt.source)
    assert f"{rev(attempt.source, 'HEAD')}\trefs/heads/main" in ls_remote(remote.url)
    assert not any(line.endswith(attempt.ref) for line in ls_remote(remote.url))
