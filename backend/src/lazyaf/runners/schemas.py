"""Request and response shapes for runners and the pool."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class PoolScale(BaseModel):
    """How many runners of a kind the backend should keep running."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["local", "docker"]
    count: Annotated[int, Field(ge=0, le=32)]


class PoolRead(BaseModel):
    runners: list[RunnerRead]
    local: int
    docker: int
    docker_available: bool


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
