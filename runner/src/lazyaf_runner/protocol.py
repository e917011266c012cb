"""The runner <-> backend wire format: the one home of every message (the backend imports it).

JSON text frames over ``WS /api/runners/connect``, each an object with a ``type``. Unknown fields
are ignored so older peers keep working.

Runner -> backend::

    hello      who I am (and the attempt I am still running, after a reconnect; the model
               credentials I find on my own, by kind)
    claim      I am idle: give me a job if one is queued (the database decides, atomically)
    heartbeat  I am alive (and still running job/attempt): renews the lease
    progress   the attempt entered a phase (cloning, agent, committing, pushing; one over within
               0.1 s may go unreported, "agent" always is)
    event      one normalized agent event, numbered per attempt (resent until acked)
    complete   the attempt ended (resent until acked)

Backend -> runner::

    welcome    your runner id and the lease timing (and your runner secret, when you registered)
    wake       a job was queued: claim it
    assign     you hold this job attempt until the lease expires (answer to claim); with the
               model credential the agent needs, when the server has one for this runner
    no_job     nothing to claim (answer to claim)
    ack        events up to seq of job/attempt are stored
    complete_ack  the completion is recorded (accepted=False: the attempt had lost its lease)
    cancel     stop this attempt: kill the agent, report it cancelled
    revoked    this attempt no longer holds its lease: kill the agent, drop the workspace
    shutdown   finish (or abandon) and exit; the pool is scaling down

Credentials (checked by the backend's ``auth.py``; sent as ``Authorization: Bearer <credential>``,
or as the password of HTTP basic auth for git, any user name):

    runner secret     ``lazyaf-runner.<runner id>.<mac>``: who a runner is. Pool runners get it
                      in ``LAZYAF_RUNNER_SECRET``; a runner that registered gets it in ``welcome``.
                      Sent on the socket's upgrade request and on git fetches.
    registration token  ``LAZYAF_RUNNER_TOKEN``: lets a new runner register (socket only); the
                      backend then makes a runner row and answers with its runner secret.
    attempt token     ``lazyaf-attempt.<job id>.<attempt>.<nonce>`` (``assign.token``): valid while
                      that attempt runs; pushes ``attempt_ref`` (nothing else) and moves the
                      attempt's session file up and the resumed session down.

The socket closes with ``CLOSE_UNAUTHORIZED`` (no valid credential) or ``CLOSE_FORBIDDEN`` (a
credential that does not allow what the hello asks, e.g. another runner's id); the close reason
says what to do.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

PROTOCOL_VERSION = 1
RUNNER_SECRET_PREFIX = "lazyaf-runner."
ATTEMPT_TOKEN_PREFIX = "lazyaf-attempt."
REGISTRATION_TOKEN_PREFIX = "lazyaf-reg."
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AttemptRef(Message):
    job_id: str
    attempt: int


class VerifyStep(Message):
    name: str
    command: str


class FoundCredential(Message):
    """A model credential a runner found on its own (``hello``), by kind only: never its value.

    ``kind``: ``environment`` (a variable of the runner's) or ``claude_login`` (the Claude Code
    login of its user); ``expires_at``: when a login's access token expires (ms since the epoch),
    if its file says. See ``lazyaf_runner.credentials``."""

    kind: str
    expires_at: int | None = None


class AgentCredential(Message):
    """The model credential the server hands an authenticated runner in ``assign`` (never logged;
    the runner redacts it from everything it sends back).

    ``kind``: ``server_key`` / ``server_oauth_token`` (the server's settings), ``environment`` (a
    variable of the server's process) or ``claude_login`` (the Claude Code login on the server's
    machine, the access token only: never the refresh token). ``env``: the variable that carries
    it; ``login``: the ``claudeAiOauth`` object to write into the agent's config dir."""

    kind: str
    env: dict[str, str] = Field(default_factory=dict)
    login: dict[str, Any] | None = None


class VerifyResult(Message):
    name: str
    command: str
    exit_code: int | None
    duration_ms: int
    output: str


# Runner -> backend


class Hello(Message):
    type: Literal["hello"] = "hello"
    name: str
    kind: str = "local"
    agents: list[str] = Field(default_factory=list)
    version: str = ""
    protocol: int = PROTOCOL_VERSION
    runner_id: str | None = None
    running: AttemptRef | None = None
    # Per agent, the model credential this runner finds on its own (none: it relies on the server's).
    credentials: dict[str, FoundCredential] = Field(default_factory=dict)


class Claim(Message):
    type: Literal["claim"] = "claim"


class Heartbeat(Message):
    type: Literal["heartbeat"] = "heartbeat"
    job_id: str | None = None
    attempt: int | None = None


class Progress(Message):
    type: Literal["progress"] = "progress"
    job_id: str
    attempt: int
    phase: str


class Event(Message):
    type: Literal["event"] = "event"
    job_id: str
    attempt: int
    seq: int
    event: dict[str, Any]


class Stats(Message):
    commits: int = 0
    files_changed: int = 0
    lines_added: int = 0
    lines_removed: int = 0


class Complete(Message):
    type: Literal["complete"] = "complete"
    job_id: str
    attempt: int
    status: Literal["completed", "failed", "cancelled"]
    error: str | None = None
    exit_code: int | None = None
    base_sha: str | None = None
    # What the card branch pointed at when the attempt began (None: a new branch).
    branch_start_sha: str | None = None
    head_sha: str | None = None
    stats: Stats | None = None
    session_id: str | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    num_turns: int | None = None
    duration_ms: int | None = None
    verification: list[VerifyResult] | None = None
    # Files the harness refused to commit because the agent left conflicts in them (failed only).
    conflict_files: list[str] | None = None


RunnerMessage = Annotated[
    Hello | Claim | Heartbeat | Progress | Event | Complete, Field(discriminator="type")
]
runner_message = TypeAdapter(RunnerMessage)


# Backend -> runner


class Welcome(Message):
    type: Literal["welcome"] = "welcome"
    runner_id: str
    lease_ttl: float
    heartbeat_interval: float
    # Given once, to a runner that registered (token, not secret): present it from now on.
    runner_secret: str | None = None


class Wake(Message):
    type: Literal["wake"] = "wake"


class Assign(Message):
    type: Literal["assign"] = "assign"
    job_id: str
    attempt: int
    card_id: str
    card_title: str
    repo_url: str
    token: str
    branch: str
    base_branch: str
    attempt_ref: str
    # ``token`` (above) is the attempt token: the git credential that pushes ``attempt_ref`` and
    # the API credential for the session files.
    # Where the card branch points now (None: it does not exist yet, start it from base_branch).
    branch_sha: str | None = None
    # Where base_branch points now: a runner whose mirror already has it fetches nothing
    # (None: unknown, fetch it).
    base_sha: str | None = None
    prompt: str
    agent: str = "claude"
    agent_options: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = None
    # Job kind: build (a new card), iterate (review comments), retry, fix (verification
    # failed), resolve (bring the base branch in and resolve conflicts first).
    kind: str = "build"
    resume_session: str | None = None
    # Where to download the session file a resumed Claude Code session needs.
    session_url: str | None = None
    # Where to upload this attempt's session file, for a later resume.
    session_upload_url: str | None = None
    verify: list[VerifyStep] = Field(default_factory=list)
    # Agent settings from the server (ANTHROPIC_BASE_URL); the model credential comes apart.
    env: dict[str, str] = Field(default_factory=dict)
    credential: AgentCredential | None = None
    # Run the agent with the base branch's configuration files (.claude/, CLAUDE.md, .mcp.json,
    # .lazyaf/...), not the branch's; the harness commit never includes the swap (agent_config.py).
    agent_config_from_base: bool = False


class NoJob(Message):
    type: Literal["no_job"] = "no_job"


class Ack(Message):
    type: Literal["ack"] = "ack"
    job_id: str
    attempt: int
    seq: int


class CompleteAck(Message):
    type: Literal["complete_ack"] = "complete_ack"
    job_id: str
    attempt: int
    accepted: bool


class Cancel(Message):
    type: Literal["cancel"] = "cancel"
    job_id: str
    attempt: int


class Revoked(Message):
    type: Literal["revoked"] = "revoked"
    job_id: str
    attempt: int


class Shutdown(Message):
    type: Literal["shutdown"] = "shutdown"


BackendMessage = Annotated[
    Welcome | Wake | Assign | NoJob | Ack | CompleteAck | Cancel | Revoked | Shutdown,
    Field(discriminator="type"),
]
backend_message = TypeAdapter(BackendMessage)


def attempt_ref(job_id: str, attempt: int) -> str:
    """The ref an attempt pushes to; only the backend moves the card's branch."""
    return f"refs/lazyaf/attempts/{job_id}/{attempt}"


def runner_id_of_secret(secret: str) -> str | None:
    """The runner id a runner secret names (not a check that the secret is valid)."""
    if not secret.startswith(RUNNER_SECRET_PREFIX):
        return None
    runner_id, dot, mac = secret.removeprefix(RUNNER_SECRET_PREFIX).partition(".")
    return runner_id if dot and mac else None
