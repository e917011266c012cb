"""Clone and push by repo name (``/git/<name>.git``), on both backends: the same repo as by id, the
old name of a renamed repo until another repo takes it, and exactly the same per-ref rules for an
attempt token as by id (gitserver/access.py sees only the resolved id)."""

from __future__ import annotations

from pathlib import Path

import httpx

from lazyaf.testing import LiveServer
from tests.gitserver.conftest import PushLog, Remote
from tests.gitserver.gitcli import git, ls_remote, make_repo, rev
from tests.gitserver.test_push_rules import Attempt, attempt, push  # noqa: F401 (fixture)


def _by_id(server: LiveServer, remote: Remote) -> str:
    return f"{server.url}/git/{remote.id}.git"


def _rename(server: LiveServer, repo_id: str, name: str) -> None:
    response = httpx.patch(server.api(f"/repos/{repo_id}"), json={"name": name})
    assert response.status_code == 200, response.text


def test_clone_url_is_by_name_and_the_id_url_reaches_the_same_repo(
    server: LiveServer, remote: Remote, tmp_path: Path
) -> None:
    assert remote.url == f"{server.url}/git/demo.git"
    source = make_repo(tmp_path / "source")
    git("push", "-q", remote.url, "main", cwd=source)
    assert ls_remote(remote.url) == ls_remote(_by_id(server, remote))
    clone = tmp_path / "clone"
    git("clone", "-q", remote.url, str(clone))
    assert rev(clone, "HEAD") == rev(source, "HEAD")
    urls = httpx.get(server.api(f"/repos/{remote.id}/clone-url")).json()
    assert (urls["url"], urls["id_url"]) == (remote.url, _by_id(server, remote))


def test_a_renamed_repo_answers_to_its_old_name_until_another_repo_takes_it(
    server: LiveServer, remote: Remote, tmp_path: Path, pushes: PushLog
) -> None:
    source = make_repo(tmp_path / "source")
    git("push", "-q", remote.url, "main", cwd=source)
    old_url = remote.url
    _rename(server, remote.id, "renamed")
    repo = httpx.get(server.api(f"/repos/{remote.id}")).json()
    assert repo["clone_url"] == f"{server.url}/git/renamed.git"
    git("clone", "-q", old_url, str(tmp_path / "by-old-name"))
    git("clone", "-q", repo["clone_url"], str(tmp_path / "by-new-name"))
    assert (
        rev(tmp_path / "by-old-name", "HEAD") == rev(tmp_path / "by-new-name", "HEAD") == rev(source, "HEAD")
    )
    # A push by the old name lands in the renamed repo.
    git("push", "-q", old_url, "main:refs/heads/by-old-name", cwd=source)
    assert f"{rev(source, 'main')}\trefs/heads/by-old-name" in ls_remote(repo["clone_url"])
    assert [str(u.ref) for call in pushes.calls for u in call][-1] == "refs/heads/by-old-name"

    # Another repo takes the name: from now on the name is that repo's.
    other = httpx.post(server.api("/repos"), json={"name": "demo"}).json()
    assert other["clone_url"] == old_url
    assert ls_remote(old_url) == []  # the new, empty repo
    assert ls_remote(repo["clone_url"]) != []

    # Renaming back to a name it had before works like any rename (no alias to itself is left).
    _rename(server, remote.id, "third")
    _rename(server, remote.id, "renamed")
    assert ls_remote(f"{server.url}/git/renamed.git") == ls_remote(f"{server.url}/git/third.git")


def test_unknown_names_and_text_that_cannot_be_a_name_are_not_found(
    server: LiveServer, remote: Remote
) -> None:
    for text in ("nope", "-dash", "a%20b", ".hidden", "x" * 101):
        response = httpx.get(f"{server.url}/git/{text}.git/info/refs", params={"service": "git-upload-pack"})
        assert response.status_code == 404, text
        assert "not found on this LazyAF server" in response.text
    done = git("ls-remote", f"{server.url}/git/nope.git", check=False)
    assert done.returncode != 0 and "not found" in done.stderr


def test_an_attempt_token_by_name_pushes_only_its_own_ref(
    attempt: Attempt,  # noqa: F811 (the fixture)
    remote: Remote,
    server: LiveServer,
    pushes: PushLog,  # noqa: F811
) -> None:
    by_name = remote.url
    assert by_name.endswith("/git/demo.git")
    before = ls_remote(by_name)
    calls = len(pushes.calls)
    code, stderr = push(attempt, attempt.source, by_name, "HEAD:refs/heads/main")
    assert code != 0
    assert f"LazyAF: refused refs/heads/main: this attempt token may push only {attempt.ref}" in stderr, (
        stderr
    )
    assert ls_remote(by_name) == before and len(pushes.calls) == calls

    # Through the repo's old name, after a rename: the same rules.
    _rename(server, remote.id, "renamed")
    code, stderr = push(attempt, attempt.source, by_name, "HEAD:refs/heads/main")
    assert code != 0 and "LazyAF: refused refs/heads/main" in stderr, stderr
    code, stderr = push(attempt, attempt.source, by_name, f"HEAD:{attempt.ref}")
    assert code == 0, stderr
    assert f"{rev(attempt.source, 'HEAD')}\t{attempt.ref}" in ls_remote(f"{server.url}/git/renamed.git")

    # Another repo's name: the token is not for that repository, whatever it is called.
    other = httpx.post(server.api("/repos"), json={"name": "other"}).json()
    code, stderr = push(attempt, attempt.source, other["clone_url"], f"HEAD:{attempt.ref}")
    assert code != 0 and "this attempt token is for another repository" in stderr, stderr
    assert ls_remote(other["clone_url"]) == []
