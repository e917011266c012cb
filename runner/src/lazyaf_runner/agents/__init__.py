"""Agent adapters: how to run each agent CLI headless and read what it prints.

`make_adapter("claude", model=...)` or `make_adapter("command", template=[...])` builds one;
`lazyaf_runner.process.run_agent` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lazyaf_runner.agents.base import AgentAdapter, AgentEvent, AgentOutcome
from lazyaf_runner.agents.claude import ClaudeAdapter
from lazyaf_runner.agents.command import CommandAdapter

ADAPTERS: dict[str, Callable[..., AgentAdapter]] = {
    "claude": ClaudeAdapter,
    "command": CommandAdapter,
}


def make_adapter(name: str, **options: Any) -> AgentAdapter:
    """A new adapter (one per run: adapters remember tool names between lines)."""
    try:
        factory = ADAPTERS[name]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise ValueError(f"Unknown agent {name!r}; choose one of: {known}.") from None
    try:
        return factory(**options)
    except TypeError as exc:
        raise ValueError(f"Bad options for the {name} agent: {exc}.") from None


__all__ = [
    "ADAPTERS",
    "AgentAdapter",
    "AgentEvent",
    "AgentOutcome",
    "ClaudeAdapter",
    "CommandAdapter",
    "make_adapter",
]
