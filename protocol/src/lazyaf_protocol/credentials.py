"""Model credentials: the kinds, the sentences, and how a login is found (both ends apply them).

A runner finds its own credential this way, and so does the backend when it reports what its
machine has (``GET /api/agents``) and when it forwards one to a runner with none. What a runner
does with a credential for one run (choose it, stage a login copy, keep the copy and the user's
file in step) is ``lazyaf_runner.credentials``, whose docstring describes the kinds and the
observed behaviour of the pinned Claude Code.

Kinds (what a hello and ``GET /api/agents`` report; never a value): ``server_key``,
``server_oauth_token`` (the server's settings), ``environment`` (a variable of the runner's, or of
the server's process), ``claude_login`` (the user's Claude Code login file).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SERVER_KEY = "server_key"
SERVER_OAUTH_TOKEN = "server_oauth_token"
ENVIRONMENT = "environment"
CLAUDE_LOGIN = "claude_login"
KINDS = (SERVER_KEY, SERVER_OAUTH_TOKEN, ENVIRONMENT, CLAUDE_LOGIN)

ENV_VARIABLES = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN")
"""Variables that carry a model credential Claude Code uses as it is, in the order they count."""
MODEL_CREDENTIAL_VARIABLES = (*ENV_VARIABLES, "CLAUDE_CODE_OAUTH_REFRESH_TOKEN", "CLAUDE_CODE_OAUTH_SCOPES")
"""Taken out of an agent's environment unless chosen: it gets one credential, not every one."""
LOGIN_FILE = ".credentials.json"
OAUTH_ENTRY = "claudeAiOauth"


def advice(where: str = "this machine") -> str:
    """What a user does to give Claude Code a credential (the end of every sentence below)."""
    return (
        f"run `claude login` on {where} (LazyAF uses that login), or run `claude setup-token` and set "
        "CLAUDE_CODE_OAUTH_TOKEN (LAZYAF_CLAUDE_CODE_OAUTH_TOKEN for the server) to the token it prints, "
        "or set LAZYAF_ANTHROPIC_API_KEY to an Anthropic API key"
    )


NO_CREDENTIAL = f"Claude Code has no credential to run with: {advice()}."
"""The one sentence for "none found": the 409 of a start, the board's banner, a failed card."""


def rejected(source: str, status: int | None) -> str:
    """A failed card's reason when the model API refused the credential (401/403)."""
    code = f" ({status})" if status else ""
    return f"The model API refused {source}{code}: {advice()}; then retry the card."


def expired(source: str, expires_at: int | None) -> str:
    """A failed card's reason (or a 409) when a login's access token has expired."""
    when = f" at {format_ms(expires_at)}" if expires_at else ""
    return (
        f"{source[:1].upper()}{source[1:]} expired{when}: run `claude` once on the machine it comes from "
        f"to refresh it, or {advice()}; then retry the card."
    )


def not_logged_in(source: str | None) -> str:
    """Claude Code said "Not logged in": the credential it was given did not count as one."""
    if source is None:
        return NO_CREDENTIAL
    return f"Claude Code did not accept {source} as a login: {advice()}; then retry the card."


def format_ms(value: int) -> str:
    try:
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return f"{value} ms after 1970"


def now_ms() -> int:
    return int(time.time() * 1000)


# --- finding ------------------------------------------------------------------------------


def from_environment(env: Mapping[str, str]) -> tuple[str, str] | None:
    """The first model credential variable set (non-empty) in ``env``: (name, value)."""
    for name in ENV_VARIABLES:
        value = (env.get(name) or "").strip()
        if value:
            return name, value
    return None


def login_path(env: Mapping[str, str]) -> Path | None:
    """Where Claude Code keeps the login of the user whose environment ``env`` is."""
    config = env.get("CLAUDE_CONFIG_DIR")
    if config:
        return Path(config).expanduser() / LOGIN_FILE
    home = env.get("HOME")
    return Path(home) / ".claude" / LOGIN_FILE if home else None


@dataclass(frozen=True)
class Login:
    """A Claude Code login: the ``claudeAiOauth`` entry of a ``.credentials.json``."""

    oauth: dict[str, Any]
    path: Path | None = None  # None: forwarded by the server

    @property
    def access_token(self) -> str:
        return str(self.oauth.get("accessToken") or "")

    @property
    def refresh_token(self) -> str:
        return str(self.oauth.get("refreshToken") or "")

    @property
    def expires_at(self) -> int | None:
        value = self.oauth.get("expiresAt")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            return None
        return int(value)

    def expired(self, now: int | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now_ms() if now is None else now)

    @property
    def usable(self) -> bool:
        """An access token that has not expired, or one Claude Code can refresh."""
        return bool(self.access_token) and (bool(self.refresh_token) or not self.expired())

    def access_only(self) -> dict[str, Any]:
        """The entry without its refresh token: what the server forwards to a runner."""
        return {k: v for k, v in self.oauth.items() if k != "refreshToken"}

    @property
    def secrets(self) -> list[str]:
        return [t for t in (self.access_token, self.refresh_token) if t]


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file's content; None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def oauth_of(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``claudeAiOauth`` entry of a login file's content, if any."""
    entry = data.get(OAUTH_ENTRY) if data is not None else None
    return entry if isinstance(entry, dict) else None


def read_login(env: Mapping[str, str]) -> Login | None:
    """The login in the file Claude Code would read for ``env`` (None: no file, or no login in it)."""
    path = login_path(env)
    oauth = oauth_of(read_json(path)) if path is not None else None
    return Login(oauth, path) if oauth is not None else None
