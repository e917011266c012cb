"""``lazyaf-runner``: connect to a LazyAF server and run the agent jobs it hands out."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path

import click
import structlog

from lazyaf_runner.connection import RunnerClient
from lazyaf_runner.hardening import WorkRootError, make_non_dumpable


def _configure_logging(verbose: bool) -> None:
    renderer = (
        structlog.processors.JSONRenderer()
        if not sys.stderr.isatty()
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.DEBUG if verbose else logging.INFO
        ),
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
    "--token",
    envvar="LAZYAF_TOKEN",
    default=None,
    help="Authenticate with this token (off loopback).",
)
@click.option(
    "--name", default=None, help="Show this name on the board (default: the host name)."
)
@click.option(
    "--kind",
    type=click.Choice(["local", "docker", "remote"]),
    default="remote",
    show_default=True,
    help="Say what kind of runner this is.",
)
@click.option(
    "--runner-id", default=None, help="Resume this runner identity (set by the pool)."
)
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
    token: str | None,
    name: str | None,
    kind: str,
    runner_id: str | None,
    work_dir: Path | None,
    pass_env: tuple[str, ...],
    max_disconnected: float | None,
    verbose: bool,
) -> None:
    """Take agent jobs from a LazyAF server and run them: clone, run the agent, commit, push."""
    # First: from here on the agents this runner starts cannot read its environment or memory.
    make_non_dumpable()
    _configure_logging(verbose)
    try:
        client = RunnerClient(
            server=server,
            name=name or socket.gethostname(),
            kind=kind,
            token=token,
            runner_id=runner_id,
            work_root=work_dir,
            max_disconnected=max_disconnected,
            pass_env=pass_env,
        )
    except (WorkRootError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    asyncio.run(_run(client))


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
