"""Which model credential each agent can run with, as the server sees it: ``GET /api/agents``, the
check a start makes before it queues anything, and the credential an assignment carries.

How the server knows what a runner can find (the rule a start is held to: *some connected or
startable runner can run this agent*):

* **This server's machine**, in the order a local runner takes them (``lazyaf_protocol.credentials``):
  the server's LAZYAF_ANTHROPIC_API_KEY or LAZYAF_CLAUDE_CODE_OAUTH_TOKEN; ANTHROPIC_API_KEY,
  CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_AUTH_TOKEN in the server's own environment; the Claude
  Code login of the server's user (``$CLAUDE_CONFIG_DIR/.credentials.json``, else
  ``~/.claude/.credentials.json``). Local runners can always be started here and find the same
  (they inherit the server's environment and user); a Docker runner, or any runner that reported
  no credential of its own, is sent it in ``assign``. A login counts while its access token is
  valid or Claude Code can refresh it (it has a refresh token).
* **A connected runner** that reported, in its hello, a credential of its own (a remote runner
  started with its own key, or a login of its own user): kind and expiry only, kept on its row.
* The **command** agent needs no credential from LazyAF, only its command (LAZYAF_AGENT_COMMAND).

The sentence for "none" is ``lazyaf_protocol.credentials.NO_CREDENTIAL``: the 409 of a start,
``problem`` in ``GET /api/agents`` and the board's banner say the same.

Secrets the server reads here (environment values, login tokens) are remembered for the server's
redactor (``lazyaf.redaction``), so a runner that reports them back never gets them stored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from lazyaf_protocol import credentials as found
from lazyaf_protocol import messages as protocol
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lazyaf.agents.schemas import AgentRead, AgentsRead, CredentialRead
from lazyaf.errors import Conflict
from lazyaf.runners.models import Runner, RunnerStatus
from lazyaf.settings import Settings

CLAUDE = "claude"
COMMAND = "command"
AGENTS = (CLAUDE, COMMAND)
NO_COMMAND = (
    "The command agent has no command to run: set LAZYAF_AGENT_COMMAND to its command line "
    "(for example `aider --yes --message-file {prompt_file}`) and restart LazyAF."
)
_REMEMBERED = 32
"""Secrets read on this machine that the server's redactor keeps knowing (a login refreshes)."""
_seen: dict[str, None] = {}


class NoCredential(Conflict):
    """An agent no runner could run: nothing was queued."""

    code = "no_credential"


@dataclass(frozen=True)
class MachineCredential:
    """A credential found on this server's machine."""

    kind: str
    env: dict[str, str]
    login: found.Login | None = None

    @property
    def variable(self) -> str | None:
        return next(iter(self.env)) if self.kind == found.ENVIRONMENT else None


def remember(*values: str) -> None:
    for value in values:
        if value:
            _seen.pop(value, None)
            _seen[value] = None
    while len(_seen) > _REMEMBERED:
        del _seen[next(iter(_seen))]


def machine_secrets() -> list[str]:
    """Credential values this server read from its environment and its user's login."""
    return list(_seen)


def on_this_machine(
    settings: Settings, environ: Mapping[str, str] | None = None, *, files: bool = True
) -> MachineCredential | None:
    """The first credential of this machine (module docstring). The login is a file read: not on
    the event loop (``files=False`` looks at settings and the environment only)."""
    environ = os.environ if environ is None else environ
    if settings.anthropic_api_key is not None:
        return MachineCredential(
            found.SERVER_KEY, {"ANTHROPIC_API_KEY": settings.anthropic_api_key.get_secret_value()}
        )
    if settings.claude_code_oauth_token is not None:
        token = settings.claude_code_oauth_token.get_secret_value()
        return MachineCredential(found.SERVER_OAUTH_TOKEN, {"CLAUDE_CODE_OAUTH_TOKEN": token})
    variable = found.from_environment(environ)
    if variable is not None:
        remember(variable[1])
        return MachineCredential(found.ENVIRONMENT, {variable[0]: variable[1]})
    login = found.read_login(environ) if files else None
    if login is not None and login.access_token:
        remember(*login.secrets)
        return MachineCredential(found.CLAUDE_LOGIN, {}, login)
    return None


def for_assignment(
    settings: Settings, agent: str, *, runner_has_own: bool, environ: Mapping[str, str] | None = None
) -> protocol.AgentCredential | None:
    """The credential an ``assign`` carries: the server's key or token for any agent; for Claude
    Code on a runner without one of its own, what this machine has (a login's access token only,
    never its refresh token). Reads a small file when it comes to the login."""
    from_settings = settings.anthropic_api_key is not None or settings.claude_code_oauth_token is not None
    if not from_settings and (agent != CLAUDE or runner_has_own):
        return None
    machine = on_this_machine(settings, environ)
    if machine is None:
        return None
    if machine.login is not None:
        return protocol.AgentCredential(kind=machine.kind, login=machine.login.access_only())
    return protocol.AgentCredential(kind=machine.kind, env=machine.env)


def _expiry(value: int | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _machine_read(machine: MachineCredential) -> CredentialRead:
    login = machine.login
    return CredentialRead(
        kind=machine.kind,
        found_on="server",
        variable=machine.variable,
        path=str(login.path) if login is not None and login.path is not None else None,
        expires_at=_expiry(login.expires_at) if login is not None else None,
        expired=login.expired() if login is not None else False,
    )


async def _reported(session: AsyncSession, agent: str) -> CredentialRead | None:
    """The first connected runner that reported a credential of its own for ``agent``."""
    query = (
        select(Runner.name, Runner.credentials)
        .where(Runner.status != RunnerStatus.OFFLINE)
        .order_by(Runner.name)
    )
    for name, reported in (await session.execute(query)).all():
        entry: Any = (reported or {}).get(agent)
        if not isinstance(entry, dict) or entry.get("kind") not in (found.ENVIRONMENT, found.CLAUDE_LOGIN):
            continue
        expires = entry.get("expires_at") if isinstance(entry.get("expires_at"), int) else None
        return CredentialRead(
            kind=entry["kind"],
            found_on="runner",
            runner=name,
            expires_at=_expiry(expires),
            expired=expires is not None and expires <= found.now_ms(),
        )
    return None


async def claude_status(
    *, session: AsyncSession, settings: Settings
) -> tuple[CredentialRead | None, str | None]:
    """The credential Claude Code would run with (None: none), and what to do when there is none."""
    # A start checks this: settings and variables need no thread, only a login file does.
    machine = on_this_machine(settings, files=False) or await anyio.to_thread.run_sync(
        on_this_machine, settings
    )
    unusable: str | None = None
    if machine is not None and (machine.login is None or machine.login.usable):
        return _machine_read(machine), None
    if machine is not None and machine.login is not None:
        source = f"the Claude Code login in {machine.login.path}"
        unusable = found.expired(source, machine.login.expires_at)
    reported = await _reported(session, CLAUDE)
    if reported is not None:
        return reported, None
    return None, unusable or found.NO_CREDENTIAL


async def agent_status(*, session: AsyncSession, settings: Settings, agent: str) -> AgentRead:
    default = agent == settings.default_agent
    if agent == CLAUDE:
        credential, problem = await claude_status(session=session, settings=settings)
        return AgentRead(
            name=agent,
            default=default,
            ready=problem is None,
            needs_credential=True,
            credential=credential,
            problem=problem,
        )
    if agent == COMMAND:
        ready = bool(settings.agent_command)
        return AgentRead(
            name=agent,
            default=default,
            ready=ready,
            needs_credential=False,
            credential=None,
            problem=None if ready else NO_COMMAND,
        )
    return AgentRead(
        name=agent, default=default, ready=True, needs_credential=False, credential=None, problem=None
    )


async def agents(*, session: AsyncSession, settings: Settings) -> AgentsRead:
    names = [*AGENTS, *([settings.default_agent] if settings.default_agent not in AGENTS else [])]
    return AgentsRead(
        default_agent=settings.default_agent,
        agents=[await agent_status(session=session, settings=settings, agent=name) for name in names],
    )


async def require(*, session: AsyncSession, settings: Settings, agent: str) -> None:
    """Refuse (409, nothing written) to queue work for an agent no runner could run."""
    status = await agent_status(session=session, settings=settings, agent=agent)
    if not status.ready and status.problem:
        raise NoCredential(status.problem)
