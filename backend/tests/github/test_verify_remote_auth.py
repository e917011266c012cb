"""POST /api/repos/{id}/verify-remote against a remote that wants credentials (`git http-backend`
behind basic auth, as GitHub's git endpoint): without a credential it says what to do; with the
repo's GitHub link it uses the link's token, through git's environment only."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from lazyaf_testkit.github.git import GitRemote

from lazyaf.settings import Settings
from tests.github.conftest import Setup, linked_repo
from tests.gitutil import git, make_source_repo

REPO = "octo-org/hello-world"


def _fill(git_remote: GitRemote, tmp_path: Path) -> str:
    """Give the remote's repo a main branch; its URL."""
    url = f"{git_remote.url}/{REPO}.git"
    source = make_source_repo(tmp_path / "source", commits=1)
    bare = git_remote.root / f"{REPO}.git"
    git("push", "-q", str(bare), "main", cwd=source)
    return url


def _recording_git(settings: Settings, tmp_path: Path) -> Path:
    """Make the server run git through a wrapper that writes its argv and environment down."""
    real = git("--exec-path").stdout.strip() + "/git"
    record = tmp_path / "git-calls"
    wrapper = tmp_path / "recording-git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {record}\nenv >> {record}.env\nexec {real} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    settings.git_binary = str(wrapper)
    return record


async def test_a_remote_wanting_credentials_says_how_to_give_them(
    api: httpx.AsyncClient, git_remote: GitRemote, tmp_path: Path
) -> None:
    url = _fill(git_remote, tmp_path)
    repo: dict[str, Any] = (await api.post("/api/repos", json={"name": "nolink", "remote_url": url})).json()

    answer = (await api.post(f"/api/repos/{repo['id']}/verify-remote")).json()

    assert answer["ok"] is False and answer["default_branch"] is None
    assert answer["error"].startswith(f"{url} wants credentials LazyAF does not have")
    assert "link the repo to GitHub with a token (its git URL must be this one)" in answer["error"]
    assert git_remote.auth == []  # git offered no credential at all


async def test_the_links_token_reaches_git_through_its_environment_only(
    api: httpx.AsyncClient,
    setup: Setup,
    git_remote: GitRemote,
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = _fill(git_remote, tmp_path)
    repo = await linked_repo(api, setup, git_url=url)
    # The repo's origin is the link's git URL, spelled a little differently.
    await api.patch(f"/api/repos/{repo['id']}", json={"remote_url": url.removesuffix(".git") + "/"})
    record = _recording_git(settings, tmp_path)

    answer = (await api.post(f"/api/repos/{repo['id']}/verify-remote")).json()

    assert answer == {
        "ok": True,
        "url": url.removesuffix(".git") + "/",
        "default_branch": "main",
        "branches": 1,
        "error": None,
    }
    assert git_remote.auth and all(ok for _, ok in git_remote.auth)  # the token was the password
    argv = record.read_text()
    assert "ls-remote" in argv and setup.token not in argv
    assert f"LAZYAF_GITHUB_TOKEN={setup.token}" in Path(f"{record}.env").read_text()
    out = capsys.readouterr()
    assert setup.token not in out.out + out.err


async def test_the_token_is_not_offered_to_another_host(
    api: httpx.AsyncClient, setup: Setup, git_remote: GitRemote, settings: Settings, tmp_path: Path
) -> None:
    url = _fill(git_remote, tmp_path)
    repo = await linked_repo(api, setup, git_url=url)
    record = _recording_git(settings, tmp_path)
    with GitRemote(tmp_path / "elsewhere", "other-secret").serve() as other:
        other.add_repo(REPO)
        body = {"remote_url": f"{other.url}/{REPO}.git"}

        answer = (await api.post(f"/api/repos/{repo['id']}/verify-remote", json=body)).json()

        assert answer["ok"] is False and "wants credentials LazyAF does not have" in answer["error"]
        assert other.auth == []  # git had nothing to offer: no helper, no token
    assert setup.token not in Path(f"{record}.env").read_text()


async def test_a_token_the_remote_refuses_says_to_link_again(
    api: httpx.AsyncClient, setup: Setup, git_remote: GitRemote, tmp_path: Path
) -> None:
    url = _fill(git_remote, tmp_path)
    repo = await linked_repo(api, setup, git_url=url)
    await api.patch(f"/api/repos/{repo['id']}", json={"remote_url": url})
    git_remote.token = "rotated-on-the-host"

    answer = (await api.post(f"/api/repos/{repo['id']}/verify-remote")).json()

    assert answer["ok"] is False
    assert answer["error"].startswith(f"{url} refused the GitHub link's token")
    assert "Link the repo again with a token that can read it" in answer["error"]
    assert setup.token not in answer["error"]
