"""Fixtures: a clean git identity and HOME, no LAZYAF_* settings, a real server per test, repo builders."""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from cli_support import Invoke, invoke
from lazyaf.db.migrate import upgrade
from lazyaf.logging import configure_logging
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, free_port, live_server

# fake_github (GitHub on 127.0.0.1, held to its OpenAPI description) and github_repo.
pytest_plugins = ["lazyaf_testkit.github.pytest_plugin"]

# Tests must not read the developer's environment or config file.
for _key in [k for k in os.environ if k.startswith("LAZYAF_")]:
    del os.environ[_key]

# Server logs go to the real stderr at warning level, never into a CliRunner's captured output.
configure_logging(Settings(log_level="warning", log_format="console"))

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for key in [k for k in os.environ if k.startswith(("LAZYAF_", "GIT_CONFIG_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    subprocess.run(["git", "config", "--global", "init.defaultBranch", "main"], check=True)


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "lazyaf.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def server(tmp_path: Path, migrated_db: Path) -> Iterator[LiveServer]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated_db, data_dir / "lazyaf.db")
    # A configured server: Claude Code has a model key (a start without one is refused).
    settings = Settings(data_dir=data_dir, anthropic_api_key=f"sk-ant-test-{secrets.token_hex(8)}")  # type: ignore[arg-type]
    with live_server(settings, migrate=False) as srv:
        yield srv


@pytest.fixture
def down_url() -> str:
    """A loopback URL nobody listens on."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def lazyaf(server: LiveServer) -> Invoke:
    """Run ``lazyaf --server <live server> ARGS...`` in-process."""
    return lambda *args, **kw: invoke("--server", server.url, *args, **kw)


# The real agent: the pinned Claude Code CLI, driven by the scripted Messages API of the runner's tests.

RUNNER_DIR = Path(__file__).resolve().parents[2] / "runner"
CLAUDE = RUNNER_DIR / "claude" / "node_modules" / ".bin" / "claude"


def _fakemodel() -> ModuleType:
    if "fakemodel" in sys.modules:
        return sys.modules["fakemodel"]
    spec = importlib.util.spec_from_file_location("fakemodel", RUNNER_DIR / "tests" / "fakemodel.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fakemodel"] = module
    spec.loader.exec_module(module)
    return module


fm = _fakemodel()


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The scripted model; local runners inherit ANTHROPIC_BASE_URL from the server's environment."""
    with fm.FakeModel() as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        yield fake


@pytest.fixture
def agent_server(tmp_path: Path, migrated_db: Path, model: Any) -> Iterator[LiveServer]:
    """A live server whose cards run the real Claude Code CLI in one real local runner."""
    if not CLAUDE.exists():
        pytest.skip(
            "the pinned Claude Code CLI is not installed (scripts/install-claude.sh, run by `make test`)"
        )
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated_db, data_dir / "lazyaf.db")
    settings = Settings(
        data_dir=data_dir,
        default_agent="claude",
        claude_binary=str(CLAUDE),
        anthropic_api_key=f"sk-ant-test-{secrets.token_hex(8)}",  # type: ignore[arg-type]
        lease_ttl=10,
    )
    with live_server(settings, migrate=False) as srv:
        scale = httpx.post(srv.api("/runners/scale"), json={"kind": "local", "count": 1}, timeout=60)
        assert scale.status_code == 200, scale.text
        yield srv
        httpx.post(srv.api("/runners/scale"), json={"kind": "local", "count": 0}, timeout=60)
