"""CommandAdapter: any CLI from an argument template, run for real through run_agent."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lazyaf_runner.agents import make_adapter
from lazyaf_runner.agents.base import AgentEvent
from lazyaf_runner.agents.claude import ClaudeAdapter
from lazyaf_runner.agents.command import CommandAdapter
from lazyaf_runner.process import run_agent

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


async def run(adapter: CommandAdapter, prompt: str, workdir: Path) -> tuple[list[AgentEvent], object]:
    events: list[AgentEvent] = []

    async def on_event(event: AgentEvent) -> None:
        events.append(event)

    outcome = await run_agent(adapter, prompt, workdir=workdir, env=ENV, timeout=30, on_event=on_event)
    return events, outcome


def test_placeholders_are_replaced_inside_arguments_without_a_shell() -> None:
    adapter = CommandAdapter(
        ["aider", "--message={prompt}", "--dir", "{workdir}", "-f", "{prompt_file}", '{"json": 1}', "$HOME"]
    )

    command = adapter.build_command(
        "fix it; rm -rf / {workdir}", workdir=Path("/w"), prompt_file=Path("/p/x")
    )

    assert command == [
        "aider",
        "--message=fix it; rm -rf / {workdir}",
        "--dir",
        "/w",
        "-f",
        "/p/x",
        '{"json": 1}',
        "$HOME",
    ]
    assert adapter.prompt_on_stdin is False


async def test_prompt_file_holds_the_prompt_privately_during_the_run(tmp_path: Path) -> None:
    script = (
        "import os, stat, sys; p = sys.argv[1]; "
        "mode = lambda f: oct(stat.S_IMODE(os.stat(f).st_mode)); "
        "print(mode(p), mode(os.path.dirname(p))); "
        "print(len(open(p, encoding='utf-8').read())); print(p)"
    )
    prompt = "€" * 60_000  # 180 KB: more than one argument may hold
    adapter = CommandAdapter([sys.executable, "-c", script, "{prompt_file}"])

    events, outcome = await run(adapter, prompt, tmp_path)

    assert outcome.ok, outcome.reason
    modes, length, path = (e.text for e in events)
    assert (modes, length) == ("0o600 0o700", "60000")
    assert not Path(path).exists() and not Path(path).parent.exists()  # removed after the run


async def test_a_template_without_a_prompt_placeholder_gets_the_prompt_on_stdin(tmp_path: Path) -> None:
    script = "import sys; data = sys.stdin.read(); print(len(data), data[:3])"
    adapter = CommandAdapter([sys.executable, "-c", script])

    events, outcome = await run(adapter, "abc" + "€" * 60_000, tmp_path)

    assert outcome.ok and adapter.prompt_on_stdin
    assert [e.text for e in events] == ["60003 abc"]


async def test_with_a_prompt_placeholder_stdin_is_empty(tmp_path: Path) -> None:
    script = "import sys; print(repr(sys.stdin.read()))"
    adapter = CommandAdapter([sys.executable, "-c", script, "{prompt}"])

    events, _ = await run(adapter, "hello", tmp_path)

    assert [e.text for e in events] == ["''"]


@pytest.mark.parametrize("template", ["aider --message {prompt}", []])
def test_template_must_be_an_argument_list(template: object) -> None:
    with pytest.raises(ValueError, match="list of arguments"):
        CommandAdapter(template)  # type: ignore[arg-type]


def test_make_adapter_knows_claude_and_command() -> None:
    assert isinstance(make_adapter("claude", model="sonnet"), ClaudeAdapter)
    assert isinstance(make_adapter("command", template=["echo", "{prompt}"]), CommandAdapter)


def test_make_adapter_refuses_unknown_names_and_options() -> None:
    with pytest.raises(ValueError, match="Unknown agent 'codex'; choose one of: claude, command."):
        make_adapter("codex")
    with pytest.raises(ValueError, match="Bad options for the claude agent"):
        make_adapter("claude", colour="blue")


async def test_each_stdout_line_is_a_text_event(tmp_path: Path) -> None:
    script = "import sys; print('reading: ' + sys.argv[1]); print(); print('line two')"
    adapter = CommandAdapter([sys.executable, "-c", script, "{prompt}"])

    events, outcome = await run(adapter, "the prompt", tmp_path)

    assert [(e.kind, e.text) for e in events] == [("text", "reading: the prompt"), ("text", "line two")]
    assert outcome.ok and outcome.exit_code == 0 and outcome.reason is None
    assert outcome.final_text == "line two"
    assert outcome.duration_ms is not None


async def test_workdir_placeholder_and_cwd(tmp_path: Path) -> None:
    script = "import os, sys; print(sys.argv[1] == os.getcwd())"
    adapter = CommandAdapter([sys.executable, "-c", script, "{workdir}"])

    events, outcome = await run(adapter, "x", tmp_path)

    assert [e.text for e in events] == ["True"]


async def test_non_zero_exit_is_not_ok_with_stderr(tmp_path: Path) -> None:
    script = "import sys; print('working'); sys.stderr.write('fatal: no model configured\\n'); sys.exit(3)"
    adapter = CommandAdapter([sys.executable, "-c", script])

    events, outcome = await run(adapter, "x", tmp_path)

    assert [e.text for e in events] == ["working"]
    assert not outcome.ok and outcome.exit_code == 3
    name = Path(sys.executable).name
    assert outcome.reason == f"The command {name!r} exited with code 3; stderr: fatal: no model configured."
