"""``lazyaf learnings``: a repo's learnings, and their export as a Claude Code rules file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import click

from lazyaf_cli.context import AppContext, pass_app
from lazyaf_cli.options import Command, Group
from lazyaf_cli.output import plural, short, table

RULES_FILE = Path(".claude/rules/lazyaf.md")
STATUSES = ("proposed", "accepted", "retired")
COLUMNS = ("ID", "STATUS", "KIND", "PATHS", "USES", "+/-", "TEXT")


@click.group(cls=Group)
def learnings() -> None:
    """A repo's learnings: short advice about its files that agents propose and people
    accept on the board; accepted ones go into the prompts of cards touching their paths."""


@learnings.command("list", cls=Command)
@click.argument("repo_ref", metavar="REPO")
@click.option("--status", type=click.Choice(STATUSES), help="Only learnings in this status.")
@pass_app
def list_learnings(app: AppContext, repo_ref: str, status: str | None) -> None:
    """List REPO's learnings, most useful first. REPO is a repo's name or id.

    With --json: the API's list, each {id, text, paths, kind, status, source,
    helpful, harmful, uses, ...}.
    """
    repo = app.api.find_repo(repo_ref)
    found = _learnings(app, repo["id"], status)
    if app.as_json:
        app.print_json(found)
    elif not found:
        where = f" {status}" if status else ""
        click.echo(f"No{where} learnings in {repo['name']} yet.")
    else:
        click.echo(table([COLUMNS, *(_row(learning) for learning in found)]))


def _learnings(app: AppContext, repo_id: str, status: str | None) -> list[dict[str, Any]]:
    params = {"status": status} if status else None
    found: list[dict[str, Any]] = app.api.request("GET", f"/repos/{repo_id}/learnings", params=params)
    return found


def _row(learning: dict[str, Any]) -> tuple[str, ...]:
    text = " ".join(str(learning["text"]).split())
    return (
        short(learning["id"]),
        str(learning["status"]),
        str(learning["kind"]),
        ", ".join(learning["paths"]) or "*",
        str(learning["uses"]),
        f"+{learning['helpful']}/-{learning['harmful']}",
        text if len(text) <= 60 else text[:59] + "…",
    )


@learnings.command(cls=Command)
@click.argument("repo_ref", metavar="REPO")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write here: a folder (the repository's root; the file goes to "
    "FOLDER/.claude/rules/lazyaf.md) or a .md file. Default: the current folder.",
)
@pass_app
def export(app: AppContext, repo_ref: str, output: Path | None) -> None:
    """Write REPO's accepted learnings as a Claude Code rules file,
    `.claude/rules/lazyaf.md`, grouped by the paths they are about.

    The file is replaced as a whole (an export with no accepted learnings says
    so in it). With --json: {path, count}.
    """
    repo = app.api.find_repo(repo_ref)
    found = _learnings(app, repo["id"], "accepted")
    target = _target(output)
    try:
        _write(target, rules(repo["name"], found))
    except OSError as exc:
        raise click.ClickException(
            f"Could not write {target}: {exc.strerror or exc}; pick another --output."
        ) from None
    if app.as_json:
        app.print_json({"path": str(target), "count": len(found)})
    else:
        click.echo(f"Wrote {plural(len(found), 'accepted learning')} of {repo['name']} to {target}")


def _target(output: Path | None) -> Path:
    if output is None:
        return Path.cwd() / RULES_FILE
    if output.suffix.lower() == ".md":
        return output
    return output / RULES_FILE


def _write(target: Path, text: str) -> None:
    """Replace ``target`` at once (a temporary file renamed over it): never half-written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".lazyaf-", suffix=".md", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(name, 0o644)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def rules(repo_name: str, found: list[dict[str, Any]]) -> str:
    """The rules file: a heading per scope (the whole repository first), the learnings under it in
    the order given (most useful first)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for learning in found:
        groups.setdefault(tuple(learning["paths"]), []).append(learning)
    lines = [
        f"<!-- Written by `lazyaf learnings export {repo_name}` from the accepted learnings of "
        f"LazyAF repo {repo_name}; edit them on the board, then export again. -->",
        f"# What agents learned about {repo_name}",
        "",
    ]
    if not found:
        lines.append("No learnings have been accepted yet.")
    for scope in sorted(groups, key=lambda s: (len(s) > 0, s)):
        heading = ", ".join(f"`{glob}`" for glob in scope) if scope else "The whole repository"
        lines += [f"## {heading}", ""]
        for learning in groups[scope]:
            text = str(learning["text"]).strip().replace("\n", "\n  ")
            kind = f"**{learning['kind']}**: " if learning["kind"] != "advice" else ""
            lines.append(f"- {kind}{text}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
