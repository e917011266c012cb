"""Following a card survives the server going away and coming back: the follower reconnects with
?since= and misses nothing that happened while it was gone."""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path

import httpx
import lazyaf.testing
import pytest
from cli_support import ANSI, invoke, make_repo, run_on_pty
from lazyaf.settings import Settings
from lazyaf.testing import live_server


def test_follow_reconnects_after_a_server_restart(
    tmp_path: Path, migrated_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated_db, data_dir / "lazyaf.db")
    with ExitStack() as stack:
        first = stack.enter_context(ExitStack())
        # A configured server (a model key: a start needs a credential), restarted below as it was.
        settings = Settings(data_dir=data_dir, anthropic_api_key="sk-ant-test-" + "k" * 24)  # type: ignore[arg-type]
        server = first.enter_context(live_server(settings, migrate=False))
        url = server.url
        assert (
            invoke("--server", url, "ingest", make_repo(tmp_path / "demo"), "--name", "demo").exit_code == 0
        )
        card_id = invoke("--server", url, "card", "new", "demo", "Waits").stdout.strip()
        assert invoke("--server", url, "card", "start", card_id).exit_code == 0  # queued: no runner
        job_id = httpx.get(f"{url}/api/cards/{card_id}", timeout=10).json()["job_id"]

        def stop() -> None:
            first.close()

        def restart_and_cancel() -> None:
            # The same data and port, as after `lazyaf serve` is restarted; then a change the
            # follower was not connected for.
            monkeypatch.setattr(lazyaf.testing, "free_port", lambda: int(url.rsplit(":", 1)[1]))
            stack.enter_context(live_server(settings, migrate=False))
            assert httpx.post(f"{url}/api/jobs/{job_id}/cancel", timeout=10).status_code == 200

        result = run_on_pty(
            "card",
            "logs",
            card_id[:8],
            "--follow",
            server=url,
            when=[("waiting for a runner", stop), ("reconnecting", restart_and_cancel)],
        )

    assert result.returncode == 1, result.text
    assert "lost the server, reconnecting" in ANSI.sub("", result.output)
    assert (
        result.text.strip().splitlines()[-1]
        == "Error: Card 'Waits' went back to To Do: its job was cancelled."
    )
