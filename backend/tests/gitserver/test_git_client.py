"""The real git client against the live server, on both backends: clone, fetch, push, delete, force."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from lazyaf.gitserver.refs import RefUpdate
from lazyaf.testing import LiveServer
from tests.gitserver.conftest import PushLog, Remote
from tests.gitserver.gitcli import commit_file, fsck, git, ls_remote, make_repo, rev

UNICODE_NAME = "naïve 文件.txt"


def make_rich_repo(path: Path) -> Path:
    """Branches main, dev and feature/é; a lightweight and an annotated tag; binary and non-ASCII files."""
    make_repo(path, commits=2)
    commit_file(path, "blob.bin", bytes(range(256)) * 16 + os.urandom(512), "Binary file")
    commit_file(path, UNICODE_NAME, "ünïcödé\n".encode(), "Non-ASCII file name")
    git("branch", "dev", "HEAD~1", cwd=path)
    git("checkout", "-q", "-b", "feature/é", cwd=path)
    commit_file(path, "feature.txt", b"feature\n", "Feature")
    git("checkout", "-q", "main", cwd=path)
    git("tag", "v1", "HEAD~2", cwd=path)
    git("tag", "-a", "v2", "-m", "Release 2", cwd=path)
    return path


def push_everything(source: Path, url: str, *extra: str) -> None:
    git(*extra, "push", "-q", url, "refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*", cwd=source)


def test_pushed_refs_and_trees_come_back_identical(tmp_path: Path, remote: Remote) -> None:
    source = make_rich_repo(tmp_path / "source")
    push_everything(source, remote.url)

    assert ls_remote(remote.url) == ls_remote(source)
    git("clone", "-q", "--mirror", remote.url, str(tmp_path / "mirror"))
    assert ls_remote(tmp_path / "mirror") == ls_remote(source)
    fsck(tmp_path / "mirror")
    git("clone", "-q", remote.url, str(tmp_path / "clone"))
    clone = tmp_path / "clone"
    for branch in ("main", "dev", "feature/é"):
        assert rev(clone, f"origin/{branch}^{{tree}}") == rev(source, f"{branch}^{{tree}}")
    assert (clone / "blob.bin").read_bytes() == (source / "blob.bin").read_bytes()
    assert (clone / UNICODE_NAME).read_text(encoding="utf-8") == "ünïcödé\n"
    fsck(remote.path)


def test_fetch_brings_a_new_commit(tmp_path: Path, remote: Remote) -> None:
    source = make_repo(tmp_path / "source")
    git("push", "-q", remote.url, "main", cwd=source)
    git("clone", "-q", remote.url, str(tmp_path / "clone"))
    new = commit_file(source, "later.txt", b"later\n", "Later")
    git("push", "-q", remote.url, "main", cwd=source)

    git("fetch", "-q", "origin", cwd=tmp_path / "clone")

    assert rev(tmp_path / "clone", "origin/main") == new


def test_shallow_clone_gets_only_the_tip(tmp_path: Path, remote: Remote) -> None:
    source = make_repo(tmp_path / "source", commits=4)
    git("push", "-q", remote.url, "main", cwd=source)

    git("clone", "-q", "--depth", "1", remote.url, str(tmp_path / "shallow"))

    shallow = tmp_path / "shallow"
    assert git("rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "1"
    assert rev(shallow, "HEAD") == rev(source, "main")
    assert (shallow / ".git" / "shallow").read_text().strip() == rev(source, "main")


def test_pushed_branch_can_be_deleted(tmp_path: Path, remote: Remote, pushes: PushLog) -> None:
    source = make_repo(tmp_path / "source")
    git("push", "-q", remote.url, "main", "main:refs/heads/topic", cwd=source)
    tip = rev(source, "main")

    result = git("push", remote.url, ":topic", cwd=source)

    assert "[deleted]" in result.stderr
    assert ls_remote(remote.url) == sorted([f"{tip}\tHEAD", f"{tip}\trefs/heads/main"])
    assert pushes.calls[-1] == [RefUpdate(ref="refs/heads/topic", old=tip, new=None)]


def test_deleting_the_default_branch_is_refused(tmp_path: Path, remote: Remote) -> None:
    source = make_repo(tmp_path / "source")
    git("push", "-q", remote.url, "main", cwd=source)

    result = git("push", remote.url, ":main", cwd=source, check=False)

    assert result.returncode != 0
    assert "deletion of the current branch prohibited" in result.stderr
    assert f"{rev(source, 'main')}\trefs/heads/main" in ls_remote(remote.url)


def test_non_fast_forward_push_is_refused_until_forced(
    tmp_path: Path, remote: Remote, pushes: PushLog
) -> None:
    source = make_repo(tmp_path / "source")
    git("push", "-q", remote.url, "main", cwd=source)
    before = rev(source, "main")
    git("commit", "-q", "--amend", "-m", "Rewritten", cwd=source)
    rewritten = rev(source, "main")
    calls_before = len(pushes.calls)

    refused = git("push", remote.url, "main", cwd=source, check=False)

    assert refused.returncode != 0 and "non-fast-forward" in refused.stderr
    assert f"{before}\trefs/heads/main" in ls_remote(remote.url)
    assert len(pushes.calls) == calls_before

    git("push", "-q", "--force", remote.url, "main", cwd=source)

    assert f"{rewritten}\trefs/heads/main" in ls_remote(remote.url)
    assert pushes.calls[-1] == [RefUpdate(ref="refs/heads/main", old=before, new=rewritten)]


def test_push_larger_than_post_buffer_is_streamed_chunked(tmp_path: Path, remote: Remote) -> None:
    source = make_repo(tmp_path / "source", commits=1)
    commit_file(source, "big.bin", os.urandom(400_000), "Big")

    result = git(
        "-c",
        "http.postBuffer=65536",
        "-c",
        "http.version=HTTP/1.1",
        "push",
        remote.url,
        "main",
        cwd=source,
        env_extra={"GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"},
    )

    assert "Transfer-Encoding: chunked" in result.stderr
    assert f"{rev(source, 'main')}\trefs/heads/main" in ls_remote(remote.url)
    fsck(remote.path)


def test_large_negotiation_is_sent_gzipped_and_understood(tmp_path: Path, remote: Remote) -> None:
    # One branch per commit: a clone then wants 40 distinct tips, a request over git's 1 KiB
    # threshold for gzip (and under the 1 MiB post buffer, so it is not chunked instead).
    source = make_repo(tmp_path / "source", commits=1)
    fast_import_branches(source, 40)
    git("push", "-q", remote.url, "refs/heads/*:refs/heads/*", cwd=source)

    result = git(
        "clone",
        "-q",
        remote.url,
        str(tmp_path / "clone"),
        env_extra={"GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"},
    )

    assert "Content-Encoding: gzip" in result.stderr
    clone = tmp_path / "clone"
    for i in (0, 39):
        assert rev(clone, f"origin/b{i:03}") == rev(source, f"b{i:03}")


def test_protocol_v2_client_can_push_list_and_fetch(tmp_path: Path, remote: Remote) -> None:
    source = make_repo(tmp_path / "source")
    git("-c", "protocol.version=2", "push", "-q", remote.url, "main", cwd=source)

    listed = git("-c", "protocol.version=2", "ls-remote", remote.url, "refs/heads/main")
    git("-c", "protocol.version=2", "clone", "-q", remote.url, str(tmp_path / "clone"))

    assert listed.stdout.split() == [rev(source, "main"), "refs/heads/main"]
    assert rev(tmp_path / "clone", "HEAD") == rev(source, "main")


def test_empty_repo_can_be_cloned(tmp_path: Path, remote: Remote) -> None:
    result = git("clone", remote.url, str(tmp_path / "clone"))

    assert "cloned an empty repository" in result.stderr
    assert git("rev-parse", "--git-dir", cwd=tmp_path / "clone").stdout.strip() == ".git"


def test_first_push_is_recorded_by_the_api(tmp_path: Path, server: LiveServer, remote: Remote) -> None:
    source = make_repo(tmp_path / "source")

    git("push", "-q", remote.url, "main", cwd=source)

    repo = httpx.get(server.api(f"/repos/{remote.id}")).json()
    branches = httpx.get(server.api(f"/repos/{remote.id}/branches")).json()
    assert repo["is_ingested"] is True
    assert [(b["name"], b["sha"]) for b in branches] == [("main", rev(source, "main"))]


def fast_import_branches(repo: Path, count: int) -> None:
    """``count`` commits on top of main, one new branch at each, in one git process."""
    parent = rev(repo, "main")
    stream = []
    for i in range(count):
        message = f"Branch commit {i}"
        stream.append(
            f"commit refs/heads/b{i:03}\n"
            f"committer T <t@example.com> {1700000000 + i} +0000\n"
            f"data {len(message)}\n{message}\n"
            f"from {parent}\n"
            f"M 644 inline b{i}.txt\ndata 2\n{i % 10}\n\n"
        )
    git("fast-import", "--quiet", cwd=repo, input="".join(stream))
