"""How the runner authenticates: where its credential comes from, that it leaves the environment
before anything is spawned, and that a refusal ends the runner with the server's reason."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lazyaf_protocol import messages as protocol
from websockets.asyncio.server import ServerConnection, serve

from lazyaf_runner import main as runner_main
from lazyaf_runner.connection import RunnerClient
from lazyaf_runner.workspace import git_environment

REFUSAL = "A hello naming a runner id must carry that runner's secret."
SECRET = f"{protocol.RUNNER_SECRET_PREFIX}0b5c1e3a-0000-4000-8000-000000000001.mac"


class FakeClient:
    """Stands in for RunnerClient in main(): records what it was given, runs nothing."""

    made: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        FakeClient.made.append({**kwargs, "environ": dict(os.environ)})
        self.stopping = False
        self.job = None
        self.ws = None
        self.refused = "Go away." if kwargs.get("registration_token") == "refused-one" else None

    async def run(self) -> None:
        return None


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> type[FakeClient]:
    FakeClient.made = []
    monkeypatch.setattr(runner_main, "RunnerClient", FakeClient)
    for name in ("LAZYAF_RUNNER_SECRET", "LAZYAF_RUNNER_TOKEN", "LAZYAF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return FakeClient


def test_without_a_credential_the_runner_says_where_to_get_one(fake_client: type[FakeClient]) -> None:
    result = CliRunner().invoke(runner_main.main, ["--server", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "No credential: set LAZYAF_RUNNER_TOKEN to the server's registration token" in result.output
    assert fake_client.made == []


def test_credentials_come_from_the_environment_and_leave_it(
    fake_client: type[FakeClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAZYAF_RUNNER_SECRET", SECRET)
    monkeypatch.setenv("LAZYAF_RUNNER_TOKEN", "lazyaf-reg.token")
    result = CliRunner().invoke(runner_main.main, ["--server", "http://127.0.0.1:9"])
    assert result.exit_code == 0, result.output
    (made,) = fake_client.made
    assert (made["secret"], made["registration_token"]) == (SECRET, "lazyaf-reg.token")
    # Gone before the client (and so any agent, check or git) runs: children cannot inherit them.
    assert not {"LAZYAF_RUNNER_SECRET", "LAZYAF_RUNNER_TOKEN", "LAZYAF_TOKEN"} & made["environ"].keys()
    assert "visible to every user" not in result.output


def test_a_token_on_the_command_line_works_with_a_warning(fake_client: type[FakeClient]) -> None:
    result = CliRunner().invoke(runner_main.main, ["--registration-token", "lazyaf-reg.t"])
    assert result.exit_code == 0
    assert "--registration-token on the command line is visible to every user" in result.output
    assert fake_client.made[0]["registration_token"] == "lazyaf-reg.t"


def test_a_refused_runner_exits_with_the_servers_reason(fake_client: type[FakeClient]) -> None:
    result = CliRunner(env={"LAZYAF_RUNNER_TOKEN": "refused-one"}).invoke(runner_main.main, [])
    assert result.exit_code == 1
    assert "Error: The server refused this runner: Go away." in result.output


@pytest.fixture
async def refusing_server() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A socket that closes every hello with 4403, as the backend does for a stolen runner id."""
    seen: list[dict[str, str]] = []

    async def handler(ws: ServerConnection) -> None:
        seen.append({"authorization": ws.request.headers.get("Authorization", "") if ws.request else ""})
        await ws.recv()
        await ws.close(protocol.CLOSE_FORBIDDEN, REFUSAL)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}", seen


async def test_the_client_stops_at_a_refusal_and_presents_its_secret(
    refusing_server: tuple[str, list[dict[str, str]]], tmp_path: Path
) -> None:
    url, seen = refusing_server
    client = RunnerClient(server=url, name="t", secret=SECRET, token="users-token", work_root=tmp_path)
    assert client.runner_id == "0b5c1e3a-0000-4000-8000-000000000001"  # named by its secret
    await asyncio.wait_for(client.run(), 30)
    assert client.refused == REFUSAL
    assert seen == [{"authorization": f"Bearer {SECRET}"}]  # once: a refusal is not retried


def test_git_presents_the_credential_on_every_request() -> None:
    env = git_environment("lazyaf-attempt.x", {"PATH": "/bin", "GIT_CONFIG_VALUE_0": "old"})
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    scheme, _, value = env["GIT_CONFIG_VALUE_0"].removeprefix("Authorization: ").partition(" ")
    assert (scheme, base64.b64decode(value).decode()) == ("Basic", "lazyaf:lazyaf-attempt.x")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the runner's /proc/<pid>/environ")
def test_the_secret_leaves_the_processs_visible_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAZYAF_")}
    env["LAZYAF_RUNNER_SECRET"] = SECRET
    process = subprocess.Popen(
        [sys.executable, "-m", "lazyaf_runner", "--server", "http://127.0.0.1:9", "--max-disconnected", "60"]
        + ["--work-dir", str(tmp_path)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    environ = Path(f"/proc/{process.pid}/environ")
    try:
        deadline = time.monotonic() + 30
        # What an agent of the same user could read: the secret's text goes within moments of start.
        while SECRET.encode() in environ.read_bytes():
            assert process.poll() is None and time.monotonic() < deadline, "the secret stayed in /proc"
            time.sleep(0.05)
        assert process.poll() is None  # blanked by the running runner, not gone with its process
        # The name stays and its value is blank; or the runner, non-dumpable by then, shows nothing
        # at all to a reader without CAP_SYS_PTRACE (hardening.py).
        shown = environ.read_bytes()
        assert SECRET.encode() not in shown and (shown == b"" or b"LAZYAF_RUNNER_SECRET=" in shown)
    finally:
        process.kill()
        process.wait(10)
