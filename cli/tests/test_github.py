"""lazyaf github link/verify/sync and lazyaf land --pr, against a live server, the fake GitHub on
127.0.0.1 and GitHub's git endpoint played by `git http-backend` (it wants the token)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_support import Invoke, api_repos, error_line, make_repo
from lazyaf.testing import LiveServer
from lazyaf_testkit.github.git import GitRemote
from lazyaf_testkit.github.pytest_plugin import GitHubRepo


@pytest.fixture
def remote(tmp_path: Path, github_repo: GitHubRepo) -> Iterator[GitRemote]:
    git_remote = GitRemote(tmp_path / "github-git", github_repo.token)
    with git_remote.serve():
        git_remote.add_repo("octo-org/hello-world")
        yield git_remote


@pytest.fixture
def proj(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> dict[str, object]:
    result = lazyaf(
        "ingest", make_repo(tmp_path / "src", branches=("feature",)), "--name", "proj", "--all-branches"
    )
    assert result.exit_code == 0, result.output
    return api_repos(server)[0]


def _link(
    lazyaf: Invoke, github_repo: GitHubRepo, remote: GitRemote, monkeypatch: pytest.MonkeyPatch, *extra: str
) -> None:
    monkeypatch.setenv("MY_GH_TOKEN", github_repo.token)
    assert github_repo.fake.url is not None
    result = lazyaf(
        "github",
        "link",
        "proj",
        "octo-org/hello-world",
        "--token-env",
        "MY_GH_TOKEN",
        "--api-url",
        github_repo.fake.url,
        "--git-url",
        f"{remote.url}/octo-org/hello-world.git",
        *extra,
    )
    assert result.exit_code == 0, result.output


def test_link_takes_the_token_from_the_environment_and_never_shows_it(
    lazyaf: Invoke,
    server: LiveServer,
    proj: dict[str, object],
    github_repo: GitHubRepo,
    remote: GitRemote,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_GH_TOKEN", github_repo.token)
    assert github_repo.fake.url is not None

    result = lazyaf(
        "github",
        "link",
        "proj",
        "octo-org/hello-world",
        "--token-env",
        "MY_GH_TOKEN",
        "--api-url",
        github_repo.fake.url,
        "--git-url",
        f"{remote.url}/octo-org/hello-world.git",
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Linked proj to octo-org/hello-world (token stored encrypted); "
        "check it with `lazyaf github verify proj`.\n"
    )
    link = httpx.get(server.api(f"/repos/{proj['id']}/github")).json()
    assert link["has_token"] is True and github_repo.token not in str(link)


def test_link_reads_the_token_from_stdin_and_an_empty_answer_keeps_it(
    lazyaf: Invoke, server: LiveServer, proj: dict[str, object], github_repo: GitHubRepo
) -> None:
    result = lazyaf("github", "link", "proj", "octo-org/hello-world", input=f"{github_repo.token}\n")
    assert result.exit_code == 0, result.output
    assert github_repo.token not in result.output

    again = lazyaf(
        "github", "link", "proj", "octo-org/hello-world", "--on-approve", "pull_request", input="\n"
    )

    assert again.exit_code == 0 and "kept the stored token" in again.stdout
    link = httpx.get(server.api(f"/repos/{proj['id']}/github")).json()
    assert link["has_token"] is True and link["on_approve"] == "pull_request"


def test_link_refuses_without_a_token_and_has_no_token_option_for_github(
    lazyaf: Invoke, server: LiveServer, proj: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "No GitHub token given" in error_line(
        lazyaf("github", "link", "proj", "octo-org/hello-world", input="")
    )
    monkeypatch.delenv("UNSET_VAR", raising=False)
    message = error_line(lazyaf("github", "link", "proj", "octo-org/x", "--token-env", "UNSET_VAR"))
    assert message == "$UNSET_VAR is not set or empty; export the GitHub token in it first."
    assert "is not OWNER/NAME" in error_line(lazyaf("github", "link", "proj", "octo-org", input="t\n"))
    assert httpx.get(server.api(f"/repos/{proj['id']}/github")).status_code == 404
    help_text = lazyaf("github", "link", "--help").stdout
    assert "--token-env VAR" in help_text and "not GitHub's" in help_text


def test_verify_says_ok_or_what_to_fix(
    lazyaf: Invoke,
    proj: dict[str, object],
    github_repo: GitHubRepo,
    remote: GitRemote,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _link(lazyaf, github_repo, remote, monkeypatch)

    ok = lazyaf("github", "verify", "proj")

    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith(
        "OK: lazyaf-bot has write access (default branch main) and git reaches the repository;"
    )
    github_repo.fake.revoke(github_repo.token)
    message = error_line(lazyaf("github", "verify", "proj"))
    assert "revoked" in message and "link the repository again" in message


def test_sync_reports_what_it_did(
    lazyaf: Invoke,
    server: LiveServer,
    proj: dict[str, object],
    github_repo: GitHubRepo,
    remote: GitRemote,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _link(lazyaf, github_repo, remote, monkeypatch)
    for title in ("One", "Two"):
        github_repo.fake.add_issue(github_repo.repo, title)
    httpx.put(server.api(f"/repos/{proj['id']}/github/sync"), json={})

    result = lazyaf("github", "sync", "proj")

    assert result.stdout == "Synced proj: 2 cards created, 0 updated, 0 closed, 0 issues skipped.\n"
    assert lazyaf("--json", "github", "sync", "proj").stdout.strip() == (
        '{\n  "created": 0,\n  "updated": 0,\n  "closed": 0,\n  "skipped": 0\n}'
    )


def test_land_pr_pushes_the_branch_and_opens_a_draft_pull_request(
    lazyaf: Invoke,
    proj: dict[str, object],
    github_repo: GitHubRepo,
    remote: GitRemote,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _link(lazyaf, github_repo, remote, monkeypatch)

    result = lazyaf("land", "proj", "--branch", "feature", "--pr", "--draft")

    assert result.exit_code == 0, result.output
    (pr,) = github_repo.repo.pulls()
    assert pr.pull is not None and (pr.pull.head, pr.pull.draft) == ("feature", True)
    assert result.stdout == f"Opened pull request #{pr.number} for feature: {_url(pr.number)}\n"
    assert "refs/heads/feature" in remote.refs("octo-org/hello-world")
    again = lazyaf("land", "proj", "--branch", "feature", "--pr")
    assert again.stdout == f"Found the open pull request #{pr.number} for feature: {_url(pr.number)}\n"
    assert len(github_repo.repo.pulls()) == 1


def test_land_pr_with_a_revoked_token_says_the_write_is_kept(
    lazyaf: Invoke,
    proj: dict[str, object],
    github_repo: GitHubRepo,
    remote: GitRemote,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _link(lazyaf, github_repo, remote, monkeypatch)
    github_repo.fake.revoke(github_repo.token)
    remote.token = "revoked"

    message = error_line(lazyaf("land", "proj", "--branch", "feature", "--pr"))

    assert "refused the token" in message and "kept on the server" in message
    assert github_repo.repo.pulls() == []


def test_land_pr_refuses_options_that_do_not_go_with_it(lazyaf: Invoke, proj: dict[str, object]) -> None:
    assert "drop --remote, --to and --force" in error_line(lazyaf("land", "proj", "--pr", "--force"))
    assert "go with --pr" in error_line(lazyaf("land", "proj", "--draft"))
    assert "not linked to GitHub" in error_line(lazyaf("land", "proj", "--branch", "feature", "--pr"))


def _url(number: int) -> str:
    return f"https://github.com/octo-org/hello-world/pull/{number}"


def test_run_gives_a_command_through_the_pipeline_and_deliveries_shows_it(
    lazyaf: Invoke,
    server: LiveServer,
    proj: dict[str, object],
    github_repo: GitHubRepo,
    remote: GitRemote,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issue = github_repo.fake.add_issue(github_repo.repo, "Add a greeting")
    _link(lazyaf, github_repo, remote, monkeypatch)

    result = lazyaf("github", "run", "status", "--repo", "proj", "--issue", str(issue.number))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"`status` on #{issue.number} of proj: done.\n"

    # iterate needs a pull request: accepted, then it fails at start, saying why.
    result = lazyaf("github", "run", "iterate", "--repo", "proj", "--issue", str(issue.number), "--wait")
    assert error_line(result) == (
        "`iterate` failed: `iterate` works on a pull request; this thread has none yet "
        "(run `plan` or `oneshot`)."
    )

    result = lazyaf("github", "deliveries", "--repo", "proj")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["RECEIVED", "DOOR", "EVENT", "REPOSITORY", "STATUS", "WHY"]
    assert [line.split()[2:6] for line in lines[1:]] == [
        ["cli", "cli.iterate", "octo-org/hello-world", "accepted"],
        ["cli", "cli.status", "octo-org/hello-world", "accepted"],
    ]
    found = httpx.get(server.api("/github/deliveries"), timeout=10).json()
    assert [d["source"] for d in found] == ["cli", "cli"]


def test_run_refuses_a_command_without_one_thread(lazyaf: Invoke, proj: dict[str, object]) -> None:
    result = lazyaf("github", "run", "plan", "--repo", "proj")
    assert error_line(result) == "Give the thread with exactly one of --issue N and --pr N."
    result = lazyaf("github", "run", "plan", "--repo", "proj", "--issue", "1")
    assert "is not linked to GitHub" in error_line(result)
