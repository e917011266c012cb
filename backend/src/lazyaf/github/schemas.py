"""Request and response shapes for GitHub links, sync rules, verification and the outbox.

No response model has a field for the token or the webhook secret: ``has_token`` and
``has_webhook_secret`` say whether one is stored, and that is all that ever leaves the server.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
)

from lazyaf.github.commands.schemas import CommandSettingsRead, CommandSettingsWrite
from lazyaf.repos.schemas import BranchName

# A workflow's name: which ones exist depends on the repo (its .lazyaf/workflows), checked when the
# rule is set (router.set_sync_rule) and again when a card auto-starts.
WORKFLOW_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")

OWNER_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"
NAME_PATTERN = r"^[A-Za-z0-9._-]{1,100}$"
OnApprove = Literal["merge", "pull_request"]


def _url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not re.match(r"^https?://[^\s/]+", value) or any(c in value for c in "\n\r\0 "):
        raise ValueError("must be an http:// or https:// URL")
    if "@" in value.split("://", 1)[1].split("/", 1)[0]:
        raise ValueError("must not carry credentials; put the token in the token field")
    return value.rstrip("/")


def _label(value: str) -> str:
    if "," in value:
        raise ValueError("a label name cannot contain ','")
    return value


Url = Annotated[str | None, StringConstraints(max_length=2000), AfterValidator(_url)]
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_label)
]


class GitHubLinkWrite(CommandSettingsWrite):
    """Link the repo to ``owner/name`` on GitHub (or GitHub Enterprise through ``api_url``), and say
    who may give it ``@lazyaf`` commands from comments."""

    model_config = ConfigDict(extra="forbid")

    owner: Annotated[str, StringConstraints(strip_whitespace=True, pattern=OWNER_PATTERN)] = Field(
        description="The GitHub user or organization.", examples=["octo-org"]
    )
    name: Annotated[str, StringConstraints(strip_whitespace=True, pattern=NAME_PATTERN)] = Field(
        description="The repository's name.", examples=["hello-world"]
    )
    token: SecretStr | None = Field(
        None,
        description="A token with write access to the repository (fine-grained: Contents, Issues and Pull "
        "requests read/write; classic: repo). Stored encrypted, never returned. May be left out when the "
        "repo is linked already: the stored token is kept.",
    )
    api_url: Url = Field(
        None,
        description="GitHub's API; default LAZYAF_GITHUB_API_URL (api.github.com), or the link's when it "
        "already points at this repository.",
    )
    git_url: Url = Field(
        None,
        description="Where branches are pushed; default https://<host>/<owner>/<name>.git, or the link's "
        "when it already points at this repository.",
    )
    webhook_secret: SecretStr | None = Field(
        None, description="Secret for webhook signatures; stored encrypted."
    )
    on_approve: OnApprove | None = Field(
        None,
        description="What Approve does: merge inside LazyAF (default) or push the branch and open a pull "
        "request.",
    )

    @field_validator("token", "webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value().strip()
        if not text or len(text) > 1000 or any(c.isspace() or not c.isprintable() for c in text):
            raise ValueError("must be a single word of printable characters (as GitHub issues them)")
        return SecretStr(text)


class SyncRule(BaseModel):
    """Which issues become cards, and whether they start by themselves."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["open", "all"] = Field(
        "open", description="open: open issues become cards; all: closed ones too (archived at once)."
    )
    labels: list[Label] = Field(default_factory=list, description="Only issues carrying every one of these.")
    exclude_labels: list[Label] = Field(
        default_factory=lambda: ["lazyaf:skip"], description="Issues carrying any of these are skipped."
    )
    assignee: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=39)] | None = (
        Field(None, description="A login, '*' (anyone) or 'none'.")
    )
    milestone: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None
    ) = Field(None, description="A milestone's number or title, '*' (any) or 'none'.")
    auto_start: bool = Field(False, description="Start synced cards by themselves, within max_concurrent.")
    workflow: str = Field(
        "build", description="The workflow synced cards run when they auto-start (GET /api/workflows?repo=)."
    )
    max_concurrent: Annotated[int, Field(ge=1, le=50)] = Field(
        2, description="The WIP limit: at most this many of the repo's cards in progress through auto-start."
    )
    interval_s: Annotated[int, Field(ge=10, le=86_400)] = Field(
        60, description="Seconds between two polls while automation is on."
    )

    @field_validator("workflow")
    @classmethod
    def _workflow(cls, value: str) -> str:
        if not WORKFLOW_NAME.match(value):
            raise ValueError(f"'{value[:60]}' is not a workflow name; GET /api/workflows lists them")
        return value


class SyncResult(BaseModel):
    """What one sync did: cards created and updated, cards whose issue closed, issues skipped."""

    created: int = 0
    updated: int = 0
    closed: int = 0
    skipped: int = 0


class SyncSummary(SyncResult):
    at: datetime


class VerifyRead(BaseModel):
    """The answer of a verification: ``ok``, or ``error`` saying what to fix."""

    ok: bool
    login: str | None = None
    permission: str | None = Field(
        None, description="The token's role on the repository: admin, write, read…"
    )
    default_branch: str | None = None
    rate_limit_remaining: int | None = None
    error: str | None = None


class RateLimitRead(BaseModel):
    limit: int
    remaining: int
    reset_at: datetime


class GitHubLinkRead(BaseModel):
    """A repo's GitHub link. The token and webhook secret never leave the server."""

    repo_id: uuid.UUID
    owner: str
    name: str
    html_url: str = Field(description="The repository's page on GitHub.")
    api_url: str
    git_url: str
    has_token: bool
    has_webhook_secret: bool
    on_approve: OnApprove
    automation_enabled: bool
    sync_rule: SyncRule | None
    last_sync_at: datetime | None
    last_sync: SyncResult | None
    last_error: str | None = Field(description="The last sync's or write's error, until one succeeds.")
    last_error_at: datetime | None
    verify: VerifyRead | None = Field(description="The last verification's answer.")
    verified_at: datetime | None
    rate_limit: RateLimitRead | None = Field(description="GitHub's core quota for the token, as last seen.")
    outbox_pending: int = Field(
        0, description="Writes to GitHub waiting to be done (retrying or not yet tried)."
    )
    outbox_held: int = Field(0, description="Writes stopped on an error; they resume when the link is fixed.")
    commands: CommandSettingsRead = Field(description="`@lazyaf` commands from comments: who, how heard.")
    created_at: datetime
    updated_at: datetime


class AutomationWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(description="On: poll every interval_s and auto-start; off: neither.")


class PullRequestCreate(BaseModel):
    """Open (or reuse) the card's pull request."""

    model_config = ConfigDict(extra="forbid")

    draft: bool = False
    base: BranchName | None = Field(None, description="The branch to merge into; default the GitHub default.")


class BranchPullRequestCreate(PullRequestCreate):
    """Push a branch of the repo and open (or reuse) its pull request (`lazyaf land --pr`)."""

    branch: BranchName
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)] | None = (
        None
    )


class OutboxRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    repo_id: uuid.UUID
    card_id: uuid.UUID | None
    op: str
    status: Literal["pending", "running", "done", "held"]
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    result: dict[str, Any] | None
    created_at: datetime
    done_at: datetime | None
