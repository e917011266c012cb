"""Fixtures for driving agents for real: the pinned Claude Code CLI, a scripted model, a git
workdir, an isolated HOME and config dir, and a way to find leftover processes.

`fakemodel.py` beside this file is plain standard library; other suites can import it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakemodel import FakeModel

RUNNER_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = RUNNER_DIR.parent
CLAUDE_DIR = RUNNER_DIR / "claude"
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-claude.sh"
PINNED_VERSION: str = json.loads((CLAUDE_DIR / "package.json").read_text())["dependencies"][
    "@anthropic-ai/claude-code"
]
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "LazyAF Test",
    "GIT_AUTHOR_EMAIL": "agent@lazyaf.test",
    "GIT_COMMITTER_NAME": "LazyAF Test",
    "GIT_COMMITTER_EMAIL": "agent@lazyaf.test",
}


def _version(binary: Path) -> str:
    try:
        done = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    """The pinned Claude Code CLI, installed with scripts/install-claude.sh when missing."""
    binary = CLAUDE_DIR / "node_modules" / ".bin" / "claude"
    if not _version(binary).startswith(f"{PINNED_VERSION} "):
        try:
            done = subprocess.run(
                [str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(
                f"Claude Code {PINNED_VERSION} is not installed and {INSTALL_SCRIPT.name} failed: {exc}"
            )
        if done.returncode != 0:
            why = done.stderr.strip().splitlines()[-1:] or ["no output"]
            pytest.skip(f"Claude Code {PINNED_VERSION} could not be installed with npm: {why[0]}")
    version = _version(binary)
    assert version.startswith(f"{PINNED_VERSION} "), f"{binary} --version says {version!r}"
    return binary


@pytest.fixture
def fake_model() -> Iterator[FakeModel]:
    """A scripted Messages API on 127.0.0.1; set `.script`, read `.requests`."""
    with FakeModel() as model:
        yield model


@pytest.fixture
def api_key() -> str:
    return f"sk-test-{secrets.token_hex(20)}"


@pytest.fixture
def claude_config_dir(tmp_path: Path) -> Path:
    path = tmp_path / "claude-config"
    path.mkdir()
    return path


@pytest.fixture
def agent_home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def agent_env(
    fake_model: FakeModel, api_key: str, agent_home: Path, claude_config_dir: Path
) -> dict[str, str]:
    """A clean base environment for an agent: nothing from the developer's own setup."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(agent_home),
        "ANTHROPIC_BASE_URL": fake_model.url,
        "ANTHROPIC_API_KEY": api_key,
        "CLAUDE_CONFIG_DIR": str(claude_config_dir),
        "GIT_CONFIG_NOSYSTEM": "1",
        **GIT_IDENTITY,
    }


def git(workdir: Path, *args: str) -> str:
    env = {**os.environ, **GIT_IDENTITY, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(
        ["git", *args], cwd=workdir, env=env, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def git_workdir(tmp_path: Path) -> Path:
    """A git repository with one commit, where the agent works."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("# test repo\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Initial commit")
    return path


class ProcessMarker:
    """A unique environment variable: put `.env` into a run's environment, and `.alive()`
    lists the live processes that inherited it, however they detached."""

    def __init__(self) -> None:
        self.name = "LAZYAF_TEST_TREE"
        self.value = secrets.token_hex(8)
        self.env = {self.name: self.value}

    def alive(self) -> list[int]:
        needle = f"{self.name}={self.value}".encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    marked = needle in f.read().split(b"\0")
                with open(f"/proc/{entry}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except OSError:
                continue
            if marked and state not in (b"Z", b"X"):  # zombies are dead; init reaps them late
                found.append(int(entry))
        return found


@pytest.fixture
def process_marker() -> Iterator[ProcessMarker]:
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc to look for leftover processes")
    marker = ProcessMarker()
    yield marker
    for pid in marker.alive():  # never leave a test's processes behind, even when it failed
        try:
            os.kill(pid, 9)
        except OSError:
            pass


@pytest.fixture(autouse=True)
def _runner_main_leaves_the_test_process_dumpable(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lazyaf_runner.main` makes its process non-dumpable first thing; invoked in-process by a
    test, that would be pytest's own process (and every later test's), so only its children do."""
    import lazyaf_runner.main

    monkeypatch.setattr(lazyaf_runner.main, "make_non_dumpable", lambda: True)
