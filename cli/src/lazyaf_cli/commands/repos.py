"""``lazyaf repos``: list the repos on the server."""

from __future__ import annotations

import json

import click

from lazyaf_cli.client import Repo
from lazyaf_cli.context import AppContext, pass_app
from lazyaf_cli.git import redact
from lazyaf_cli.output import table

COLUMNS = ("NAME", "DEFAULT BRANCH", "INGESTED", "ID", "REMOTE")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the repos as JSON, as the API returns them.")
@pass_app
def repos(app: AppContext, as_json: bool) -> None:
    """List the repos on the LazyAF server."""
    found = app.api.list_repos()
    if as_json:
        click.echo(json.dumps(found, indent=2))
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
        redact(repo["remote_url"]) if repo.get("remote_url") else "-",
    )
