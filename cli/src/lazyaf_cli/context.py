"""What every command receives: the server URL, the token, output mode, verbosity, and the clients."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import click

from lazyaf_cli.client import ApiClient
from lazyaf_cli.git import Git


@dataclass
class AppContext:
    server: str
    server_source: str = "default"
    """Where ``server`` came from: ``--server``, ``LAZYAF_URL`` or ``default``."""
    token: str | None = field(default=None, repr=False)
    as_json: bool = False
    verbose: bool = False
    _api: ApiClient | None = field(default=None, repr=False)

    def set_server(self, server: str, source: str) -> None:
        self.server, self.server_source = server, source
        self._drop_client()

    def set_token(self, token: str) -> None:
        self.token = token
        self._drop_client()

    def _drop_client(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    @property
    def api(self) -> ApiClient:
        """The API client, created on first use and closed when the command ends."""
        if self._api is None:
            api = self._api = ApiClient(self.server, token=self.token)
            click.get_current_context().call_on_close(api.close)
        return self._api

    @cached_property
    def git(self) -> Git:
        return Git(verbose=self.verbose)

    def info(self, message: str) -> None:
        """Say something on stderr (progress, notes); stdout stays for results."""
        click.echo(message, err=True)

    def debug(self, message: str) -> None:
        if self.verbose:
            click.echo(message, err=True)

    def print_json(self, value: Any) -> None:
        """One JSON document on stdout."""
        click.echo(json.dumps(value, indent=2, ensure_ascii=False))

    def print_json_line(self, value: Any) -> None:
        """One line of NDJSON on stdout, flushed at once (streams)."""
        click.echo(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


pass_app = click.make_pass_decorator(AppContext)
