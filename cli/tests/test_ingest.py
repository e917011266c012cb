"""lazyaf ingest: real pushes to a live server, and every refusal in one line with nothing left behind."""

from __future__ import annotations

import json
import os
import pty
import sys
from pathlib import Path

import httpx
from cli_support import (
    Invoke,
    api_repos,
    assert_nothing_left,
    commit,
    error_line,
    git,
    invoke,
    ls_remote,
    make_repo,
)
from lazyaf.testing import LiveServer

BINARY = bytes(range(256)) * 64
UNICODE_NAME = "données/résumé ünïcödé.txt"


def test_all_branches_copies_every_branch_tag_and_byte(
    lazyaf: Invoke, server: LiveServer, tmp_path: Path
) -> None:
    src = make_repo(tmp_path / "src", branches=("dev", "feature/x", "fonctionnalité"), tags=("v1.0",))
    commit(src, {"bin/blob.bin": BINARY, UNICODE_NAME: "ça marche\n"}, "binary and unicode")
    git("-C", src, "tag", "-a", "v2.0", "-m", "annotated")

    result = lazyaf("ingest", src, "--name", "proj", "--all-branches")

    assert result.exit_code == 0, result.output
    repo = api_repos(server)[0]
    assert (repo["name"], repo["default_branch"], repo["is_ingested"]) == ("proj", "main", True)
    assert ls_remote(str(repo["clone_url"])) == ls_remote(src)
    clone = tmp_path / "clone"
    git("clone", "-q", repo["clone_url"], clone)
    assert (clone / "bin/blob.bin").read_bytes() == BINARY
    assert (clone / UNICODE_NAME).read_text() == "ça marche\n"
    assert git("-C", clone, "rev-parse", "HEAD") == git("-C", src, "rev-parse", "main")
    assert "branches  main (default), dev, feature/x, fonctionnalité" in result.stdout
    assert "tags      v1.0, v2.0" in result.stdout
    assert f"clone     {repo['clone_url']}" in result.stdout


def test_default_pushes_only_the_current_branch_and_all_tags(
    lazyaf: Invoke, server: LiveServer, tmp_path: Path
) -> None:
    src = make_repo(tmp_path / "src", branches=("dev", "other"), tags=("v1",))
    git("-C", src, "checkout", "-q", "dev")

    result = lazyaf("ingest", src, "--name", "proj")

    assert result.exit_code == 0, result.output
    repo = api_repos(server)[0]
    assert repo["default_branch"] == "dev"
    source = ls_remote(src)
    assert ls_remote(str(repo["clone_url"])) == {
        "refs/heads/dev": source["refs/heads/dev"],
        "refs/tags/v1": source["refs/tags/v1"],
    }


def test_branch_pushes_that_branch_and_makes_it_default(
    lazyaf: Invoke, server: LiveServer, tmp_path: Path
) -> None:
    src = make_repo(tmp_path / "src", branches=("dev", "release"))

    result = lazyaf("ingest", src, "--name", "proj", "--branch", "release")

    assert result.exit_code == 0, result.output
    repo = api_repos(server)[0]
    assert repo["default_branch"] == "release"
    assert ls_remote(str(repo["clone_url"])) == {"refs/heads/release": ls_remote(src)["refs/heads/release"]}
    assert "tags      none" in result.stdout


def test_origin_url_is_recorded_as_remote(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    src = make_repo(tmp_path / "src")
    git("-C", src, "remote", "add", "origin", "git@github.com:me/proj.git")

    assert lazyaf("ingest", src, "--name", "proj").exit_code == 0

    assert api_repos(server)[0]["remote_url"] == "git@github.com:me/proj.git"


def test_credentials_in_the_origin_url_are_not_stored(
    lazyaf: Invoke, server: LiveServer, tmp_path: Path
) -> None:
    src = make_repo(tmp_path / "src")
    git("-C", src, "remote", "add", "origin", "https://me:ghp_secret123@github.com/me/proj.git")

    result = lazyaf("ingest", src, "--name", "proj")

    assert result.exit_code == 0, result.output
    assert api_repos(server)[0]["remote_url"] == "https://github.com/me/proj.git"
    assert "credentials in the origin URL were not stored" in result.stderr
    assert "ghp_secret123" not in result.output + result.stderr


def test_without_origin_no_remote_is_recorded(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    assert lazyaf("ingest", make_repo(tmp_path / "src"), "--name", "proj").exit_code == 0

    assert api_repos(server)[0]["remote_url"] is None


def test_bare_repo_is_ingested_and_named_after_its_folder(
    lazyaf: Invoke, server: LiveServer, tmp_path: Path
) -> None:
    src = make_repo(tmp_path / "src", branches=("dev",))
    bare = tmp_path / "proj.git"
    git("clone", "-q", "--bare", src, bare)

    result = lazyaf("ingest", bare)

    assert result.exit_code == 0, result.output
    repo = api_repos(server)[0]
    assert (repo["name"], repo["default_branch"]) == ("proj", "main")
    assert ls_remote(str(repo["clone_url"])) == {"refs/heads/main": ls_remote(src)["refs/heads/main"]}


def test_detached_head_falls_back_to_main(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    src = make_repo(tmp_path / "src", branches=("dev",))
    git("-C", src, "checkout", "-q", "--detach", "dev")

    assert lazyaf("ingest", src, "--name", "proj").exit_code == 0

    assert api_repos(server)[0]["default_branch"] == "main"


def test_uncommitted_changes_get_a_note(lazyaf: Invoke, tmp_path: Path) -> None:
    src = make_repo(tmp_path / "src")
    (src / "README.md").write_text("changed\n")

    result = lazyaf("ingest", src, "--name", "proj")

    assert result.exit_code == 0, result.output
    assert "uncommitted changes" in result.stderr and "were not ingested" in result.stderr


# Refusals: exactly one line, exit 1, and neither a repo record nor a bare repo left behind.


def test_not_a_git_repo(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()

    result = lazyaf("ingest", tmp_path / "plain", "--name", "proj")

    assert error_line(result) == (
        f"'{tmp_path / 'plain'}' is not a git repository; "
        "pass the top folder of a git work tree or a bare repository."
    )
    assert_nothing_left(server)


def test_missing_path(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    result = lazyaf("ingest", tmp_path / "nope", "--name", "proj")

    assert (
        error_line(result)
        == f"'{tmp_path / 'nope'}' is not a directory; pass the folder of a git repository."
    )
    assert_nothing_left(server)


def test_subfolder_of_a_repo_names_the_top(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    src = make_repo(tmp_path / "src")
    (src / "sub").mkdir()

    result = lazyaf("ingest", src / "sub", "--name", "proj")

    assert (
        error_line(result)
        == f"'{src / 'sub'}' is inside the git repository at '{src}'; pass '{src}' instead."
    )
    assert_nothing_left(server)


def test_empty_repo(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    git("init", "-q", tmp_path / "empty")

    result = lazyaf("ingest", tmp_path / "empty", "--name", "proj")

    assert (
        error_line(result) == f"'{tmp_path / 'empty'}' has no commits yet; commit something, then ingest it."
    )
    assert_nothing_left(server)


def test_name_taken(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    httpx.post(server.api("/repos"), json={"name": "proj"}, timeout=10).raise_for_status()
    before = api_repos(server)
    repos_on_disk = sorted(server.settings.git_repos_dir.iterdir())

    result = lazyaf("ingest", make_repo(tmp_path / "src"), "--name", "proj")

    assert (
        error_line(result)
        == "A repo named 'proj' already exists; pick another name or delete that repo first."
    )
    assert api_repos(server) == before
    assert sorted(server.settings.git_repos_dir.iterdir()) == repos_on_disk
    assert ls_remote(str(before[0]["clone_url"])) == {}


def test_server_down(down_url: str, tmp_path: Path) -> None:
    result = invoke("--server", down_url, "ingest", make_repo(tmp_path / "src"), "--name", "proj")

    assert error_line(result) == f"LazyAF server not reachable at {down_url}; start it with `lazyaf serve`."


def test_bad_name(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    result = lazyaf("ingest", make_repo(tmp_path / "src"), "--name", "-bad name")

    assert error_line(result) == (
        "Invalid repo name '-bad name': use letters, digits, '.', '_' and '-', "
        "starting with a letter or digit (at most 100 characters)."
    )
    assert_nothing_left(server)


def test_names_that_cannot_be_clone_urls(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    src = make_repo(tmp_path / "src")
    assert error_line(lazyaf("ingest", src, "--name", "demo.git")) == (
        "Invalid repo name 'demo.git': drop the .git (the clone URL adds it): --name demo."
    )
    repo_id = "0b9f3c2e-8a9d-4f3b-9c1e-7d6a5b4c3d2e"
    assert error_line(lazyaf("ingest", src, "--name", repo_id)) == (
        f"Invalid repo name '{repo_id}': it looks like a repo id; pick another."
    )
    # A bare repo's folder loses its .git: demo.git is ingested as demo.
    bare = tmp_path / "demo.git"
    git("clone", "-q", "--bare", src, bare)
    result = lazyaf("ingest", bare)
    assert result.exit_code == 0, result.output
    assert [r["name"] for r in api_repos(server)] == ["demo"]


def test_folder_name_unusable_as_repo_name(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    result = lazyaf("ingest", make_repo(tmp_path / "my repo"))

    assert error_line(result) == (
        "Cannot name the repo after the folder 'my repo'; "
        "pass --name NAME using letters, digits, '.', '_' and '-'."
    )
    assert_nothing_left(server)


def test_missing_branch(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    src = make_repo(tmp_path / "src", branches=("dev",))

    result = lazyaf("ingest", src, "--name", "proj", "--branch", "nope")

    assert error_line(result) == f"Branch 'nope' not found in '{src}'; its branches: dev, main."
    assert_nothing_left(server)


def test_branch_and_all_branches_are_exclusive(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    result = lazyaf("ingest", make_repo(tmp_path / "src"), "--branch", "main", "--all-branches")

    assert error_line(result) == "Pass either --branch or --all-branches, not both."
    assert_nothing_left(server)


def test_shallow_clone_is_refused(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    src = make_repo(tmp_path / "src")
    commit(src, {"more.txt": "more"}, "second")
    git("clone", "-q", "--depth", "1", f"file://{src}", tmp_path / "shallow")

    result = lazyaf("ingest", tmp_path / "shallow", "--name", "proj")

    assert error_line(result) == (
        f"'{tmp_path / 'shallow'}' is a shallow clone; "
        f"run `git -C {tmp_path / 'shallow'} fetch --unshallow`, then ingest it."
    )
    assert_nothing_left(server)


def test_progress_streams_when_stderr_is_a_terminal(server: LiveServer, tmp_path: Path) -> None:
    src = make_repo(tmp_path / "src")
    commit(src, {"big.bin": BINARY * 8}, "something to count")
    script = Path(sys.executable).parent / "lazyaf"

    pid, fd = pty.fork()
    if pid == 0:  # the child: lazyaf with a terminal for stdin, stdout and stderr
        os.execv(script, [str(script), "--server", server.url, "ingest", str(src), "--name", "proj"])
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)

    assert os.waitstatus_to_exitcode(status) == 0, output
    text = output.decode()
    assert "Writing objects: 100%" in text
    assert "Ingested proj" in text


def test_all_branches_from_a_fresh_clone_takes_origins_branches_too(
    lazyaf: Invoke, server: LiveServer, tmp_path: Path
) -> None:
    upstream = make_repo(tmp_path / "upstream", branches=("dev", "feature/x"), tags=("v1",))
    clone = tmp_path / "clone"
    git("clone", "-q", upstream, clone)  # local main only; dev and feature/x as origin/dev, origin/feature/x
    git("-C", clone, "checkout", "-q", "-b", "mine")
    commit(clone, {"mine.txt": "mine"}, "local work")
    git("-C", clone, "checkout", "-q", "main")

    result = lazyaf("ingest", clone, "--name", "proj", "--all-branches")

    assert result.exit_code == 0, result.output
    refs = ls_remote(str(api_repos(server)[0]["clone_url"]))
    upstream_refs = ls_remote(upstream)
    assert refs["refs/heads/dev"] == upstream_refs["refs/heads/dev"]
    assert refs["refs/heads/feature/x"] == upstream_refs["refs/heads/feature/x"]
    assert refs["refs/heads/mine"] == git("-C", clone, "rev-parse", "mine")
    assert refs["refs/tags/v1"] == upstream_refs["refs/tags/v1"]
    assert not [ref for ref in refs if "HEAD" in ref or "remotes" in ref]
    assert (
        "branches  main (default), dev (from origin/dev), feature/x (from origin/feature/x), mine"
        in result.stdout
    )


def test_a_local_branch_wins_over_origins_of_the_same_name(
    lazyaf: Invoke, server: LiveServer, tmp_path: Path
) -> None:
    upstream = make_repo(tmp_path / "upstream", branches=("dev",))
    clone = tmp_path / "clone"
    git("clone", "-q", upstream, clone)
    git("-C", clone, "checkout", "-q", "dev")
    local = commit(clone, {"ahead.txt": "not pushed upstream"}, "ahead of origin")

    result = lazyaf("ingest", clone, "--name", "proj", "--all-branches", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["branches"], report["from_origin"]) == (["dev", "main"], [])
    assert ls_remote(str(report["repo"]["clone_url"]))["refs/heads/dev"] == local


def test_branch_may_name_one_of_origins(lazyaf: Invoke, server: LiveServer, tmp_path: Path) -> None:
    upstream = make_repo(tmp_path / "upstream", branches=("dev",))
    clone = tmp_path / "clone"
    git("clone", "-q", upstream, clone)

    result = lazyaf("ingest", clone, "--name", "proj", "--branch", "dev")

    assert result.exit_code == 0, result.output
    repo = api_repos(server)[0]
    assert repo["default_branch"] == "dev"
    assert ls_remote(str(repo["clone_url"])) == {"refs/heads/dev": ls_remote(upstream)["refs/heads/dev"]}
    missing = lazyaf("ingest", clone, "--name", "other", "--branch", "nope")
    assert error_line(missing) == f"Branch 'nope' not found in '{clone}'; its branches: main, origin/dev."
