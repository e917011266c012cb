"""Which model credential a Claude Code agent runs with, and how the user's login reaches it.

Kinds (what a hello and ``GET /api/agents`` report; never a value):

    server_key          the server's LAZYAF_ANTHROPIC_API_KEY (sent in ``assign``)
    server_oauth_token  the server's LAZYAF_CLAUDE_CODE_OAUTH_TOKEN (sent in ``assign``)
    environment         ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_AUTH_TOKEN in the
                        runner's environment (in that order)
    claude_login        the user's Claude Code login: ``$CLAUDE_CONFIG_DIR/.credentials.json``,
                        else ``~/.claude/.credentials.json`` (what ``claude login`` writes on Linux)

``choose`` takes the first of: the server's key or token; the runner's environment; the runner's
own login; what the server found on its machine and forwarded (a runner with none of its own,
such as a Docker runner: a variable of the server's, or its login's access token). Exactly one
reaches the agent: every other model credential variable is taken out of its environment.

A login is never copied into the data dir or logs. For one run, its ``claudeAiOauth`` entry
(nothing else of the file: no MCP tokens) is written to ``.credentials.json`` in the card's own
config dir, mode 0600, and removed when the agent exits (``StagedLogin``). Claude Code refreshes
an access token near its expiry and rewrites that file; the refresh token rotates, so a refresh
kept only in the copy would leave the user's own login holding a dead one. While the agent runs
the copy and the user's file are kept in step, both ways, every ``SYNC_INTERVAL`` seconds and
at the end: a refresh made by the agent is written back into the user's file (other entries
kept), one made meanwhile by the user's own Claude Code (or another card) is written into the
copy, and when both changed the one that expires later wins. A login the agent cleared (Claude
Code empties it when its refresh token is refused) is never written back.

A login forwarded by the server carries the access token only: an agent in a container never
holds the user's long-lived refresh token. When that token has expired the run fails at once
with a sentence saying what to do; it is not sent to the model.

What the pinned Claude Code (2.1.197) does with a login, as observed against the scripted model:
it reads ``claudeAiOauth`` from ``$CLAUDE_CONFIG_DIR/.credentials.json`` (only there when the
variable is set: ``~/.claude`` is then ignored) and sends ``Authorization: Bearer <accessToken>``
with ``anthropic-beta: oauth-2025-04-20`` (an API key goes as ``x-api-key``); it refreshes at
``platform.claude.com`` (not configurable to another host), writes the file again through a
temporary file and a rename (a symbolic link there would be replaced, not followed), and reads it
again when its mtime changes; when the refresh is refused it empties the tokens in the file. With
no credential it prints "Not logged in · Please run /login" without calling the API; a 401 is
retried, then reported as "Failed to authenticate. API Error: 401 …" (``api_error_status``).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lazyaf_runner.protocol import AgentCredential, FoundCredential

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
OWNER_FILE = ".credentials.lazyaf-owner"
"""Beside a run's login copy: the id of the runner process that wrote it."""
OAUTH_ENTRY = "claudeAiOauth"
SYNC_INTERVAL = 2.0
"""Seconds between two comparisons of a run's login copy with the user's file."""


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


class CredentialProblem(Exception):
    """No credential an agent could use; the message is the sentence for the user."""


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


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _oauth_of(data: dict[str, Any] | None) -> dict[str, Any] | None:
    entry = data.get(OAUTH_ENTRY) if data is not None else None
    return entry if isinstance(entry, dict) else None


def read_login(env: Mapping[str, str]) -> Login | None:
    """The login in the file Claude Code would read for ``env`` (None: no file, or no login in it)."""
    path = login_path(env)
    oauth = _oauth_of(_read_json(path)) if path is not None else None
    return Login(oauth, path) if oauth is not None else None


def own_credential(env: Mapping[str, str]) -> FoundCredential | None:
    """What a runner reports in its hello for Claude Code: the kind it finds without the server."""
    if from_environment(env) is not None:
        return FoundCredential(kind=ENVIRONMENT)
    login = read_login(env)
    if login is not None and login.usable:
        return FoundCredential(kind=CLAUDE_LOGIN, expires_at=login.expires_at)
    return None


# --- choosing -----------------------------------------------------------------------------


@dataclass
class Choice:
    """The credential one run uses. ``source`` names it for the user (never its value)."""

    kind: str
    source: str
    env: dict[str, str] = field(default_factory=dict)
    login: Login | None = None

    @property
    def secrets(self) -> list[str]:
        return [*self.env.values(), *(self.login.secrets if self.login else [])]


SERVER_SOURCES = {
    SERVER_KEY: "the server's LAZYAF_ANTHROPIC_API_KEY",
    SERVER_OAUTH_TOKEN: "the server's LAZYAF_CLAUDE_CODE_OAUTH_TOKEN",
}


def choose(runner_env: Mapping[str, str], assigned: AgentCredential | None) -> Choice:
    """The credential a Claude Code run uses (module docstring); CredentialProblem when none."""
    if assigned is not None and assigned.kind in SERVER_SOURCES and assigned.env:
        return Choice(assigned.kind, SERVER_SOURCES[assigned.kind], env=dict(assigned.env))
    found = from_environment(runner_env)
    if found is not None:
        return Choice(ENVIRONMENT, f"{found[0]} in the runner's environment", env={found[0]: found[1]})
    own = read_login(runner_env)
    if own is not None and own.usable:
        return Choice(CLAUDE_LOGIN, f"the Claude Code login in {own.path}", login=own)
    if assigned is not None and assigned.kind == ENVIRONMENT and assigned.env:
        name = next(iter(assigned.env))
        return Choice(ENVIRONMENT, f"{name} of the LazyAF server's environment", env=dict(assigned.env))
    if assigned is not None and assigned.kind == CLAUDE_LOGIN and assigned.login:
        forwarded = Login(dict(assigned.login))
        source = "the Claude Code login of the LazyAF server's machine"
        if not forwarded.usable:
            raise CredentialProblem(expired(source, forwarded.expires_at))
        return Choice(CLAUDE_LOGIN, source, login=forwarded)
    if own is not None and own.access_token and own.expired():
        raise CredentialProblem(expired(f"the Claude Code login in {own.path}", own.expires_at))
    raise CredentialProblem(NO_CREDENTIAL)


def agent_environment(env: Mapping[str, str], choice: Choice) -> dict[str, str]:
    """``env`` with the chosen credential as the only model credential variable."""
    result = {k: v for k, v in env.items() if k not in MODEL_CREDENTIAL_VARIABLES}
    result.update(choice.env)
    return result


# --- a login for one run ------------------------------------------------------------------


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` (or the file it links to) with ``data`` as JSON, mode 0600, atomically."""
    target = path.resolve() if path.is_symlink() else path
    temporary = target.with_name(f".{target.name}.lazyaf-{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)
            json.dump(data, out)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _later(a: Login, b: Login) -> bool:
    return (a.expires_at or 0) > (b.expires_at or 0)


class StagedLogin:
    """A login written into one run's config dir, kept in step with the user's file (module docstring)."""

    def __init__(self, copy: Path, login: Login) -> None:
        self.copy = copy
        self.source = login.path  # None: forwarded by the server, nothing to keep in step with
        self.base = login  # what both files held at the last sync
        self._stamps = (_stamp(copy), _stamp(self.source) if self.source else None)

    @classmethod
    def stage(cls, config_dir: Path, login: Login) -> StagedLogin:
        config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        copy = config_dir / LOGIN_FILE
        # Whose copy it is: a runner that starts removes those of runners no longer alive.
        (config_dir / OWNER_FILE).write_text(str(os.getpid()))
        write_private(copy, {OAUTH_ENTRY: login.oauth})
        return cls(copy, login)

    def sync(self) -> str | None:
        """Carry a refresh made on one side to the other; what happened, for the log (None: nothing)."""
        if self.source is None:
            return None
        stamps = (_stamp(self.copy), _stamp(self.source))
        if stamps == self._stamps:
            return None
        self._stamps = stamps
        copied = _oauth_of(_read_json(self.copy))
        source_data = _read_json(self.source)
        original = _oauth_of(source_data)
        by_agent = self._changed(copied)
        by_user = self._changed(original)
        if by_agent is not None and (by_user is None or _later(by_agent, by_user)):
            write_private(self.source, {**(source_data or {}), OAUTH_ENTRY: by_agent.oauth})
            self.base = by_agent  # the copy holds it already
            self._stamps = (_stamp(self.copy), _stamp(self.source))
            return "written_back"
        if by_user is not None:
            write_private(self.copy, {OAUTH_ENTRY: by_user.oauth})
            self.base = by_user
            self._stamps = (_stamp(self.copy), _stamp(self.source))
            return "taken_in"
        return None

    def _changed(self, oauth: dict[str, Any] | None) -> Login | None:
        """``oauth`` as a login if it differs from the last synced one and can be used."""
        if oauth is None or oauth == self.base.oauth:
            return None
        login = Login(oauth, self.source)
        return login if login.usable else None

    def remove(self) -> str | None:
        """A last sync, then the copy goes; what the sync did."""
        try:
            return self.sync()
        finally:
            self.copy.unlink(missing_ok=True)
            (self.copy.parent / OWNER_FILE).unlink(missing_ok=True)

    @property
    def secrets(self) -> list[str]:
        """Every token this run's copy held (a refresh adds new ones)."""
        return self.base.secrets


def remove_leftover_copies(work_root: Path) -> int:
    """Remove the login copies that runners killed mid-run left under ``work_root`` (a copy whose
    owner process is gone; runners may share a work root); how many."""
    removed = 0
    for copy in work_root.glob(f"*/claude-config/{LOGIN_FILE}"):
        owner = copy.parent / OWNER_FILE
        try:
            pid = int(owner.read_text().strip())
        except (OSError, ValueError):
            pid = 0
        if pid > 0 and _alive(pid):
            continue
        copy.unlink(missing_ok=True)
        owner.unlink(missing_ok=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
