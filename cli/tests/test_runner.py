"""`lazyaf runner` runs the runner program against lazyaf's server, registered with its token."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from lazyaf.testing import LiveServer, wait_until

from lazyaf_cli.main import cli


def test_runner_help_is_the_runner_programs() -> None:
    result = CliRunner().invoke(cli, ["runner", "--help"])
    assert result.exit_code == 0
    assert "Take agent jobs from a LazyAF server" in result.output
    assert "--max-disconnected" in result.output
    assert "LAZYAF_RUNNER_TOKEN" in result.output  # how to pass the registration token


def test_runner_gives_up_when_the_server_never_answers() -> None:
    result = CliRunner(env={"LAZYAF_RUNNER_TOKEN": "lazyaf-reg.some-token"}).invoke(
        cli, ["--server", "http://127.0.0.1:9", "runner", "--name", "t", "--max-disconnected", "0.5"]
    )
    assert result.exit_code == 0


@pytest.fixture
def runner_argv(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The runner program's argument lists, instead of running it (no runner may dial a real server)."""
    import lazyaf_runner.main

    seen: list[list[str]] = []
    monkeypatch.setattr(lazyaf_runner.main.main, "main", lambda args, **kw: seen.append(list(args)))
    return seen


def test_runner_says_which_server_it_dials(
    runner_argv: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAZYAF_RUNNER_TOKEN", "lazyaf-reg.given-by-the-user")  # nothing to fetch
    default = CliRunner().invoke(cli, ["runner", "--name", "t"])
    typed = CliRunner().invoke(cli, ["runner", "--name", "t", "--server", "http://127.0.0.1:10"])
    monkeypatch.setenv("LAZYAF_URL", "http://127.0.0.1:9/")
    from_env = CliRunner().invoke(cli, ["runner", "-v"])
    monkeypatch.setenv("LAZYAF_TOKEN", "tok")
    with_token = CliRunner().invoke(cli, ["--server", "http://127.0.0.1:11", "runner"])

    assert default.stderr == (
        "Runner connecting to http://127.0.0.1:8765 "
        "(the default; pass --server URL or set LAZYAF_URL for another).\n"
    )
    assert typed.stderr == "Runner connecting to http://127.0.0.1:10 (from --server).\n"
    assert from_env.stderr == "Runner connecting to http://127.0.0.1:9 (from LAZYAF_URL).\n"
    assert with_token.stderr == "Runner connecting to http://127.0.0.1:11 (from --server).\n"
    assert runner_argv == [
        ["--server", "http://127.0.0.1:8765", "--name", "t"],
        ["--name", "t", "--server", "http://127.0.0.1:10"],
        ["--server", "http://127.0.0.1:9", "--verbose"],
        ["--server", "http://127.0.0.1:11"],
    ]
    assert os.environ["LAZYAF_TOKEN"] == "tok"  # handed over by environment, never argv


def test_runner_short_help() -> None:
    result = CliRunner().invoke(cli, ["runner", "-h"], prog_name="lazyaf")

    assert result.exit_code == 0
    assert result.output.startswith("Usage: lazyaf runner [OPTIONS]")


def test_runner_refuses_json() -> None:
    result = CliRunner().invoke(cli, ["runner", "--json"])

    assert result.exit_code == 1
    assert result.stderr == "Error: `lazyaf runner` prints a log, not JSON; leave out --json.\n"


def test_runner_without_any_credential_says_how_to_get_one() -> None:
    result = CliRunner().invoke(cli, ["--server", "http://127.0.0.1:9", "runner", "--name", "t"])
    assert result.exit_code == 2
    assert "Could not get the registration token from the server" in result.stderr
    assert "No credential: set LAZYAF_RUNNER_TOKEN to the server's registration token" in result.stderr


def test_a_token_on_the_command_line_is_warned_about() -> None:
    result = CliRunner().invoke(
        cli,
        ["--server", "http://127.0.0.1:9", "runner", "--registration-token", "lazyaf-reg.x"]
        + ["--max-disconnected", "0.2"],
    )
    assert result.exit_code == 0
    assert "--registration-token on the command line is visible to every user" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the runner's /proc files")
def test_runner_on_the_servers_machine_registers_with_a_token_it_fetched(
    server: LiveServer, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAZYAF_")}
    lazyaf = Path(sys.executable).with_name("lazyaf")
    process = subprocess.Popen(
        [str(lazyaf), "--server", server.url, "runner", "--name", "by-hand", "--work-dir", str(tmp_path)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:

        def registered() -> bool:
            runners = httpx.get(server.api("/runners")).json()["runners"]
            return any(r["name"] == "by-hand" and r["status"] == "idle" for r in runners)

        wait_until(registered, 30)
        token = server.app.state.credentials.registration_token
        for name in ("cmdline", "environ"):
            assert token.encode() not in Path(f"/proc/{process.pid}/{name}").read_bytes()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
