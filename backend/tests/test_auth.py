"""auth.py: the key file, what is derived from it, and how a request's credential becomes a principal."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from lazyaf.auth import (
    AuthMiddleware,
    Refused,
    RegistrationPrincipal,
    RunnerCredentials,
    RunnerPrincipal,
    UserPrincipal,
)
from lazyaf.settings import Settings


def test_the_key_file_is_made_private_once_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = RunnerCredentials.load(settings)
    key = settings.runner_secret_file
    assert key.stat().st_mode & 0o777 == 0o600
    runner = uuid.uuid4()
    key.chmod(0o644)  # loosened by hand: tightened again on the next start
    second = RunnerCredentials.load(settings)
    assert key.stat().st_mode & 0o777 == 0o600
    assert second.runner_secret(runner) == first.runner_secret(runner)  # pool runners survive a restart
    assert second.registration_token == first.registration_token
    assert second.runner_of(first.runner_secret(runner)) == runner


def test_secrets_of_another_key_do_not_verify(tmp_path: Path) -> None:
    ours = RunnerCredentials.load(Settings(data_dir=tmp_path / "a"))
    theirs = RunnerCredentials.load(Settings(data_dir=tmp_path / "b"))
    runner = uuid.uuid4()
    assert ours.runner_of(theirs.runner_secret(runner)) is None
    assert ours.runner_of(ours.runner_secret(runner)) == runner
    assert ours.runner_of(ours.runner_secret(runner).replace(str(runner), str(uuid.uuid4()))) is None
    assert ours.registration_token != theirs.registration_token


def test_a_damaged_key_file_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    settings.runner_secret_file.write_text("short\n")
    with pytest.raises(ValueError, match="is damaged .* delete it and restart"):
        RunnerCredentials.load(settings)


def test_a_configured_registration_token_replaces_the_derived_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAZYAF_RUNNER_TOKEN", "a-compose-file-shared-token")
    loaded = RunnerCredentials.load(Settings(data_dir=tmp_path))
    assert loaded.registration_token == "a-compose-file-shared-token"
    monkeypatch.setenv("LAZYAF_RUNNER_TOKEN", "short")
    with pytest.raises(ValidationError, match="LAZYAF_RUNNER_TOKEN must be at least 16 characters"):
        Settings(data_dir=tmp_path)


@pytest.fixture
def middleware(tmp_path: Path) -> AuthMiddleware:
    settings = Settings(data_dir=tmp_path, token="the-users-token")  # type: ignore[arg-type]
    return AuthMiddleware(
        app=None,  # type: ignore[arg-type]
        settings=settings,
        credentials=RunnerCredentials.load(settings),
        sessionmaker=None,  # type: ignore[arg-type]
    )


def _scope(token: str | None, host: str) -> dict[str, object]:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    return {"type": "http", "path": "/api/repos", "headers": headers, "client": (host, 5000), "method": "GET"}


async def test_credentials_make_principals_on_loopback_and_off(middleware: AuthMiddleware) -> None:
    runner = uuid.uuid4()
    secret = middleware.credentials.runner_secret(runner)
    registration = middleware.credentials.registration_token
    for host in ("127.0.0.1", "192.0.2.7"):
        assert await middleware.classify(_scope("the-users-token", host)) == UserPrincipal(with_token=True)
        assert await middleware.classify(_scope(registration, host)) == RegistrationPrincipal()
        # A runner is a runner on loopback too: never the user.
        assert await middleware.classify(_scope(secret, host)) == RunnerPrincipal(runner)
        for forged in (secret[:-2] + "xx", "lazyaf-attempt.not-a-token", "lazyaf-reg.of-another-server"):
            with pytest.raises(Refused) as refused:
                await middleware.classify(_scope(forged, host))
            assert refused.value.status == 401
    # No credential, or one of no known shape: the user on loopback, refused elsewhere.
    assert await middleware.classify(_scope(None, "127.0.0.1")) == UserPrincipal()
    assert await middleware.classify(_scope("a-stale-board-token", "::1")) == UserPrincipal()
    for token in (None, "a-stale-board-token"):
        with pytest.raises(Refused) as refused:
            await middleware.classify(_scope(token, "192.0.2.7"))
        assert refused.value.status == 401
