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


async def test_the_schedulers_decision_works_on_postgres(pg_url: str, tmp_path: Path) -> None:
    """Limits, aging order, usage and guarded claims (an advisory lock serializes decisions there)."""
    import asyncio
    import uuid
    from datetime import UTC, datetime, timedelta

    from lazyaf.cards.models import Card, CardStatus
    from lazyaf.jobs.models import Job, JobStatus
    from lazyaf.repos.models import Repo
    from lazyaf.runners.models import Runner, RunnerKind, RunnerStatus

    await anyio.to_thread.run_sync(upgrade, pg_url)
    app = create_app(Settings(data_dir=tmp_path, database_url=pg_url))
    now = datetime.now(UTC)
    async with app.router.lifespan_context(app):
        async with app.state.sessionmaker() as session:
            repo = Repo(id=uuid.uuid4(), name=f"limits-{uuid.uuid4().hex[:6]}")
            session.add(repo)
            await session.flush()
            queued = []
            for i, (priority, minutes) in enumerate(((3, 0), (0, 50), (1, 1))):
                card = Card(repo_id=repo.id, title=f"c{i}", status=CardStatus.IN_PROGRESS, position=i)
                session.add(card)
                await session.flush()
                queued_at = now - timedelta(minutes=minutes)
                job = Job(card_id=card.id, priority=priority, queued_at=queued_at)
                session.add(job)
                queued.append(job)
            done = Card(repo_id=repo.id, title="done", status=CardStatus.IN_REVIEW)
            session.add(done)
            await session.flush()
            ended = now - timedelta(minutes=1)
            session.add(
                Job(
                    card_id=done.id,
                    status=JobStatus.COMPLETED,
                    cost_usd=0.5,
                    started_at=ended - timedelta(minutes=1),
                    completed_at=ended,
                )
            )
            runners = [
                Runner(name=f"pg-{i}", kind=RunnerKind.LOCAL, status=RunnerStatus.IDLE) for i in range(3)
            ]
            session.add_all(runners)
            await session.commit()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            assert (await client.put("/api/limits", json={"max_running_per_repo": 1})).status_code == 200
            body = (await client.get("/api/queue")).json()
            # 50 minutes of waiting outrank priority 3 (aging: 600 s a level).
            assert [e["card_title"] for e in body["jobs"]] == ["c1", "c0", "c2"]
            assert (
                body["jobs"][1]["reason"]["message"]
                == f"held: max_running_per_repo 1 of 1 in repo {repo.name}"
            )
            assert (await client.get("/api/limits")).json()["usage"]["spent_usd"] == 0.5

        async def claim(runner: Runner) -> object:
            async with app.state.sessionmaker() as session:
                claimed = await app.state.dispatcher.claim(session=session, runner_id=runner.id)
                await session.commit()
            return claimed[0].id if claimed else None

        got = await asyncio.gather(*(claim(r) for r in runners))
        assert [j for j in got if j is not None] == [queued[1].id]
