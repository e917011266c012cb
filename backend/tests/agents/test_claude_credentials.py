"""Claude Code runs with the credential the user already has: the real CLI (pinned) in a real
local runner, against the scripted model, which records the headers each request arrived with.

Once per source (the server's key, ANTHROPIC_API_KEY and CLAUDE_CODE_OAUTH_TOKEN in the runner's
environment, a ``.credentials.json`` in the user's home), the order between them, a login the
agent refreshes (written back to the user's file), an expired or refused login (the card fails
with a sentence saying what to do), and none at all (409, nothing queued). No value of any of
them may reach the data dir, the job's API or ``GET /api/agents``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lazyaf_protocol import credentials

from lazyaf.settings import Settings
from lazyaf.testing import LiveServer, live_server
from tests.jobs.conftest import ingest, new_card, scale, wait_job
from tests.jobs.test_claude_end_to_end import CLAUDE, fm

pytestmark = pytest.mark.skipif(
    not CLAUDE.exists(),
    reason="the pinned Claude Code CLI is not installed (scripts/install-claude.sh, which `make test` runs)",
)
HOUR_MS = 3_600_000


def _token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(40)


def _login(access: str, refresh: str | None, expires_at: int) -> dict[str, Any]:
    oauth: dict[str, Any] = {
        "accessToken": access,
        "expiresAt": expires_at,
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
    }
    if refresh is not None:
        oauth["refreshToken"] = refresh
    return {credentials.OAUTH_ENTRY: oauth}


def _write_login(home: Path, data: dict[str, Any]) -> Path:
    path = home / ".claude" / credentials.LOGIN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return path


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The scripted model, and an environment holding no model credential of the developer's."""
    with fm.FakeModel() as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        for name in (*credentials.MODEL_CREDENTIAL_VARIABLES, "CLAUDE_CONFIG_DIR"):
            monkeypatch.delenv(name, raising=False)
        yield fake


@pytest.fixture
def home() -> Path:
    """The user's home (tests/conftest.py points HOME at a fresh folder for every test)."""
    return Path(os.environ["HOME"])


@pytest.fixture
def server(settings: Settings, model: Any) -> Iterator[LiveServer]:
    """A server with no model credential of its own (each test gives one), one local runner."""
    settings.default_agent = "claude"
    settings.claude_binary = str(CLAUDE)
    settings.anthropic_api_key = None
    settings.lease_ttl = 10
    with live_server(settings, migrate=False) as srv:
        yield srv
        scale(srv, 0)


def _run(srv: LiveServer, tmp_path: Path, title: str = "Say hello") -> dict[str, Any]:
    scale(srv, 1)
    repo = ingest(srv, tmp_path)
    card = new_card(srv, repo, title, description="Write hello.txt with a greeting.")
    response = httpx.post(srv.api(f"/cards/{card['id']}/start"))
    assert response.status_code == 201, response.text
    return wait_job(srv, response.json()["id"], timeout=120)


def _claude(srv: LiveServer) -> dict[str, Any]:
    body = httpx.get(srv.api("/agents")).json()
    claude: dict[str, Any] = next(a for a in body["agents"] if a["name"] == "claude")
    return claude


def _nowhere(settings: Settings, srv: LiveServer, job: dict[str, Any], *values: str) -> None:
    """None of ``values`` in the job's API, its log, GET /api/agents, or any file of the data dir
    (the database, runner logs, workspaces: the login copy is gone)."""
    texts = [
        httpx.get(srv.api(f"/jobs/{job['id']}/logs"), params={"limit": 5000}).text,
        httpx.get(srv.api(f"/jobs/{job['id']}")).text,
        httpx.get(srv.api("/agents")).text,
    ]
    for value in values:
        assert all(value not in text for text in texts)
        for path in settings.data_dir.rglob("*"):
            if path.is_file() and "git_repos" not in path.parts:
                assert value.encode() not in path.read_bytes(), f"a credential is in {path}"
    assert not list(settings.data_dir.rglob(credentials.LOGIN_FILE))


def _only_header(model: Any, name: str, value: str) -> None:
    """Every model request carried ``name: value`` and no other model credential."""
    assert model.requests
    for request in model.requests:
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert headers.get(name) == value
        other = "authorization" if name == "x-api-key" else "x-api-key"
        assert other not in headers


def test_the_servers_key(server: LiveServer, settings: Settings, model: Any, tmp_path: Path) -> None:
    key = _token("sk-ant-api03-")
    settings.anthropic_api_key = key  # type: ignore[assignment]
    model.script = fm.write_file_script("hello.txt", "Hello\n")

    assert _claude(server)["credential"] == {
        "kind": "server_key",
        "found_on": "server",
        "runner": None,
        "variable": None,
        "path": None,
        "expires_at": None,
        "expired": False,
    }
    job = _run(server, tmp_path)

    assert job["status"] == "completed", job["error"]
    _only_header(model, "x-api-key", key)
    _nowhere(settings, server, job, key)


def test_anthropic_api_key_in_the_runners_environment(
    server: LiveServer, settings: Settings, model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _token("sk-ant-api03-")
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)  # local runners inherit the server's environment
    model.script = fm.write_file_script("hello.txt", "Hello\n")

    claude = _claude(server)
    assert (claude["ready"], claude["credential"]["kind"], claude["credential"]["variable"]) == (
        True,
        "environment",
        "ANTHROPIC_API_KEY",
    )
    job = _run(server, tmp_path)

    assert job["status"] == "completed", job["error"]
    _only_header(model, "x-api-key", key)
    _nowhere(settings, server, job, key)


def test_claude_code_oauth_token_in_the_runners_environment(
    server: LiveServer, settings: Settings, model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _token("sk-ant-oat01-")
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", token)
    model.script = fm.write_file_script("hello.txt", "Hello\n")

    assert _claude(server)["credential"]["variable"] == "CLAUDE_CODE_OAUTH_TOKEN"
    job = _run(server, tmp_path)

    assert job["status"] == "completed", job["error"]
    _only_header(model, "authorization", f"Bearer {token}")
    assert all("oauth-2025-04-20" in r.headers.get("anthropic-beta", "") for r in model.requests)
    _nowhere(settings, server, job, token)


def test_the_users_claude_code_login_in_their_home(
    server: LiveServer, settings: Settings, model: Any, tmp_path: Path, home: Path
) -> None:
    access, refresh = _token("sk-ant-oat01-"), _token("sk-ant-ort01-")
    expires = credentials.now_ms() + 8 * HOUR_MS
    login = _write_login(
        home, {**_login(access, refresh, expires), "mcpOAuth": {"x": {"accessToken": "mcp"}}}
    )
    before = login.read_text()
    model.script = fm.write_file_script("hello.txt", "Hello\n")

    claude = _claude(server)
    assert claude["ready"] and claude["credential"]["kind"] == "claude_login"
    assert claude["credential"]["path"] == str(login) and not claude["credential"]["expired"]
    assert claude["credential"]["expires_at"].startswith(time.strftime("%Y-", time.gmtime(expires / 1000)))
    job = _run(server, tmp_path)

    assert job["status"] == "completed", job["error"]
    _only_header(model, "authorization", f"Bearer {access}")
    # The user's file is as it was (nothing refreshed), and its copy left with the run.
    assert login.read_text() == before
    _nowhere(settings, server, job, access, refresh)


def test_one_credential_reaches_the_agent_in_order_server_environment_login(
    server: LiveServer,
    settings: Settings,
    model: Any,
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key, token = _token("sk-ant-api03-"), _token("sk-ant-oat01-")
    access = _token("sk-ant-oat01-")
    _write_login(home, _login(access, _token("sk-ant-ort01-"), credentials.now_ms() + HOUR_MS))
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", token)
    settings.anthropic_api_key = key  # type: ignore[assignment]
    # The agent says which model credentials it can see, by name.
    model.script = fm.Steps(
        fm.reply(
            fm.ToolUse(
                "Bash",
                {
                    "command": "env | grep -o -E '^(ANTHROPIC|CLAUDE_CODE)_[A-Z_]+' | sort; "
                    "echo hi > hello.txt"
                },
            )
        ),
        "Done.",
    )

    job = _run(server, tmp_path)

    assert job["status"] == "completed", job["error"]
    _only_header(model, "x-api-key", key)
    [result] = model.requests[-1].tool_results
    seen = str(result["content"])
    assert "ANTHROPIC_API_KEY" in seen and "CLAUDE_CODE_OAUTH_TOKEN" not in seen, seen


def test_a_login_the_agent_refreshes_is_written_back_to_the_users_file(
    server: LiveServer, settings: Settings, model: Any, tmp_path: Path, home: Path
) -> None:
    access, refresh = _token("sk-ant-oat01-"), _token("sk-ant-ort01-")
    new_access, new_refresh = _token("sk-ant-oat01-"), _token("sk-ant-ort01-")
    later = credentials.now_ms() + 9 * HOUR_MS
    login = _write_login(
        home, {**_login(access, refresh, credentials.now_ms() + HOUR_MS), "other": {"kept": 1}}
    )
    # What Claude Code does when it refreshes (the token endpoint is not reachable offline):
    # write the new tokens to a temporary file beside .credentials.json and rename it over.
    refreshed = json.dumps(_login(new_access, new_refresh, later))
    rewrite = (
        f"printf '%s' '{refreshed}' > \"$CLAUDE_CONFIG_DIR/.credentials.json.tmp\" && "
        'mv "$CLAUDE_CONFIG_DIR/.credentials.json.tmp" "$CLAUDE_CONFIG_DIR/.credentials.json" && '
        "echo hi > hello.txt"
    )
    model.script = fm.Steps(fm.reply(fm.ToolUse("Bash", {"command": rewrite})), "Done.")

    job = _run(server, tmp_path)

    assert job["status"] == "completed", job["error"]
    # The CLI read the rewritten file: its next request carried the new token.
    assert model.requests[0].headers["Authorization"] == f"Bearer {access}"
    assert model.requests[-1].headers["Authorization"] == f"Bearer {new_access}"
    # The refresh reached the user's own login (the old refresh token is dead once rotated);
    # what else the file holds is kept; the file stays private.
    data = json.loads(login.read_text())
    assert data[credentials.OAUTH_ENTRY] == _login(new_access, new_refresh, later)[credentials.OAUTH_ENTRY]
    assert data["other"] == {"kept": 1}
    assert login.stat().st_mode & 0o777 == 0o600
    _nowhere(settings, server, job, access, refresh, new_access, new_refresh)


def test_a_login_the_model_refuses_fails_the_card_with_what_to_do(
    server: LiveServer, settings: Settings, model: Any, tmp_path: Path, home: Path
) -> None:
    # An access token past its expiry: Claude Code cannot refresh it here (offline) and sends it;
    # the API answers 401 as it does for an expired OAuth token.
    access, refresh = _token("sk-ant-oat01-"), _token("sk-ant-ort01-")
    login = _write_login(home, _login(access, refresh, credentials.now_ms() - HOUR_MS))
    model.script = fm.Steps(
        fm.HttpError(
            401, "OAuth token has expired. Please obtain a new token or refresh your existing token."
        )
    )

    claude = _claude(server)
    assert claude["ready"] and claude["credential"]["expired"]  # Claude Code may still refresh it
    job = _run(server, tmp_path)

    assert job["status"] == "failed"
    assert job["error"] == credentials.rejected(f"the Claude Code login in {login}", 401)
    assert "/login" not in job["error"] and "OAuth token has expired" not in job["error"]
    card = httpx.get(server.api(f"/cards/{job['card_id']}")).json()
    assert card["status"] == "failed"
    assert model.requests and model.requests[0].headers["Authorization"] == f"Bearer {access}"
    _nowhere(settings, server, job, access, refresh)


def test_a_server_key_the_model_refuses_fails_the_card_with_what_to_do(
    server: LiveServer, settings: Settings, model: Any, tmp_path: Path
) -> None:
    key = _token("sk-ant-api03-")
    settings.anthropic_api_key = key  # type: ignore[assignment]
    model.script = fm.Steps(fm.HttpError(403, "This key cannot be used here."))

    job = _run(server, tmp_path)

    assert job["status"] == "failed"
    assert job["error"] == credentials.rejected("the server's LAZYAF_ANTHROPIC_API_KEY", 403)
    _nowhere(settings, server, job, key)


def test_without_any_credential_a_start_is_refused_and_nothing_is_queued(
    server: LiveServer, model: Any, tmp_path: Path
) -> None:
    scale(server, 1)
    repo = ingest(server, tmp_path)
    card = new_card(server, repo)

    claude = _claude(server)
    assert (claude["ready"], claude["credential"], claude["problem"]) == (
        False,
        None,
        credentials.NO_CREDENTIAL,
    )
    response = httpx.post(server.api(f"/cards/{card['id']}/start"))

    assert response.status_code == 409
    assert response.json() == {"detail": credentials.NO_CREDENTIAL, "code": "no_credential"}
    assert httpx.get(server.api(f"/cards/{card['id']}/jobs")).json() == []
    assert httpx.get(server.api(f"/cards/{card['id']}")).json()["status"] == "todo"
    assert model.all_requests == []


def test_a_login_past_expiry_without_a_refresh_token_is_refused_up_front(
    server: LiveServer, tmp_path: Path, home: Path
) -> None:
    expired_at = credentials.now_ms() - HOUR_MS
    login = _write_login(home, _login(_token("sk-ant-oat01-"), None, expired_at))
    repo = ingest(server, tmp_path)
    card = new_card(server, repo)

    response = httpx.post(server.api(f"/cards/{card['id']}/start"))

    assert response.status_code == 409
    assert response.json()["detail"] == credentials.expired(f"the Claude Code login in {login}", expired_at)
    assert httpx.get(server.api(f"/cards/{card['id']}/jobs")).json() == []
