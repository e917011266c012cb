"""What agents and verification commands find in their environment: an allowlist."""

from __future__ import annotations

import pytest

from lazyaf_runner.agents.claude import ClaudeAdapter
from lazyaf_runner.agents.command import CommandAdapter
from lazyaf_runner.environment import agent_environment, check_pass_env, verification_environment

RUNNER_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/runner",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TZ": "UTC",
    "HTTPS_PROXY": "http://proxy:3128",
    "LAZYAF_TOKEN": "lazyaf-token-1234567890",
    "LAZYAF_RUNNER_SECRET": "runner-secret-1234567890",
    "LAZYAF_ANTHROPIC_API_KEY": "sk-ant-server-key-1234567890",
    "ANTHROPIC_API_KEY": "sk-ant-runner-own-key-123456",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-1234567890",
    "GITHUB_TOKEN": "ghp_runner_machine_token",
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "http.extraHeader",
    "GIT_CONFIG_VALUE_0": "Authorization: Basic abc",
    "JAVA_HOME": "/opt/java",
}
IDENTITY = {
    "GIT_AUTHOR_NAME": "LazyAF Agent",
    "GIT_AUTHOR_EMAIL": "agent@lazyaf.local",
    "GIT_COMMITTER_NAME": "LazyAF Agent",
    "GIT_COMMITTER_EMAIL": "agent@lazyaf.local",
    "GIT_CONFIG_VALUE_0": "Authorization: Basic abc",
}
SERVER_ENV = {"ANTHROPIC_API_KEY": "sk-ant-from-server-123456", "ANTHROPIC_BASE_URL": "http://model:1"}
BASE = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/runner",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TZ": "UTC",
    "HTTPS_PROXY": "http://proxy:3128",
    "GIT_AUTHOR_NAME": "LazyAF Agent",
    "GIT_AUTHOR_EMAIL": "agent@lazyaf.local",
    "GIT_COMMITTER_NAME": "LazyAF Agent",
    "GIT_COMMITTER_EMAIL": "agent@lazyaf.local",
}


def test_verification_gets_the_base_and_the_git_identity_and_no_credential() -> None:
    assert verification_environment(RUNNER_ENV, identity=IDENTITY) == BASE


def test_claude_gets_its_own_credentials_and_nothing_of_lazyaf() -> None:
    env = agent_environment(
        RUNNER_ENV, credentials=ClaudeAdapter.credentials, server_env=SERVER_ENV, identity=IDENTITY
    )

    # The runner's own key wins over the server's; the base URL comes from the server.
    assert env == {
        **BASE,
        "ANTHROPIC_API_KEY": "sk-ant-runner-own-key-123456",
        "ANTHROPIC_BASE_URL": "http://model:1",
    }


def test_the_servers_key_fills_in_when_the_runner_has_none_or_an_empty_one() -> None:
    runner_env = {**RUNNER_ENV, "ANTHROPIC_API_KEY": ""}

    env = agent_environment(
        runner_env, credentials=ClaudeAdapter.credentials, server_env=SERVER_ENV, identity=IDENTITY
    )

    assert env["ANTHROPIC_API_KEY"] == "sk-ant-from-server-123456"


def test_command_agents_get_the_model_credentials_they_are_allowed() -> None:
    adapter = CommandAdapter(["aider"], credentials=["ANTHROPIC_API_KEY", "GITHUB_TOKEN"])

    env = agent_environment(RUNNER_ENV, credentials=adapter.credentials, server_env={}, identity=IDENTITY)

    assert env == {
        **BASE,
        "ANTHROPIC_API_KEY": "sk-ant-runner-own-key-123456",
        "GITHUB_TOKEN": "ghp_runner_machine_token",
    }


def test_passed_names_get_through_but_never_lazyaf_ones() -> None:
    env = agent_environment(
        RUNNER_ENV,
        credentials=["LAZYAF_*", "ANTHROPIC_*"],  # an adapter that asks for too much
        server_env={"LAZYAF_TOKEN": "x" * 20},
        identity=IDENTITY,
        pass_env=["JAVA_HOME", "LAZYAF_TOKEN"],
    )

    assert env["JAVA_HOME"] == "/opt/java"
    assert not [name for name in env if name.startswith("LAZYAF_")]
    with pytest.raises(ValueError, match="LAZYAF_TOKEN: LAZYAF_\\* variables are the runner's"):
        check_pass_env(["JAVA_HOME", "LAZYAF_TOKEN"])
