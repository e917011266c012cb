"""Which model credential a Claude Code run gets, and how the user's login is lent to one run:
the order of the sources, one credential in the agent's environment, a private copy that goes
when the run ends, refreshes carried both ways, and never a login written back that the agent
emptied or that the user replaced meanwhile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lazyaf_protocol.messages import AgentCredential, FoundCredential

from lazyaf_runner import credentials
from lazyaf_runner.credentials import Choice, CredentialProblem, Login, StagedLogin, choose

HOUR_MS = 3_600_000
KEY = "sk-ant-api03-" + "k" * 40
SERVER_KEY = AgentCredential(kind="server_key", env={"ANTHROPIC_API_KEY": "sk-ant-api03-" + "s" * 40})


def oauth(
    access: str, refresh: str | None = "sk-ant-ort01-" + "r" * 30, expires: int | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"accessToken": access, "expiresAt": expires or credentials.now_ms() + HOUR_MS}
    if refresh is not None:
        entry["refreshToken"] = refresh
    return entry


def write_login(path: Path, entry: dict[str, Any], **others: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({credentials.OAUTH_ENTRY: entry, **others}))
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_the_order_is_server_then_environment_then_own_login_then_what_the_server_forwarded(
    home: Path,
) -> None:
    env = {"HOME": str(home), "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-" + "e" * 30}
    write_login(home / ".claude" / credentials.LOGIN_FILE, oauth("sk-ant-oat01-own"))
    forwarded = AgentCredential(kind="claude_login", login=oauth("sk-ant-oat01-fwd", refresh=None))

    assert choose(env, SERVER_KEY).kind == "server_key"
    assert choose(env, forwarded).env == {"CLAUDE_CODE_OAUTH_TOKEN": env["CLAUDE_CODE_OAUTH_TOKEN"]}
    without_env = {"HOME": str(home)}
    own = choose(without_env, forwarded)
    assert (
        own.kind == "claude_login" and own.login is not None and own.login.access_token == "sk-ant-oat01-own"
    )
    assert own.source == f"the Claude Code login in {home / '.claude' / credentials.LOGIN_FILE}"
    fwd = choose({"HOME": str(home / "nobody")}, forwarded)
    assert fwd.login is not None and fwd.login.access_token == "sk-ant-oat01-fwd" and fwd.login.path is None
    assert fwd.source == "the Claude Code login of the LazyAF server's machine"
    env_from_server = AgentCredential(kind="environment", env={"ANTHROPIC_AUTH_TOKEN": "gw-" + "g" * 30})
    assert choose({}, env_from_server).source == "ANTHROPIC_AUTH_TOKEN of the LazyAF server's environment"


def test_claude_config_dir_is_where_the_login_is_when_set(home: Path, tmp_path: Path) -> None:
    write_login(home / ".claude" / credentials.LOGIN_FILE, oauth("sk-ant-oat01-home"))
    config = tmp_path / "config"
    write_login(config / credentials.LOGIN_FILE, oauth("sk-ant-oat01-config"))

    chosen = choose({"HOME": str(home), "CLAUDE_CONFIG_DIR": str(config)}, None)

    assert chosen.login is not None and chosen.login.access_token == "sk-ant-oat01-config"


def test_empty_variables_do_not_count_and_an_api_key_comes_first() -> None:
    env = {"ANTHROPIC_API_KEY": " ", "CLAUDE_CODE_OAUTH_TOKEN": "t" * 20, "ANTHROPIC_AUTH_TOKEN": "a" * 20}
    assert credentials.from_environment(env) == ("CLAUDE_CODE_OAUTH_TOKEN", "t" * 20)
    assert credentials.from_environment({**env, "ANTHROPIC_API_KEY": KEY}) == ("ANTHROPIC_API_KEY", KEY)


def test_none_expired_and_emptied_logins_each_say_what_to_do(home: Path) -> None:
    env = {"HOME": str(home)}
    with pytest.raises(CredentialProblem) as none:
        choose(env, None)
    assert str(none.value) == credentials.NO_CREDENTIAL

    path = home / ".claude" / credentials.LOGIN_FILE
    past = credentials.now_ms() - HOUR_MS
    write_login(path, oauth("sk-ant-oat01-old", refresh=None, expires=past))
    with pytest.raises(CredentialProblem) as expired:
        choose(env, None)
    assert str(expired.value) == credentials.expired(f"the Claude Code login in {path}", past)
    assert "run `claude` once" in str(expired.value) and "claude login" in str(expired.value)

    # A login whose access token expired but that holds a refresh token: Claude Code refreshes it.
    write_login(path, oauth("sk-ant-oat01-old", expires=past))
    assert choose(env, None).kind == "claude_login"

    # Emptied by Claude Code after a refused refresh: no login, and the server's is used instead.
    write_login(path, {"accessToken": "", "refreshToken": "", "expiresAt": 0})
    forwarded = AgentCredential(kind="claude_login", login=oauth("sk-ant-oat01-fwd", refresh=None))
    assert choose(env, forwarded).source == "the Claude Code login of the LazyAF server's machine"

    stale = AgentCredential(kind="claude_login", login=oauth("sk-ant-oat01-fwd", refresh=None, expires=past))
    with pytest.raises(CredentialProblem) as forwarded_expired:
        choose({}, stale)
    assert str(forwarded_expired.value).startswith(
        "The Claude Code login of the LazyAF server's machine expired at "
    )


def test_the_agent_gets_exactly_the_chosen_credential() -> None:
    env = {
        "PATH": "/bin",
        "ANTHROPIC_BASE_URL": "http://model",
        "ANTHROPIC_API_KEY": KEY,
        "CLAUDE_CODE_OAUTH_TOKEN": "t" * 20,
        "CLAUDE_CODE_OAUTH_REFRESH_TOKEN": "r" * 20,
        "ANTHROPIC_AUTH_TOKEN": "a" * 20,
    }
    login = Choice("claude_login", "a login", login=Login(oauth("sk-ant-oat01-x")))
    assert credentials.agent_environment(env, login) == {"PATH": "/bin", "ANTHROPIC_BASE_URL": "http://model"}
    token = Choice("environment", "t", env={"CLAUDE_CODE_OAUTH_TOKEN": "t" * 20})
    assert credentials.agent_environment(env, token) == {
        "PATH": "/bin",
        "ANTHROPIC_BASE_URL": "http://model",
        "CLAUDE_CODE_OAUTH_TOKEN": "t" * 20,
    }


def test_the_hello_reports_kinds_and_a_logins_expiry_never_a_value(home: Path) -> None:
    assert credentials.own_credential({"HOME": str(home)}) is None
    assert credentials.own_credential({"ANTHROPIC_API_KEY": KEY}) == FoundCredential(kind="environment")
    expires = credentials.now_ms() + HOUR_MS
    write_login(home / ".claude" / credentials.LOGIN_FILE, oauth("sk-ant-oat01-x", expires=expires))
    found = credentials.own_credential({"HOME": str(home)})
    assert found == FoundCredential(kind="claude_login", expires_at=expires)
    assert "sk-ant" not in found.model_dump_json()


# --- one run's copy of the login ----------------------------------------------------------


@pytest.fixture
def source(home: Path) -> Path:
    return write_login(home / ".claude" / credentials.LOGIN_FILE, oauth("sk-ant-oat01-A"), mcpOAuth={"s": 1})


def staged(source: Path, tmp_path: Path) -> StagedLogin:
    login = credentials.read_login({"HOME": str(source.parents[1])})
    assert login is not None
    return StagedLogin.stage(tmp_path / "card" / "claude-config", login)


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_the_copy_is_private_holds_only_the_login_and_goes_with_the_run(source: Path, tmp_path: Path) -> None:
    run = staged(source, tmp_path)

    assert run.copy.stat().st_mode & 0o777 == 0o600
    assert read(run.copy) == {credentials.OAUTH_ENTRY: read(source)[credentials.OAUTH_ENTRY]}  # no MCP tokens
    assert run.remove() is None
    assert not run.copy.exists() and list(run.copy.parent.iterdir()) == []
    assert read(source)["mcpOAuth"] == {"s": 1}


def test_a_refresh_by_the_agent_is_written_back_keeping_the_rest_of_the_file(
    source: Path, tmp_path: Path
) -> None:
    run = staged(source, tmp_path)
    refreshed = oauth("sk-ant-oat01-B", "sk-ant-ort01-B", credentials.now_ms() + 8 * HOUR_MS)
    credentials.write_private(run.copy, {credentials.OAUTH_ENTRY: refreshed})  # as Claude Code writes it

    assert run.sync() == "written_back"
    assert read(source) == {credentials.OAUTH_ENTRY: refreshed, "mcpOAuth": {"s": 1}}
    assert source.stat().st_mode & 0o777 == 0o600
    assert run.sync() is None  # nothing new
    assert run.remove() is None and not run.copy.exists()


def test_a_refresh_by_the_user_meanwhile_is_taken_into_the_copy(source: Path, tmp_path: Path) -> None:
    run = staged(source, tmp_path)
    theirs = oauth("sk-ant-oat01-U", "sk-ant-ort01-U", credentials.now_ms() + 8 * HOUR_MS)
    write_login(source, theirs, mcpOAuth={"s": 1})

    assert run.sync() == "taken_in"
    assert read(run.copy) == {credentials.OAUTH_ENTRY: theirs}
    assert read(source)[credentials.OAUTH_ENTRY] == theirs


def test_when_both_refreshed_the_one_that_expires_later_wins_on_both_sides(
    source: Path, tmp_path: Path
) -> None:
    run = staged(source, tmp_path)
    now = credentials.now_ms()
    agents = oauth("sk-ant-oat01-B", "sk-ant-ort01-B", now + 9 * HOUR_MS)
    users = oauth("sk-ant-oat01-U", "sk-ant-ort01-U", now + 8 * HOUR_MS)
    credentials.write_private(run.copy, {credentials.OAUTH_ENTRY: agents})
    write_login(source, users, mcpOAuth={"s": 1})
    assert run.sync() == "written_back"
    assert read(source)[credentials.OAUTH_ENTRY] == agents == read(run.copy)[credentials.OAUTH_ENTRY]

    newer = oauth("sk-ant-oat01-V", "sk-ant-ort01-V", now + 10 * HOUR_MS)
    credentials.write_private(
        run.copy, {credentials.OAUTH_ENTRY: oauth("sk-ant-oat01-C", "r" * 20, now + 2 * HOUR_MS)}
    )
    write_login(source, newer)
    assert run.sync() == "taken_in"
    assert read(run.copy)[credentials.OAUTH_ENTRY] == newer == read(source)[credentials.OAUTH_ENTRY]


def test_a_login_the_agent_emptied_is_never_written_back(source: Path, tmp_path: Path) -> None:
    run = staged(source, tmp_path)
    before = source.read_text()
    # What Claude Code writes when the server refuses the refresh token (invalid_grant).
    credentials.write_private(
        run.copy, {credentials.OAUTH_ENTRY: {"accessToken": "", "refreshToken": "", "expiresAt": 0}}
    )

    assert run.remove() is None
    assert source.read_text() == before and not run.copy.exists()


def test_a_symlinked_login_is_updated_where_it_lives(home: Path, tmp_path: Path) -> None:
    real = write_login(tmp_path / "dotfiles" / "credentials.json", oauth("sk-ant-oat01-A"))
    link = home / ".claude" / credentials.LOGIN_FILE
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    run = staged(link, tmp_path)
    refreshed = oauth("sk-ant-oat01-B", "sk-ant-ort01-B", credentials.now_ms() + 8 * HOUR_MS)
    credentials.write_private(run.copy, {credentials.OAUTH_ENTRY: refreshed})

    assert run.remove() == "written_back"
    assert link.is_symlink() and read(real)[credentials.OAUTH_ENTRY] == refreshed


def test_a_forwarded_login_has_nothing_to_write_back(tmp_path: Path) -> None:
    run = StagedLogin.stage(tmp_path / "config", Login(oauth("sk-ant-oat01-F", refresh=None)))
    credentials.write_private(run.copy, {credentials.OAUTH_ENTRY: oauth("sk-ant-oat01-G")})

    assert run.remove() is None and not run.copy.exists()


def test_copies_of_runners_that_died_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    for card, owner in (("mine", str(os.getpid())), ("dead", dead.stdout.strip()), ("unknown", None)):
        config = tmp_path / card / "claude-config"
        write_login(config / credentials.LOGIN_FILE, oauth("sk-ant-oat01-x"))
        if owner is not None:
            (config / credentials.OWNER_FILE).write_text(owner)

    assert credentials.remove_leftover_copies(tmp_path) == 2
    assert [p.parts[-3] for p in tmp_path.glob(f"*/claude-config/{credentials.LOGIN_FILE}")] == ["mine"]
