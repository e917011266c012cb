"""`lazyaf runner`: run a runner on this machine (the same program as `lazyaf-runner`)."""

from __future__ import annotations

import click

from lazyaf_cli.context import AppContext


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def runner(app: AppContext, args: tuple[str, ...]) -> None:
    """Take agent jobs from the server and run them here.

    Options are those of `lazyaf-runner` (see `lazyaf runner --help`); the server defaults
    to lazyaf's own --server.
    """
    try:
        from lazyaf_runner.main import main as runner_main
    except ImportError:
        raise click.ClickException(
            "The runner is not installed here; install it with `pip install ./runner` from a LazyAF checkout."
        ) from None
    argv = list(args)
    if "--server" not in argv and not any(a.startswith("--server=") for a in argv):
        argv = ["--server", app.server, *argv]
    if app.token and "--token" not in argv:
        argv = ["--token", app.token, *argv]
    runner_main.main(args=argv, prog_name="lazyaf runner", standalone_mode=True)
