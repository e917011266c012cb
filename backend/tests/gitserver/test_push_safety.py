"""Pushes that must not break the repo or lie about what changed, on both backends."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

from dulwich.objects import Commit

from lazyaf.gitserver.refs import RefUpdate
from lazyaf.testing import LiveServer, wait_until
from tests.gitserver import wire
from tests.gitserver.conftest import PushLog, Remote
from tests.gitserver.gitcli import commit_file, fsck, git, ls_remote, make_repo, rev

MISSING_SHA = "1234567890abcdef1234567890abcdef12345678"


def seeded(tmp_path: Path, remote: Remote) -> Path:
    """A source repo whose main is already on the server."""
    source = make_repo(tmp_path / "source")
    git("push", "-q", remote.url, "main", cwd=source)
    return source


def git_bytes(*args: str, cwd: Path, input: bytes) -> bytes:
    return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, check=True).stdout


PUSH_ERRORS: list[str] = []


def push_in_threads(jobs: list[tuple[Path, list[str]]]) -> list[int]:
    """Run ``git push`` for each (work tree, args) at the same moment; return the exit codes."""
    barrier = threading.Barrier(len(jobs))
    codes = [0] * len(jobs)
    PUSH_ERRORS.clear()

    def run(index: int, cwd: Path, args: list[str]) -> None:
        barrier.wait()
        done = git("push", "-q", *args, cwd=cwd, check=False)
        codes[index] = done.returncode
        if done.returncode:
            PUSH_ERRORS.append(done.stderr)

    threads = [threading.Thread(target=run, args=(i, cwd, args)) for i, (cwd, args) in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return codes


def test_concurrent_pushes_to_one_ref_let_exactly_one_win(
    tmp_path: Path, remote: Remote, pushes: PushLog
) -> None:
    seeded(tmp_path, remote)
    clones = []
    for name in ("a", "b"):
        git("clone", "-q", remote.url, str(tmp_path / name))
        commit_file(tmp_path / name, f"{name}.txt", name.encode(), f"From {name}")
        clones.append(tmp_path / name)
    calls_before = len(pushes.calls)

    codes = push_in_threads([(clone, [remote.url, "main"]) for clone in clones])

    assert sorted(codes)[0] == 0 and sorted(codes)[1] != 0, codes
    winner = clones[codes.index(0)]
    assert f"{rev(winner, 'HEAD')}\trefs/heads/main" in ls_remote(remote.url)
    assert [[u.new for u in call] for call in pushes.calls[calls_before:]] == [[rev(winner, "HEAD")]]
    fsck(remote.path)


def test_concurrent_pushes_to_different_refs_are_each_reported_exactly(
    tmp_path: Path, remote: Remote, pushes: PushLog
) -> None:
    source = seeded(tmp_path, remote)
    base = rev(source, "main")
    jobs = []
    for name in ("left", "right"):
        git("clone", "-q", remote.url, str(tmp_path / name))
        commit_file(tmp_path / name, f"{name}.txt", name.encode(), f"On {name}")
        jobs.append((tmp_path / name, [remote.url, f"HEAD:refs/heads/{name}", f"HEAD~1:refs/tags/{name}"]))
    calls_before = len(pushes.calls)

    assert push_in_threads(jobs) == [0, 0], PUSH_ERRORS

    expected = {
        frozenset(
            {
                RefUpdate(ref=f"refs/heads/{name}", old=None, new=rev(tmp_path / name, "HEAD")),
                RefUpdate(ref=f"refs/tags/{name}", old=None, new=base),
            }
        )
        for name in ("left", "right")
    }
    assert {frozenset(call) for call in pushes.calls[calls_before:]} == expected
    assert len(pushes.calls) == calls_before + 2
    fsck(remote.path)


def test_push_notification_lists_exactly_created_updated_and_deleted_refs(
    tmp_path: Path, remote: Remote, pushes: PushLog
) -> None:
    source = make_repo(tmp_path / "source")
    git("branch", "dev", "HEAD~1", cwd=source)
    git("tag", "v1", "HEAD~1", cwd=source)
    git("push", "-q", remote.url, "main", "dev", "v1", cwd=source)
    first = rev(source, "main")
    assert [set(call) for call in pushes.calls] == [
        {
            RefUpdate(ref="refs/heads/main", old=None, new=first),
            RefUpdate(ref="refs/heads/dev", old=None, new=rev(source, "dev")),
            RefUpdate(ref="refs/tags/v1", old=None, new=rev(source, "v1")),
        }
    ]
    second = commit_file(source, "next.txt", b"next\n", "Next")

    git("push", "-q", remote.url, "main", "main:refs/heads/feature", ":refs/tags/v1", "dev", cwd=source)

    assert len(pushes.calls) == 2
    assert set(pushes.calls[1]) == {
        RefUpdate(ref="refs/heads/main", old=first, new=second),
        RefUpdate(ref="refs/heads/feature", old=None, new=second),
        RefUpdate(ref="refs/tags/v1", old=rev(source, "v1"), new=None),
    }


def test_push_with_a_stale_old_value_is_refused(tmp_path: Path, remote: Remote, pushes: PushLog) -> None:
    # What loses a race between two pushes: the ref moved after the client read it.
    source = seeded(tmp_path, remote)
    stale = rev(source, "main~1")
    refs_before = ls_remote(remote.url)
    calls_before = len(pushes.calls)
    body = wire.receive_pack_body([(stale, stale, "refs/heads/main")], wire.empty_pack())

    response = wire.post(remote.url, "git-receive-pack", body)

    assert "ng refs/heads/main failed to update ref" in wire.report_lines(response.content)
    assert ls_remote(remote.url) == refs_before
    assert len(pushes.calls) == calls_before


def test_push_of_a_ref_to_an_object_never_sent_is_refused(
    tmp_path: Path, remote: Remote, pushes: PushLog
) -> None:
    seeded(tmp_path, remote)
    refs_before = ls_remote(remote.url)
    calls_before = len(pushes.calls)
    body = wire.receive_pack_body([(wire.ZERO, MISSING_SHA, "refs/heads/dangling")], wire.empty_pack())

    response = wire.post(remote.url, "git-receive-pack", body)

    assert response.status_code == 200
    assert "ng refs/heads/dangling missing necessary objects" in wire.report_lines(response.content)
    assert ls_remote(remote.url) == refs_before
    assert len(pushes.calls) == calls_before
    fsck(remote.path)


def test_push_of_a_commit_whose_tree_was_never_sent_is_refused(tmp_path: Path, remote: Remote) -> None:
    seeded(tmp_path, remote)
    refs_before = ls_remote(remote.url)
    commit = Commit()
    commit.tree = MISSING_SHA.encode()
    commit.author = commit.committer = b"T <t@example.com>"
    commit.author_time = commit.commit_time = 1700000000
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"Tree not included\n"
    body = wire.receive_pack_body(
        [(wire.ZERO, commit.id.decode(), "refs/heads/broken")], wire.pack_of(commit)
    )

    response = wire.post(remote.url, "git-receive-pack", body)

    assert "ng refs/heads/broken missing necessary objects" in wire.report_lines(response.content)
    assert ls_remote(remote.url) == refs_before
    assert "broken" not in git("--git-dir", str(remote.path), "for-each-ref").stdout


def test_corrupt_pack_is_reported_as_unpack_error_and_changes_nothing(tmp_path: Path, remote: Remote) -> None:
    source = seeded(tmp_path, remote)
    refs_before = ls_remote(remote.url)
    body = wire.receive_pack_body([(rev(source, "main"), MISSING_SHA, "refs/heads/main")], b"PACK garbage")

    response = wire.post(remote.url, "git-receive-pack", body)

    lines = wire.report_lines(response.content)
    assert lines[0].startswith("unpack ") and lines[0] != "unpack ok"
    assert lines[1].startswith("ng refs/heads/main")
    assert ls_remote(remote.url) == refs_before
    assert temporary_files(remote.path) == []
    fsck(remote.path)


def temporary_files(bare: Path) -> list[str]:
    """What a push in progress keeps in the repo: C git's quarantine, dulwich's partial pack."""
    objects = bare / "objects"
    return [p.name for p in [*objects.glob("tmp_*"), *(objects / "pack").glob("tmp_*")]]


def test_push_cut_off_mid_pack_leaves_nothing_behind(
    tmp_path: Path, server: LiveServer, remote: Remote
) -> None:
    source = seeded(tmp_path, remote)
    tip = commit_file(source, "big.bin", os.urandom(1 << 20), "Big")
    pack = git_bytes("pack-objects", "--stdout", "--revs", cwd=source, input=f"{tip}\n^main~1\n".encode())
    body = wire.receive_pack_body([(wire.ZERO, tip, "refs/heads/cut")], pack)
    refs_before = ls_remote(remote.url)
    head = (
        f"POST /git/{remote.id}.git/git-receive-pack HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/x-git-receive-pack-request\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()

    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(head + body[: len(body) // 2])
        wait_until(lambda: temporary_files(remote.path) != [])  # the server is mid-pack

    wait_until(lambda: temporary_files(remote.path) == [], timeout=15)
    assert ls_remote(remote.url) == refs_before
    fsck(remote.path)


def test_malformed_receive_pack_body_is_400_and_changes_nothing(tmp_path: Path, remote: Remote) -> None:
    seeded(tmp_path, remote)
    refs_before = ls_remote(remote.url)

    response = wire.post(remote.url, "git-receive-pack", b"this is not a pkt-line stream")

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert "protocol error" in response.text
    assert ls_remote(remote.url) == refs_before
    fsck(remote.path)


def test_truncated_receive_pack_command_is_400_and_changes_nothing(tmp_path: Path, remote: Remote) -> None:
    source = seeded(tmp_path, remote)
    refs_before = ls_remote(remote.url)
    body = wire.receive_pack_body([(rev(source, "main"), wire.ZERO, "refs/heads/main")], None)

    response = wire.post(remote.url, "git-receive-pack", body[:30])

    assert 400 <= response.status_code < 500
    assert ls_remote(remote.url) == refs_before
    fsck(remote.path)


def test_malformed_upload_pack_body_is_400(tmp_path: Path, remote: Remote) -> None:
    seeded(tmp_path, remote)

    response = wire.post(remote.url, "git-upload-pack", b"garbage, not pkt-lines")

    assert response.status_code == 400
    assert "protocol error" in response.text
