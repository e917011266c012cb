"""lazyaf land: fetch from LazyAF, push to a real (local bare) remote, explain git's refusals in one line."""

from __future__ import annotations

import http.server
import json
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_support import Invoke, api_repos, commit, error_line, git, ls_remote, make_repo
from lazyaf.testing import LiveServer


@pytest.fixture
def scratch_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where land makes its temporary repo; tests check it is empty afterwards."""
    path = tmp_path / "scratch"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """The 'real' remote: a bare repo holding main with one commit."""
    src = make_repo(tmp_path / "src", branches=("feature",))
    bare = tmp_path / "remote.git"
    git("clone", "-q", "--bare", src, bare)
    git("-C", bare, "branch", "-D", "feature")
    git("-C", src, "remote", "add", "origin", bare)
    return bare


@pytest.fixture
def ingested(lazyaf: Invoke, server: LiveServer, remote: Path, tmp_path: Path) -> dict[str, object]:
    """The source repo ingested with all its branches; its origin is ``remote``."""
    result = lazyaf("ingest", tmp_path / "src", "--name", "proj", "--all-branches")
    assert result.exit_code == 0, result.output
    return api_repos(server)[0]


def agent_commit(repo: dict[str, object], tmp_path: Path, branch: str = "main") -> str:
    """A commit pushed to LazyAF's server, as a runner would."""
    work = tmp_path / f"work-{branch}"
    if not work.exists():
        git("clone", "-q", "-b", branch, repo["clone_url"], work)
    sha = commit(
        work, {"agent.txt": f"by the agent on {branch} at {len(list(work.iterdir()))}"}, "agent work"
    )
    git("-C", work, "push", "-q", "origin", branch)
    return sha


def test_land_pushes_the_branch_to_the_recorded_remote(
    lazyaf: Invoke, ingested: dict[str, object], remote: Path, tmp_path: Path, scratch_tmp: Path
) -> None:
    sha = agent_commit(ingested, tmp_path)

    result = lazyaf("land", "proj", "--branch", "main")

    assert result.exit_code == 0, result.output
    assert ls_remote(remote)["refs/heads/main"] == sha
    assert result.stdout.startswith(f"Landed proj main ({sha[:7]}) at {remote} as main (")
    assert list(scratch_tmp.iterdir()) == []


def test_land_defaults_to_the_default_branch_and_accepts_the_id(
    lazyaf: Invoke, ingested: dict[str, object], remote: Path, tmp_path: Path
) -> None:
    sha = agent_commit(ingested, tmp_path)

    assert lazyaf("land", str(ingested["id"])).exit_code == 0

    assert ls_remote(remote)["refs/heads/main"] == sha


def test_land_to_names_the_remote_branch(
    lazyaf: Invoke, ingested: dict[str, object], remote: Path, tmp_path: Path
) -> None:
    sha = agent_commit(ingested, tmp_path, branch="feature")

    result = lazyaf("land", "proj", "--branch", "feature", "--to", "review/feature")

    assert result.exit_code == 0, result.output
    refs = ls_remote(remote)
    assert refs["refs/heads/review/feature"] == sha
    assert "refs/heads/feature" not in refs
    assert result.stdout == f"Landed proj feature ({sha[:7]}) at {remote} as new branch review/feature.\n"


def test_land_with_remote_overrides_the_recorded_one(
    lazyaf: Invoke, ingested: dict[str, object], remote: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.git"
    git("init", "-q", "--bare", other)

    assert lazyaf("land", "proj", "--remote", other).exit_code == 0

    assert ls_remote(other)["refs/heads/main"] == ls_remote(str(ingested["clone_url"]))["refs/heads/main"]


def test_land_when_remote_is_up_to_date(lazyaf: Invoke, ingested: dict[str, object], remote: Path) -> None:
    result = lazyaf("land", "proj")

    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == f"Nothing to land: main at {remote} is already at {ls_remote(remote)['refs/heads/main'][:7]}.\n"
    )


def test_non_fast_forward_is_refused_and_leaves_the_remote_unchanged(
    lazyaf: Invoke, ingested: dict[str, object], remote: Path, tmp_path: Path, scratch_tmp: Path
) -> None:
    agent_commit(ingested, tmp_path)
    someone = tmp_path / "someone"
    git("clone", "-q", remote, someone)
    commit(someone, {"theirs.txt": "theirs"}, "someone else's work")
    git("-C", someone, "push", "-q", "origin", "main")
    before = ls_remote(remote)

    result = lazyaf("land", "proj", "--branch", "main")

    assert error_line(result) == (
        f"The remote's main has 1 commit that LazyAF's main lacks: pull it in (`git pull {remote} main` "
        f"in a clone of LazyAF's repo, then `git push {ingested['clone_url']} main`) "
        "or pass --force to overwrite it."
    )
    assert ls_remote(remote) == before
    assert list(scratch_tmp.iterdir()) == []


def test_force_overwrites_a_diverged_remote_branch(
    lazyaf: Invoke, ingested: dict[str, object], remote: Path, tmp_path: Path
) -> None:
    sha = agent_commit(ingested, tmp_path)
    someone = tmp_path / "someone"
    git("clone", "-q", remote, someone)
    commit(someone, {"theirs.txt": "theirs"}, "someone else's work")
    git("-C", someone, "push", "-q", "origin", "main")

    result = lazyaf("land", "proj", "--branch", "main", "--force")

    assert result.exit_code == 0, result.output
    assert ls_remote(remote)["refs/heads/main"] == sha
    assert "overwriting it" in result.stdout


def test_unknown_repo(lazyaf: Invoke, server: LiveServer) -> None:
    result = lazyaf("land", "nope", "--branch", "main")

    assert error_line(result) == "No repo named 'nope' (or with that id); see `lazyaf repos`."


def test_missing_branch_lists_the_existing_ones(
    lazyaf: Invoke, ingested: dict[str, object], remote: Path, scratch_tmp: Path
) -> None:
    before = ls_remote(remote)

    result = lazyaf("land", "proj", "--branch", "nope")

    assert error_line(result) == "Branch 'nope' not found in repo 'proj'; its branches: feature, main."
    assert ls_remote(remote) == before
    assert list(scratch_tmp.iterdir()) == []


def test_repo_never_pushed_has_no_branches(lazyaf: Invoke, server: LiveServer) -> None:
    httpx.post(server.api("/repos"), json={"name": "fresh", "remote_url": "/nowhere"}, timeout=10)

    result = lazyaf("land", "fresh", "--branch", "main")

    assert error_line(result) == "Repo 'fresh' has no branches yet; push to it with `lazyaf ingest` first."


def test_no_remote_recorded(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    assert lazyaf("ingest", make_repo(tmp_path / "src"), "--name", "proj").exit_code == 0

    result = lazyaf("land", "proj", "--branch", "main")

    assert error_line(result) == "Repo 'proj' has no remote URL; pass --remote URL."


def test_remote_that_is_not_a_repository(
    lazyaf: Invoke, ingested: dict[str, object], tmp_path: Path, scratch_tmp: Path
) -> None:
    missing = tmp_path / "missing.git"

    result = lazyaf("land", "proj", "--remote", missing)

    assert error_line(result) == (
        f"No git repository at {missing} ('{missing}' does not appear to be a git repository); "
        "check --remote or the repo's remote URL."
    )
    assert list(scratch_tmp.iterdir()) == []


def test_unreachable_remote(lazyaf: Invoke, ingested: dict[str, object], down_url: str) -> None:
    result = lazyaf("land", "proj", "--remote", f"{down_url}/x.git")

    line = error_line(result)
    assert line.startswith(f"Cannot reach the remote at {down_url}/x.git (unable to access")
    assert line.endswith("); check the URL and your network.")


def test_invalid_target_branch_name(lazyaf: Invoke, ingested: dict[str, object]) -> None:
    result = lazyaf("land", "proj", "--to", "bad..name")

    assert error_line(result) == "'bad..name' is not a valid branch name; pick another --to."


class _DenyAll(http.server.BaseHTTPRequestHandler):
    """A git host that wants credentials nobody has."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def denying_remote() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DenyAll)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/me/proj.git"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_remote_asking_for_credentials_git_lacks(
    lazyaf: Invoke, ingested: dict[str, object], denying_remote: str
) -> None:
    result = lazyaf("land", "proj", "--remote", denying_remote)

    line = error_line(result)
    assert line.startswith(f"The remote at {denying_remote} wants credentials git does not have (")
    assert line.endswith("); set up a git credential helper, SSH key or token for it.")


def test_remote_refusing_credentials_never_prints_them(
    lazyaf: Invoke, ingested: dict[str, object], denying_remote: str
) -> None:
    url = denying_remote.replace("http://", "http://me:s3cret@")

    result = lazyaf("land", "proj", "--remote", url)

    line = error_line(result)
    assert line.startswith(
        f"The remote at {denying_remote.replace('http://', 'http://***@')} refused your credentials ("
    )
    assert line.endswith("); check your git credential helper, SSH key or token.")
    assert "s3cret" not in result.output


def test_remote_already_ahead_has_nothing_to_land(
    lazyaf: Invoke, ingested: dict[str, object], remote: Path, tmp_path: Path, scratch_tmp: Path
) -> None:
    someone = tmp_path / "someone"
    git("clone", "-q", remote, someone)
    commit(someone, {"a.txt": "a"}, "first of theirs")
    ahead = commit(someone, {"b.txt": "b"}, "second of theirs")
    git("-C", someone, "push", "-q", "origin", "main")
    lazyaf_main = ls_remote(str(ingested["clone_url"]))["refs/heads/main"]

    result = lazyaf("land", "proj")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Nothing to land: main at {remote} already has main ({lazyaf_main[:7]}) and more. "
        f"Bring its new commits into LazyAF with `git push {ingested['clone_url']} main:main` "
        "from a clone that has them.\n"
    )
    assert ls_remote(remote)["refs/heads/main"] == ahead
    assert list(scratch_tmp.iterdir()) == []


def test_remote_ahead_by_several_commits_says_how_many(
    lazyaf: Invoke, ingested: dict[str, object], remote: Path, tmp_path: Path
) -> None:
    agent_commit(ingested, tmp_path)
    someone = tmp_path / "someone"
    git("clone", "-q", remote, someone)
    for n in range(3):
        commit(someone, {f"theirs{n}.txt": "theirs"}, f"theirs {n}")
    git("-C", someone, "push", "-q", "origin", "main")

    result = lazyaf("land", "proj", "--to", "main", "--json")

    assert error_line(result).startswith(
        "The remote's main has 3 commits that LazyAF's main lacks: pull them in (`git pull "
    )
    assert error_line(result).endswith("or pass --force to overwrite them.")


def test_land_json(lazyaf: Invoke, ingested: dict[str, object], remote: Path, tmp_path: Path) -> None:
    sha = agent_commit(ingested, tmp_path, branch="feature")

    result = lazyaf("land", "proj", "--branch", "feature", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "repo": "proj",
        "branch": "feature",
        "target": "feature",
        "remote": str(remote),
        "sha": sha,
        "result": "new",
    }
