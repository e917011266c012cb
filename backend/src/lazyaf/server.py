"""Run the server: prepare the data dir, migrate, serve with uvicorn."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import structlog
import uvicorn

from lazyaf.logging import configure_logging
from lazyaf.main import create_app
from lazyaf.settings import Settings, is_loopback_host

log = structlog.get_logger(__name__)


class ServeError(Exception):
    """A reason the server cannot start, as one sentence."""


def check_can_serve(settings: Settings) -> None:
    if not is_loopback_host(settings.host) and settings.token is None:
        raise ServeError(
            f"Refusing to listen on {settings.host} without a token; set LAZYAF_TOKEN or use --host 127.0.0.1."
        )


def _migrate(url: str) -> None:
    """Upgrade the database in a child process: Alembic's imports (~10 MiB) then never weigh on the server."""
    code = "import sys; from lazyaf.db.migrate import upgrade; upgrade(sys.argv[1])"
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        # The exception line, not SQLAlchemy's trailing "(Background on this error at: …)".
        errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception)\b", line)]
        reason = (errors or lines or ["no output"])[-1]
        raise ServeError(f"Database migration failed: {reason}")


def run(settings: Settings) -> None:
    """Migrate the database to head, then serve until interrupted."""
    check_can_serve(settings)
    # Everything this process and its children (git, local runners) create is the user's alone:
    # the database and its -wal/-shm, logs, session files, bare repos, runner work trees.
    previous = os.umask(0o077)
    try:
        _run(settings)
    finally:
        os.umask(previous)  # run() is also called in tests, whose process goes on


def _run(settings: Settings) -> None:
    settings.ensure_dirs()
    configure_logging(settings)
    _migrate(settings.sqlalchemy_url)
    log.info("migrated", database=settings.sqlalchemy_url.split("@")[-1])
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=5,
        # uvloop spawns subprocesses with a full fork() of this process; asyncio's spawn is far
        # cheaper, and every git request starts a git process (bench/git_bench.py measured it).
        loop="asyncio",
        # Board frames are small JSON; compressing each one for every client cost ~20 µs per client
        # per event, a third of /ws fan-out time (bench/ws_bench.py).
        ws_per_message_deflate=False,
    )
