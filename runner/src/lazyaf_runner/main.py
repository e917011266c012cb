"""``lazyaf-runner``: connect to a LazyAF server and run the agent jobs it hands out.

A runner always authenticates, on loopback too. Its credential comes from the environment:
``LAZYAF_RUNNER_SECRET`` (a runner secret; the pool sets it for the runners it starts) or
``LAZYAF_RUNNER_TOKEN`` (the server's registration token: ``GET /api/runners/docker-command``
shows it), else ``LAZYAF_TOKEN`` (the user's token), else it is asked for on a terminal. The
variables are removed from the environment once read, so agents and checks never inherit them.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import socket
import sys
from pathlib import Path

import click
import structlog
from click.core import ParameterSource

from lazyaf_runner.connection import RunnerClient
from lazyaf_runner.hardening import WorkRootError, make_non_dumpable

SECRET_ENV = "LAZYAF_RUNNER_SECRET"
CREDENTIAL_ENV = (SECRET_ENV, "LAZYAF_RUNNER_TOKEN", "LAZYAF_TOKEN")


def _configure_logging(verbose: bool) -> None:
    renderer = (
        structlog.processors.JSONRenderer() if not sys.stderr.isatty() else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG if verbose else logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


@click.command(context_settings={"auto_envvar_prefix": "LAZYAF_RUNNER"})
@click.option(
    "--server",
    envvar="LAZYAF_URL",
    default="http://127.0.0.1:8765",
    show_default=True,
    help="Connect to the LazyAF server at this URL.",
)
@click.option(
    "--registration-token",
    envvar="LAZYAF_RUNNER_TOKEN",
    default=None,
    help=(
        "Register with this token (GET /api/runners/docker-command shows it). Prefer the "
        "LAZYAF_RUNNER_TOKEN variable: a command line is visible to every user of the machine."
    ),
)
@click.option(
    "--token",
    envvar="LAZYAF_TOKEN",
    default=None,
    help="Register with the server's LAZYAF_TOKEN instead (prefer the variable, as above).",
)
@click.option("--name", default=None, help="Show this name on the board (default: the host name).")
@click.option(
    "--kind",
    type=click.Choice(["local", "docker", "remote"]),
    default="remote",
    show_default=True,
    help="Say what kind of runner this is.",
)
@click.option("--runner-id", default=None, help="Resume this runner identity (set by the pool).")
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Keep workspaces under this folder (default: ~/.local/state/lazyaf/work; made 0700).",
)
@click.option(
    "--pass-env",
    "pass_env",
    multiple=True,
    help="Let agents and verification commands see this variable of the runner's (repeatable; "
    "they get PATH, HOME, locale, proxies and their own credentials otherwise).",
)
@click.option(
    "--max-disconnected",
    type=float,
    default=None,
    help="Exit when idle and unable to reach the server for this many seconds.",
)
@click.option("--verbose", is_flag=True, help="Log debug messages.")
def main(
    server: str,
    registration_token: str | None,
    token: str | None,
    name: str | None,
    kind: str,
    runner_id: str | None,
    work_dir: Path | None,
    pass_env: tuple[str, ...],
    max_disconnected: float | None,
    verbose: bool,
) -> None:
    """Take agent jobs from a LazyAF server and run them: clone, run the agent, commit, push.

    The runner authenticates with LAZYAF_RUNNER_TOKEN, the server's registration token (see
    `GET /api/runners/docker-command`, or let `lazyaf runner` fetch it on the server's machine).
    """
    # First: from here on the agents this runner starts cannot read its environment or memory.
    make_non_dumpable()
    _configure_logging(verbose)
    ctx = click.get_current_context()
    for option in ("registration_token", "token"):
        if ctx.get_parameter_source(option) == ParameterSource.COMMANDLINE:
            click.echo(
                f"Warning: --{option.replace('_', '-')} on the command line is visible to every user of "
                "this machine; set LAZYAF_RUNNER_TOKEN in the environment instead.",
                err=True,
            )
    secret = os.environ.get(SECRET_ENV) or None
    forget_credentials()
    if not (secret or registration_token or token):
        if not sys.stdin.isatty():
            raise click.UsageError(
                "No credential: set LAZYAF_RUNNER_TOKEN to the server's registration token "
                "(GET /api/runners/docker-command shows it)."
            )
        registration_token = click.prompt("Registration token (LAZYAF_RUNNER_TOKEN)", hide_input=True)
    try:
        client = RunnerClient(
            server=server,
            name=name or socket.gethostname(),
            kind=kind,
            token=token,
            registration_token=registration_token,
            secret=secret,
            runner_id=runner_id,
            work_root=work_dir,
            max_disconnected=max_disconnected,
            pass_env=pass_env,
        )
    except (WorkRootError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    asyncio.run(_run(client))
    if client.refused is not None:
        raise click.ClickException(f"The server refused this runner: {client.refused}")


def forget_credentials() -> None:
    """Take the credential variables out of this process's environment, children's and /proc's.

    ``os.environ.pop`` keeps children from inheriting them, but the block the process started with
    (what ``/proc/<pid>/environ`` shows to every process of the same user, an agent included) still
    holds their text: blank it in place first (Linux and other libcs exporting ``environ``; elsewhere
    best effort).
    """
    prefixes = [f"{name}=".encode() for name in CREDENTIAL_ENV]
    try:
        entries = ctypes.POINTER(ctypes.c_void_p).in_dll(ctypes.CDLL(None), "environ")
    except (OSError, ValueError, AttributeError):
        entries = None
    index = 0
    while entries is not None and entries[index]:
        address = entries[index]
        text = ctypes.string_at(address)
        prefix = next((p for p in prefixes if text.startswith(p)), None)
        if prefix is not None:
            ctypes.memset(address + len(prefix), 0, len(text) - len(prefix))
        index += 1
    for variable in CREDENTIAL_ENV:
        os.environ.pop(variable, None)


async def _run(client: RunnerClient) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def stop() -> None:
        # Second signal: stop now. First: cancel the running agent (its tree is killed) and exit.
        if client.stopping:
            task.cancel()
        client.stopping = True
        if client.job is not None:
            client.job.cancel.set()
        if client.ws is not None:
            loop.create_task(client.ws.close())

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    await client.run()
