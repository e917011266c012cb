"""Which model credential a Claude Code agent runs with, and how the user's login reaches it.

(The kinds, the sentences and how a login is found are ``lazyaf_protocol.credentials``: the
backend applies them too. They are re-exported here.)

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lazyaf_protocol.credentials import (
    CLAUDE_LOGIN,
    ENV_VARIABLES,
    ENVIRONMENT,
    KINDS,
    LOGIN_FILE,
    MODEL_CREDENTIAL_VARIABLES,
    NO_CREDENTIAL,
    OAUTH_ENTRY,
    SERVER_KEY,
    SERVER_OAUTH_TOKEN,
    Login,
    advice,
    expired,
    format_ms,
    from_environment,
    login_path,
    not_logged_in,
    now_ms,
    oauth_of,
    read_json,
    read_login,
    rejected,
)
from lazyaf_protocol.messages import AgentCredential, FoundCredential

__all__ = [  # the shared half, re-exported: this module is where runner code looks for them
    "SERVER_KEY",
    "SERVER_OAUTH_TOKEN",
    "ENVIRONMENT",
    "CLAUDE_LOGIN",
    "KINDS",
    "ENV_VARIABLES",
    "MODEL_CREDENTIAL_VARIABLES",
    "LOGIN_FILE",
    "OAUTH_ENTRY",
    "advice",
    "NO_CREDENTIAL",
    "rejected",
    "expired",
    "not_logged_in",
    "format_ms",
    "now_ms",
    "from_environment",
    "login_path",
    "Login",
    "read_login",
]

OWNER_FILE = ".credentials.lazyaf-owner"
"""Beside a run's login copy: the id of the runner process that wrote it."""
SYNC_INTERVAL = 2.0
"""Seconds between two comparisons of a run's login copy with the user's file."""


class CredentialProblem(Exception):
    """No credential an agent could use; the message is the sentence for the user."""


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
        copied = oauth_of(read_json(self.copy))
        source_data = read_json(self.source)
        original = oauth_of(source_data)
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
