"""Request and response shapes for runners and the pool."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from lazyaf.jobs.schemas import WaitingReason
from lazyaf.runners.models import RunnerKind, RunnerStatus


class RunnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: RunnerKind
    status: RunnerStatus
    current_job_id: uuid.UUID | None
    container_id: str | None
    agents: list[str]
    version: str | None
    last_heartbeat: datetime
    created_at: datetime
    pooled: bool = Field(
        description="Started and kept by this server's pool (scale it; it is restarted when it exits)."
    )
    restarts: int = Field(description="How often the pool started it again after it exited.")
    last_exit: str | None = Field(
        description="How its last process or container ended: 'killed by SIGKILL', 'exited with code 3'.",
    )
    last_exit_at: datetime | None
    log_tail: str | None = Field(description="The last lines it wrote before that exit (redacted).")
    restart_at: datetime | None = Field(description="When the pool starts it again (while it waits).")
    failed_at: datetime | None = Field(
        description="Set when it kept exiting and the pool stopped restarting it; scaling again retries it.",
    )


class PoolScale(BaseModel):
    """How many runners of a kind the backend should keep running; scaling again retries failed ones."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["local", "docker"]
    count: Annotated[int, Field(ge=0, le=32)]


class PoolRead(BaseModel):
    runners: list[RunnerRead]
    local: int = Field(description="How many local runners the pool keeps running (the count asked for).")
    docker: int = Field(description="How many Docker runners the pool keeps running (the count asked for).")
    docker_available: bool
    waiting: dict[str, WaitingReason] = Field(
        default_factory=dict,
        description="Why each queued job waits, by job id (the first 200 in dispatch order); "
        "queue_updated events replace this map as it changes.",
    )


class DockerCommandRead(BaseModel):
    command: str
    notes: str
    registration_token: str = Field(
        description="What a runner presents to join (LAZYAF_RUNNER_TOKEN); shown only to the user."
    )


class RegistrationRead(BaseModel):
    registration_token: str = Field(
        description="What a runner presents to join (LAZYAF_RUNNER_TOKEN); shown only to the user."
    )
