"""lazyaf secrets rotate: a new key encrypts, the old one is retired, failures are one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_support import error_line, invoke
from cryptography.fernet import Fernet
from lazyaf.secretbox import KeyStore, key_id


@pytest.fixture
def data_dir(tmp_path: Path, migrated_db: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(migrated_db, data / "lazyaf.db")
    return data


def test_rotate_puts_a_new_key_in_the_key_file_and_retires_the_old(data_dir: Path) -> None:
    store = KeyStore(env_keys=None, key_file=data_dir / "secret.key")
    old = store.keyring(create=True).primary_id

    result = invoke("secrets", "rotate", "--data-dir", data_dir)

    assert result.exit_code == 0, result.output
    new = store.keyring().primary_id
    assert new != old and [key_id(k) for k in store.read_file()] == [new]
    assert result.output == f"Re-encrypted 0 secret(s) under key {new}; retired keys: {old}.\n"


def test_rotate_with_lazyaf_secret_key_says_to_drop_the_old_key(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("LAZYAF_SECRET_KEY", f"{new},{old}")

    result = invoke("secrets", "rotate", "--data-dir", data_dir)

    assert result.exit_code == 0, result.output
    assert f"under key {key_id(new.encode())}; retired keys: {key_id(old.encode())}." in result.output
    assert "Remove the retired keys from LAZYAF_SECRET_KEY now." in result.output
    assert not (data_dir / "secret.key").exists()


def test_rotate_without_a_database_is_one_line(tmp_path: Path) -> None:
    result = invoke("secrets", "rotate", "--data-dir", tmp_path / "nowhere")

    missing = tmp_path / "nowhere" / "lazyaf.db"
    assert error_line(result) == f"No LazyAF database at {missing}; pass --data-dir."
    assert not (tmp_path / "nowhere").exists()


def test_rotate_with_a_malformed_key_is_one_line(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAZYAF_SECRET_KEY", "hunter2")

    result = invoke("secrets", "rotate", "--data-dir", data_dir)

    assert error_line(result).startswith("A secret key is not a Fernet key")
