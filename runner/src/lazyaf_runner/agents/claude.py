"""Claude Code, run headless: `claude -p … --output-format stream-json` → `AgentEvent`s.

What the CLI prints and how it fails is described in `shared/reference/claude-code-headless.md`
(observed on 2.1.197, the version pinned in `runner/claude/package.json`). The quirks that shape
this module:

- every content block of an assistant message comes as its own `assistant` line;
- tool results come back as `user` lines whose `content` is a string or a list of blocks;
- an API error still ends with `subtype: "success"`, but with `is_error: true` and exit 1;
- a bad `--resume` prints no `init` line, only an `error_during_execution` result;
- `--dangerously-skip-permissions` is refused as root unless `IS_SANDBOX=1`;
- `-p` without a prompt argument reads the prompt from stdin (to its end): that is how it gets
  it here, so a long prompt neither hits the 128 KiB limit of one argument nor shows in
  /proc/*/cmdline (nor is a prompt starting with "-" taken for an option).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lazyaf_runner.agents.base import (
    AgentEvent,
    AgentOutcome,
    excerpt,
    interruption_reason,
)
from lazyaf_runner.credentials import not_logged_in, rejected

LABEL = "Claude Code"
PINNED_BINARY = Path(__file__).resolve().parents[3] / "claude" / "node_modules" / ".bin" / "claude"
"""Where scripts/install-claude.sh puts the pinned CLI in a source checkout."""

# Set by a Claude Code session for its own children; a runner started from one must not make
# the agent believe it is a nested session.
_PARENT_SESSION_VARIABLES = (
    "CLAUDECODE",
    "CLAUDE_CODE_ENTRYPOINT",
    "CLAUDE_CODE_SESSION_ID",
    "CLAUDE_CODE_CHILD_SESSION",
    "CLAUDE_CODE_EXECPATH",
)
_STDERR_IN_REASON = 400
NOT_LOGGED_IN = "Not logged in"
"""How the CLI's result starts when it found no credential ("Not logged in · Please run /login")."""


def pinned_binary() -> str | None:
    """The pinned CLI of this checkout, if scripts/install-claude.sh installed it."""
    return str(PINNED_BINARY) if PINNED_BINARY.exists() else None


class ClaudeAdapter:
    """Runs Claude Code unattended and normalizes its stream-json output."""

    name = "claude"
    prompt_on_stdin: bool = True
    # Its credentials (ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN, ANTHROPIC_AUTH_TOKEN) and
    # settings (ANTHROPIC_BASE_URL, ANTHROPIC_MODEL, CLAUDE_CODE_MAX_RETRIES, ...).
    credentials: tuple[str, ...] = ("ANTHROPIC_*", "CLAUDE_CODE_*", "CLAUDE_CONFIG_DIR")

    def __init__(
        self,
        binary: str | os.PathLike[str] = "claude",
        model: str | None = None,
        max_turns: int | None = None,
        config_dir: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
        credential_source: str | None = None,
    ) -> None:
        self.binary = os.fspath(binary)
        self.model = model
        self.max_turns = max_turns
        self.config_dir = Path(config_dir) if config_dir is not None else None
        self.extra_args = list(extra_args)
        # Which credential the run has, in words ("the Claude Code login in …"), for a refusal.
        self.credential_source = credential_source
        self._tool_names: dict[str, str] = {}  # tool_use_id → tool name, for tool_result events
        self._api_error_status: int | None = None  # of the last result line

    def build_command(
        self, prompt: str, *, workdir: Path, prompt_file: Path, resume_session: str | None = None
    ) -> list[str]:
        command = [
            self.binary,
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",  # stream-json in print mode exits 1 without it
            "--dangerously-skip-permissions",
        ]
        if resume_session:
            command += ["--resume", resume_session]
        if self.model:
            command += ["--model", self.model]
        if self.max_turns is not None:
            command += ["--max-turns", str(self.max_turns)]
        return [*command, *self.extra_args]  # the prompt comes on stdin

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        # Credentials (ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN) and ANTHROPIC_BASE_URL come
        # with the base environment (see `credentials`); so do git identity and PATH.
        env = {k: v for k, v in base.items() if k not in _PARENT_SESSION_VARIABLES}
        # Without it the CLI contacts several Anthropic hosts besides the Messages API.
        env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
        # The default of 10 retries with backoff keeps a job hanging for minutes on an outage.
        env.setdefault("CLAUDE_CODE_MAX_RETRIES", "2")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # As root the CLI refuses --dangerously-skip-permissions unless told it is sandboxed.
            env["IS_SANDBOX"] = "1"  # only "1" counts; an inherited "yes" is refused
        if self.config_dir is not None:
            env["CLAUDE_CONFIG_DIR"] = str(self.config_dir)
        return env

    # --- parsing ---------------------------------------------------------------------------

    def parse_line(self, line: str) -> list[AgentEvent]:
        if not line.strip():
            return []
        try:
            data = json.loads(line)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return [_garbage(line)]
        try:
            return self._parse(data)
        except (TypeError, ValueError, AttributeError, KeyError):
            # Valid JSON of an unexpected shape: report it rather than lose the run.
            return [_garbage(line)]

    def _parse(self, data: dict[str, Any]) -> list[AgentEvent]:
        kind = data.get("type")
        common = {
            "session_id": data.get("session_id"),
            "parent_tool_use_id": data.get("parent_tool_use_id"),
        }
        if kind == "system":
            return [_system_event(data, common)]
        if kind == "assistant":
            return self._assistant_events(data, common)
        if kind == "user":
            return self._tool_results(data, common)
        if kind == "result":
            status = data.get("api_error_status")
            self._api_error_status = status if isinstance(status, int) else None
            return [_result_event(data, common)]
        # stream_event (partial messages), rate limit notices, control messages: not part of
        # the normalized stream.
        return []

    def _assistant_events(self, data: dict[str, Any], common: dict[str, Any]) -> list[AgentEvent]:
        message = data.get("message") or {}
        model = message.get("model")
        if model == "<synthetic>":
            model = None
        blocks = _blocks(message.get("content"))
        if data.get("error"):
            # A message the CLI wrote itself to say the API call failed ("API Error: 400 …").
            text = "\n".join(b.get("text", "") for b in blocks if b.get("type") == "text")
            return [AgentEvent(kind="error", text=text or str(data["error"]), is_error=True, **common)]
        events = []
        for block in blocks:
            block_type = block.get("type")
            if block_type == "text":
                events.append(AgentEvent(kind="text", text=block.get("text", ""), model=model, **common))
            elif block_type == "thinking":
                events.append(
                    AgentEvent(kind="thinking", text=block.get("thinking", ""), model=model, **common)
                )
            elif block_type == "redacted_thinking":
                events.append(AgentEvent(kind="thinking", text="(redacted thinking)", model=model, **common))
            elif block_type in ("tool_use", "server_tool_use", "mcp_tool_use"):
                tool_id, tool = block.get("id"), block.get("name")
                if tool_id and tool:
                    self._tool_names[tool_id] = tool
                events.append(
                    AgentEvent(
                        kind="tool_call",
                        tool=tool,
                        tool_use_id=tool_id,
                        input=block.get("input") if isinstance(block.get("input"), dict) else {},
                        model=model,
                        **common,
                    )
                )
        return events

    def _tool_results(self, data: dict[str, Any], common: dict[str, Any]) -> list[AgentEvent]:
        message = data.get("message") or {}
        events = []
        for block in _blocks(message.get("content")):
            if block.get("type") != "tool_result":
                continue  # replayed prompts and reminders
            tool_id = block.get("tool_use_id")
            events.append(
                AgentEvent(
                    kind="tool_result",
                    tool=self._tool_names.get(tool_id) if tool_id else None,
                    tool_use_id=tool_id,
                    output=_content_text(block.get("content")),
                    is_error=bool(block.get("is_error")),
                    **common,
                )
            )
        return events

    # --- judging ---------------------------------------------------------------------------

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
        result = next((e for e in reversed(events) if e.kind == "result"), None)
        session_id = next((e.session_id for e in reversed(events) if e.session_id), None)
        totals: dict[str, Any] = {"exit_code": exit_code, "session_id": session_id}
        if result is not None:
            totals.update(
                session_id=result.session_id or session_id,
                cost_usd=result.cost_usd,
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
                duration_ms=result.duration_ms,
                num_turns=result.num_turns,
                final_text=result.text,
            )
        stopped = interruption_reason(LABEL, timed_out=timed_out, cancelled=cancelled, timeout=timeout)
        if stopped:
            return AgentOutcome(ok=False, reason=stopped, timed_out=timed_out, cancelled=cancelled, **totals)
        reason = _failure(
            result, exit_code, events, stderr_tail, self._api_error_status, self.credential_source
        )
        return AgentOutcome(ok=reason is None, reason=reason, **totals)


def _failure(
    result: AgentEvent | None,
    exit_code: int | None,
    events: list[AgentEvent],
    stderr_tail: str,
    api_error_status: int | None,
    credential_source: str | None = None,
) -> str | None:
    """Why the run failed, or None if it did not. A refused or missing credential is told in
    LazyAF's words (what to do), not the CLI's ("Please run /login" names a command that
    cannot be run in a runner)."""
    if result is None:
        if exit_code is None:
            ended = "ended"
        elif exit_code < 0:
            ended = f"was killed by signal {-exit_code}"
        else:
            ended = f"exited with code {exit_code}"
        garbage = next((e.text for e in events if e.kind == "error"), None)
        detail = _stderr_suffix(stderr_tail, "") or (f": {garbage}" if garbage else "")
        return f"{LABEL} {ended} without a result{detail}."
    text = excerpt(result.text or "", 300)
    stderr = _stderr_suffix(stderr_tail, text)
    if result.subtype == "error_max_turns":
        turns = f" ({result.num_turns} turns)" if result.num_turns else ""
        return (
            f"{LABEL} stopped at its turn limit{turns} before finishing; raise max_turns or split the task."
        )
    if result.subtype == "error_during_execution":
        hint = ""
        if "No conversation found" in text:
            hint = " (a session resumes only from the same working directory and CLAUDE_CONFIG_DIR)"
        return f"{LABEL} failed during execution: {text or 'no details'}{hint}{stderr}."
    if result.subtype and result.subtype != "success":
        return f"{LABEL} ended with {result.subtype}: {text or 'no details'}{stderr}."
    if result.is_error:
        # "success" with is_error: the conversation ended on a failed API call.
        if api_error_status in (401, 403):
            return rejected(credential_source or "Claude Code's credential", api_error_status)
        if api_error_status is None and text.startswith(NOT_LOGGED_IN):
            return not_logged_in(credential_source)
        return f"{LABEL} reported an API error: {text or 'no details'}"
    if exit_code not in (0, None):
        return f"{LABEL} reported success but exited with code {exit_code}{stderr}."
    return None


def _stderr_suffix(stderr_tail: str, already_said: str) -> str:
    """The end of stderr for a reason, unless it only repeats what the reason says."""
    tail = excerpt(stderr_tail[-_STDERR_IN_REASON * 4 :], _STDERR_IN_REASON * 4)
    if not tail or tail in already_said:
        return ""
    if len(tail) > _STDERR_IN_REASON:
        tail = "…" + tail[-(_STDERR_IN_REASON - 1) :]
    return f"; stderr: {tail}"


def _garbage(line: str) -> AgentEvent:
    return AgentEvent(kind="error", text=f"Unexpected output from {LABEL}: {excerpt(line)}", is_error=True)


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def _content_text(content: Any) -> str:
    """A tool result's content as text: a string, or text blocks joined (images as a marker)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for block in _blocks(content):
        if block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif block.get("type") == "image":
            parts.append("[image]")
        else:
            parts.append(json.dumps(block, ensure_ascii=False))
    return "\n".join(parts)


def _system_event(data: dict[str, Any], common: dict[str, Any]) -> AgentEvent:
    subtype = data.get("subtype")
    text = None
    if subtype == "init":
        version = data.get("claude_code_version")
        text = f"{LABEL} {version} started" if version else f"{LABEL} started"
    elif subtype == "api_retry":
        status = data.get("error_status")
        text = (
            f"API request failed ({status or 'no status'}: {data.get('error') or 'unknown error'}); "
            f"retry {data.get('attempt')} of {data.get('max_retries')}"
        )
    elif isinstance(data.get("description"), str):  # task_started and friends, around subagents
        text = data["description"]
    elif isinstance(data.get("summary"), str):
        text = data["summary"]
    model = data.get("model") if subtype == "init" else None
    return AgentEvent(kind="system", subtype=subtype, text=text, model=model, **common)


def _result_event(data: dict[str, Any], common: dict[str, Any]) -> AgentEvent:
    usage: dict[str, Any] = data["usage"] if isinstance(data.get("usage"), dict) else {}
    text = data.get("result")
    errors = data.get("errors")
    if not text and isinstance(errors, list) and errors:
        text = "; ".join(str(e) for e in errors)
    return AgentEvent(
        kind="result",
        subtype=data.get("subtype"),
        text=text if isinstance(text, str) else None,
        is_error=bool(data.get("is_error")),
        cost_usd=_number(data.get("total_cost_usd")),
        # Cached prompt tokens are still prompt tokens; the API counts them apart.
        input_tokens=_sum_ints(
            usage,
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ),
        output_tokens=_sum_ints(usage, "output_tokens"),
        duration_ms=_whole(data.get("duration_ms")),
        num_turns=_whole(data.get("num_turns")),
        **common,
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _whole(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else round(number)


def _sum_ints(values: dict[str, Any], *keys: str) -> int | None:
    present = [n for n in (_whole(values.get(k)) for k in keys) if n is not None]
    return sum(present) if present else None
