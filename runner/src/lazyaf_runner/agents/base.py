"""The normalized agent event model and the adapter protocol.

Every agent CLI prints its own format. An adapter turns each line of its output into
`AgentEvent`s (the one shape the backend and the board understand) and the end of a run into
one `AgentOutcome`; `lazyaf_runner.process.run_agent` runs the process and drives the adapter.

Events and outcomes leave the machine, so they are bounded (`output` is cut at
`OUTPUT_LIMIT` characters with a marker) and `lazyaf_protocol.redact.Redactor` strips secrets
from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lazyaf_protocol.messages import AgentEventData
from lazyaf_protocol.messages import EventKind as EventKind

# The one redactor lives in lazyaf_protocol.redact (the backend uses it too); re-exported here.
from lazyaf_protocol.redact import REDACTED as REDACTED
from lazyaf_protocol.redact import Redactor as Redactor
from pydantic import BaseModel, ConfigDict, field_validator

OUTPUT_LIMIT = 16 * 1024
"""Most characters kept of a tool result's output."""
TEXT_LIMIT = 64 * 1024
"""Most characters kept of an event's text, and of each string inside a tool call's input."""


def truncate(value: str, limit: int) -> str:
    """Cut `value` to `limit` characters, saying how much was left out."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}\n… [truncated {len(value) - limit} more characters]"


def excerpt(value: str, limit: int = 200) -> str:
    """A one-line, short rendering of `value` for error messages."""
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _truncate_strings(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return truncate(value, limit)
    if isinstance(value, dict):
        return {key: _truncate_strings(item, limit) for key, item in value.items()}
    if isinstance(value, list):
        return [_truncate_strings(item, limit) for item in value]
    return value


class AgentEvent(AgentEventData):
    """One normalized thing an agent did or said, in the order it happened: the wire's
    ``AgentEventData`` (its docstring says which fields each ``kind`` carries), bounded in size.
    """

    @field_validator("output")
    @classmethod
    def _bound_output(cls, value: str | None) -> str | None:
        return None if value is None else truncate(value, OUTPUT_LIMIT)

    @field_validator("text")
    @classmethod
    def _bound_text(cls, value: str | None) -> str | None:
        return None if value is None else truncate(value, TEXT_LIMIT)

    @field_validator("input")
    @classmethod
    def _bound_input(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # A Write call's input holds the whole file; the diff is the place to read it.
        return None if value is None else _truncate_strings(value, OUTPUT_LIMIT)


class AgentOutcome(BaseModel):
    """How a run ended. When `ok` is false, `reason` is one sentence a person can act on."""

    model_config = ConfigDict(extra="ignore")

    ok: bool
    reason: str | None = None
    exit_code: int | None = None
    timed_out: bool = False
    cancelled: bool = False
    session_id: str | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    duration_ms: int | None = None
    num_turns: int | None = None
    final_text: str | None = None


@runtime_checkable
class AgentAdapter(Protocol):
    """What `run_agent` needs to know about one agent CLI."""

    name: str
    prompt_on_stdin: bool
    """Whether the CLI reads the prompt on stdin (else stdin is /dev/null)."""
    credentials: tuple[str, ...]
    """The runner's environment variables the agent may have: its own credentials and settings
    (names, or prefixes ending in ``*``). Nothing else of the runner's environment reaches it
    beyond `lazyaf_runner.environment.BASE_VARIABLES`."""

    def build_command(
        self, prompt: str, *, workdir: Path, prompt_file: Path, resume_session: str | None = None
    ) -> list[str]:
        """The argument list that runs the agent on `prompt` in `workdir`. The prompt is also in
        `prompt_file` (private to this run), which is stdin when `prompt_on_stdin`."""
        ...

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` plus what the CLI needs to run unattended."""
        ...

    def parse_line(self, line: str) -> list[AgentEvent]:
        """The events in one line of stdout; never raises (garbage becomes an `error` event)."""
        ...

    def outcome(
        self,
        exit_code: int | None,
        events: list[AgentEvent],
        stderr_tail: str,
        timed_out: bool,
        cancelled: bool,
        *,
        timeout: float | None = None,
    ) -> AgentOutcome:
        """Judge a finished run from its exit code, its events and the end of its stderr."""
        ...


def interruption_reason(label: str, *, timed_out: bool, cancelled: bool, timeout: float | None) -> str | None:
    """The reason for a run that was stopped from outside, or None if it was not."""
    if cancelled:
        return f"{label} was cancelled and stopped."
    if timed_out:
        after = f" after {timeout:g} s" if timeout is not None else ""
        return f"{label} timed out{after} and was stopped; give it a longer timeout or a smaller task."
    return None
