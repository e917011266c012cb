"""The normalized event model: bounded, tolerant of extra fields, and redactable."""

from __future__ import annotations

import secrets

from lazyaf_runner.agents.base import (
    OUTPUT_LIMIT,
    REDACTED,
    AgentAdapter,
    AgentEvent,
    AgentOutcome,
    Redactor,
)
from lazyaf_runner.agents.claude import ClaudeAdapter
from lazyaf_runner.agents.command import CommandAdapter


def test_long_output_is_truncated_with_a_marker() -> None:
    event = AgentEvent(kind="tool_result", output="x" * (OUTPUT_LIMIT + 500))

    assert event.output.startswith("x" * OUTPUT_LIMIT)
    assert event.output.endswith("[truncated 500 more characters]")


def test_long_strings_in_a_tool_input_are_truncated() -> None:
    event = AgentEvent(kind="tool_call", input={"file_path": "a", "content": "y" * (OUTPUT_LIMIT * 2)})

    assert event.input["file_path"] == "a"
    assert len(event.input["content"]) < OUTPUT_LIMIT + 100


def test_unknown_fields_are_ignored() -> None:
    event = AgentEvent.model_validate({"kind": "text", "text": "hi", "from_the_future": 1})
    outcome = AgentOutcome.model_validate({"ok": True, "from_the_future": 1})

    assert event.text == "hi" and outcome.ok


def test_redactor_takes_secrets_from_variables_named_like_them() -> None:
    redactor = Redactor.from_environment(
        {
            "ANTHROPIC_API_KEY": "sk-test-abcdefgh",
            "LAZYAF_RUNNER_TOKEN": "tok-12345678",
            "GIT_AUTHOR_NAME": "LazyAF Agent",
            "SHORT_TOKEN": "1",
        }
    )

    text = redactor.text("key sk-test-abcdefgh token tok-12345678 by LazyAF Agent 1")

    assert text == "key [redacted] token [redacted] by LazyAF Agent 1"


def test_redacted_events_are_not_truncated_twice() -> None:
    redactor = Redactor(["sk-test-abcdefgh"])
    event = AgentEvent(
        kind="tool_result", output="sk-test-abcdefgh " + "z" * OUTPUT_LIMIT, input={"k": ["sk-test-abcdefgh"]}
    )

    redacted = redactor.event(event)

    assert redacted.output.startswith("[redacted] z")
    assert redacted.output.count("truncated") == 1
    assert redacted.input == {"k": ["[redacted]"]}


def test_adapters_satisfy_the_protocol() -> None:
    assert isinstance(ClaudeAdapter(), AgentAdapter)
    assert isinstance(CommandAdapter(["echo", "{prompt}"]), AgentAdapter)


def test_events_and_outcomes_are_redacted_everywhere() -> None:
    key = "sk-ant-api03-" + secrets.token_urlsafe(70)
    token = secrets.token_urlsafe(32)
    redactor = Redactor([key, token])
    event = AgentEvent(kind="tool_call", tool="Bash", input={"command": f"echo {token}", "n": [key]})
    outcome = AgentOutcome(ok=False, reason=f"failed with {key}", final_text=token)

    assert redactor.event(event).input == {"command": f"echo {REDACTED}", "n": [REDACTED]}
    assert (redactor.outcome(outcome).reason, redactor.outcome(outcome).final_text) == (
        f"failed with {REDACTED}",
        REDACTED,
    )
