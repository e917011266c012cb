"""`lazyaf runner`: run a runner on this machine (the same program as `lazyaf-runner`)."""

from __future__ import annotations

import os

import click

from lazyaf_cli.context import AppContext

CREDENTIAL_ENV = ("LAZYAF_RUNNER_TOKEN", "LAZYAF_RUNNER_SECRET")


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def runner(app: AppContext, args: tuple[str, ...]) -> None:
    """Take agent jobs from the server and run them here.

    Options are those of `lazyaf-runner` (see `lazyaf runner --help`); the server defaults
    to lazyaf's own --server. The runner registers with the server's registration token: set
    LAZYAF_RUNNER_TOKEN, or let `lazyaf runner` ask the server for it with your own rights (on
    the server's machine, or with LAZYAF_TOKEN); it never goes on a command line.
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
    asks_help = "--help" in argv
    has_credential = any(os.environ.get(name) for name in CREDENTIAL_ENV) or any(
        a == "--registration-token" or a.startswith("--registration-token=") for a in argv
    )
    if not asks_help and not has_credential:
        token = _registration_token(app)
        if token:
            # The runner reads it from the environment (and removes it from there).
            os.environ["LAZYAF_RUNNER_TOKEN"] = token
    runner_main.main(args=argv, prog_name="lazyaf runner", standalone_mode=True)


def _registration_token(app: AppContext) -> str | None:
    """The server's registration token, asked for with the user's own rights; None when it will not say."""
    try:
        answer = app.api.request("GET", "/runners/docker-command")
    except click.ClickException as exc:
        app.info(f"Could not get the registration token from the server ({exc.message}).")
        return None
    token = answer.get("registration_token") if isinstance(answer, dict) else None
    return token if isinstance(token, str) and token else None
