"""Settings come from the environment over a TOML config file over defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from lazyaf.settings import Settings, default_data_dir, is_loopback_host, load_settings


def test_defaults_point_into_one_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.sqlalchemy_url == f"sqlite+aiosqlite:///{tmp_path / 'lazyaf.db'}"
    assert settings.git_repos_dir == tmp_path / "git_repos"
    assert settings.logs_dir == tmp_path / "logs"
    assert (settings.host, settings.port, settings.token) == ("127.0.0.1", 8765, None)


def test_running_from_the_checkout_uses_its_git_repos_dir() -> None:
    root = Path(__file__).resolve().parents[2]
    assert default_data_dir() == root and (root / "git_repos").is_dir()


def test_environment_overrides_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "lazyaf.toml"
    config.write_text('port = 9001\nhost = "127.0.0.2"\ntoken = "from-file"\n')
    monkeypatch.setenv("LAZYAF_CONFIG", str(config))
    monkeypatch.setenv("LAZYAF_PORT", "9002")
    settings = load_settings(data_dir=tmp_path)
    assert (settings.port, settings.host, settings.token_value()) == (9002, "127.0.0.2", "from-file")
    assert "from-file" not in repr(settings)


def test_config_file_in_the_data_dir_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lazyaf.toml").write_text('database_url = "postgresql+asyncpg://db/lazyaf"\n')
    monkeypatch.setenv("LAZYAF_DATA_DIR", str(tmp_path))
    assert load_settings().sqlalchemy_url == "postgresql+asyncpg://db/lazyaf"


def test_explicit_overrides_win_and_none_means_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAZYAF_PORT", "9003")
    assert load_settings(data_dir=tmp_path, port=None).port == 9003
    assert load_settings(data_dir=tmp_path, port=9004).port == 9004


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.4", False),
        ("example.com", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_an_empty_token_means_no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAZYAF_TOKEN", "")
    assert load_settings(data_dir=tmp_path).token is None


def test_stall_and_kill_come_from_the_environment_and_the_kill_must_come_after_the_stall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert (settings.stall_after_s, settings.kill_after_s) == (600, 1200)
    monkeypatch.setenv("LAZYAF_STALL_AFTER_S", "30")
    monkeypatch.setenv("LAZYAF_KILL_AFTER_S", "90")
    settings = load_settings(data_dir=tmp_path)
    assert (settings.stall_after_s, settings.kill_after_s) == (30, 90)
    monkeypatch.setenv("LAZYAF_KILL_AFTER_S", "30")
    with pytest.raises(
        ValueError, match=r"LAZYAF_KILL_AFTER_S \(30\) must be more than LAZYAF_STALL_AFTER_S \(30\)"
    ):
        load_settings(data_dir=tmp_path)
