"""Job workspaces from the runner's git cache: a mirror per repo, a spare checkout, real git.

The "server" is a bare repository on disk (git fetches and pushes to a path as to a URL), so a
test can take it away to prove that nothing was fetched.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lazyaf_runner import mirror as mirror_module
from lazyaf_runner.mirror import GitCache
from lazyaf_runner.workspace import Workspace, WorkspaceError, git_environment

BRANCH = "lazyaf/0123abcd-add-notes"


def git(*args: str, cwd: Path) -> str:
    env = git_environment(None)
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def server(tmp_path: Path) -> Path:
    """A bare repo with two commits on main, and a work tree (``tmp_path/src``) that pushes to it."""
    bare = tmp_path / "server.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    src = tmp_path / "src"
    git("init", "-q", "-b", "main", str(src), cwd=tmp_path)
    (src / "README.md").write_text("# Demo\n")
    (src / "app.py").write_text("print('one')\n")
    git("add", ".", cwd=src)
    git("commit", "-q", "-m", "one", cwd=src)
    (src / "app.py").write_text("print('two')\n")
    git("commit", "-q", "-am", "two", cwd=src)
    git("push", "-q", str(bare), "main", cwd=src)
    return bare


@pytest.fixture
async def cache(tmp_path: Path) -> AsyncIterator[GitCache]:
    cache = GitCache(tmp_path / "work" / ".cache", git_environment(None))
    yield cache
    cache.close()


def sha(repo: Path, rev: str) -> str:
    return git("rev-parse", rev, cwd=repo)


async def job(
    cache: GitCache,
    server: Path,
    *,
    card: str = "card",
    branch_sha: str | None = None,
    base_sha: str | None = None,
) -> Workspace:
    workspace = Workspace(cache.root.parent / card, cache=cache)
    await workspace.prepare(
        url=str(server), branch=BRANCH, base_branch="main", branch_sha=branch_sha, base_sha=base_sha
    )
    return workspace


async def finish(workspace: Workspace) -> None:
    """What the runner does after reporting: make the next spare, remove the work tree."""
    workspace.prepare_next()
    workspace.remove()
    task = workspace.cache._spare_task
    if task is not None:
        await task


async def test_a_job_starts_its_branch_on_the_base_commits_pushes_and_is_removed(
    cache: GitCache, server: Path
) -> None:
    base = sha(server, "main")
    workspace = await job(cache, server, base_sha=base)
    assert workspace.repo == cache.root.parent / "card" / "repo"
    assert git("symbolic-ref", "HEAD", cwd=workspace.repo) == f"refs/heads/{BRANCH}"
    assert sha(workspace.repo, "HEAD") == base and workspace.base_sha == base
    assert workspace.branch_start_sha is None
    assert (workspace.repo / ".git").is_dir()
    assert git("status", "--porcelain", cwd=workspace.repo) == ""

    (workspace.repo / "notes.md").write_text("agent notes\n")
    assert await workspace.commit_leftovers("Add notes") is True
    head, stats = await workspace.summary()
    assert head == sha(workspace.repo, "HEAD")
    assert (stats.commits, stats.files_changed, stats.lines_added, stats.lines_removed) == (1, 1, 1, 0)
    await workspace.push("refs/lazyaf/attempts/job/1")
    assert sha(server, "refs/lazyaf/attempts/job/1") == head
    # origin fetches from the runner's mirror and pushes to the server.
    assert git("remote", "get-url", "--push", "origin", cwd=workspace.repo) == str(server)

    await finish(workspace)
    assert not workspace.root.exists()
    assert cache.slot is not None and (cache.slot / "spare" / ".git").is_dir()


async def test_nothing_left_uncommitted_commits_nothing(cache: GitCache, server: Path) -> None:
    workspace = await job(cache, server, base_sha=sha(server, "main"))
    assert await workspace.commit_leftovers("Nothing") is False
    head, stats = await workspace.summary()
    assert head == sha(server, "main") and stats.commits == 0


async def test_the_mirror_is_reused_without_fetching_while_the_base_is_unchanged(
    cache: GitCache, server: Path, tmp_path: Path
) -> None:
    base = sha(server, "main")
    first = await job(cache, server, card="one", base_sha=base)
    mirror = cache.mirror_path(str(server))
    assert sha(mirror, "refs/heads/main") == base
    await finish(first)
    # The server is gone: a fetch would fail, so the next job must come from the cache alone.
    os.rename(server, tmp_path / "away.git")
    second = await job(cache, server, card="two", base_sha=base)
    assert sha(second.repo, "HEAD") == base
    assert git("symbolic-ref", "HEAD", cwd=second.repo) == f"refs/heads/{BRANCH}"
    assert (second.repo / "app.py").read_text() == "print('two')\n"
    assert cache.mirror_path(str(server)) == mirror
    assert not (cache.slot / "spare").exists()  # type: ignore[operator]  # taken by the job
    # Without the base sha from the backend the runner must ask the server, which is gone.
    second.remove()
    with pytest.raises(WorkspaceError, match="Fetching main"):
        await job(cache, server, card="three")


async def test_a_moved_base_is_fetched_and_checked_out(cache: GitCache, server: Path, tmp_path: Path) -> None:
    await finish(await job(cache, server, base_sha=sha(server, "main")))
    src = tmp_path / "src"
    (src / "app.py").write_text("print('three')\n")
    git("commit", "-q", "-am", "three", cwd=src)
    git("push", "-q", str(server), "main", cwd=src)
    workspace = await job(cache, server, base_sha=sha(server, "main"))
    assert sha(workspace.repo, "HEAD") == sha(server, "main") == workspace.base_sha
    assert (workspace.repo / "app.py").read_text() == "print('three')\n"
    assert git("status", "--porcelain", cwd=workspace.repo) == ""


async def test_a_retry_continues_the_card_branch(cache: GitCache, server: Path) -> None:
    first = await job(cache, server, base_sha=sha(server, "main"))
    (first.repo / "notes.md").write_text("first pass\n")
    await first.commit_leftovers("First pass")
    await first.push(f"refs/heads/{BRANCH}")  # the backend moves the card branch to the attempt's head
    pushed = sha(first.repo, "HEAD")
    await finish(first)

    retry = await job(cache, server, branch_sha=pushed, base_sha=sha(server, "main"))
    assert sha(retry.repo, "HEAD") == pushed and retry.branch_start_sha == pushed
    assert git("symbolic-ref", "HEAD", cwd=retry.repo) == f"refs/heads/{BRANCH}"
    assert (retry.repo / "notes.md").read_text() == "first pass\n"
    (retry.repo / "notes.md").write_text("second pass\n")
    await retry.commit_leftovers("Second pass")
    _, stats = await retry.summary()
    assert stats.commits == 2 and stats.files_changed == 1


async def test_the_mirror_follows_a_rewritten_branch(cache: GitCache, server: Path, tmp_path: Path) -> None:
    first = await job(cache, server, base_sha=sha(server, "main"))
    (first.repo / "notes.md").write_text("old history\n")
    await first.commit_leftovers("Old")
    await first.push(f"refs/heads/{BRANCH}")
    old = sha(first.repo, "HEAD")
    await finish(first)
    await finish(await job(cache, server, branch_sha=old, base_sha=sha(server, "main")))

    # Someone force-pushes the card branch with unrelated history.
    other = tmp_path / "other"
    git("init", "-q", "-b", "main", str(other), cwd=tmp_path)
    (other / "fresh.txt").write_text("rewritten\n")
    git("add", ".", cwd=other)
    git("commit", "-q", "-m", "rewritten", cwd=other)
    git("push", "-q", "--force", str(server), f"HEAD:refs/heads/{BRANCH}", cwd=other)
    new = sha(server, f"refs/heads/{BRANCH}")
    assert new != old

    retry = await job(cache, server, branch_sha=new, base_sha=sha(server, "main"))
    assert sha(retry.repo, "HEAD") == new
    assert (retry.repo / "fresh.txt").read_text() == "rewritten\n"
    assert not (retry.repo / "notes.md").exists()
    assert sha(cache.mirror_path(str(server)), f"refs/heads/{BRANCH}") == new


async def test_resolve_merges_the_base_and_commits_the_merge(
    cache: GitCache, server: Path, tmp_path: Path
) -> None:
    first = await job(cache, server, base_sha=sha(server, "main"))
    (first.repo / "app.py").write_text("print('branch')\n")
    await first.commit_leftovers("Branch change")
    await first.push(f"refs/heads/{BRANCH}")
    branch_head = sha(first.repo, "HEAD")
    await finish(first)
    src = tmp_path / "src"
    (src / "app.py").write_text("print('main')\n")
    git("commit", "-q", "-am", "main change", cwd=src)
    git("push", "-q", str(server), "main", cwd=src)

    resolve = await job(cache, server, branch_sha=branch_head, base_sha=sha(server, "main"))
    assert await resolve.merge_base_branch("main") == ["app.py"]
    (resolve.repo / "app.py").write_text("print('both')\n")  # the agent resolves the conflict
    assert await resolve.commit_leftovers("Resolve") is True
    parents = git("log", "-1", "--format=%P", cwd=resolve.repo).split()
    assert parents == [branch_head, sha(server, "main")]


async def test_runners_on_one_machine_never_share_a_slot(tmp_path: Path, server: Path) -> None:
    root = tmp_path / "work" / ".cache"
    one, two = GitCache(root, git_environment(None)), GitCache(root, git_environment(None))
    try:
        await one.update(str(server), {"main": None})
        await two.update(str(server), {"main": None})
        assert one.slot is not None and two.slot is not None and one.slot != two.slot
        one.close()
        three = GitCache(root, git_environment(None))
        (main,) = (await three.update(str(server), {"main": sha(server, "main")})).values()
        assert three.slot == one.slot and main == sha(server, "main")  # the warm mirror, reused
        three.close()
    finally:
        one.close()
        two.close()


async def test_a_slot_keeps_only_the_mirrors_used_last(
    cache: GitCache, server: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror_module, "MAX_MIRRORS", 2)
    urls = [f"{server}/../{server.name}" + "/." * i for i in range(4)]  # one repo under four names
    for url in urls:
        await cache.update(url, {"main": None})
    mirrors = sorted(p.name for p in cache.mirror_path(urls[0]).parent.glob("*.git"))
    assert len(mirrors) == 2
    assert cache.mirror_path(urls[-1]).is_dir()


async def test_a_failed_fetch_says_which_branch(cache: GitCache, tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="Fetching main"):
        await job(cache, tmp_path / "missing.git")


async def test_the_mirror_fetches_with_the_runner_token(tmp_path: Path) -> None:
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.headers.get("Authorization"))
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    cache = GitCache(tmp_path / "work" / ".cache", git_environment("s3cret"))
    try:
        with pytest.raises(WorkspaceError, match="Fetching main"):
            await cache.update(f"http://127.0.0.1:{http.server_port}/git/r.git", {"main": None})
    finally:
        cache.close()
        http.shutdown()
        http.server_close()
    assert seen and seen[0] == "Basic " + base64.b64encode(b"lazyaf:s3cret").decode()


async def test_a_push_to_a_server_that_is_not_answering_is_marked_unreachable(
    cache: GitCache, server: Path
) -> None:
    import socket

    workspace = await job(cache, server, base_sha=sha(server, "main"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    workspace.url = f"http://127.0.0.1:{port}/git/r.git"
    with pytest.raises(WorkspaceError) as refused:
        await workspace.push("refs/lazyaf/attempts/job/1")
    assert refused.value.unreachable
    workspace.url = str(server.parent / "no-such-repo.git")
    with pytest.raises(WorkspaceError) as missing:
        await workspace.push("refs/lazyaf/attempts/job/1")
    assert not missing.value.unreachable


def _plant_hooks(git_dir: Path, spy: Path) -> None:
    hooks = git_dir / "hooks"
    hooks.mkdir(exist_ok=True)
    for name in ("pre-commit", "post-commit", "pre-push", "reference-transaction", "post-checkout"):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\nenv > {spy}/hook-{name}\n")
        hook.chmod(0o755)


async def test_what_the_agent_does_to_its_git_dir_neither_sees_the_credential_nor_moves_the_push(
    server: Path, tmp_path: Path
) -> None:
    cache = GitCache(tmp_path / "work" / ".cache", git_environment("s3cret"))
    workspace = await job(cache, server, base_sha=sha(server, "main"))
    evil = tmp_path / "evil.git"
    git("init", "-q", "--bare", str(evil), cwd=tmp_path)
    spy = tmp_path / "spy"
    spy.mkdir()
    # What an agent can do to the work tree's .git: hooks, a filter driver (code run by `git add`),
    # a file monitor, and a rewrite of the server's URL to one of its own.
    _plant_hooks(workspace.repo / ".git", spy)
    git("config", "filter.evil.clean", f"sh -c 'env > {spy}/filter; cat'", cwd=workspace.repo)
    git("config", "core.fsmonitor", f"{spy}/fsmonitor-hook", cwd=workspace.repo)
    git("config", f"url.{evil}.insteadOf", str(server), cwd=workspace.repo)
    git("config", "remote.origin.pushurl", str(evil), cwd=workspace.repo)
    (workspace.repo / ".gitattributes").write_text("* filter=evil\n")
    (workspace.repo / "notes.md").write_text("agent notes\n")

    assert await workspace.commit_leftovers("Add notes")
    head, _ = await workspace.summary()
    await workspace.push("refs/lazyaf/attempts/job/1")

    assert sha(server, "refs/lazyaf/attempts/job/1") == head
    assert git("for-each-ref", cwd=evil) == ""  # nothing went to the agent's repository
    assert sorted(p.name for p in spy.iterdir()) == ["filter"]  # no hook, no file monitor ran
    # The one thing that ran (the filter, with `git add`) had no credential in its environment.
    assert "GIT_CONFIG_VALUE_0" not in (spy / "filter").read_text()
    cache.close()


async def test_a_tampered_mirror_neither_runs_hooks_nor_redirects_the_next_fetch(
    cache: GitCache, server: Path, tmp_path: Path
) -> None:
    first = await job(cache, server, card="one", base_sha=sha(server, "main"))
    await finish(first)
    mirror = cache.mirror_path(str(server))
    evil = tmp_path / "evil.git"
    git("init", "-q", "--bare", str(evil), cwd=tmp_path)
    spy = tmp_path / "spy"
    spy.mkdir()
    # An agent in a container runs as the runner's user: it can edit the runner's mirror too.
    _plant_hooks(mirror, spy)
    git("config", "--file", str(mirror / "config"), f"url.{evil}.insteadOf", str(server), cwd=tmp_path)
    (mirror / "commondir").write_text(str(evil))
    src = tmp_path / "src"
    (src / "app.py").write_text("print('three')\n")
    git("commit", "-q", "-am", "three", cwd=src)
    git("push", "-q", str(server), "main", cwd=src)

    second = await job(cache, server, card="two", base_sha=sha(server, "main"))

    assert sha(second.repo, "HEAD") == sha(server, "main")  # fetched from the server itself
    assert list(spy.iterdir()) == [] and "insteadOf" not in (mirror / "config").read_text()
    assert not (mirror / "commondir").exists()


async def test_the_next_step_of_a_card_starts_from_what_it_pushed_without_a_fetch(
    cache: GitCache, server: Path, tmp_path: Path
) -> None:
    """A workflow's steps on one runner: the mirror keeps the pushed commit (copied from the work
    tree's loose objects, no git process), and the spare is checked out on it."""
    base = sha(server, "main")
    first = await job(cache, server, base_sha=base)
    (first.repo / "docs").mkdir()
    (first.repo / "docs" / "plan.md").write_text("# Plan\n")
    await first.commit_leftovers("Plan")
    await first.push("refs/lazyaf/attempts/j/1")
    pushed = sha(first.repo, "HEAD")
    assert await first.keep_pushed(BRANCH, pushed) is True
    first.prepare_next(BRANCH)
    first.remove()
    assert cache._spare_task is not None
    await cache._spare_task
    mirror = cache.mirror_path(str(server))
    assert sha(mirror, f"refs/heads/{BRANCH}") == pushed
    assert git("fsck", "--no-dangling", cwd=mirror) == ""
    # The server is gone: the next step (the server moved the branch to the pushed head) must not fetch.
    os.rename(server, tmp_path / "away.git")
    second = await job(cache, server, card="card2", branch_sha=pushed, base_sha=base)
    assert sha(second.repo, "HEAD") == pushed and (second.repo / "docs" / "plan.md").read_text() == "# Plan\n"
    assert git("status", "--porcelain", cwd=second.repo) == ""


async def test_a_forged_object_in_the_work_tree_is_not_learned(cache: GitCache, server: Path) -> None:
    first = await job(cache, server, base_sha=sha(server, "main"))
    (first.repo / "a.txt").write_text("a\n")
    await first.commit_leftovers("A")
    pushed = sha(first.repo, "HEAD")
    # The agent writes an object file whose content is not what its name says.
    blob = git("rev-parse", "HEAD:a.txt", cwd=first.repo)
    target = first.repo / ".git" / "objects" / blob[:2] / blob[2:]
    os.chmod(target, 0o644)
    other = first.repo / ".git" / "objects" / pushed[:2] / pushed[2:]
    target.write_bytes(other.read_bytes())
    assert await first.keep_pushed(BRANCH, pushed) is False
    mirror = cache.mirror_path(str(server))
    assert not (mirror / "refs" / "heads" / BRANCH).exists()
    assert not (mirror / "objects" / blob[:2] / blob[2:]).exists()


async def test_a_work_tree_with_packs_is_left_to_the_next_fetch(cache: GitCache, server: Path) -> None:
    first = await job(cache, server, base_sha=sha(server, "main"))
    (first.repo / "a.txt").write_text("a\n")
    await first.commit_leftovers("A")
    git("repack", "-q", "-d", cwd=first.repo)  # the agent repacked: its new objects may be packed
    assert await first.keep_pushed(BRANCH, sha(first.repo, "HEAD")) is False
    assert not (cache.mirror_path(str(server)) / "refs" / "heads" / BRANCH).exists()
