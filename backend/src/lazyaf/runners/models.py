"""The Runner table: a process or container that runs jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from lazyaf.db.base import Base, IdMixin, StrEnumType, TimestampMixin, utcnow


class RunnerStatus(StrEnum):
    IDLE = "idle"
    BUSY = "busy"
    OFFLINE = "offline"


class RunnerKind(StrEnum):
    LOCAL = "local"
    DOCKER = "docker"
    REMOTE = "remote"


class Runner(IdMixin, TimestampMixin, Base):
    __tablename__ = "runner"

    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[RunnerKind] = mapped_column(StrEnumType(RunnerKind), default=RunnerKind.LOCAL)
    container_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[RunnerStatus] = mapped_column(StrEnumType(RunnerStatus), default=RunnerStatus.OFFLINE)
    current_job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("job.id", ondelete="SET NULL", use_alter=True)
    )
    last_heartbeat: Mapped[datetime] = mapped_column(default=utcnow)
    agents: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Per agent, the model credential the runner finds on its own, as its hello reported it: the
    # kind and a login's expiry only, never a value (lazyaf.agents.service reads it).
    credentials: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[str | None] = mapped_column(String(50))
    # Local runners started by this backend: their process id, to stop them on scale-down.
    pid: Mapped[int | None]
    # A pool runner: this backend starts it, restarts it when it exits, stops it on scale-down
    # (runners/pool.py). Its row outlives its processes or containers.
    pooled: Mapped[bool] = mapped_column(default=False, server_default=false())
    restarts: Mapped[int] = mapped_column(default=0, server_default="0")
    # How its last process or container ended ("killed by SIGKILL", "exited with code 3") and
    # the last lines it wrote then (redacted).
    last_exit: Mapped[str | None] = mapped_column(String(200))
    last_exit_at: Mapped[datetime | None]
    log_tail: Mapped[str | None] = mapped_column(Text)
    # When the pool starts it again (set while it waits out its backoff).
    restart_at: Mapped[datetime | None]
    # Set when it kept crashing and the pool stopped restarting it; scaling again retries it.
    failed_at: Mapped[datetime | None]


class PoolTarget(Base):
    """How many runners of a kind the user asked the pool to keep running."""

    __tablename__ = "pool_target"

    kind: Mapped[RunnerKind] = mapped_column(StrEnumType(RunnerKind), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
