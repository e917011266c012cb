"""`lazyaf runner` runs the runner program against lazyaf's server."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from lazyaf_cli.main import cli


def test_runner_help_is_the_runner_programs() -> None:
    result = CliRunner().invoke(cli, ["runner", "--help"])
    assert result.exit_code == 0
    assert "Take agent jobs from a LazyAF server" in result.output
    assert "--max-disconnected" in result.output


def test_runner_gives_up_when_the_server_never_answers() -> None:
    result = CliRunner().invoke(
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
        ["--token", "tok", "--server", "http://127.0.0.1:11"],
    ]


def test_runner_short_help() -> None:
    result = CliRunner().invoke(cli, ["runner", "-h"], prog_name="lazyaf")

    assert result.exit_code == 0
    assert result.output.startswith("Usage: lazyaf runner [OPTIONS]")


def test_runner_refuses_json() -> None:
    result = CliRunner().invoke(cli, ["runner", "--json"])

    assert result.exit_code == 1
    assert result.stderr == "Error: `lazyaf runner` prints a log, not JSON; leave out --json.\n"
