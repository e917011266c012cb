"""The ``lazyaf`` command group: shared options and the context object every command receives."""

from __future__ import annotations

import click

from lazyaf_cli import __version__
from lazyaf_cli.commands import review  # noqa: F401  (adds the review commands to `card`)
from lazyaf_cli.commands.card import card
from lazyaf_cli.commands.cards import cards
from lazyaf_cli.commands.github import github
from lazyaf_cli.commands.ingest import ingest
from lazyaf_cli.commands.land import land
from lazyaf_cli.commands.learnings import learnings
from lazyaf_cli.commands.repos import repos
from lazyaf_cli.commands.run import run
from lazyaf_cli.commands.runner import runner
from lazyaf_cli.commands.runners import runners
from lazyaf_cli.commands.secret_keys import secrets
from lazyaf_cli.commands.serve import serve
from lazyaf_cli.options import DEFAULT_SERVER, RootGroup

__all__ = ["DEFAULT_SERVER", "cli"]


@click.group(
    cls=RootGroup,
    context_settings={"auto_envvar_prefix": "LAZYAF", "help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="lazyaf")
def cli() -> None:
    """LazyAF: a local Kanban board that hands cards to AI coding agents.

    Start the board with `lazyaf serve`, copy a repository into it with
    `lazyaf ingest`, add a runner with `lazyaf runners scale local 1`, then
    drive cards from the board or from here: `lazyaf card new REPO TITLE`,
    `lazyaf card start CARD --follow`, `lazyaf card diff CARD`,
    `lazyaf card approve CARD`; or in one go, `lazyaf run REPO "what to do"
    --workflow plan_build --follow`. Push reviewed work to the real remote with
    `lazyaf land`, or link the repo to GitHub (`lazyaf github link`) and
    open pull requests with `lazyaf land --pr`.

    --server, --token, --json and -v work before or after any command.
    Set LAZYAF_TOKEN when the server requires a token.
    """


for command in (serve, ingest, land, repos, cards, card, run, runners, runner, secrets, github, learnings):
    cli.add_command(command)
