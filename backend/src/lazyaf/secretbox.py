"""Secrets at rest: Fernet tokens, an encrypted column type, and key rotation.

Keys. ``LAZYAF_SECRET_KEY`` holds one or more Fernet keys, comma-separated, newest first; without
it the key file (``LAZYAF_SECRET_KEY_FILE``, default ``<data dir>/secret.key``, mode 0600, one
key per line, newest first) is used and created on first need. The database never holds a key:
a copied ``lazyaf.db`` or a PostgreSQL dump reveals no secret. When both are present the
variable's keys encrypt and the file's keys still decrypt (moving from the file to the variable is
"set it, then rotate").

Values. ``keyring.seal("ghp_…")`` gives a ``Sealed``: the key id (a short fingerprint of the key
that encrypted it) and the Fernet token, stored as ``fernet:<key id>:<token>``. A model declares a
secret column in one line, ``token: Mapped[Sealed | None] = encrypted_column()``; the column type
refuses plain strings, so a secret cannot be stored in clear by mistake, and ``Sealed`` never
shows its token in a repr or log line. ``keyring.open(sealed)`` gives the plaintext back.

Rotation. ``rotate(...)`` finds every encrypted column through the metadata (the registry is the
column type itself), and:
  1. puts a new primary key first in the key file, keeping the old ones (MultiFernet: everything
     stays readable, whatever happens next);
  2. re-encrypts every value not under the primary, each row by compare-and-swap, in one
     transaction;
  3. drops the retired keys from the file once no value uses them.
A crash at any point leaves every value readable; running ``rotate`` again finishes the job (a
file with more than one key *is* an unfinished rotation). A running server re-reads the key file
when it changes, so it encrypts under the new key as soon as step 1 is on disk.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Column, MetaData, Table, Text, TypeDecorator, and_, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import MappedColumn, mapped_column

from lazyaf.errors import LazyAFError
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)

SCHEME = "fernet"


class SecretKeyError(LazyAFError):
    """The keys are missing, malformed, or cannot read a stored secret."""

    code = "secret_key_error"


def key_id(key: bytes) -> str:
    """A short, stable fingerprint of a key (not of any secret): 8 hex digits."""
    return hashlib.sha256(b"lazyaf-secret-key:" + key).hexdigest()[:8]


def generate_key() -> bytes:
    return Fernet.generate_key()


@dataclass(frozen=True)
class Sealed:
    """An encrypted secret: the id of the key that sealed it and its Fernet token. Opaque in logs."""

    key_id: str
    token: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Sealed(key_id={self.key_id!r})"

    __str__ = __repr__

    @property
    def stored(self) -> str:
        return f"{SCHEME}:{self.key_id}:{self.token}"

    @classmethod
    def parse(cls, stored: str) -> Sealed:
        scheme, _, rest = stored.partition(":")
        kid, _, token = rest.partition(":")
        if scheme != SCHEME or not kid or not token:
            raise SecretKeyError(
                "A stored secret is not in the fernet:<key id>:<token> form; it cannot be read."
            )
        return cls(key_id=kid, token=token)


class Keyring:
    """Keys newest first: the first seals, all of them open."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise SecretKeyError(
                "No secret key is configured; set LAZYAF_SECRET_KEY or let LazyAF create its key file."
            )
        try:
            self._fernets = [Fernet(k) for k in keys]
        except ValueError as exc:
            raise SecretKeyError(
                "A secret key is not a Fernet key (32 url-safe base64-encoded bytes); make one with: "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
            ) from exc
        self.key_ids = [key_id(k) for k in keys]
        self._multi = MultiFernet(self._fernets)

    def __repr__(self) -> str:
        return f"Keyring(key_ids={self.key_ids!r})"

    @property
    def primary_id(self) -> str:
        return self.key_ids[0]

    def seal(self, plaintext: str) -> Sealed:
        """Encrypt ``plaintext`` under the primary key."""
        return Sealed(self.primary_id, self._fernets[0].encrypt(plaintext.encode()).decode())

    def open(self, sealed: Sealed) -> str:
        """The plaintext of ``sealed``; any key of the ring may have sealed it."""
        try:
            return self._multi.decrypt(sealed.token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"A stored secret was encrypted with key {sealed.key_id}, which is not among the "
                f"configured keys ({', '.join(self.key_ids)}); restore that key (LAZYAF_SECRET_KEY or "
                "the key file) or enter the secret again."
            ) from None

    def reseal(self, sealed: Sealed) -> Sealed:
        """``sealed`` under the primary key (unchanged when it already is)."""
        if sealed.key_id == self.primary_id:
            return sealed
        try:
            token = self._multi.rotate(sealed.token.encode()).decode()
        except InvalidToken:
            self.open(sealed)  # raises the explanatory error
            raise
        return Sealed(self.primary_id, token)


class SealedType(TypeDecorator[Sealed]):
    """A column of ``Sealed`` values, stored as text. Plain strings are refused."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Sealed):
            raise TypeError(
                "An encrypted column takes a Sealed value: store keyring.seal(secret), never the secret."
            )
        return value.stored

    def process_result_value(self, value: Any, dialect: Dialect) -> Sealed | None:
        return None if value is None else Sealed.parse(value)


def encrypted_column(*, nullable: bool = True) -> MappedColumn[Any]:
    """``token: Mapped[Sealed | None] = encrypted_column()``: an encrypted secret column."""
    return mapped_column(SealedType(), nullable=nullable)


def encrypted_columns(metadata: MetaData) -> list[tuple[Table, Column[Any]]]:
    """Every encrypted column of ``metadata``'s tables: what rotation must re-encrypt."""
    return [
        (table, column)
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, SealedType)
    ]


class KeyStore:
    """Where the keys live (the variable and/or the key file); hands out a current ``Keyring``."""

    def __init__(self, *, env_keys: str | None, key_file: Path) -> None:
        self.env_keys = [k.strip().encode() for k in (env_keys or "").split(",") if k.strip()]
        self.key_file = key_file
        self._cached: tuple[tuple[int, int, int] | None, Keyring | None] = (None, None)

    def __repr__(self) -> str:
        return f"KeyStore(key_file={str(self.key_file)!r}, from_env={bool(self.env_keys)})"

    @property
    def uses_env(self) -> bool:
        return bool(self.env_keys)

    def keyring(self, *, create: bool = False) -> Keyring:
        """The current keys; ``create`` makes the key file when there are no keys at all."""
        stamp = _stamp(self.key_file)
        cached_stamp, cached = self._cached
        if cached is not None and cached_stamp == stamp:
            return cached
        file_keys = self.read_file()
        if not self.env_keys and not file_keys:
            if not create:
                raise SecretKeyError(
                    f"No secret key: LAZYAF_SECRET_KEY is not set and {self.key_file} does not exist; "
                    "secrets stored before cannot be read without their key."
                )
            self._create_file(generate_key())
            return self.keyring()
        keyring = Keyring(self.env_keys + [k for k in file_keys if k not in self.env_keys])
        self._cached = (_stamp(self.key_file), keyring)
        return keyring

    def read_file(self) -> list[bytes]:
        try:
            text = self.key_file.read_text(encoding="ascii")
        except FileNotFoundError:
            return []
        mode = self.key_file.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("secret_key_file_open_to_others", path=str(self.key_file), mode=oct(mode))
        return [
            line.strip().encode() for line in text.splitlines() if line.strip() and not line.startswith("#")
        ]

    def write_file(self, keys: Sequence[bytes]) -> None:
        """Replace the key file atomically (0600, fsynced, renamed into place)."""
        _write_private(self.key_file, _file_text(keys), replace=True)

    def _create_file(self, key: bytes) -> None:
        # Two processes starting at once must end with one key: create-if-absent via link().
        _write_private(self.key_file, _file_text([key]), replace=False)
        log.info("secret_key_file_created", path=str(self.key_file), key_id=key_id(key))


def _file_text(keys: Sequence[bytes]) -> str:
    header = "# LazyAF secret keys, newest first (Fernet). Losing this file loses every stored secret.\n"
    return header + "".join(k.decode() + "\n" for k in keys)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _write_private(path: Path, text: str, *, replace: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-key-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process made it first; use theirs
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def key_store(settings: Settings) -> KeyStore:
    """The key store ``settings`` describe (the app keeps one as ``app.state.secrets``)."""
    env = settings.secret_key.get_secret_value() if settings.secret_key else None
    return KeyStore(env_keys=env, key_file=settings.secret_key_path)


@dataclass
class RotationReport:
    key_id: str  # the primary key every secret is now under
    rotated: int  # values re-encrypted
    retired: list[str]  # key ids no longer needed (dropped from the key file; remove them from the variable)


async def rotate(
    store: KeyStore,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    metadata: MetaData | None = None,
    new_key: bytes | None = None,
) -> RotationReport:
    """Re-encrypt every stored secret under a new key (see the module docstring for the steps)."""
    if metadata is None:
        from lazyaf.models import Base

        metadata = Base.metadata
    if store.uses_env:
        if new_key is not None:
            raise SecretKeyError(
                "LAZYAF_SECRET_KEY is set: put the new key first in it (comma-separated, keep the old "
                "one after it) and run the rotation again."
            )
    else:
        file_keys = store.read_file()
        if len(file_keys) <= 1:  # otherwise an interrupted rotation: finish it under its primary
            store.write_file([new_key or generate_key(), *file_keys])
    keyring = store.keyring(create=True)
    rotated = 0
    for _ in range(3):  # a writer still holding the old key may slip a value in; sweep again
        moved = await _reseal_all(keyring, sessionmaker, metadata)
        rotated += moved
        if moved == 0 or await _count_stale(keyring, sessionmaker, metadata) == 0:
            break
    if await _count_stale(keyring, sessionmaker, metadata):
        raise SecretKeyError("Secrets kept arriving under an old key during the rotation; run it again.")
    retired = keyring.key_ids[1:]
    if not store.uses_env and retired:
        store.write_file([k for k in store.read_file() if key_id(k) == keyring.primary_id])
    log.info("secrets_rotated", key_id=keyring.primary_id, rotated=rotated, retired=retired)
    return RotationReport(key_id=keyring.primary_id, rotated=rotated, retired=retired)


async def rotate_with_settings(settings: Settings, *, new_key: bytes | None = None) -> RotationReport:
    """``rotate`` over the database and keys ``settings`` name (``lazyaf secrets rotate``)."""
    from lazyaf.db.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.sqlalchemy_url)
    try:
        return await rotate(key_store(settings), make_sessionmaker(engine), new_key=new_key)
    finally:
        await engine.dispose()


async def _reseal_all(
    keyring: Keyring, sessionmaker: async_sessionmaker[AsyncSession], metadata: MetaData
) -> int:
    moved = 0
    async with sessionmaker() as session, session.begin():
        for table, column in encrypted_columns(metadata):
            keys = list(table.primary_key.columns)
            rows = (await session.execute(select(*keys, column).where(column.is_not(None)))).all()
            for row in rows:
                sealed: Sealed = row[-1]
                if sealed.key_id == keyring.primary_id:
                    continue
                match = and_(*(k == v for k, v in zip(keys, row[:-1], strict=True)), column == sealed)
                result = await session.execute(
                    update(table).where(match).values({column.name: keyring.reseal(sealed)})
                )
                moved += result.rowcount  # type: ignore[attr-defined]
    return moved


async def _count_stale(
    keyring: Keyring, sessionmaker: async_sessionmaker[AsyncSession], metadata: MetaData
) -> int:
    stale = 0
    async with sessionmaker() as session:
        for _table, column in encrypted_columns(metadata):
            values = (await session.execute(select(column).where(column.is_not(None)))).scalars()
            stale += sum(1 for v in values if v.key_id != keyring.primary_id)
    return stale
