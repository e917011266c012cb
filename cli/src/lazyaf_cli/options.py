"""Options every command takes before or after its name: ``--server``, ``--token``, ``--json``, ``-v``.

``lazyaf --server URL ingest .`` and ``lazyaf ingest . --server URL`` mean the same: the group
reads them (with ``LAZYAF_URL`` / ``LAZYAF_TOKEN`` as fallbacks) into the ``AppContext``, and
every command below it accepts them again and overrides what the group set. Only values typed on
the command line override; a command never re-reads the environment.
"""

from __future__ import annotations

import os
from typing import Any

import click
from click.core import ParameterSource

from lazyaf_cli.context import AppContext

DEFAULT_SERVER = "http://127.0.0.1:8765"
GLOBAL_NAMES = ("server", "token", "as_json", "verbose")


def global_params(*, root: bool = False) -> list[click.Parameter]:
    """The shared options; the root group's also say where they fall back to."""
    return [
        click.Option(
            ["--server"],
            metavar="URL",
            allow_from_autoenv=False,
            help=f"Talk to the LazyAF server at URL (env LAZYAF_URL; default {DEFAULT_SERVER}).",
        ),
        click.Option(
            ["--token"],
            metavar="TOKEN",
            allow_from_autoenv=False,
            help="Send TOKEN to the server (env LAZYAF_TOKEN, which keeps it off the command line).",
        ),
        click.Option(
            ["--json", "as_json"],
            is_flag=True,
            allow_from_autoenv=False,
            help="Print JSON for scripts instead of text (shapes: each command's help).",
        ),
        click.Option(
            ["-v", "--verbose"],
            is_flag=True,
            allow_from_autoenv=False,
            help="Show each git command and all of git's output.",
        ),
    ]


def check_server(server: str) -> str:
    server = server.strip().rstrip("/")
    if not server.startswith(("http://", "https://")):
        raise click.ClickException(
            f"--server must be an http(s) URL such as {DEFAULT_SERVER}, not '{server}'."
        )
    return server


def root_context(ctx: click.Context) -> AppContext:
    """The AppContext from the group's options, then the environment, then the defaults."""
    params = ctx.params
    server, source = params.pop("server"), "--server"
    if server is None:
        server, source = os.environ.get("LAZYAF_URL") or None, "LAZYAF_URL"
    if server is None:
        server, source = DEFAULT_SERVER, "default"
    token = params.pop("token") or os.environ.get("LAZYAF_TOKEN") or None
    return AppContext(
        server=check_server(server),
        server_source=source,
        token=token,
        as_json=bool(params.pop("as_json")),
        verbose=bool(params.pop("verbose")),
    )


def apply_overrides(ctx: click.Context) -> None:
    """Take the shared options out of a command's parameters; those typed here override the group's."""
    app = ctx.find_object(AppContext)
    values = {name: ctx.params.pop(name, None) for name in GLOBAL_NAMES}
    if app is None:  # invoked on its own (tests of a single command): nothing to override
        return
    typed = {n: v for n, v in values.items() if ctx.get_parameter_source(n) == ParameterSource.COMMANDLINE}
    if typed.get("server") is not None:
        app.set_server(check_server(typed["server"]), "--server")
    if typed.get("token"):
        app.set_token(typed["token"])
    if typed.get("as_json"):
        app.as_json = True
    if typed.get("verbose"):
        app.verbose = True


class Command(click.Command):
    """A command that also accepts the shared options after its name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_params())

    def invoke(self, ctx: click.Context) -> Any:
        apply_overrides(ctx)
        return super().invoke(ctx)


class Group(click.Group):
    """A group whose commands (and subgroups) all accept the shared options."""

    command_class = Command

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_params())

    def invoke(self, ctx: click.Context) -> Any:
        apply_overrides(ctx)
        return super().invoke(ctx)


Group.group_class = Group


class RootGroup(click.Group):
    """The ``lazyaf`` group: builds the AppContext from its options, the environment and defaults."""

    command_class = Command
    group_class = Group

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_params())

    def invoke(self, ctx: click.Context) -> Any:
        ctx.obj = root_context(ctx)
        return super().invoke(ctx)
