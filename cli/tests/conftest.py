"""Fixtures: a clean git identity and HOME, no LAZYAF_* settings, a real server per test, repo builders."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Invoke, invoke
from lazyaf.db.migrate import upgrade
from lazyaf.logging import configure_logging
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, free_port, live_server

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
    with live_server(Settings(data_dir=data_dir), migrate=False) as srv:
        yield srv


@pytest.fixture
def down_url() -> str:
    """A loopback URL nobody listens on."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def lazyaf(server: LiveServer) -> Invoke:
    """Run ``lazyaf --server <live server> ARGS...`` in-process."""
    return lambda *args, **kw: invoke("--server", server.url, *args, **kw)
