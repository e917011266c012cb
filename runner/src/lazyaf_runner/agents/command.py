"""Any other agent CLI (aider, codex, a script) from an argument template.

The template is an argument list, never a shell string. Inside an argument, `{prompt_file}` is
replaced by the path of a file holding the prompt (private to the run), `{workdir}` by the
working directory, and `{prompt}` by the prompt itself. Prefer `{prompt_file}`: an argument is
capped at 128 KiB on Linux (a long card fails with "Argument list too long") and every process
on the machine can read argv in /proc/*/cmdline. A template with neither placeholder gets the
prompt on stdin.

Each line the command prints on stdout becomes a `text` event; the run succeeded if and only
if it exited with code 0.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from lazyaf_runner.agents.base import (
    AgentEvent,
    AgentOutcome,
    excerpt,
    interruption_reason,
)

_STDERR_IN_REASON = 400
DEFAULT_CREDENTIALS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
)
"""The runner's variables a command agent gets unless told otherwise (``credentials=``)."""


class CommandAdapter:
    """Runs a command built from a template; its stdout lines are the agent's words."""

    name = "command"

    def __init__(
        self,
        template: Sequence[str | os.PathLike[str]],
        credentials: Sequence[str] = DEFAULT_CREDENTIALS,
    ) -> None:
        if isinstance(template, str) or not template:
            raise ValueError("A command template is a non-empty list of arguments, not a shell string.")
        self.template = [os.fspath(argument) for argument in template]
        self.label = f"The command {Path(self.template[0]).name!r}"
        self.credentials = tuple(credentials)
        self.prompt_on_stdin = not any("{prompt}" in a or "{prompt_file}" in a for a in self.template)

    def build_command(
        self, prompt: str, *, workdir: Path, prompt_file: Path, resume_session: str | None = None
    ) -> list[str]:
        # str.replace rather than str.format: other braces (JSON, shell snippets) stay as they are.
        # {prompt} last: the prompt itself may contain the other placeholders.
        return [
            argument.replace("{workdir}", str(workdir))
            .replace("{prompt_file}", str(prompt_file))
            .replace("{prompt}", prompt)
            for argument in self.template
        ]

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        return dict(base)

    def parse_line(self, line: str) -> list[AgentEvent]:
        text = line.rstrip("\r\n")
        return [AgentEvent(kind="text", text=text)] if text.strip() else []

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
        final_text = next((e.text for e in reversed(events) if e.kind == "text"), None)
        stopped = interruption_reason(self.label, timed_out=timed_out, cancelled=cancelled, timeout=timeout)
        if stopped:
            return AgentOutcome(
                ok=False,
                reason=stopped,
                timed_out=timed_out,
                cancelled=cancelled,
                exit_code=exit_code,
                final_text=final_text,
            )
        if exit_code == 0:
            return AgentOutcome(ok=True, exit_code=exit_code, final_text=final_text)
        if exit_code is None:
            ended = "ended without an exit code"
        elif exit_code < 0:
            ended = f"was killed by signal {-exit_code}"
        else:
            ended = f"exited with code {exit_code}"
        tail = excerpt(stderr_tail[-_STDERR_IN_REASON * 4 :], _STDERR_IN_REASON * 4)
        if len(tail) > _STDERR_IN_REASON:
            tail = "…" + tail[-(_STDERR_IN_REASON - 1) :]
        stderr = f"; stderr: {tail}" if tail else ""
        reason = f"{self.label} {ended}{stderr}."
        return AgentOutcome(ok=False, reason=reason, exit_code=exit_code, final_text=final_text)
