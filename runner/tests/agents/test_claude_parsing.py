"""ClaudeAdapter on recorded Claude Code 2.1.197 output (transcripts/ are copies of
shared/reference/claude-sample-*.jsonl) and on the lines that go wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lazyaf_runner.agents.base import AgentEvent
from lazyaf_runner.agents.claude import ClaudeAdapter

TRANSCRIPTS = Path(__file__).parent / "transcripts"
SESSION = "e302d900-eda1-45df-ae17-b00598986c4f"


def parse(name: str) -> tuple[ClaudeAdapter, list[AgentEvent]]:
    adapter = ClaudeAdapter()
    lines = (TRANSCRIPTS / name).read_text().splitlines()
    return adapter, [event for line in lines for event in adapter.parse_line(line)]


def line(**data: object) -> str:
    return json.dumps(data)


# --- the recorded transcripts ------------------------------------------------------------


def test_success_transcript_becomes_events_in_order() -> None:
    _, events = parse("claude-sample-stream.jsonl")

    assert [e.kind for e in events] == [
        "system",
        "text",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "text",
        "result",
    ]
    assert all(e.session_id == SESSION for e in events)
    assert all(e.parent_tool_use_id is None for e in events)


def test_init_line_gives_session_and_model() -> None:
    _, events = parse("claude-sample-stream.jsonl")

    init = events[0]
    assert (init.subtype, init.session_id, init.model) == ("init", SESSION, "claude-opus-4-8[1m]")
    assert init.text == "Claude Code 2.1.197 started"


def test_tool_calls_and_results_are_paired_by_id_and_named() -> None:
    _, events = parse("claude-sample-stream.jsonl")
    write_call, write_result, bash_call, bash_result = events[2:6]

    assert write_call.tool == "Write"
    assert write_call.input == {
        "file_path": "/workspace/repo/hello.txt",
        "content": "Hello from the scripted model\n",
    }
    assert write_result.tool_use_id == write_call.tool_use_id == "toolu_fake1754d36bae0000001"
    assert write_result.tool == "Write"
    assert write_result.output.startswith("File created successfully at: /workspace/repo/hello.txt")
    assert write_result.is_error is False
    assert bash_call.tool == "Bash"
    assert bash_call.input["command"].startswith("git add -A && git commit")
    assert (bash_result.tool, bash_result.output) == ("Bash", "0a15605 Add hello.txt")


def test_result_line_carries_the_totals() -> None:
    _, events = parse("claude-sample-stream.jsonl")

    result = events[-1]
    assert result.subtype == "success"
    assert result.text == "Done."
    assert result.is_error is False
    assert result.cost_usd == pytest.approx(0.021)
    assert (result.input_tokens, result.output_tokens) == (3600, 120)
    assert (result.duration_ms, result.num_turns) == (936, 3)


def test_success_transcript_outcome_is_ok() -> None:
    adapter, events = parse("claude-sample-stream.jsonl")

    outcome = adapter.outcome(0, events, "", False, False)

    assert outcome.ok and outcome.reason is None
    assert outcome.session_id == SESSION
    assert outcome.cost_usd == pytest.approx(0.021)
    assert (outcome.input_tokens, outcome.output_tokens, outcome.num_turns) == (3600, 120, 3)
    assert (outcome.final_text, outcome.exit_code, outcome.duration_ms) == ("Done.", 0, 936)


def test_error_transcript_becomes_an_error_event() -> None:
    _, events = parse("claude-sample-stream-error.jsonl")

    assert [e.kind for e in events] == ["system", "error", "result"]
    assert events[1].text == "API Error: 400 scripted bad request"
    assert events[1].is_error is True
    assert events[2].is_error is True and events[2].subtype == "success"


def test_error_transcript_outcome_is_not_ok_with_the_api_error() -> None:
    adapter, events = parse("claude-sample-stream-error.jsonl")

    outcome = adapter.outcome(1, events, "", False, False)

    assert not outcome.ok
    assert outcome.reason == "Claude Code reported an API error: API Error: 400 scripted bad request"
    assert outcome.session_id == "0e7195cd-8758-4d0c-a338-534c89ba85f1"
    assert outcome.exit_code == 1


def test_api_error_is_not_ok_even_when_the_exit_code_says_success() -> None:
    adapter, events = parse("claude-sample-stream-error.jsonl")

    assert not adapter.outcome(0, events, "", False, False).ok


def test_resume_transcript_continues_the_same_session() -> None:
    adapter, events = parse("claude-sample-stream-resume.jsonl")

    assert [e.kind for e in events] == ["system", "tool_call", "tool_result", "text", "result"]
    assert {e.session_id for e in events} == {SESSION}
    assert events[2].output == "a209479 Add second line"
    outcome = adapter.outcome(0, events, "", False, False)
    assert outcome.ok
    assert (outcome.session_id, outcome.num_turns, outcome.final_text) == (
        SESSION,
        2,
        "Appended the second line.",
    )


# --- other line types --------------------------------------------------------------------


def test_tool_result_content_may_be_a_list_of_blocks() -> None:
    adapter = ClaudeAdapter()
    content = [
        {"type": "text", "text": "first"},
        {"type": "image", "source": {}},
        {"type": "text", "text": "last"},
    ]
    block = {"type": "tool_result", "tool_use_id": "t1", "content": content, "is_error": True}

    [event] = adapter.parse_line(line(type="user", message={"role": "user", "content": [block]}))

    assert (event.kind, event.output, event.is_error) == ("tool_result", "first\n[image]\nlast", True)
    assert event.tool is None  # its call was not seen


def test_tool_result_without_content_has_empty_output() -> None:
    block = {"type": "tool_result", "tool_use_id": "t1"}

    [event] = ClaudeAdapter().parse_line(line(type="user", message={"content": [block]}))

    assert (event.output, event.is_error) == ("", False)


def test_user_text_without_tool_results_is_not_an_event() -> None:
    assert ClaudeAdapter().parse_line(line(type="user", message={"content": "a replayed prompt"})) == []


def test_thinking_blocks_become_thinking_events() -> None:
    content = [
        {"type": "thinking", "thinking": "Let me see.", "signature": "x"},
        {"type": "redacted_thinking"},
    ]

    events = ClaudeAdapter().parse_line(line(type="assistant", message={"model": "m", "content": content}))

    assert [(e.kind, e.text) for e in events] == [
        ("thinking", "Let me see."),
        ("thinking", "(redacted thinking)"),
    ]


def test_subagent_events_keep_their_parent_tool_use_id() -> None:
    content = [{"type": "text", "text": "inside"}]

    [event] = ClaudeAdapter().parse_line(
        line(type="assistant", message={"content": content}, parent_tool_use_id="toolu_1", session_id="s")
    )

    assert (event.parent_tool_use_id, event.session_id) == ("toolu_1", "s")


def test_api_retry_becomes_a_system_event() -> None:
    retry = line(
        type="system",
        subtype="api_retry",
        attempt=1,
        max_retries=2,
        retry_delay_ms=508.9,
        error_status=529,
        error="overloaded",
        session_id="s",
    )

    [event] = ClaudeAdapter().parse_line(retry)

    assert (event.kind, event.subtype) == ("system", "api_retry")
    assert event.text == "API request failed (529: overloaded); retry 1 of 2"


def test_other_system_lines_keep_their_subtype() -> None:
    [event] = ClaudeAdapter().parse_line(line(type="system", subtype="thinking_tokens", estimated_tokens=2))

    assert (event.kind, event.subtype, event.text) == ("system", "thinking_tokens", None)


def test_partial_message_stream_events_are_ignored() -> None:
    assert ClaudeAdapter().parse_line(line(type="stream_event", event={"type": "ping"})) == []


# --- garbage -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\r"])
def test_blank_lines_are_ignored(text: str) -> None:
    assert ClaudeAdapter().parse_line(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Error: something broke in the CLI",
        '{"type":"assistant","message":{"content":[{"type":"te',  # half a line
        "[1, 2, 3]",
        '"just a string"',
        "42",
        '{"type": "assistant", "message": "not an object"}',
        '{"type": "result", "usage": "nope", "num_turns": "three"}',
    ],
)
def test_garbage_never_raises(text: str) -> None:
    events = ClaudeAdapter().parse_line(text)

    assert all(isinstance(e, AgentEvent) for e in events)


def test_garbage_becomes_an_error_event_with_a_short_excerpt() -> None:
    [event] = ClaudeAdapter().parse_line("Segmentation fault " + "x" * 5000)

    assert event.kind == "error" and event.is_error
    assert event.text.startswith("Unexpected output from Claude Code: Segmentation fault xxx")
    assert len(event.text) < 300


# --- outcomes ----------------------------------------------------------------------------


def test_no_result_line_is_not_ok_and_shows_stderr() -> None:
    adapter, events = parse("claude-sample-stream.jsonl")

    outcome = adapter.outcome(1, events[:3], "boom: the CLI crashed\n", False, False)

    assert not outcome.ok
    assert outcome.reason == "Claude Code exited with code 1 without a result; stderr: boom: the CLI crashed."
    assert outcome.session_id == SESSION


def test_garbage_only_output_is_explained() -> None:
    adapter = ClaudeAdapter()
    events = adapter.parse_line("Illegal instruction")

    outcome = adapter.outcome(132, events, "", False, False)

    assert not outcome.ok
    assert outcome.reason == (
        "Claude Code exited with code 132 without a result:"
        " Unexpected output from Claude Code: Illegal instruction."
    )


def test_killed_by_a_signal_is_said_so() -> None:
    outcome = ClaudeAdapter().outcome(-9, [], "", False, False)

    assert outcome.reason == "Claude Code was killed by signal 9 without a result."


def test_long_stderr_is_cut_to_its_end() -> None:
    outcome = ClaudeAdapter().outcome(1, [], "noise " * 2000 + "the real error", False, False)

    assert outcome.reason.endswith("the real error.")
    assert len(outcome.reason) < 500


def test_max_turns_is_not_ok() -> None:
    result = line(type="result", subtype="error_max_turns", is_error=True, num_turns=2, session_id="s")
    adapter = ClaudeAdapter()

    outcome = adapter.outcome(1, adapter.parse_line(result), "", False, False)

    assert not outcome.ok
    assert outcome.reason == (
        "Claude Code stopped at its turn limit (2 turns) before finishing; raise max_turns or split the task."
    )


def test_bad_resume_says_where_sessions_live() -> None:
    # What 2.1.197 prints for --resume with an unknown session: no init line, only this.
    result = line(
        type="result",
        subtype="error_during_execution",
        is_error=True,
        num_turns=0,
        session_id="abc",
        errors=["No conversation found with session ID: abc"],
    )
    adapter = ClaudeAdapter()

    outcome = adapter.outcome(
        1, adapter.parse_line(result), "No conversation found with session ID: abc\n", False, False
    )

    assert not outcome.ok
    assert outcome.reason == (
        "Claude Code failed during execution: No conversation found with session ID: abc"
        " (a session resumes only from the same working directory and CLAUDE_CONFIG_DIR)."
    )


def test_success_with_a_failing_exit_code_is_not_ok() -> None:
    adapter, events = parse("claude-sample-stream.jsonl")

    outcome = adapter.outcome(2, events, "", False, False)

    assert not outcome.ok
    assert outcome.reason == "Claude Code reported success but exited with code 2."


def test_timeout_wins_over_everything() -> None:
    adapter, events = parse("claude-sample-stream.jsonl")

    outcome = adapter.outcome(-15, events[:2], "", True, False, timeout=30)

    assert not outcome.ok and outcome.timed_out and not outcome.cancelled
    assert outcome.reason.startswith("Claude Code timed out after 30 s and was stopped")
    assert outcome.session_id == SESSION


def test_cancel_is_not_ok() -> None:
    outcome = ClaudeAdapter().outcome(-15, [], "", False, True)

    assert not outcome.ok and outcome.cancelled
    assert outcome.reason == "Claude Code was cancelled and stopped."
