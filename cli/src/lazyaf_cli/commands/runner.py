"""`lazyaf runner`: run a runner on this machine (the same program as `lazyaf-runner`)."""

from __future__ import annotations

import os

import click

from lazyaf_cli.context import AppContext

# lazyaf's own short options, spelled the way the runner program knows them.
_SPELLINGS = {"-h": "--help", "-v": "--verbose"}
CREDENTIAL_ENV = ("LAZYAF_RUNNER_TOKEN", "LAZYAF_RUNNER_SECRET")


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def runner(app: AppContext, args: tuple[str, ...]) -> None:
    """Take agent jobs from the server and run them here.

    Options are those of `lazyaf-runner` (see `lazyaf runner --help`); the server defaults
    to lazyaf's own --server (or LAZYAF_URL), and the line it starts with says which it is. The
    runner registers with the server's registration token: set LAZYAF_RUNNER_TOKEN, or let
    `lazyaf runner` ask the server for it with your own rights (on the server's machine, or with
    LAZYAF_TOKEN); it never goes on a command line.
    """
    try:
        from lazyaf_runner.main import main as runner_main
    except ImportError:
        raise click.ClickException(
            "The runner is not installed here; install it with `pip install ./runner` from a LazyAF checkout."
        ) from None
    argv = [_SPELLINGS.get(a, a) for a in args]
    if app.as_json or "--json" in argv:
        raise click.ClickException("`lazyaf runner` prints a log, not JSON; leave out --json.")
    server, source, typed = _server(argv, app)
    asks_help = "--help" in argv
    if not asks_help:
        if not typed:
            argv = ["--server", server, *argv]
        app.info(f"Runner connecting to {server} ({_source_words(source)}).")
    if app.token and "--token" not in argv and not any(a.startswith("--token=") for a in argv):
        # By environment, never argv (the runner reads it from there, then removes it).
        os.environ.setdefault("LAZYAF_TOKEN", app.token)
    if app.verbose and "--verbose" not in argv:
        argv.append("--verbose")
    has_credential = any(os.environ.get(name) for name in CREDENTIAL_ENV) or any(
        a == "--registration-token" or a.startswith("--registration-token=") for a in argv
    )
    if not asks_help and not has_credential:
        if typed:  # ask the server the runner will dial, not lazyaf's own default
            app.set_server(server, "--server")
        token = _registration_token(app)
        if token:
            # The runner reads it from the environment (and removes it from there).
            os.environ["LAZYAF_RUNNER_TOKEN"] = token
    runner_main.main(args=argv, prog_name="lazyaf runner", standalone_mode=True)


def _server(argv: list[str], app: AppContext) -> tuple[str, str, bool]:
    """The server the runner will dial, where that choice came from, and whether argv names it."""
    for index, arg in enumerate(argv):
        if arg == "--server" and index + 1 < len(argv):
            return argv[index + 1].rstrip("/"), "--server", True
        if arg.startswith("--server="):
            return arg.partition("=")[2].rstrip("/"), "--server", True
    return app.server, app.server_source, False


def _source_words(source: str) -> str:
    if source == "--server":
        return "from --server"
    if source == "LAZYAF_URL":
        return "from LAZYAF_URL"
    return "the default; pass --server URL or set LAZYAF_URL for another"


def _registration_token(app: AppContext) -> str | None:
    """The server's registration token, asked for with the user's own rights; None when it will not say."""
    try:
        answer = app.api.request("GET", "/runners/registration-token")
    except click.ClickException as exc:
        app.info(f"Could not get the registration token from the server ({exc.message}).")
        return None
    token = answer.get("registration_token") if isinstance(answer, dict) else None
    return token if isinstance(token, str) and token else None
