"""How ClaudeAdapter starts the CLI: arguments and environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from lazyaf_runner.agents import claude
from lazyaf_runner.agents.claude import ClaudeAdapter

WORKDIR = Path("/work/repo")
PROMPT_FILE = Path("/tmp/lazyaf-prompt-x/prompt.md")


def test_command_runs_unattended_with_stream_json_and_the_prompt_on_stdin() -> None:
    adapter = ClaudeAdapter()

    command = adapter.build_command("Fix the bug", workdir=WORKDIR, prompt_file=PROMPT_FILE)

    assert command == [
        "claude",
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--dangerously-skip-permissions",
    ]
    assert adapter.prompt_on_stdin is True


def test_the_prompt_is_never_an_argument() -> None:
    prompt = "- [ ] add tests\n--model x"

    command = ClaudeAdapter().build_command(prompt, workdir=WORKDIR, prompt_file=PROMPT_FILE)

    assert not any(prompt in argument or str(PROMPT_FILE) in argument for argument in command)


def test_resume_model_turns_and_extra_arguments() -> None:
    adapter = ClaudeAdapter(binary="/opt/claude", model="sonnet", max_turns=7, extra_args=["--add-dir", "/x"])

    command = adapter.build_command("more", workdir=WORKDIR, prompt_file=PROMPT_FILE, resume_session="s-1")

    assert command[0] == "/opt/claude"
    assert command[command.index("--resume") + 1] == "s-1"
    assert command[command.index("--model") + 1] == "sonnet"
    assert command[command.index("--max-turns") + 1] == "7"
    assert command[-2:] == ["--add-dir", "/x"]


def test_environment_keeps_credentials_and_adds_what_the_cli_needs(tmp_path: Path) -> None:
    base = {
        "PATH": "/bin",
        "ANTHROPIC_API_KEY": "sk-test-1",
        "CLAUDE_CODE_OAUTH_TOKEN": "tok",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
    }

    env = ClaudeAdapter(config_dir=tmp_path).environment(base)

    assert {k: env[k] for k in base} == base
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "2"
    assert env["CLAUDE_CONFIG_DIR"] == str(tmp_path)


def test_environment_respects_a_chosen_retry_count_and_config_dir() -> None:
    env = ClaudeAdapter().environment({"CLAUDE_CODE_MAX_RETRIES": "5", "CLAUDE_CONFIG_DIR": "/cfg"})

    assert (env["CLAUDE_CODE_MAX_RETRIES"], env["CLAUDE_CONFIG_DIR"]) == ("5", "/cfg")


@pytest.mark.parametrize(("euid", "expected"), [(0, "1"), (1000, None)])
def test_is_sandbox_only_as_root(monkeypatch: pytest.MonkeyPatch, euid: int, expected: str | None) -> None:
    monkeypatch.setattr(claude.os, "geteuid", lambda: euid)

    assert ClaudeAdapter().environment({}).get("IS_SANDBOX") == expected


def test_environment_drops_the_marks_of_a_parent_claude_session() -> None:
    env = ClaudeAdapter().environment({"CLAUDECODE": "1", "CLAUDE_CODE_ENTRYPOINT": "cli", "HOME": "/h"})

    assert "CLAUDECODE" not in env and "CLAUDE_CODE_ENTRYPOINT" not in env
    assert env["HOME"] == "/h"
