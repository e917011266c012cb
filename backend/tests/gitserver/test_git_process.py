"""What is specific to the git-binary backend: protocol v2, a clean environment, killing on hang-up, hooks."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from lazyaf.gitserver import gitproc
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, wait_until
from tests.gitserver import wire
from tests.gitserver.conftest import Remote
from tests.gitserver.gitcli import commit_file, git, make_repo, rev

only_git = pytest.mark.parametrize("git_backend", ["git"], indirect=True)


def children(pid: int) -> list[tuple[int, str, str]]:
    """(pid, command name, state) of the processes whose parent is ``pid``, zombies included."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat_file.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        state, ppid = text[text.rindex(")") + 2 :].split()[:2]
        if int(ppid) == pid:
            found.append((int(stat_file.parent.name), name, state))
    return found


def live_group_members(pgid: int) -> list[int]:
    """Running processes of group ``pgid`` (orphaned zombies are init's to reap, not ours)."""
    members = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat_file.read_text()
        except OSError:
            continue
        state, _, group = text[text.rindex(")") + 2 :].split()[:3]
        if int(group) == pgid and state != "Z":
            members.append(int(stat_file.parent.name))
    return members


@only_git
def test_protocol_v2_is_negotiated(tmp_path: Path, remote: Remote) -> None:
    source = make_repo(tmp_path / "source")
    git("push", "-q", remote.url, "main", cwd=source)

    result = git(
        "-c",
        "protocol.version=2",
        "fetch",
        "-q",
        remote.url,
        "main",
        cwd=make_repo(tmp_path / "other", commits=1),
        env_extra={"GIT_TRACE_PACKET": "1"},
    )

    assert "git< version 2" in result.stderr
    assert "fetch< " in result.stderr or "command=fetch" in result.stderr
    assert rev(tmp_path / "other", "FETCH_HEAD") == rev(source, "main")


@only_git
def test_server_git_environment_does_not_reach_the_git_process(
    tmp_path: Path, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_repo(tmp_path / "source")
    git("push", "-q", remote.url, "main", cwd=source)
    # Would hide every branch from upload-pack if the server passed its environment on.
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'uploadpack.hiderefs'='refs/heads'")

    listed = git("ls-remote", remote.url, "refs/heads/main")

    assert listed.stdout.split() == [rev(source, "main"), "refs/heads/main"]


@only_git
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_client_hanging_up_mid_clone_stops_git(tmp_path: Path, server: LiveServer, remote: Remote) -> None:
    source = make_repo(tmp_path / "source", commits=1)
    tip = commit_file(source, "big.bin", os.urandom(2 << 20), "Too big to buffer")
    git("push", "-q", remote.url, "main", cwd=source)
    body = wire.upload_pack_body([tip])
    head = (
        f"POST /git/{remote.id}.git/git-upload-pack HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/x-git-upload-pack-request\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    port = int(server.url.rsplit(":", 1)[1])

    with capture_logs() as logs:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(head + body)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        wait_until(lambda: any(name == "git" for _, name, _ in children(os.getpid())))
        pid = next(pid for pid, name, _ in children(os.getpid()) if name == "git")
        # Linger 0: close with a reset, as a killed client would.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

        wait_until(lambda: not children(os.getpid()) and not live_group_members(pid), timeout=15)

    # Stopped by the server, not finished: the pack is far bigger than the socket buffers hold.
    assert any(entry["event"] == "git_process_stopped" and entry["pid"] == pid for entry in logs)


def test_hook_falls_back_to_the_data_dir_when_the_packaged_one_is_missing(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitproc, "PACKAGED_HOOKS_DIR", tmp_path / "nowhere")

    hooks = gitproc.hooks_dir(settings)

    hook = hooks / "post-receive"
    assert hooks == settings.data_dir / "git-hooks"
    assert os.access(hook, os.X_OK) and hook.read_text() == gitproc.HOOK_SCRIPT


def test_packaged_hook_is_executable_and_matches_the_fallback() -> None:
    hook = gitproc.PACKAGED_HOOKS_DIR / "post-receive"

    assert os.access(hook, os.X_OK)
    assert hook.read_text() == gitproc.HOOK_SCRIPT
