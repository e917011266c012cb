"""Shapes of the command pipeline's API: link settings, deliveries, commands, the CLI's injection."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from lazyaf.github.commands.grammar import PHRASE_PATTERN
from lazyaf.validation import plain_text

Login = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")
]
RunVerb = Literal["plan", "refine", "build", "oneshot", "iterate"]


class AllowedUser(BaseModel):
    """A GitHub account by login and numeric id (the id is what is matched: a login can be renamed)."""

    login: str
    id: int


class CommandSettingsWrite(BaseModel):
    """Command settings sent with ``PUT /api/repos/{id}/github``; a field left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    commands_enabled: bool | None = Field(
        None, description="Whether `@lazyaf` commands in comments run (default true)."
    )
    trigger_phrase: (
        Annotated[str, StringConstraints(strip_whitespace=True, pattern=PHRASE_PATTERN)] | None
    ) = Field(None, description="The phrase that starts a command (default @lazyaf; @aidw always works too).")
    allowed_users: list[Login] | None = Field(
        None,
        max_length=200,
        description="GitHub logins whose commands run; LazyAF looks up and stores their numeric ids.",
    )
    require_write: bool | None = Field(
        None, description="Also require the author to have write permission on the repository."
    )
    allowed_bots: list[Login] | None = Field(
        None,
        max_length=50,
        description="Bot accounts (e.g. my-app[bot]) whose commands run; none by default.",
    )
    poll_comments: bool | None = Field(
        None, description="Ask GitHub for new comments (for servers GitHub's webhooks cannot reach)."
    )
    poll_interval_s: Annotated[int, Field(ge=10, le=86_400)] | None = Field(
        None, description="Seconds between two polls of the comments (default 30)."
    )


class CommandSettingsRead(BaseModel):
    commands_enabled: bool
    trigger_phrase: str
    allowed_users: list[AllowedUser]
    require_write: bool
    allowed_bots: list[AllowedUser]
    poll_comments: bool
    poll_interval_s: int
    webhook_path: str = Field(
        "/api/github/webhook",
        description="Where GitHub's webhook posts (content type application/json, the link's webhook "
        "secret).",
    )


class DeliveryRead(BaseModel):
    """What arrived, through which door, and what became of it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    delivery_id: str = Field(description="GitHub's X-GitHub-Delivery, or poll:… / cli:… for the other doors.")
    source: Literal["webhook", "poll", "cli"]
    repo_id: uuid.UUID | None
    repository: str | None
    event: str
    action: str | None
    status: Literal["queued", "accepted", "ignored", "failed"]
    reason: str | None = Field(description="Why it was ignored or failed; None when accepted.")
    command_id: uuid.UUID | None
    attempts: int
    received_at: datetime
    processed_at: datetime | None


class WebhookAnswer(BaseModel):
    """What the webhook endpoint answers GitHub."""

    delivery: str | None = None
    status: str
    duplicate: bool = False


class StepRead(BaseModel):
    """One line of a command's checklist (its progress comment shows the same)."""

    key: str = Field(
        description="plan, refine, build, iterate (the agent's steps), pull_request, ready, answer."
    )
    title: str
    status: Literal["pending", "running", "done", "failed", "cancelled", "skipped"]
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cost_usd: float | None = None
    detail: str | None = None


class CommandRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    repo_id: uuid.UUID
    card_id: uuid.UUID | None
    source: str
    verb: str
    text: str
    actor_login: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    steps: list[StepRead]
    error: str | None
    progress_comment_id: int | None
    progress_final: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CommandCreate(BaseModel):
    """Inject a command into the pipeline as if it was commented (``lazyaf github run``)."""

    model_config = ConfigDict(extra="forbid")

    repo_id: uuid.UUID
    verb: Literal["plan", "refine", "build", "oneshot", "iterate", "status", "cancel"]
    issue: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(None, description="The issue's number.")
    pr: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(
        None, description="The pull request's number."
    )
    text: Annotated[str, StringConstraints(max_length=20_000), AfterValidator(plain_text)] = Field(
        "", description="Free text after the verb, as in a comment."
    )

    @model_validator(mode="after")
    def _one_thread(self) -> CommandCreate:
        if (self.issue is None) == (self.pr is None):
            raise ValueError("give exactly one of issue and pr")
        return self


def settings_read(link: Any) -> CommandSettingsRead:
    return CommandSettingsRead(
        commands_enabled=link.commands_enabled,
        trigger_phrase=link.trigger_phrase,
        allowed_users=[AllowedUser.model_validate(u) for u in link.allowed_users or []],
        require_write=link.require_write,
        allowed_bots=[AllowedUser.model_validate(u) for u in link.allowed_bots or []],
        poll_comments=link.poll_comments,
        poll_interval_s=link.poll_interval_s,
        webhook_path="/api/github/webhook",
    )
