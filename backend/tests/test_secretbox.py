"""Secrets at rest: never in the database in clear, readable across a rotation, a crash loses nothing."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import MetaData, String, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lazyaf import secretbox
from lazyaf.db.engine import make_engine, make_sessionmaker
from lazyaf.main import create_app
from lazyaf.secretbox import KeyStore, Sealed, SecretKeyError, encrypted_column
from lazyaf.settings import Settings

TOKENS = [f"ghp_{n:02d}{'x' * 32}" for n in range(12)]


class VaultBase(DeclarativeBase):
    metadata = MetaData()


class Vault(VaultBase):
    """A model shaped like a later GitHub link: a name and an encrypted token."""

    __tablename__ = "vault"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    token: Mapped[Sealed | None] = encrypted_column()
    webhook_secret: Mapped[Sealed | None] = encrypted_column()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'lazyaf.db'}")
    (tmp_path / "data").mkdir(exist_ok=True)
    async with engine.begin() as conn:
        await conn.run_sync(VaultBase.metadata.create_all)
    yield engine, make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(env_keys=None, key_file=tmp_path / "data" / "secret.key")


async def _fill(store: KeyStore, maker: async_sessionmaker[AsyncSession]) -> None:
    keyring = store.keyring(create=True)
    async with maker() as session, session.begin():
        for n, token in enumerate(TOKENS):
            secret = keyring.seal(f"whsec-{n}") if n % 3 == 0 else None
            session.add(Vault(id=n, name=f"repo{n}", token=keyring.seal(token), webhook_secret=secret))


async def _read_all(store: KeyStore, maker: async_sessionmaker[AsyncSession]) -> tuple[list[str], set[str]]:
    keyring = store.keyring()
    async with maker() as session:
        rows = (await session.execute(select(Vault).order_by(Vault.id))).scalars().all()
    kids = {r.token.key_id for r in rows if r.token} | {
        r.webhook_secret.key_id for r in rows if r.webhook_secret
    }
    return [keyring.open(r.token) for r in rows if r.token], kids


def _disk_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.iterdir()) if p.name.startswith("lazyaf.db"))


def test_seal_and_open_round_trip_and_the_sealed_value_hides_its_token(store: KeyStore) -> None:
    keyring = store.keyring(create=True)
    sealed = keyring.seal("ghp_secret")
    assert keyring.open(sealed) == "ghp_secret"
    assert sealed.key_id == keyring.primary_id == secretbox.key_id(store.read_file()[0])
    assert "ghp_secret" not in sealed.stored and sealed.token not in repr(sealed)
    assert repr(sealed) == str(sealed) == f"Sealed(key_id='{keyring.primary_id}')"
    assert Sealed.parse(sealed.stored) == sealed


def test_the_key_file_is_created_0600_on_first_need_only(tmp_path: Path, store: KeyStore) -> None:
    with pytest.raises(SecretKeyError, match="does not exist"):
        store.keyring()
    assert not store.key_file.exists()
    store.keyring(create=True)
    assert stat.S_IMODE(store.key_file.stat().st_mode) == 0o600
    assert list(store.key_file.parent.glob(".secret-key-*")) == []


def test_creating_the_app_does_not_create_a_key(settings: Settings) -> None:
    app = create_app(settings)
    assert isinstance(app.state.secrets, KeyStore)
    assert not settings.secret_key_path.exists()
    assert settings.secret_key_path == settings.data_dir / "secret.key"


def test_two_processes_creating_the_key_file_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    first, second = KeyStore(env_keys=None, key_file=path), KeyStore(env_keys=None, key_file=path)
    first._create_file(Fernet.generate_key())
    second._create_file(Fernet.generate_key())  # lost the race: keeps the first key
    assert first.keyring().primary_id == second.keyring().primary_id
    assert len(first.read_file()) == 1


def test_lazyaf_secret_key_wins_and_the_old_key_file_still_reads(store: KeyStore) -> None:
    old = store.keyring(create=True).seal("from the file")
    env_key = Fernet.generate_key()
    both = KeyStore(env_keys=f" {env_key.decode()} ", key_file=store.key_file)
    ring = both.keyring()
    assert ring.primary_id == secretbox.key_id(env_key)
    assert ring.open(old) == "from the file"
    assert ring.seal("new").key_id == secretbox.key_id(env_key)


def test_a_malformed_key_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError, match="not a Fernet key.*Fernet.generate_key"):
        KeyStore(env_keys="hunter2", key_file=tmp_path / "k").keyring()


def test_a_secret_under_a_lost_key_says_which_key(store: KeyStore, tmp_path: Path) -> None:
    sealed = store.keyring(create=True).seal("x")
    other = KeyStore(env_keys=None, key_file=tmp_path / "other.key").keyring(create=True)
    with pytest.raises(SecretKeyError, match=f"encrypted with key {sealed.key_id}, which is not among"):
        other.open(sealed)


async def test_an_encrypted_column_refuses_a_plain_string(
    db: tuple[AsyncEngine, async_sessionmaker[AsyncSession]],
) -> None:
    _, maker = db
    async with maker() as session:
        session.add(Vault(id=1, name="r", token="ghp_plain"))  # type: ignore[arg-type]
        with pytest.raises(Exception, match="takes a Sealed value"):
            await session.commit()
    async with maker() as session:
        assert (await session.execute(select(Vault))).first() is None


async def test_the_database_file_never_holds_a_secret_in_clear(
    tmp_path: Path, store: KeyStore, db: tuple[AsyncEngine, async_sessionmaker[AsyncSession]]
) -> None:
    engine, maker = db
    await _fill(store, maker)
    raw = _disk_bytes(tmp_path / "data")
    assert b"repo5" in raw  # the data is there, and readable...
    for token in TOKENS:
        assert token.encode() not in raw  # ...but no secret is
    assert b"whsec-0" not in raw
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT token FROM vault WHERE id = 1"))).scalar_one()
    assert stored.startswith(f"fernet:{store.keyring().primary_id}:")
    assert store.key_file.read_bytes() not in raw


def test_encrypted_columns_are_found_through_the_metadata() -> None:
    found = [(t.name, c.name) for t, c in secretbox.encrypted_columns(VaultBase.metadata)]
    assert found == [("vault", "token"), ("vault", "webhook_secret")]


async def test_rotation_re_encrypts_everything_and_retires_the_old_key(
    tmp_path: Path, store: KeyStore, db: tuple[AsyncEngine, async_sessionmaker[AsyncSession]]
) -> None:
    _, maker = db
    await _fill(store, maker)
    old_id = store.keyring().primary_id
    server = KeyStore(env_keys=None, key_file=store.key_file)  # a running server's view of the keys
    assert server.keyring().primary_id == old_id
    report = await secretbox.rotate(store, maker, metadata=VaultBase.metadata)
    assert report.rotated == len(TOKENS) + 4 and report.retired == [old_id]
    plaintexts, kids = await _read_all(store, maker)
    assert plaintexts == TOKENS and kids == {report.key_id} != {old_id}
    assert [secretbox.key_id(k) for k in store.read_file()] == [report.key_id]
    assert server.keyring().seal("x").key_id == report.key_id  # the server re-read the file
    assert stat.S_IMODE(store.key_file.stat().st_mode) == 0o600
    for token in TOKENS:
        assert token.encode() not in _disk_bytes(tmp_path / "data")
    again = await secretbox.rotate(store, maker, metadata=VaultBase.metadata)
    assert again.rotated == len(TOKENS) + 4 and again.key_id != report.key_id


async def test_a_crash_after_the_new_key_is_written_loses_nothing_and_a_rerun_finishes(
    store: KeyStore, db: tuple[AsyncEngine, async_sessionmaker[AsyncSession]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, maker = db
    await _fill(store, maker)
    old_id = store.keyring().primary_id
    calls = 0
    real_reseal = secretbox.Keyring.reseal

    def crash_midway(self: secretbox.Keyring, sealed: Sealed) -> Sealed:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise KeyboardInterrupt("power cut")
        return real_reseal(self, sealed)

    monkeypatch.setattr(secretbox.Keyring, "reseal", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        await secretbox.rotate(store, maker, metadata=VaultBase.metadata)
    monkeypatch.setattr(secretbox.Keyring, "reseal", real_reseal)
    keys = store.read_file()
    assert len(keys) == 2 and secretbox.key_id(keys[1]) == old_id  # both keys kept
    plaintexts, kids = await _read_all(store, maker)
    assert plaintexts == TOKENS and kids == {old_id}  # the transaction rolled back: all readable
    report = await secretbox.rotate(store, maker, metadata=VaultBase.metadata)
    assert report.key_id == secretbox.key_id(keys[0])  # finished the same rotation, no third key
    plaintexts, kids = await _read_all(store, maker)
    assert plaintexts == TOKENS and kids == {report.key_id}
    assert len(store.read_file()) == 1


async def test_rotation_under_lazyaf_secret_key_uses_its_first_key(
    store: KeyStore, db: tuple[AsyncEngine, async_sessionmaker[AsyncSession]]
) -> None:
    _, maker = db
    old, new = Fernet.generate_key(), Fernet.generate_key()
    await _fill(KeyStore(env_keys=old.decode(), key_file=store.key_file), maker)
    rotating = KeyStore(env_keys=f"{new.decode()},{old.decode()}", key_file=store.key_file)
    with pytest.raises(SecretKeyError, match="put the new key first"):
        await secretbox.rotate(rotating, maker, metadata=VaultBase.metadata, new_key=Fernet.generate_key())
    report = await secretbox.rotate(rotating, maker, metadata=VaultBase.metadata)
    assert report.key_id == secretbox.key_id(new) and report.retired == [secretbox.key_id(old)]
    assert not store.key_file.exists()
    plaintexts, kids = await _read_all(KeyStore(env_keys=new.decode(), key_file=store.key_file), maker)
    assert plaintexts == TOKENS and kids == {report.key_id}


def test_settings_read_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("LAZYAF_SECRET_KEY", key)
    monkeypatch.setenv("LAZYAF_SECRET_KEY_FILE", str(tmp_path / "elsewhere.key"))
    settings = Settings(data_dir=tmp_path)
    assert key not in repr(settings)
    store = secretbox.key_store(settings)
    assert store.keyring().primary_id == secretbox.key_id(key.encode())
    assert store.key_file == tmp_path / "elsewhere.key" and key not in repr(store)
    monkeypatch.setenv("LAZYAF_SECRET_KEY", "")
    assert Settings(data_dir=tmp_path).secret_key is None
    assert os.environ["LAZYAF_SECRET_KEY"] == ""
