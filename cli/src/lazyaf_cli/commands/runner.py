"""`lazyaf runner`: run a runner on this machine (the same program as `lazyaf-runner`)."""

from __future__ import annotations

import click

from lazyaf_cli.context import AppContext

# lazyaf's own short options, spelled the way the runner program knows them.
_SPELLINGS = {"-h": "--help", "-v": "--verbose"}


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def runner(app: AppContext, args: tuple[str, ...]) -> None:
    """Take agent jobs from the server and run them here.

    Options are those of `lazyaf-runner` (see `lazyaf runner --help`); the server defaults
    to lazyaf's own --server (or LAZYAF_URL), and the line it starts with says which it is.
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
    if "--help" not in argv:
        if not typed:
            argv = ["--server", server, *argv]
        app.info(f"Runner connecting to {server} ({_source_words(source)}).")
    if app.token and "--token" not in argv and not any(a.startswith("--token=") for a in argv):
        argv = ["--token", app.token, *argv]
    if app.verbose and "--verbose" not in argv:
        argv.append("--verbose")
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
