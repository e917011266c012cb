"""PostgreSQL works by changing the database URL: migrations and the API on a throwaway cluster.

The cluster comes from the machine's PostgreSQL server binaries (Debian's `postgresql`, which
.ci/run installs). On a developer machine without them these tests are skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio.to_thread
import httpx
import pytest
from alembic import command

from lazyaf.db.migrate import alembic_config, downgrade, upgrade
from lazyaf.main import create_app
from lazyaf.settings import Settings
from lazyaf.testing import free_port

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
INITDB = shutil.which("initdb") or next(
    (str(d / "initdb") for d in BIN_DIRS if (d / "initdb").exists()), None
)

pytestmark = pytest.mark.skipif(
    INITDB is None or shutil.which("psql") is None and not BIN_DIRS,
    reason="PostgreSQL server binaries (Debian package postgresql) are not installed",
)


def _as_postgres(args: list[str]) -> list[str]:
    # initdb refuses to run as root; Debian's package creates the postgres user.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    assert INITDB is not None
    bindir = Path(os.path.realpath(INITDB)).parent
    root = Path(tempfile.mkdtemp(prefix="lazyaf-pg-"))
    root.chmod(0o755)
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "lazyaf", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(root / "log"),
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            _as_postgres(
                [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "lazyaf", "lazyaf"]
            ),
            check=True,
            capture_output=True,
        )
        yield f"postgresql+asyncpg://lazyaf@127.0.0.1:{port}/lazyaf"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def test_migrations_round_trip_without_drift_on_postgres(pg_url: str) -> None:
    upgrade(pg_url)
    command.check(alembic_config(pg_url))
    downgrade(pg_url, "base")
    upgrade(pg_url)


async def test_api_works_on_postgres(pg_url: str, tmp_path: Path) -> None:
    await anyio.to_thread.run_sync(upgrade, pg_url)  # alembic runs its own event loop
    app = create_app(Settings(data_dir=tmp_path, database_url=pg_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            assert (await client.get("/api/health")).json()["database"] == "postgresql"
            repo = (await client.post("/api/repos", json={"name": "pg"})).json()
            cards = [
                (await client.post(f"/api/repos/{repo['id']}/cards", json={"title": t})).json() for t in "AB"
            ]
            moved = await client.patch(f"/api/cards/{cards[1]['id']}", json={"position": 0})
            assert moved.json()["position"] == 0
            listed = (await client.get(f"/api/repos/{repo['id']}/cards", params={"q": "a"})).json()
            assert [c["title"] for c in listed] == ["A"]
            assert (await client.post("/api/repos", json={"name": "pg"})).status_code == 409
            assert (await client.delete(f"/api/repos/{repo['id']}")).status_code == 204
            assert (await client.get("/api/repos")).json() == []
