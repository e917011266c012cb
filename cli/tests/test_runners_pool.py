"""lazyaf runners with a pool runner that keeps crashing: it shows as failed, with how it ended and
the command that retries it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import invoke
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server, wait_until


@pytest.fixture
def crashing(tmp_path: Path, migrated_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    """A server whose local runners exit 3 at start-up (a package shadowing the runner's)."""
    shadow = tmp_path / "shadow" / "lazyaf_runner"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    (shadow / "__main__.py").write_text("import sys\nprint('boom', file=sys.stderr)\nsys.exit(3)\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated_db, data_dir / "lazyaf.db")
    settings = Settings(data_dir=data_dir, runner_restart_delay=0.05, runner_crash_limit=2)
    with live_server(settings, migrate=False) as srv:
        yield srv


def test_a_failed_pool_runner_is_listed_as_failed_with_the_retry_command(crashing: LiveServer) -> None:
    url = crashing.url
    assert invoke("--server", url, "runners", "scale", "local", "1").stdout == "Local runners: 1 (was 0).\n"
    wait_until(
        lambda: json.loads(invoke("--server", url, "runners", "--json").stdout)["runners"][0]["failed_at"], 30
    )

    lines = invoke("--server", url, "runners").stdout.splitlines()

    assert lines[2].split()[:3] == ["local-1", "local", "failed"]
    assert (
        lines[3]
        == "local-1 kept crashing (exited with code 3); retry it with `lazyaf runners scale local 1`."
    )
    assert invoke("--server", url, "runners", "scale", "local", "0").stdout == "Local runners: 0 (was 1).\n"
