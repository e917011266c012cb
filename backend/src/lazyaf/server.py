"""Run the server: prepare the data dir, migrate, serve with uvicorn."""

from __future__ import annotations

import structlog
import uvicorn

from lazyaf.db.migrate import upgrade
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


def run(settings: Settings) -> None:
    """Migrate the database to head, then serve until interrupted."""
    check_can_serve(settings)
    settings.ensure_dirs()
    configure_logging(settings)
    upgrade(settings.sqlalchemy_url)
    log.info("migrated", database=settings.sqlalchemy_url.split("@")[-1])
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=5,
    )
