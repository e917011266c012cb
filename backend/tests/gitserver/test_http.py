"""The HTTP surface of /git on both backends: routing, errors, headers, request encodings."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path

import httpx
import pytest

from lazyaf.testing import LiveServer
from tests.gitserver import wire
from tests.gitserver.conftest import MAX_INFLATED, Remote
from tests.gitserver.gitcli import git, make_repo, rev


def seeded(tmp_path: Path, remote: Remote) -> str:
    source = make_repo(tmp_path / "source")
    git("push", "-q", remote.url, "main", cwd=source)
    return rev(source, "main")


def test_unknown_repo_is_404_and_git_shows_why(server: LiveServer) -> None:
    url = f"{server.url}/git/{uuid.uuid4()}.git"

    response = httpx.get(f"{url}/info/refs", params={"service": "git-upload-pack"})
    result = git("ls-remote", url, check=False)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
    assert result.returncode != 0
    assert "remote: Repository" in result.stderr and "not found on this LazyAF server" in result.stderr


@pytest.mark.parametrize("name", ["not-a-uuid", "..%2F..%2Fetc", "{00000000-0000-0000-0000-000000000000}"])
def test_repo_name_that_is_not_a_uuid_is_404(server: LiveServer, name: str) -> None:
    response = httpx.get(f"{server.url}/git/{name}.git/info/refs", params={"service": "git-upload-pack"})

    assert response.status_code == 404
    assert "not found" in response.text.lower()


def test_advertisement_has_git_content_type_no_cache_and_service_header(remote: Remote) -> None:
    response = httpx.get(f"{remote.url}/info/refs", params={"service": "git-upload-pack"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-git-upload-pack-advertisement"
    assert "no-cache" in response.headers["cache-control"]
    assert response.headers["expires"] == "Fri, 01 Jan 1980 00:00:00 GMT"
    assert response.content.startswith(b"001e# service=git-upload-pack\n0000")


def test_receive_pack_advertisement_offers_report_status(remote: Remote) -> None:
    response = httpx.get(f"{remote.url}/info/refs", params={"service": "git-receive-pack"})

    assert response.headers["content-type"] == "application/x-git-receive-pack-advertisement"
    assert response.content.startswith(b"001f# service=git-receive-pack\n0000")
    assert b"report-status" in response.content


@pytest.mark.parametrize("query", [{"service": "git-upload-archive"}, {"service": "nonsense"}])
def test_unknown_service_is_403(remote: Remote, query: dict[str, str]) -> None:
    response = httpx.get(f"{remote.url}/info/refs", params=query)

    assert response.status_code == 403
    assert "Unsupported service" in response.text


def test_dumb_protocol_discovery_is_403(remote: Remote) -> None:
    response = httpx.get(f"{remote.url}/info/refs")

    assert response.status_code == 403
    assert "dumb HTTP protocol is not served" in response.text


def test_other_repo_files_are_404(remote: Remote) -> None:
    assert httpx.get(f"{remote.url}/objects/info/packs").status_code == 404
    assert httpx.get(f"{remote.url}/config").status_code == 404


def test_head_names_the_default_branch(remote: Remote) -> None:
    response = httpx.get(f"{remote.url}/HEAD")

    assert response.status_code == 200
    assert response.text == "ref: refs/heads/main\n"


def test_wrong_method_is_405(remote: Remote) -> None:
    response = httpx.get(f"{remote.url}/git-upload-pack")

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_post_with_wrong_content_type_is_415(remote: Remote) -> None:
    response = httpx.post(
        f"{remote.url}/git-upload-pack", content=b"0000", headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 415
    assert "application/x-git-upload-pack-request" in response.text


def test_post_with_unsupported_content_encoding_is_415(remote: Remote) -> None:
    response = wire.post(remote.url, "git-upload-pack", b"0000", **{"Content-Encoding": "br"})

    assert response.status_code == 415
    assert "Content-Encoding" in response.text


def test_gzip_upload_pack_request_is_inflated(tmp_path: Path, remote: Remote) -> None:
    tip = seeded(tmp_path, remote)

    response = wire.post(remote.url, "git-upload-pack", wire.upload_pack_body([tip]), gzip=True)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-git-upload-pack-result"
    assert response.content.startswith(b"0008NAK\n")
    assert b"PACK" in response.content


def test_gzip_body_inflating_past_the_cap_is_413(tmp_path: Path, remote: Remote) -> None:
    tip = seeded(tmp_path, remote)
    # A valid negotiation (git reads every "have"), so the backend keeps reading until the cap trips.
    have = wire.pkt(f"have {'ab' * 20}\n")
    body = wire.upload_pack_body([tip]).removesuffix(wire.pkt("done\n"))
    body += have * (MAX_INFLATED // len(have) + 100) + wire.pkt("done\n")

    response = wire.post(remote.url, "git-upload-pack", body, gzip=True)

    assert len(gzip.compress(body)) < 100_000
    assert response.status_code == 413
    assert "inflates to more than" in response.text


def test_corrupt_gzip_body_is_400(remote: Remote) -> None:
    response = httpx.post(
        f"{remote.url}/git-upload-pack",
        content=b"\x1f\x8b\x08\x00 definitely not deflate data",
        headers={"Content-Type": "application/x-git-upload-pack-request", "Content-Encoding": "gzip"},
    )

    assert response.status_code == 400
    assert "gzip" in response.text


def test_empty_upload_pack_request_is_an_empty_answer(remote: Remote) -> None:
    response = wire.post(remote.url, "git-upload-pack", b"0000")

    assert response.status_code == 200
    assert response.content == b""
