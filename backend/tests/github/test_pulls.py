"""Pull requests through the outbox: push with the token in git's environment, open or reuse the
pull request, comment on the issue; failures keep the write, and nothing is done twice."""

from __future__ import annotations

import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from lazyaf_testkit.github.git import GitRemote

from lazyaf.cards.models import Card, CardStatus
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.settings import Settings
from tests.github.conftest import Setup, cards, linked_repo, push_commits, set_rule, sync_now
from tests.gitutil import git

BRANCH = "lazyaf/1234abcd-fix-the-bug"


@pytest.fixture
def git_log(tmp_path: Path, settings: Settings) -> Path:
    """Make LazyAF's git a wrapper that records each command line and whether the token was in its
    environment, then runs the real git."""
    log = tmp_path / "git-argv.log"
    wrapper = tmp_path / "git-wrapper"
    real = git("--exec-path").stdout.strip().rsplit("/", 1)[0]
    wrapper.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "argv: $*" >> "{log}"\n'
        f'[ -n "$LAZYAF_GITHUB_TOKEN" ] && echo "token in environment" >> "{log}"\n'
        f'exec "$(command -v git || echo {real}/git)" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    settings.git_binary = str(wrapper)
    return log


async def _reviewed_card(
    api: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    setup: Setup,
    git_remote: GitRemote,
    **link: object,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A linked repo with an issue synced into a card whose agent finished on BRANCH (in review)."""
    issue = setup.fake.add_issue(setup.repo, "Fix the bug", body="It crashes.")
    repo = await linked_repo(api, setup, git_url=f"{git_remote.url}/octo-org/hello-world.git", **link)
    await set_rule(api, repo)
    await sync_now(api, repo)
    push_commits(settings, repo, tmp_path, BRANCH)
    (card,) = await cards(api, repo)
    async with app.state.sessionmaker() as session:
        row = await session.get(Card, uuid.UUID(card["id"]))
        assert row is not None and row.github_issue_number == issue.number
        row.status, row.branch_name, row.total_cost_usd = CardStatus.IN_REVIEW, BRANCH, 0.0421
        job = Job(
            card_id=row.id,
            status=JobStatus.COMPLETED,
            kind="build",
            branch=BRANCH,
            cost_usd=0.0421,
            commits=1,
            files_changed=1,
            lines_added=1,
            lines_removed=0,
            verification=[
                {"name": "test", "command": "pytest -q", "exit_code": 0, "duration_ms": 1500, "output": ""}
            ],
        )
        session.add(job)
        await session.commit()
    return repo, (await api.get(f"/api/cards/{card['id']}")).json()


async def _run_outbox(app: FastAPI, *, later: float = 0) -> int:
    ran: int = await app.state.github.outbox.run_due(datetime.now(UTC) + timedelta(seconds=later))
    return ran


async def _ops(api: httpx.AsyncClient, repo: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.get(f"/api/repos/{repo['id']}/github/outbox")).json()
    return found


async def test_a_pull_request_from_a_card_pushes_opens_and_comments_on_the_issue(
    api: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    setup: Setup,
    git_remote: GitRemote,
    git_log: Path,
) -> None:
    repo, card = await _reviewed_card(api, app, settings, tmp_path, setup, git_remote)

    response = await api.post(f"/api/cards/{card['id']}/pull-request", json={"draft": True})
    assert response.status_code == 202
    assert response.json()["card"]["pr_status"] == "queued" and response.json()["op"]["status"] == "pending"
    assert await _run_outbox(app) == 2  # the pull request, then the comment it asked for

    (pr,) = setup.repo.pulls()
    assert pr.title == "Fix the bug" and pr.pull is not None and pr.pull.draft is True
    assert (pr.pull.head, pr.pull.base) == (BRANCH, "main")
    body = pr.body or ""
    assert "Closes #1" in body and "## Summary" in body and "It crashes." in body
    assert "✅ **test** `pytest -q` (1.5 s)" in body and "$0.0421 over 1 agent run" in body
    card = (await api.get(f"/api/cards/{card['id']}")).json()
    assert card["pr_url"] == f"https://github.com/octo-org/hello-world/pull/{pr.number}"
    assert (card["pr_status"], card["github_error"]) == ("opened", None)
    (comment,) = setup.repo.issues[1].comments
    assert card["pr_url"] in comment.body and comment.user.login == "lazyaf-bot"
    # The branch reached GitHub's git through the token, which git only had in its environment.
    assert (
        git_remote.refs("octo-org/hello-world")[f"refs/heads/{BRANCH}"]
        == git("rev-parse", BRANCH, cwd=Path(tmp_path / "source-hello")).stdout.strip()
    )
    assert ("x-access-token", True) in git_remote.auth and all(ok for _, ok in git_remote.auth)
    calls = git_log.read_text()
    assert "argv: push" in calls and "token in environment" in calls and setup.token not in calls
    assert [op["status"] for op in await _ops(api, repo)] == ["done", "done"]


async def test_a_502_on_creating_the_pull_request_once_still_gives_exactly_one(
    api: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    setup: Setup,
    git_remote: GitRemote,
) -> None:
    repo, card = await _reviewed_card(api, app, settings, tmp_path, setup, git_remote)
    setup.fake.fail_next("pulls/create", 502)
    await api.post(f"/api/cards/{card['id']}/pull-request")

    assert await _run_outbox(app) == 1
    (op,) = await _ops(api, repo)
    assert (op["status"], op["attempts"]) == ("pending", 1) and "not answering" in op["last_error"]
    card = (await api.get(f"/api/cards/{card['id']}")).json()
    assert card["pr_status"] == "queued" and "try again later" in card["github_error"]
    assert await _run_outbox(app) == 0  # it waits its backoff
    assert await _run_outbox(app, later=settings.github_retry_base) == 2

    assert len(setup.repo.pulls()) == 1
    assert [c.status for c in setup.fake.calls("pulls/create")] == [502, 201]
    assert [c.param("head") for c in setup.fake.calls("pulls/list")] == ["octo-org:" + BRANCH] * 2
    card = (await api.get(f"/api/cards/{card['id']}")).json()
    assert (card["pr_status"], card["github_error"]) == ("opened", None)


async def test_a_pull_request_github_made_before_answering_502_is_reused(
    api: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    setup: Setup,
    git_remote: GitRemote,
) -> None:
    """GitHub often applies a write, then answers 502: the retry must find the pull request, not make one."""
    repo, card = await _reviewed_card(api, app, settings, tmp_path, setup, git_remote)
    setup.fake.fail_next("pulls/create", 502)
    await api.post(f"/api/cards/{card['id']}/pull-request")
    await _run_outbox(app)
    setup.fake.add_pull(setup.repo, "Fix the bug", head=BRANCH, user="lazyaf-bot")  # what the 502 hid

    await _run_outbox(app, later=settings.github_retry_base)

    assert len(setup.repo.pulls()) == 1 and len(setup.fake.calls("pulls/create")) == 1
    (op, _comment) = sorted(await _ops(api, repo), key=lambda o: o["op"], reverse=True)
    assert op["result"]["reused"] is True


async def test_asking_again_reuses_the_pull_request_and_the_comment(
    api: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    setup: Setup,
    git_remote: GitRemote,
) -> None:
    repo, card = await _reviewed_card(api, app, settings, tmp_path, setup, git_remote)
    for _ in range(2):
        assert (await api.post(f"/api/cards/{card['id']}/pull-request")).status_code == 202
        await _run_outbox(app)

    assert len(setup.repo.pulls()) == 1 and len(setup.repo.issues[1].comments) == 1
    assert len(setup.fake.calls("pulls/create")) == 1 and len(setup.fake.calls("issues/create-comment")) == 1


async def test_a_revoked_token_holds_the_write_until_the_link_is_fixed(
    api: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    setup: Setup,
    git_remote: GitRemote,
) -> None:
    repo, card = await _reviewed_card(api, app, settings, tmp_path, setup, git_remote)
    setup.fake.revoke(setup.token)
    git_remote.token = "revoked-everywhere"
    await api.post(f"/api/cards/{card['id']}/pull-request")

    await _run_outbox(app)

    (op,) = await _ops(api, repo)
    assert op["status"] == "held" and "refused the token" in op["last_error"]
    card = (await api.get(f"/api/cards/{card['id']}")).json()
    assert card["pr_status"] == "held" and "link the repository again" in card["github_error"]
    link = (await api.get(f"/api/repos/{repo['id']}/github")).json()
    assert link["outbox_held"] == 1 and "refused the token" in link["last_error"]
    assert await _run_outbox(app, later=86_400) == 0  # held: not retried by time alone
    assert setup.repo.pulls() == []

    fresh = setup.fake.add_token("lazyaf-bot")
    git_remote.token = fresh
    relinked = await api.put(
        f"/api/repos/{repo['id']}/github", json={"owner": "octo-org", "name": "hello-world", "token": fresh}
    )
    assert relinked.json()["outbox_pending"] == 1 and relinked.json()["outbox_held"] == 0
    await _run_outbox(app)

    assert len(setup.repo.pulls()) == 1
    card = (await api.get(f"/api/cards/{card['id']}")).json()
    assert (card["pr_status"], card["github_error"]) == ("opened", None)


async def test_no_write_access_holds_the_write_with_what_to_fix(
    api: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    setup: Setup,
    git_remote: GitRemote,
) -> None:
    repo, card = await _reviewed_card(api, app, settings, tmp_path, setup, git_remote)
    reader = setup.fake.add_token("reader")
    git_remote.token = reader  # git may read and push; the API may not open pull requests
    await api.put(
        f"/api/repos/{repo['id']}/github", json={"owner": "octo-org", "name": "hello-world", "token": reader}
    )
    await api.post(f"/api/cards/{card['id']}/pull-request")

    await _run_outbox(app)

    card = (await api.get(f"/api/cards/{card['id']}")).json()
    assert card["pr_status"] == "held" and "give it write access" in card["github_error"].lower()
    assert setup.repo.pulls() == []


async def test_a_pull_request_needs_reviewed_work(
    api: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    setup: Setup,
    git_remote: GitRemote,
) -> None:
    setup.fake.add_issue(setup.repo, "Not started")
    repo = await linked_repo(api, setup, git_url=f"{git_remote.url}/octo-org/hello-world.git")
    await set_rule(api, repo)
    await sync_now(api, repo)
    (card,) = await cards(api, repo)

    response = await api.post(f"/api/cards/{card['id']}/pull-request")

    assert response.status_code == 409 and "open it from a card in review" in response.json()["detail"]
    assert await _ops(api, repo) == []
    plain: dict[str, Any] = (await api.post("/api/repos", json={"name": "plain"})).json()
    other = (await api.post(f"/api/repos/{plain['id']}/cards", json={"title": "x"})).json()
    response = await api.post(f"/api/cards/{other['id']}/pull-request")
    assert response.status_code == 404 and "not linked to GitHub" in response.json()["detail"]


async def test_approve_opens_a_pull_request_when_the_link_says_so(
    api: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    setup: Setup,
    git_remote: GitRemote,
) -> None:
    repo, card = await _reviewed_card(
        api, app, settings, tmp_path, setup, git_remote, on_approve="pull_request"
    )
    main_before = (await api.get(f"/api/repos/{repo['id']}/branches")).json()

    response = await api.post(f"/api/cards/{card['id']}/approve")

    assert response.status_code == 200, response.text
    assert response.json()["card"]["status"] == "done" and response.json()["merge_sha"] == ""
    assert (await api.get(f"/api/repos/{repo['id']}/branches")).json() == main_before  # nothing merged here
    await _run_outbox(app)
    assert len(setup.repo.pulls()) == 1
    card = (await api.get(f"/api/cards/{card['id']}")).json()
    assert card["pr_url"] and card["status"] == "done"
    timeline = (await api.get(f"/api/cards/{card['id']}/timeline")).json()
    events = [e["data"].get("event") for e in timeline["entries"] if e["kind"] == "github"]
    assert events == ["synced", "approved", "pull_request", "commented"]


async def test_a_branch_pull_request_for_land(
    api: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    setup: Setup,
    git_remote: GitRemote,
) -> None:
    repo = await linked_repo(api, setup, git_url=f"{git_remote.url}/octo-org/hello-world.git")
    push_commits(settings, repo, tmp_path, "topic")

    response = await api.post(
        f"/api/repos/{repo['id']}/github/pull-request", json={"branch": "topic", "title": "A topic"}
    )
    assert response.status_code == 202 and response.json()["card"] is None
    op_id = response.json()["op"]["id"]
    await _run_outbox(app)

    op = (await api.get(f"/api/repos/{repo['id']}/github/outbox/{op_id}")).json()
    assert op["status"] == "done" and op["result"]["url"].endswith(f"/pull/{op['result']['number']}")
    (pr,) = setup.repo.pulls()
    assert (pr.title, pr.pull.head if pr.pull else None) == ("A topic", "topic")
    before = (await api.get(f"/api/repos/{repo['id']}/github/outbox")).json()
    missing = await api.post(f"/api/repos/{repo['id']}/github/pull-request", json={"branch": "nope"})
    # The one answer for a missing branch, whether a card's or one named here; nothing is queued.
    assert (missing.status_code, missing.json()) == (
        409,
        {
            "detail": "Repo 'hello' has no branch 'nope'; see `lazyaf repos` for its branches.",
            "code": "branch_missing",
        },
    )
    assert (await api.get(f"/api/repos/{repo['id']}/github/outbox")).json() == before


async def test_a_write_left_running_by_a_crash_is_done_once_after_restart(
    api: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    setup: Setup,
    git_remote: GitRemote,
) -> None:
    repo, card = await _reviewed_card(api, app, settings, tmp_path, setup, git_remote)
    await api.post(f"/api/cards/{card['id']}/pull-request")
    outbox = app.state.github.outbox
    assert await outbox._claim(datetime.now(UTC)) is not None  # the worker took it, GitHub opened
    setup.fake.add_pull(setup.repo, "Fix the bug", head=BRANCH, user="lazyaf-bot")  # the pull request …
    # … and the server died before recording it. At start-up the row goes back in the queue.
    assert await _run_outbox(app) == 0
    assert await outbox.recover() == 1
    await _run_outbox(app)
    assert len(setup.repo.pulls()) == 1 and setup.fake.calls("pulls/create") == []
    assert [op["status"] for op in await _ops(api, repo)] == ["done", "done"]
