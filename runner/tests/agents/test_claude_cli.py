"""The real Claude Code CLI (pinned 2.1.197) against the scripted model, through run_agent:
the same code path a runner uses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import ProcessMarker, git
from fakemodel import (
    FakeModel,
    HttpError,
    Steps,
    ToolUse,
    bash_script,
    commit_script,
    error_script,
    hang_script,
    reply,
    text_script,
    write_file_script,
)

from lazyaf_runner import credentials
from lazyaf_runner.agents.base import AgentEvent, AgentOutcome
from lazyaf_runner.agents.claude import ClaudeAdapter
from lazyaf_runner.process import run_agent


async def run_claude(
    claude_bin: Path,
    workdir: Path,
    env: dict[str, str],
    prompt: str = "Do the task.",
    *,
    timeout: float = 60,
    cancel: asyncio.Event | None = None,
    resume_session: str | None = None,
    on_event: object = None,
) -> tuple[list[AgentEvent], AgentOutcome]:
    events: list[AgentEvent] = []

    async def collect(event: AgentEvent) -> None:
        events.append(event)
        if on_event is not None:
            await on_event(event)  # type: ignore[operator]

    outcome = await run_agent(
        ClaudeAdapter(binary=claude_bin),
        prompt,
        workdir=workdir,
        env=env,
        timeout=timeout,
        on_event=collect,
        cancel=cancel,
        resume_session=resume_session,
        kill_grace=2,
    )
    return events, outcome


async def test_write_turn_creates_the_file_and_streams_events_in_order(
    claude_bin: Path, fake_model: FakeModel, agent_env: dict[str, str], git_workdir: Path
) -> None:
    fake_model.script = write_file_script(str(git_workdir / "hello.txt"), "Hello from the scripted model\n")

    events, outcome = await run_claude(claude_bin, git_workdir, agent_env, "Create hello.txt")

    assert (git_workdir / "hello.txt").read_text() == "Hello from the scripted model\n"
    assert [e.kind for e in events] == ["system", "text", "tool_call", "tool_result", "text", "result"]
    init, _, call, result_of_call, final, result = events
    session = init.session_id
    assert session and all(e.session_id == session for e in events)
    assert init.subtype == "init" and init.model
    assert (call.tool, call.input) == (
        "Write",
        {"file_path": str(git_workdir / "hello.txt"), "content": "Hello from the scripted model\n"},
    )
    assert result_of_call.tool_use_id == call.tool_use_id and result_of_call.is_error is False
    assert result_of_call.output.startswith("File created successfully")
    assert final.text == "Done."
    # Two turns of the scripted model, 1200 in / 40 out each.
    assert (result.input_tokens, result.output_tokens, result.num_turns) == (2400, 80, 2)
    assert result.cost_usd and result.cost_usd > 0
    assert outcome.ok and outcome.exit_code == 0
    assert (outcome.session_id, outcome.final_text, outcome.input_tokens) == (session, "Done.", 2400)
    assert outcome.cost_usd == result.cost_usd
    assert "Create hello.txt" in fake_model.requests[0].last_user_text


async def test_bash_turn_makes_a_git_commit(
    claude_bin: Path, fake_model: FakeModel, agent_env: dict[str, str], git_workdir: Path
) -> None:
    fake_model.script = commit_script("hello.txt", "hi\n", message="Add hello.txt")

    events, outcome = await run_claude(claude_bin, git_workdir, agent_env)

    assert outcome.ok
    assert git(git_workdir, "log", "--format=%s").splitlines() == ["Add hello.txt", "Initial commit"]
    assert git(git_workdir, "status", "--porcelain") == ""
    bash = [e for e in events if e.tool == "Bash"]
    assert [e.kind for e in bash] == ["tool_call", "tool_result"]
    assert bash[1].output.endswith("Add hello.txt") and not bash[1].is_error
    assert outcome.num_turns == 3


async def test_resume_continues_the_conversation(
    claude_bin: Path, fake_model: FakeModel, agent_env: dict[str, str], git_workdir: Path
) -> None:
    fake_model.script = commit_script("hello.txt", "first line\n", message="Add hello.txt")
    first_events, first = await run_claude(claude_bin, git_workdir, agent_env, "First task: create hello.txt")
    assert first.ok and first.session_id
    fake_model.requests.clear()
    fake_model.script = bash_script(
        "echo 'second line' >> hello.txt && git commit -q -am 'Add second line'",
        final="Appended the second line.",
    )

    events, outcome = await run_claude(
        claude_bin, git_workdir, agent_env, "Second task: append a line", resume_session=first.session_id
    )

    assert outcome.ok, outcome.reason
    assert outcome.session_id == first.session_id
    assert {e.session_id for e in events} == {first.session_id}
    assert outcome.final_text == "Appended the second line."
    assert git(git_workdir, "log", "--format=%s").splitlines()[:2] == ["Add second line", "Add hello.txt"]
    # The follow-up request carries the first conversation: its prompt and its tool results.
    follow_up = fake_model.requests[0]
    assert "First task: create hello.txt" in follow_up.prompts[0]
    assert "Second task: append a line" in follow_up.last_user_text
    assert follow_up.contains("Add hello.txt")
    assert len(follow_up.tool_results) == 2 and follow_up.turn == 0


async def test_resume_from_another_workdir_fails_with_a_reason(
    claude_bin: Path, fake_model: FakeModel, agent_env: dict[str, str], git_workdir: Path, tmp_path: Path
) -> None:
    fake_model.script = text_script("Done.")
    _, first = await run_claude(claude_bin, git_workdir, agent_env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    events, outcome = await run_claude(claude_bin, elsewhere, agent_env, resume_session=first.session_id)

    assert not outcome.ok and outcome.exit_code == 1
    assert outcome.reason == (
        f"Claude Code failed during execution: No conversation found with session ID: {first.session_id}"
        " (a session resumes only from the same working directory and CLAUDE_CONFIG_DIR)."
    )


async def test_api_error_is_not_ok_with_the_reason(
    claude_bin: Path, fake_model: FakeModel, agent_env: dict[str, str], git_workdir: Path
) -> None:
    fake_model.script = error_script(400, "scripted bad request")

    events, outcome = await run_claude(claude_bin, git_workdir, agent_env)

    assert [e.kind for e in events] == ["system", "error", "result"]
    assert not outcome.ok and outcome.exit_code == 1
    assert outcome.reason == "Claude Code reported an API error: API Error: 400 scripted bad request"
    assert len(fake_model.requests) == 1  # a 400 is not retried


async def test_overloaded_api_is_retried_then_reported(
    claude_bin: Path, fake_model: FakeModel, agent_env: dict[str, str], git_workdir: Path
) -> None:
    fake_model.script = Steps(HttpError(529, "overloaded now"))

    events, outcome = await run_claude(claude_bin, git_workdir, {**agent_env, "CLAUDE_CODE_MAX_RETRIES": "1"})

    retries = [e for e in events if e.subtype == "api_retry"]
    assert [e.text for e in retries] == ["API request failed (529: overloaded); retry 1 of 1"]
    assert len(fake_model.requests) == 2
    assert not outcome.ok
    assert outcome.reason.startswith("Claude Code reported an API error: API Error: 529 overloaded now.")


async def test_hanging_model_times_out_and_leaves_no_process(
    claude_bin: Path,
    fake_model: FakeModel,
    agent_env: dict[str, str],
    git_workdir: Path,
    process_marker: ProcessMarker,
) -> None:
    # First a Bash call that leaves a server running (Claude Code gives each Bash command a
    # session of its own), then a model that never answers.
    fake_model.script = Steps(
        reply(ToolUse("Bash", {"command": "(sleep 600 &) ; echo started", "description": "Start a server"})),
        *hang_script().steps,
    )
    seen: list[list[int]] = []

    async def on_event(event: AgentEvent) -> None:
        if event.kind == "tool_result":
            seen.append(process_marker.alive())

    events, outcome = await run_claude(
        claude_bin, git_workdir, {**agent_env, **process_marker.env}, timeout=5, on_event=on_event
    )

    assert not outcome.ok and outcome.timed_out
    assert outcome.reason.startswith("Claude Code timed out after 5 s and was stopped")
    assert outcome.session_id == events[0].session_id
    assert len(seen) == 1 and len(seen[0]) >= 2  # the CLI and the sleep were alive
    assert process_marker.alive() == []


async def test_cancel_stops_the_cli_and_its_tools(
    claude_bin: Path,
    fake_model: FakeModel,
    agent_env: dict[str, str],
    git_workdir: Path,
    process_marker: ProcessMarker,
) -> None:
    fake_model.script = bash_script("sleep 600", description="Wait a long time")
    cancel = asyncio.Event()

    async def on_event(event: AgentEvent) -> None:
        if event.kind == "tool_call":
            asyncio.get_running_loop().call_later(0.5, cancel.set)

    events, outcome = await run_claude(
        claude_bin, git_workdir, {**agent_env, **process_marker.env}, cancel=cancel, on_event=on_event
    )

    assert not outcome.ok and outcome.cancelled
    assert outcome.reason == "Claude Code was cancelled and stopped."
    assert [e.kind for e in events] == ["system", "tool_call"]
    assert process_marker.alive() == []


async def test_api_key_never_appears_in_events_or_outcome(
    claude_bin: Path, fake_model: FakeModel, agent_env: dict[str, str], git_workdir: Path, api_key: str
) -> None:
    # The agent's shell sees the key (Claude Code passes its environment on) and prints it to
    # stdout and stderr; then the API echoes it in an error.
    fake_model.script = Steps(
        reply(
            "Checking the key.",
            ToolUse("Bash", {"command": 'echo "key=$ANTHROPIC_API_KEY"; echo "$ANTHROPIC_API_KEY" >&2'}),
        ),
        HttpError(400, f"request from {api_key} refused"),
    )

    events, outcome = await run_claude(claude_bin, git_workdir, agent_env)

    assert fake_model.requests[-1].contains(api_key)  # it really went through the tool
    assert not outcome.ok
    assert api_key not in outcome.model_dump_json()
    assert all(api_key not in event.model_dump_json() for event in events)
    [tool_result] = [e for e in events if e.kind == "tool_result"]
    assert "key=[redacted]" in tool_result.output
    assert (
        outcome.reason == "Claude Code reported an API error: API Error: 400 request from [redacted] refused"
    )


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_credential_fails_with_what_to_do_not_the_clis_words(
    claude_bin: Path, fake_model: FakeModel, agent_env: dict[str, str], git_workdir: Path, status: int
) -> None:
    fake_model.script = Steps(HttpError(status, "invalid x-api-key"))

    events, outcome = await run_claude(claude_bin, git_workdir, {**agent_env, "CLAUDE_CODE_MAX_RETRIES": "0"})

    assert not outcome.ok
    # The CLI says "Invalid API key · Fix external API key" (or "Please run /login"): commands
    # that mean nothing in a runner. The reason says what to do instead.
    assert outcome.reason == credentials.rejected("Claude Code's credential", status)
    assert "claude login" in outcome.reason and "Fix external API key" not in outcome.reason


async def test_no_credential_at_all_fails_with_the_one_sentence_not_please_run_login(
    claude_bin: Path, fake_model: FakeModel, agent_env: dict[str, str], git_workdir: Path
) -> None:
    env = {k: v for k, v in agent_env.items() if k != "ANTHROPIC_API_KEY"}

    events, outcome = await run_claude(claude_bin, git_workdir, env)

    assert not outcome.ok and fake_model.requests == []
    assert [e.text for e in events if e.kind == "error"] == ["Not logged in · Please run /login"]
    assert outcome.reason == credentials.NO_CREDENTIAL


async def test_api_key_echoed_on_stderr_by_a_crashing_cli_is_redacted(
    fake_model: FakeModel, agent_env: dict[str, str], git_workdir: Path, api_key: str, tmp_path: Path
) -> None:
    crashing = tmp_path / "claude"
    crashing.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        'print(\'{"type": "system", "subtype": "init", "session_id": "s1"}\', flush=True)\n'
        "key = os.environ['ANTHROPIC_API_KEY']\n"
        "sys.stderr.write('fatal: request with x-api-key ' + key + ' failed\\n')\n"
        "sys.exit(7)\n"
    )
    crashing.chmod(0o755)

    events, outcome = await run_claude(crashing, git_workdir, agent_env)

    assert not outcome.ok
    assert outcome.reason == (
        "Claude Code exited with code 7 without a result;"
        " stderr: fatal: request with x-api-key [redacted] failed."
    )
    assert api_key not in json.dumps([e.model_dump() for e in events])


async def test_missing_cli_is_a_clear_failure(
    agent_env: dict[str, str], git_workdir: Path, tmp_path: Path
) -> None:
    events, outcome = await run_claude(tmp_path / "nowhere" / "claude", git_workdir, agent_env)

    assert not outcome.ok
    assert outcome.reason.startswith(f"Could not start {tmp_path / 'nowhere' / 'claude'}")


@pytest.mark.parametrize("prompt", ["- [ ] a Markdown task list", "--help is not what I mean"])
async def test_prompts_that_look_like_options_reach_the_model(
    claude_bin: Path, fake_model: FakeModel, agent_env: dict[str, str], git_workdir: Path, prompt: str
) -> None:
    fake_model.script = text_script("Ok.")

    events, outcome = await run_claude(claude_bin, git_workdir, agent_env, prompt)

    assert outcome.ok, outcome.reason
    assert fake_model.requests[0].last_user_text.endswith(prompt)


async def test_a_150_kb_prompt_of_three_byte_characters_reaches_the_model_intact_and_not_in_argv(
    claude_bin: Path, fake_model: FakeModel, agent_env: dict[str, str], git_workdir: Path
) -> None:
    # 50,000 characters is a card description's limit; in argv this failed with E2BIG.
    prompt = "Implement this:\n" + "€" * 50_000 + "\nThe end."
    seen_cmdline: list[bytes] = []

    async def look_at_argv(event: AgentEvent) -> None:
        if event.kind == "system" and event.subtype == "init":
            for pid in os.listdir("/proc"):
                with contextlib.suppress(OSError):
                    seen_cmdline.append(Path(f"/proc/{pid}/cmdline").read_bytes())

    fake_model.script = text_script("Ok.")

    events, outcome = await run_claude(claude_bin, git_workdir, agent_env, prompt, on_event=look_at_argv)

    assert outcome.ok, outcome.reason
    assert fake_model.requests[0].last_user_text.endswith(prompt)
    assert seen_cmdline and not any("€€€€".encode() in argv for argv in seen_cmdline)
