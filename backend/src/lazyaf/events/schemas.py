"""The board events of ``WS /ws``: one typed model per event type, validated when recorded.

Every frame is ``{"seq": int, "type": str, "data": {...}, "at": iso8601}``; ``seq`` grows by one
per event across the whole server. Connect with ``/ws?since=<last seq you saw>`` to receive what
you missed first; the server then streams live events. A frame of type ``resync`` says the events
you missed are no longer kept: reload the board from the REST API. The first frame is ``hello``
with the latest seq.

Code records an event by building its data model (``EventBus.record(session, CardUpdated(...))``),
so a malformed event fails where it is made, not in a browser. The frames' union ``BoardEvent``
is added to the OpenAPI document's components (``main.py``), so the board's TypeScript types are
generated from these models (``scripts/gen-api.sh``).
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from lazyaf_protocol.messages import AgentEventData
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from lazyaf.cards.schemas import CardRead
from lazyaf.github.schemas import GitHubLinkRead
from lazyaf.jobs.schemas import JobRead, WaitingReason
from lazyaf.runners.schemas import RunnerRead
from lazyaf.runs.schemas import RunRead


class EventType(StrEnum):
    CARD_UPDATED = "card_updated"
    CARD_DELETED = "card_deleted"
    REPO_UPDATED = "repo_updated"
    REPO_DELETED = "repo_deleted"
    JOB_STATUS = "job_status"
    JOB_EVENT = "job_event"
    RUNNER_STATUS = "runner_status"
    RUNNER_DELETED = "runner_deleted"
    GITHUB_UPDATED = "github_updated"
    QUEUE_UPDATED = "queue_updated"
    RUN_UPDATED = "run_updated"


class EventData(BaseModel):
    """What one board event says (``TYPE`` says which event it is)."""

    model_config = ConfigDict(extra="forbid")
    TYPE: ClassVar[EventType]
    OMIT_NONE: ClassVar[bool] = False
    """Leave out fields that are None (nested too): for optional fields, absent means None."""


class CardUpdated(EventData):
    """A card was created or changed (its column, position, fields, cost)."""

    TYPE = EventType.CARD_UPDATED
    card: CardRead


class CardDeleted(EventData):
    TYPE = EventType.CARD_DELETED
    card_id: uuid.UUID
    repo_id: uuid.UUID


class RepoUpdated(EventData):
    """A repo was created or changed (or got its first push): reload it."""

    TYPE = EventType.REPO_UPDATED
    repo_id: uuid.UUID


class RepoDeleted(EventData):
    TYPE = EventType.REPO_DELETED
    repo_id: uuid.UUID


class JobChanged(EventData):
    """A job was queued, claimed, moved to another phase, or ended."""

    TYPE = EventType.JOB_STATUS
    job: JobRead


class JobEventAdded(EventData):
    """One agent event of a job's attempt (numbered per attempt by ``seq``)."""

    TYPE = EventType.JOB_EVENT
    OMIT_NONE = True  # an agent event sets a few of its many fields; thousands may stream a second
    job_id: uuid.UUID
    card_id: uuid.UUID
    attempt: int
    seq: int
    event: AgentEventData


class RunnerChanged(EventData):
    """A runner connected, went idle or busy, or went offline."""

    TYPE = EventType.RUNNER_STATUS
    runner: RunnerRead


class RunnerDeleted(EventData):
    """A stopped runner added by hand was removed."""

    TYPE = EventType.RUNNER_DELETED
    runner_id: uuid.UUID


class GitHubUpdated(EventData):
    """A repo's GitHub link was made, verified, synced or changed (``github`` None: unlinked)."""

    TYPE = EventType.GITHUB_UPDATED
    repo_id: uuid.UUID
    github: GitHubLinkRead | None


class QueueUpdated(EventData):
    """Why each queued job waits (the first ``jobs.waiting.BOARD_LIMIT`` in dispatch order), by job
    id: it replaces the map the board had (``GET /api/runners`` -> ``waiting`` at load)."""

    TYPE = EventType.QUEUE_UPDATED
    waiting: dict[uuid.UUID, WaitingReason]


class RunUpdated(EventData):
    """A card's run was started, or it or one of its steps changed (status, attempt, figures): the
    run as ``GET /api/cards/{id}/runs`` shows it, whole."""

    TYPE = EventType.RUN_UPDATED
    repo_id: uuid.UUID
    run: RunRead


class _Frame(BaseModel):
    seq: int
    at: str = Field(description="When the event was recorded (ISO 8601, UTC).")


class CardUpdatedEvent(_Frame):
    type: Literal[EventType.CARD_UPDATED]
    data: CardUpdated


class CardDeletedEvent(_Frame):
    type: Literal[EventType.CARD_DELETED]
    data: CardDeleted


class RepoUpdatedEvent(_Frame):
    type: Literal[EventType.REPO_UPDATED]
    data: RepoUpdated


class RepoDeletedEvent(_Frame):
    type: Literal[EventType.REPO_DELETED]
    data: RepoDeleted


class JobStatusEvent(_Frame):
    type: Literal[EventType.JOB_STATUS]
    data: JobChanged


class JobEventEvent(_Frame):
    type: Literal[EventType.JOB_EVENT]
    data: JobEventAdded


class RunnerStatusEvent(_Frame):
    type: Literal[EventType.RUNNER_STATUS]
    data: RunnerChanged


class RunnerDeletedEvent(_Frame):
    type: Literal[EventType.RUNNER_DELETED]
    data: RunnerDeleted


class GitHubUpdatedEvent(_Frame):
    type: Literal[EventType.GITHUB_UPDATED]
    data: GitHubUpdated


class QueueUpdatedEvent(_Frame):
    type: Literal[EventType.QUEUE_UPDATED]
    data: QueueUpdated


class RunUpdatedEvent(_Frame):
    type: Literal[EventType.RUN_UPDATED]
    data: RunUpdated


BoardEvent = Annotated[
    CardUpdatedEvent
    | CardDeletedEvent
    | RepoUpdatedEvent
    | RepoDeletedEvent
    | JobStatusEvent
    | JobEventEvent
    | RunnerStatusEvent
    | RunnerDeletedEvent
    | GitHubUpdatedEvent
    | QueueUpdatedEvent
    | RunUpdatedEvent,
    Field(discriminator="type"),
]
"""A frame of ``WS /ws`` carrying an event."""
board_event: TypeAdapter[BoardEvent] = TypeAdapter(BoardEvent)


class SeqData(BaseModel):
    seq: int


class HelloFrame(BaseModel):
    """The first frame of every connection: the latest seq (no seq of its own)."""

    type: Literal["hello"]
    data: SeqData


class ResyncFrame(BaseModel):
    """The events since the client's ``since`` are no longer kept: reload from the REST API."""

    type: Literal["resync"]
    data: SeqData


SocketFrame = Annotated[
    CardUpdatedEvent
    | CardDeletedEvent
    | RepoUpdatedEvent
    | RepoDeletedEvent
    | JobStatusEvent
    | JobEventEvent
    | RunnerStatusEvent
    | RunnerDeletedEvent
    | GitHubUpdatedEvent
    | QueueUpdatedEvent
    | RunUpdatedEvent
    | HelloFrame
    | ResyncFrame,
    Field(discriminator="type"),
]
"""Any frame of ``WS /ws``."""


def openapi_components() -> dict[str, dict[str, Any]]:
    """The schemas of the socket's frames, for the OpenAPI document's components: each frame and
    data model by name, plus the unions ``BoardEvent`` (the frames carrying an event) and
    ``SocketFrame`` (any frame)."""
    components: dict[str, dict[str, Any]] = {}
    adapters: dict[str, TypeAdapter[Any]] = {
        "BoardEvent": board_event,
        "SocketFrame": TypeAdapter(SocketFrame),
    }
    for name, adapter in adapters.items():
        schema = adapter.json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        components.update(schema.pop("$defs"))
        components[name] = schema
    # Sent without its None fields (JobEventAdded.OMIT_NONE): an absent field is optional, not a
    # null with a default (openapi-typescript makes a field with a default a required one).
    for prop in components["AgentEventData"]["properties"].values():
        if prop.get("default", ...) is None:
            del prop["default"]
    return components
