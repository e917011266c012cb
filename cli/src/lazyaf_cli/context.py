"""What every command receives: the server URL, the token, verbosity, and the clients built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import click

from lazyaf_cli.client import ApiClient
from lazyaf_cli.git import Git


@dataclass
class AppContext:
    server: str
    token: str | None = field(default=None, repr=False)
    verbose: bool = False
    _api: ApiClient | None = field(default=None, repr=False)

    @property
    def api(self) -> ApiClient:
        """The API client, created on first use and closed when the command ends."""
        if self._api is None:
            self._api = ApiClient(self.server, token=self.token)
            click.get_current_context().call_on_close(self._api.close)
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


pass_app = click.make_pass_decorator(AppContext)
