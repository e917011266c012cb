"""Any other agent CLI (aider, codex, a script) from an argument template.

The template is an argument list, never a shell string: `{prompt}` and `{workdir}` inside an
argument are replaced by the prompt and the working directory. Each line the command prints
on stdout becomes a `text` event; the run succeeded if and only if it exited with code 0.
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


class CommandAdapter:
    """Runs a command built from a template; its stdout lines are the agent's words."""

    name = "command"

    def __init__(self, template: Sequence[str | os.PathLike[str]]) -> None:
        if isinstance(template, str) or not template:
            raise ValueError("A command template is a non-empty list of arguments, not a shell string.")
        self.template = [os.fspath(argument) for argument in template]
        self.label = f"The command {Path(self.template[0]).name!r}"

    def build_command(self, prompt: str, *, workdir: Path, resume_session: str | None = None) -> list[str]:
        # str.replace rather than str.format: other braces (JSON, shell snippets) stay as they are.
        return [
            argument.replace("{workdir}", str(workdir)).replace("{prompt}", prompt)
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
