"""What is specific to the dulwich backend: a crash never leaves the client hanging."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from dulwich import server as dulwich_server
from structlog.testing import capture_logs

from tests.gitserver.conftest import Remote
from tests.gitserver.gitcli import git, make_repo


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


only_dulwich = pytest.mark.parametrize("git_backend", ["dulwich"], indirect=True)


def seeded(tmp_path: Path, remote: Remote) -> None:
    git("push", "-q", remote.url, "main", cwd=make_repo(tmp_path / "source"))


@only_dulwich
def test_crash_mid_pack_ends_the_clone_with_an_error(
    tmp_path: Path, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(tmp_path, remote)

    def half_a_pack(write: Callable[[bytes], object], *args: object, **kwargs: object) -> None:
        # A pack of one 1 MiB blob cut after 200 kB: past the 64 KiB coalescing, so the answer
        # has started, and a client would wait for the rest if the response were left open.
        size = 1 << 20
        header = bytes([0x80 | (3 << 4) | (size & 0x0F)]) + encode_varint(size >> 4)
        write(b"PACK" + (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + header)
        write(zlib.compress(os.urandom(size))[:200_000])
        raise RuntimeError("simulated dulwich crash while writing a pack")

    monkeypatch.setattr(dulwich_server, "write_pack_from_container", half_a_pack)

    with capture_logs() as logs:
        result = git("clone", "-q", remote.url, str(tmp_path / "clone"), check=False, timeout=30)

    assert result.returncode != 0
    assert any(entry["event"] == "git_response_aborted" for entry in logs)
    assert "early EOF" in result.stderr or "transfer closed" in result.stderr


@only_dulwich
def test_crash_before_answering_is_a_500_with_a_message(
    tmp_path: Path, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(tmp_path, remote)

    def crash(self: object) -> None:
        raise RuntimeError("simulated dulwich crash")

    monkeypatch.setattr(dulwich_server.UploadPackHandler, "handle", crash)

    response = httpx.get(f"{remote.url}/info/refs", params={"service": "git-upload-pack"}, timeout=30)

    assert response.status_code == 500
    assert "Internal error in the git server" in response.text
