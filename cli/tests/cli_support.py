"""Helpers shared by the CLI tests: invoking the CLI, building git repos, checking what a server holds."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import click.testing
import httpx
from lazyaf.testing import LiveServer

from lazyaf_cli.main import cli

Invoke = Callable[..., click.testing.Result]


def invoke(*args: str, **kwargs: object) -> click.testing.Result:
    result = click.testing.CliRunner().invoke(cli, [str(a) for a in args], **kwargs)  # type: ignore[arg-type]
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def error_line(result: click.testing.Result) -> str:
    """The whole stderr of a failed command, which must be exactly one ``Error: ...`` line."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0].removeprefix("Error: ")


# git helpers


def git(*args: str | Path, cwd: Path | None = None) -> str:
    proc = subprocess.run(["git", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def commit(repo: Path, files: dict[str, bytes | str], message: str) -> str:
    for name, content in files.items():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
    git("-C", repo, "add", "-A")
    git("-C", repo, "commit", "-q", "-m", message)
    return git("-C", repo, "rev-parse", "HEAD")


def make_repo(path: Path, branches: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> Path:
    """A work tree on main with one commit, plus a commit on each extra branch and the given tags on main."""
    git("init", "-q", "-b", "main", path)
    commit(path, {"README.md": "# hello\n"}, "first")
    for branch in branches:
        git("-C", path, "checkout", "-q", "-b", branch, "main")
        commit(path, {f"{branch.replace('/', '_')}.txt": branch}, f"work on {branch}")
    git("-C", path, "checkout", "-q", "main")
    for tag in tags:
        git("-C", path, "tag", tag)
    return path


def ls_remote(url: str | Path) -> dict[str, str]:
    """Every ref (branches, tags, peeled tags) → sha, without HEAD."""
    out = git("ls-remote", url)
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines()) if ref != "HEAD"}


def api_repos(srv: LiveServer) -> list[dict[str, object]]:
    repos: list[dict[str, object]] = httpx.get(srv.api("/repos"), timeout=10).json()
    return repos


def assert_nothing_left(srv: LiveServer) -> None:
    assert api_repos(srv) == []
    assert list(srv.settings.git_repos_dir.iterdir()) == []
