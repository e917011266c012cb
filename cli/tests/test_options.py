"""Parsing: -h on every command, and --server/--token/--json/-v before or after any command.

The command tree is walked, so a command added later is covered without touching this file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from cli_support import canned_server, error_line, invoke, make_repo
from click.testing import CliRunner
from lazyaf.testing import LiveServer

from lazyaf_cli.main import cli

# Commands that take none of the shared options: `serve` runs the server, `runner` passes its
# arguments to the runner program (which has its own --server and --token), `secrets rotate`
# works on the local data dir and key file, never through a server.
OWN_OPTIONS = {("serve",), ("runner",), ("secrets", "rotate")}


def command_paths(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path
        if isinstance(command, click.Group):
            yield from command_paths(command, path)


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def runnable(path: tuple[str, ...]) -> bool:
    command = command_at(path)
    return path not in OWN_OPTIONS and (
        not isinstance(command, click.Group) or command.invoke_without_command
    )


def dummy_arguments(path: tuple[str, ...]) -> list[str]:
    """Values that get each argument of the command past parsing."""
    values = []
    for param in command_at(path).params:
        if isinstance(param, click.Argument) and param.required:
            if isinstance(param.type, click.Choice):
                values.append(str(param.type.choices[0]))
            elif isinstance(param.type, click.types._NumberParamTypeBase):
                values.append("1")
            else:
                values.append("x")
    return values


ALL = list(command_paths())
RUNNABLE = [p for p in ALL if runnable(p)]


def test_the_tree_is_what_the_readme_shows() -> None:
    assert {" ".join(p) for p in ALL} >= {
        "serve", "ingest", "land", "repos", "runner", "runners", "runners scale", "cards", "card",
        "card new", "card start", "card show", "card diff", "card logs", "card approve", "card reject",
        "card retry", "card comment", "card request-changes", "card cancel",
    }  # fmt: skip


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("path", [(), *ALL], ids=lambda p: " ".join(p) or "lazyaf")
def test_help_on_every_command(path: tuple[str, ...], flag: str) -> None:
    result = CliRunner().invoke(cli, [*path, flag], prog_name="lazyaf")

    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: {' '.join(('lazyaf', *path))} [OPTIONS]")


@pytest.mark.parametrize("path", RUNNABLE, ids=" ".join)
def test_shared_options_after_every_command(path: tuple[str, ...]) -> None:
    # A bad --server is refused as soon as the command applies it: proof that it was taken there.
    after = invoke(*path, *dummy_arguments(path), "--server", "localhost:1", "--json", "-v", "--token", "t")
    before = invoke("--server", "localhost:1", *path, *dummy_arguments(path))

    expected = "--server must be an http(s) URL such as http://127.0.0.1:8765, not 'localhost:1'."
    assert error_line(after) == expected
    assert error_line(before) == expected


@pytest.mark.parametrize("path", RUNNABLE, ids=" ".join)
def test_every_command_documents_its_json(path: tuple[str, ...]) -> None:
    command = command_at(path)
    assert "--json" in (command.help or ""), f"`lazyaf {' '.join(path)} --help` says nothing about --json"


def test_server_after_the_command(server: LiveServer, tmp_path: Path) -> None:
    source = make_repo(tmp_path / "src")

    result = invoke("ingest", source, "--name", "proj", "--server", server.url)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Ingested proj (id ")


def test_server_after_the_command_wins_over_the_group_and_the_environment(
    server: LiveServer, down_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAZYAF_URL", down_url)

    result = invoke("--server", down_url, "repos", "--server", server.url)

    assert result.exit_code == 0, result.output


def test_json_before_or_after(server: LiveServer, tmp_path: Path) -> None:
    assert invoke("--server", server.url, "ingest", make_repo(tmp_path / "src")).exit_code == 0

    before = invoke("--server", server.url, "--json", "repos")
    after = invoke("--server", server.url, "repos", "--json")

    assert before.exit_code == after.exit_code == 0
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert [r["name"] for r in json.loads(after.stdout)] == ["src"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_token_before_or_after_is_sent_as_bearer(where: str) -> None:
    with canned_server({("GET", "/api/repos"): (200, [])}) as canned:
        args = ["repos", "--token", "tok-1"] if where == "after" else ["--token", "tok-1", "repos"]
        result = invoke("--server", canned.url, *args)

    assert result.exit_code == 0, result.output
    assert [headers.get("Authorization") for _, _, headers, _ in canned.seen] == ["Bearer tok-1"]
    assert "tok-1" not in result.output


def test_token_on_the_command_line_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAZYAF_TOKEN", "from-env")
    with canned_server({("GET", "/api/repos"): (200, [])}) as canned:
        assert invoke("--server", canned.url, "repos", "--token", "typed").exit_code == 0
        assert invoke("--server", canned.url, "repos").exit_code == 0

    assert [h.get("Authorization") for _, _, h, _ in canned.seen] == ["Bearer typed", "Bearer from-env"]
