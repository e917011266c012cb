"""``lazyaf serve``: run the LazyAF server in this process."""

from __future__ import annotations

import socket
import threading
import time
import webbrowser
from pathlib import Path
from typing import Any

import click
import httpx

OPEN_WAIT = 60.0
"""Seconds `serve --open` waits for the board to answer before it gives up on opening it."""


@click.command()
@click.option("--host", metavar="ADDRESS", help="Listen on ADDRESS (default 127.0.0.1; env LAZYAF_HOST).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Listen on PORT (default 8765; env LAZYAF_PORT).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Keep the database, bare repos and logs in DIR (env LAZYAF_DATA_DIR).",
)
@click.option("--open", "open_board", is_flag=True, help="Open the board in the browser once it answers.")
def serve(host: str | None, port: int | None, data_dir: Path | None, open_board: bool) -> None:
    """Run the LazyAF server: the board, the API and the git server.

    Options left out come from LAZYAF_* variables, then the config file, then
    defaults. Listening beyond loopback requires LAZYAF_TOKEN. Stop with Ctrl-C.
    """
    run, check_can_serve, serve_error, load_settings = _import_server()
    try:
        settings = load_settings(host=host, port=port, data_dir=data_dir)
    except ValueError as exc:  # pydantic's ValidationError
        raise click.ClickException(f"Invalid server settings: {_validation_summary(exc)}.") from None
    try:
        check_can_serve(settings)
        settings.ensure_dirs()
    except serve_error as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f"Cannot use data directory {settings.data_dir}: {exc.strerror or exc}; pass --data-dir."
        ) from None
    _check_port_free(settings.host, settings.port)
    click.echo(
        f"LazyAF serving at {_url(settings.host, settings.port)} (data in {settings.data_dir})", err=True
    )
    if open_board:
        board = _url(_browser_host(settings.host), settings.port) + "/"
        threading.Thread(target=_open_when_up, args=(board,), name="open-board", daemon=True).start()
    try:
        run(settings)
    except serve_error as exc:
        raise click.ClickException(str(exc)) from None


def _import_server() -> tuple[Any, Any, type[Exception], Any]:
    # The server is an optional dependency: every other command works without it.
    try:
        from lazyaf.server import ServeError, check_can_serve, run
        from lazyaf.settings import load_settings
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] == "lazyaf":
            raise click.ClickException(
                "`lazyaf serve` needs the LazyAF server package; "
                "install it with `pip install 'lazyaf-cli[server]'`."
            ) from None
        raise click.ClickException(
            f"The LazyAF server package is incomplete ({exc}); reinstall it with `pip install lazyaf`."
        ) from None
    return run, check_can_serve, ServeError, load_settings


def _validation_summary(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return " ".join(str(exc).split())
    parts = []
    for error in errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid value')}" if where else str(error.get("msg")))
    return "; ".join(parts)


def _check_port_free(host: str, port: int) -> None:
    """Fail early, in one line, when another process (often another `lazyaf serve`) holds the port."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise click.ClickException(f"Cannot listen on '{host}': unknown address; pass --host.") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(address)
        except OSError as exc:
            raise click.ClickException(
                f"Cannot listen on {_url(host, port)}: {exc.strerror or exc}; "
                "is another `lazyaf serve` running? Pass --port to use another port."
            ) from None


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _browser_host(host: str) -> str:
    """Where a browser on this machine reaches a server listening on ``host``."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _open_when_up(board: str) -> None:
    """Open ``board`` in the browser as soon as the server answers its health check."""
    deadline = time.monotonic() + OPEN_WAIT
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{board}api/health", timeout=2).is_success:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        click.echo(f"The board did not answer at {board}; open it yourself once it does.", err=True)
        return
    if not webbrowser.open(board):
        click.echo(f"No browser to open here; the board is at {board}", err=True)
