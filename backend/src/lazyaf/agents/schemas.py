"""Response shapes of GET /api/agents."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

CredentialKind = Literal["server_key", "server_oauth_token", "environment", "claude_login"]


class CredentialRead(BaseModel):
    """Where an agent's model credential comes from: the kind, never the value."""

    kind: CredentialKind = Field(
        description="server_key / server_oauth_token: LAZYAF_ANTHROPIC_API_KEY / "
        "LAZYAF_CLAUDE_CODE_OAUTH_TOKEN; environment: a variable of the server's process (or of a "
        "runner's); claude_login: a Claude Code login (.credentials.json)."
    )
    found_on: Literal["server", "runner"] = Field(
        description="server: this server's machine (its settings, environment, user's login), which "
        "local runners share and Docker runners are sent; runner: reported by a connected runner."
    )
    runner: str | None = Field(default=None, description="The runner's name, when found_on is runner.")
    variable: str | None = Field(default=None, description="The variable's name, for kind environment.")
    path: str | None = Field(
        default=None, description="The login file, for a claude_login found on the server."
    )
    expires_at: datetime | None = Field(
        default=None, description="When a login's access token expires, if its file says."
    )
    expired: bool = Field(
        False, description="The access token has expired (Claude Code refreshes it in a local runner)."
    )


class AgentRead(BaseModel):
    name: str
    default: bool = Field(
        description="The agent cards run with unless told otherwise (LAZYAF_DEFAULT_AGENT)."
    )
    ready: bool = Field(
        description="Some connected or startable runner can run it; starting a card needs it."
    )
    needs_credential: bool = Field(description="Whether LazyAF must find it a model credential.")
    credential: CredentialRead | None
    problem: str | None = Field(description="When not ready: what to do, as the 409 of a start says it.")


class AgentsRead(BaseModel):
    default_agent: str
    agents: list[AgentRead]
