"""The ``lazyaf`` command group: global options and the context object every command receives."""

from __future__ import annotations

import os

import click

from lazyaf_cli import __version__
from lazyaf_cli.commands.ingest import ingest
from lazyaf_cli.commands.land import land
from lazyaf_cli.commands.repos import repos
from lazyaf_cli.commands.runner import runner
from lazyaf_cli.commands.secret_keys import secrets
from lazyaf_cli.commands.serve import serve
from lazyaf_cli.context import AppContext

DEFAULT_SERVER = "http://127.0.0.1:8765"


@click.group(context_settings={"auto_envvar_prefix": "LAZYAF", "help_option_names": ["-h", "--help"]})
@click.option(
    "--server",
    envvar="LAZYAF_URL",
    default=DEFAULT_SERVER,
    show_default=True,
    metavar="URL",
    help="Talk to the LazyAF server at URL (env LAZYAF_URL).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show each git command and all of git's output.")
@click.version_option(__version__, prog_name="lazyaf")
@click.pass_context
def cli(ctx: click.Context, server: str, verbose: bool) -> None:
    """LazyAF: a local Kanban board that hands cards to AI coding agents.

    Start the board with `lazyaf serve`, copy a repository into it with
    `lazyaf ingest`, and push reviewed work to the real remote with `lazyaf land`.
    Set LAZYAF_TOKEN when the server requires a token.
    """
    server = server.strip().rstrip("/")
    if not server.startswith(("http://", "https://")):
        raise click.ClickException(
            f"--server must be an http(s) URL such as {DEFAULT_SERVER}, not '{server}'."
        )
    ctx.obj = AppContext(server=server, token=os.environ.get("LAZYAF_TOKEN") or None, verbose=verbose)


cli.add_command(serve)
cli.add_command(ingest)
cli.add_command(land)
cli.add_command(repos)
cli.add_command(runner)
cli.add_command(secrets)
