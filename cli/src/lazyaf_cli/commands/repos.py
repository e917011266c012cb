"""``lazyaf repos``: list the repos on the server."""

from __future__ import annotations

import click

from lazyaf_cli.client import Repo
from lazyaf_cli.context import AppContext, pass_app
from lazyaf_cli.git import redact
from lazyaf_cli.options import Command
from lazyaf_cli.output import table

COLUMNS = ("NAME", "DEFAULT BRANCH", "INGESTED", "ID", "CLONE URL", "REMOTE")


@click.command(cls=Command)
@pass_app
def repos(app: AppContext) -> None:
    """List the repos on the LazyAF server, each with its clone URL (by name:
    `git clone <URL>` works from this machine).

    With --json: the API's list of repos, each {id, name, remote_url,
    default_branch, is_ingested, merge_strategy, setup_command, lint_command,
    test_command, build_command, clone_url, created_at, updated_at}.
    """
    found = app.api.list_repos()
    if app.as_json:
        app.print_json(found)
    elif not found:
        click.echo("No repos yet; add one with `lazyaf ingest PATH`.")
    else:
        click.echo(table([COLUMNS, *(_row(repo) for repo in found)]))


def _row(repo: Repo) -> tuple[str, ...]:
    return (
        str(repo["name"]),
        str(repo["default_branch"]),
        "yes" if repo["is_ingested"] else "no",
        str(repo["id"]),
        str(repo["clone_url"]),
        redact(repo["remote_url"]) if repo.get("remote_url") else "-",
    )
