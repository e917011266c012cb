"""The runner <-> backend wire format: every message, in the package both sides install.

JSON text frames over ``WS /api/runners/connect``, each an object with a ``type``. Unknown fields
are ignored, so a peer may add a field without breaking the other; anything else that changes
what a peer must understand bumps ``PROTOCOL_VERSION``. The runner sends its version in
``hello``; a backend speaking another one closes the socket with ``CLOSE_PROTOCOL_MISMATCH`` and
a reason naming both versions (``version_mismatch``), and the runner exits with it.

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

The socket closes with ``CLOSE_UNAUTHORIZED`` (no valid credential), ``CLOSE_FORBIDDEN`` (a
credential that does not allow what the hello asks, e.g. another runner's id) or
``CLOSE_PROTOCOL_MISMATCH``; the close reason says what to do, and the runner stops on each.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

PROTOCOL_VERSION = 2
"""The version of this wire format; a runner and a backend must speak the same one."""
RUNNER_SECRET_PREFIX = "lazyaf-runner."
ATTEMPT_TOKEN_PREFIX = "lazyaf-attempt."
REGISTRATION_TOKEN_PREFIX = "lazyaf-reg."
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_PROTOCOL_MISMATCH = 4426
"""The hello's protocol version is not the backend's (as HTTP 426, Upgrade Required)."""
CLOSE_REFUSED = (CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN, CLOSE_PROTOCOL_MISMATCH)
"""Close codes after which reconnecting cannot help: the runner stops with the reason."""


class JobKind(StrEnum):
    """Why an agent pass runs, which decides its prompt (and, for ``resolve``, what the runner's
    harness does first)."""

    BUILD = "build"
    """The first pass of a card's work."""
    ITERATE = "iterate"
    """Review comments to address, on the card's branch."""
    RETRY = "retry"
    """Another pass after a failed one, told why it failed."""
    FIX = "fix"
    """The repo's checks failed after the agent's pass: their output to fix."""
    RESOLVE = "resolve"
    """The branch conflicts with the base: the harness merges the base in, the agent resolves."""
    PLAN = "plan"
    """Write the plan document, nothing else (a GitHub ``@lazyaf plan``)."""
    REFINE = "refine"
    """Rework the plan document from feedback (a GitHub ``@lazyaf refine``, a plan's review)."""
    TEST = "test"
    """Add or change tests only (a workflow's ``test`` step)."""
    FOLLOWUP = "followup"
    """A person's follow-up prompt: the next turn of the step's session."""
    LOOP = "loop"
    """One iteration of a long task, in a fresh session (a workflow's ``loop`` step)."""
    VERIFY = "verify"
    """No agent: the harness checks out the branch, runs ``verify`` and reports (since protocol 2)."""


def version_mismatch(runner: object, backend: int = PROTOCOL_VERSION) -> str:
    """The refusal a backend sends a runner speaking protocol ``runner`` (at most 123 bytes, the
    limit of a WebSocket close reason)."""
    shown = str(runner)[:12]
    return (
        f"Protocol mismatch: the runner speaks version {shown}, the server version {backend}; "
        "install the server's runner."
    )


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


EventKind = Literal["system", "text", "thinking", "tool_call", "tool_result", "error", "result"]


class AgentEventData(Message):
    """One normalized thing an agent did or said (``Event.event``; the board shows it as is).

    ``kind`` says which fields matter: ``text``/``thinking`` carry ``text``; ``tool_call`` carries
    ``tool``, ``tool_use_id``, ``input``; ``tool_result`` carries ``tool_use_id``, ``output``,
    ``is_error`` (and ``tool`` when known); ``system`` carries ``subtype`` and, at start,
    ``session_id``/``model``; ``error`` carries ``text``; ``result`` carries the run's totals.
    ``parent_tool_use_id`` is set for events that happen inside a subagent. The runner's
    ``AgentEvent`` adds the size limits; fields left out are None.
    """

    kind: EventKind
    subtype: str | None = None
    text: str | None = None
    tool: str | None = None
    tool_use_id: str | None = None
    input: dict[str, Any] | None = None
    output: str | None = None
    is_error: bool | None = None
    session_id: str | None = None
    model: str | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    duration_ms: int | None = None
    num_turns: int | None = None
    parent_tool_use_id: str | None = None


class Event(Message):
    type: Literal["event"] = "event"
    job_id: str
    attempt: int
    seq: int
    # An AgentEventData as JSON, without the None fields (the backend keeps it as it came).
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
    # A JobKind value. Typed as text so that a kind this runner does not know runs as a pass of
    # its own (the prompt says what to do); ``resolve`` changes what the harness does first, and
    # ``verify`` runs no agent at all (checkout, the checks, report; nothing is pushed).
    kind: str = JobKind.BUILD
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
    # Git trailers the harness adds to the commit it makes (LazyAF-Card, LazyAF-Run, LazyAF-Step).
    trailers: dict[str, str] = Field(default_factory=dict)


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
