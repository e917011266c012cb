"""``lazyaf secrets``: the keys that encrypt stored secrets (GitHub tokens, webhook secrets)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click


@click.group()
def secrets() -> None:
    """Manage the keys that encrypt stored secrets."""


@secrets.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Use the database and key file in DIR (env LAZYAF_DATA_DIR).",
)
def rotate(data_dir: Path | None) -> None:
    """Re-encrypt every stored secret under a new key, then retire the old key.

    With the key file (the default), a new key is added to it first, so every secret stays
    readable if the rotation is interrupted; run the command again to finish. With
    LAZYAF_SECRET_KEY, put the new key first in it (comma-separated, the old one after),
    run this, then remove the old key. A running server picks up the new key file by itself.
    """
    try:
        from lazyaf.secretbox import SecretKeyError, rotate_with_settings
        from lazyaf.settings import load_settings
    except ModuleNotFoundError:
        raise click.ClickException(
            "`lazyaf secrets` needs the LazyAF server package; "
            "install it with `pip install 'lazyaf-cli[server]'`."
        ) from None
    settings = load_settings(data_dir=data_dir)
    database = settings.data_dir / "lazyaf.db"
    if settings.database_url is None and not database.is_file():
        raise click.ClickException(f"No LazyAF database at {database}; pass --data-dir.")
    try:
        report = asyncio.run(rotate_with_settings(settings))
    except SecretKeyError as exc:
        raise click.ClickException(exc.detail) from None
    retired = ", ".join(report.retired) or "none"
    click.echo(f"Re-encrypted {report.rotated} secret(s) under key {report.key_id}; retired keys: {retired}.")
    if report.retired and settings.secret_key is not None:
        click.echo("Remove the retired keys from LAZYAF_SECRET_KEY now.")
