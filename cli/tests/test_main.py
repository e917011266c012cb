"""The lazyaf group: installation, --server, the token, and failures that must stay one line."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_support import Invoke, api_repos, assert_nothing_left, error_line, invoke, make_repo
from lazyaf.testing import LiveServer

from lazyaf_cli import git as gitlib
from lazyaf_cli.client import ApiClient

TOKEN = "tok-3f9c-very-secret"


def test_console_script_is_installed_and_shows_help() -> None:
    script = Path(sys.executable).parent / "lazyaf"

    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: lazyaf [OPTIONS] COMMAND [ARGS]...")
    for command in ("serve", "ingest", "land", "repos", "cards", "card", "runners", "runner"):
        assert f"\n  {command} " in proc.stdout


def test_server_comes_from_lazyaf_url(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAZYAF_URL", server.url + "/")

    result = invoke("repos")

    assert result.exit_code == 0, result.output
    assert result.stdout == "No repos yet; add one with `lazyaf ingest PATH`.\n"


def test_server_must_be_an_http_url() -> None:
    result = invoke("--server", "localhost:8765", "repos")

    assert error_line(result) == (
        "--server must be an http(s) URL such as http://127.0.0.1:8765, not 'localhost:8765'."
    )


def test_unreachable_server_is_one_line(down_url: str) -> None:
    result = invoke("--server", down_url, "repos")

    assert error_line(result) == f"LazyAF server not reachable at {down_url}; start it with `lazyaf serve`."


def test_push_failure_removes_the_repo_it_created(
    lazyaf: Invoke, server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_ingest = ApiClient.ingest_repo

    def ingest_then_lose_the_way(self: ApiClient, **kwargs: str) -> dict[str, object]:
        repo = real_ingest(self, **kwargs)
        return {**repo, "clone_url": f"{server.url}/git/{uuid.uuid4()}.git"}

    monkeypatch.setattr(ApiClient, "ingest_repo", ingest_then_lose_the_way)

    result = lazyaf("ingest", make_repo(tmp_path / "src"), "--name", "proj")

    line = error_line(result)
    assert line.startswith("Pushing to the LazyAF server failed: ")
    assert line.endswith("; nothing was ingested.")
    assert_nothing_left(server)


def test_interrupted_push_removes_the_repo_it_created(
    lazyaf: Invoke, server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(gitlib.Git, "push", interrupted)

    result = lazyaf("ingest", make_repo(tmp_path / "src"), "--name", "proj")

    assert result.exit_code == 1
    assert api_repos(server) == []
    assert_nothing_left(server)


# The token, seen from the server side: a recording stand-in for the API and the git endpoint.


@dataclass
class Recorder:
    url: str = ""
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)


def _handler(recorder: Recorder) -> type[http.server.BaseHTTPRequestHandler]:
    repo_id = str(uuid.uuid4())

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, status: int, body: object = None) -> None:
            recorder.requests.append((self.command, self.path, self.headers.get("Authorization")))
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(404, {"detail": "Not Found"})

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._answer(
                201,
                {
                    "id": repo_id,
                    "name": "proj",
                    "remote_url": None,
                    "default_branch": "main",
                    "is_ingested": False,
                    "clone_url": f"{recorder.url}/git/{repo_id}.git",
                    "created_at": "2026-01-01T00:00:00Z",
                    "updated_at": "2026-01-01T00:00:00Z",
                },
            )

        def do_DELETE(self) -> None:  # noqa: N802
            self._answer(204)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    rec.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_token_goes_to_the_api_and_to_git_but_is_never_shown(
    recorder: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAZYAF_TOKEN", TOKEN)
    seen_commands: list[list[str]] = []
    real_popen = subprocess.Popen

    def spy(cmd: list[str], *args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        seen_commands.append(list(cmd))
        return real_popen(cmd, *args, **kwargs)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(subprocess, "Popen", spy)

    result = invoke(
        "--server", recorder.url, "--verbose", "ingest", make_repo(tmp_path / "src"), "--name", "proj"
    )

    assert result.exit_code == 1
    methods = [(method, path.split("?")[0]) for method, path, _ in recorder.requests]
    assert methods[0] == ("POST", "/api/repos/ingest")
    assert methods[-1][0] == "DELETE"  # the failed push left nothing behind
    assert any(path.endswith("/info/refs") for _, path in methods)  # git came knocking
    assert {auth for _, _, auth in recorder.requests} == {f"Bearer {TOKEN}"}
    assert TOKEN not in result.output
    assert seen_commands and not any(TOKEN in arg for cmd in seen_commands for arg in cmd)


def test_not_a_lazyaf_server(recorder: Recorder) -> None:
    result = invoke("--server", recorder.url, "repos")

    assert error_line(result) == (
        f"The server at {recorder.url} answered 404 to GET /api/repos; is it a LazyAF server? "
        "Check --server or LAZYAF_URL."
    )
