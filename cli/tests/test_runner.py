"""`lazyaf runner` runs the runner program against lazyaf's server."""

from __future__ import annotations

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
