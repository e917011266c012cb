"""The board's static files at /, its OpenAPI-generated types, and the tile data endpoint."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from lazyaf import openapi as openapi_dump
from lazyaf.main import create_app
from lazyaf.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>LazyAF board</title>")
    (root / "assets" / "index-abc123.js").write_text("console.log('board')")
    (root / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(b"console.log('board')"))
    (root / "favicon.svg").write_text("<svg/>")
    return root


@pytest.fixture
def board_app(settings: Settings, dist: Path) -> FastAPI:
    settings.frontend_dir = dist
    return create_app(settings)


async def _get(
    app: FastAPI,
    path: str,
    client: tuple[str, int] = ("127.0.0.1", 5000),
    base_url: str = "http://localhost:8765",
    **kwargs: object,
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as c:
        return await c.get(path, **kwargs)  # type: ignore[arg-type]


async def test_the_board_is_served_at_the_root(board_app: FastAPI) -> None:
    page = await _get(board_app, "/")
    assert page.status_code == 200 and "LazyAF board" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_cached_and_sent_gzipped(board_app: FastAPI) -> None:
    plain = await _get(board_app, "/assets/index-abc123.js", headers={"accept-encoding": "identity"})
    assert plain.status_code == 200 and plain.text == "console.log('board')"
    assert "content-encoding" not in plain.headers
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["content-type"].startswith("text/javascript")
    packed = await _get(board_app, "/assets/index-abc123.js", headers={"accept-encoding": "gzip, br"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.text == "console.log('board')"  # httpx decoded the gzip body


async def test_client_paths_get_the_app_and_missing_files_a_404(board_app: FastAPI) -> None:
    assert "LazyAF board" in (await _get(board_app, "/some/board/view")).text
    missing = await _get(board_app, "/assets/gone-123.js")
    assert missing.status_code == 404
    escape = await _get(board_app, "/../../etc/passwd")
    assert escape.status_code in (200, 404) and "root:" not in escape.text


async def test_unknown_api_paths_stay_json_errors(board_app: FastAPI) -> None:
    response = await _get(board_app, "/api/no-such-thing")
    assert response.status_code == 404
    assert response.json()["detail"]


async def test_an_unbuilt_board_says_how_to_build_it(settings: Settings, tmp_path: Path) -> None:
    settings.frontend_dir = tmp_path / "nothing-here"
    page = await _get(create_app(settings), "/")
    assert page.status_code == 200
    assert "make run" in page.text and "npm run build" in page.text


async def test_off_loopback_the_board_loads_but_its_data_needs_the_token(
    board_app: FastAPI, settings: Settings
) -> None:
    settings.token = "s3cret-token"  # type: ignore[assignment]
    settings.allowed_hosts = ["lazyaf"]
    app = create_app(settings)
    remote = ("192.0.2.10", 4000)
    base = "http://lazyaf"
    assert (await _get(app, "/", client=remote, base_url=base)).status_code == 200
    assert (await _get(app, "/assets/index-abc123.js", client=remote, base_url=base)).status_code == 200
    for path in ("/api/repos", "/openapi.json", "/docs", "/docs/assets/swagger-ui-bundle.js"):
        assert (await _get(app, path, client=remote, base_url=base)).status_code == 401, path


def test_the_boards_api_types_match_the_api() -> None:
    committed = (ROOT / "frontend" / "src" / "lib" / "api" / "openapi.json").read_text()
    assert json.loads(committed) == json.loads(openapi_dump.render()), (
        "frontend/src/lib/api/openapi.json is stale: run scripts/gen-api.sh and commit the result"
    )


def test_current_jobs_gives_each_cards_latest_job(settings: Settings, tmp_path: Path) -> None:
    from lazyaf.testing import live_server
    from tests.jobs.conftest import ingest

    with live_server(settings, migrate=False) as srv:
        repo = ingest(srv, tmp_path)
        started, idle = (
            httpx.post(srv.api(f"/repos/{repo['id']}/cards"), json={"title": t}).json()
            for t in ("Started", "Idle")
        )
        assert httpx.get(srv.api(f"/repos/{repo['id']}/current-jobs")).json() == []
        job = httpx.post(srv.api(f"/cards/{started['id']}/start")).json()
        jobs = httpx.get(srv.api(f"/repos/{repo['id']}/current-jobs")).json()
        assert [(j["id"], j["card_id"], j["status"]) for j in jobs] == [(job["id"], started["id"], "queued")]
        assert idle["id"] not in {j["card_id"] for j in jobs}
        missing = httpx.get(srv.api("/repos/00000000-0000-0000-0000-000000000000/current-jobs"))
        assert missing.status_code == 404 and missing.json()["detail"]


async def test_the_board_socket_takes_the_token_in_its_query(settings: Settings) -> None:
    from lazyaf.auth import AuthMiddleware, Refused, RunnerCredentials, UserPrincipal

    settings.token = "s3cret-token"  # type: ignore[assignment]
    auth = AuthMiddleware(
        app=None,  # type: ignore[arg-type]
        settings=settings,
        credentials=RunnerCredentials.load(settings),
        sessionmaker=None,  # type: ignore[arg-type]
    )

    def scope(path: str, query: bytes, kind: str = "websocket") -> dict[str, object]:
        return {
            "type": kind,
            "path": path,
            "query_string": query,
            "headers": [],
            "client": ("192.0.2.10", 4000),
        }

    async def allowed(request: dict[str, object]) -> bool:
        try:
            return await auth.classify(request) == UserPrincipal(with_token=True)
        except Refused:
            return False

    assert await allowed(scope("/ws", b"since=4&token=s3cret-token"))
    assert not await allowed(scope("/ws", b"token=wrong"))
    assert not await allowed(scope("/ws", b""))
    # Only the board socket: the API over plain HTTP still wants the header.
    assert not await allowed(scope("/api/repos", b"token=s3cret-token", kind="http"))


async def test_api_responses_carry_the_board_event_seq(client: httpx.AsyncClient, app: FastAPI) -> None:
    from sqlalchemy import select

    from lazyaf.events.models import BoardEvent

    before = await client.get("/api/repos")
    assert int(before.headers["x-lazyaf-seq"]) == app.state.bus.last_seq
    repo = (await client.post("/api/repos", json={"name": "seq-demo"})).json()
    await client.post(f"/api/repos/{repo['id']}/cards", json={"title": "One"})
    await client.patch(f"/api/repos/{repo['id']}", json={"name": "seq-demo-2"})
    assert (await client.delete(f"/api/repos/{repo['id']}")).status_code == 204
    async with app.state.sessionmaker() as session:
        events = (await session.scalars(select(BoardEvent).order_by(BoardEvent.seq))).all()
    kinds = [(e.type, e.data.get("repo_id") or e.data.get("card", {}).get("repo_id")) for e in events]
    assert kinds == [
        ("repo_updated", repo["id"]),
        ("card_updated", repo["id"]),
        ("repo_updated", repo["id"]),
        ("repo_deleted", repo["id"]),
    ]
    for _ in range(100):  # the pump publishes after commit
        if app.state.bus.last_seq == events[-1].seq:
            break
        await asyncio.sleep(0.02)
    after = await client.get("/api/repos")
    assert int(after.headers["x-lazyaf-seq"]) == events[-1].seq > int(before.headers["x-lazyaf-seq"])


async def test_a_write_is_committed_before_its_response_is_sent(app: FastAPI) -> None:
    """Each answer leaves only after its transaction committed: a client's next request sees it."""
    import asyncio

    import anyio

    order: list[str] = []

    async def watched(scope: dict[str, object], receive: object, send: object) -> None:
        async def watch_send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                order.append("response")
            await send(message)  # type: ignore[operator]

        await app(scope, receive, watch_send)  # type: ignore[arg-type]

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=watched, client=("127.0.0.1", 5000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            repo = (await c.post("/api/repos", json={"name": "commit-order"})).json()
            original = app.state.sessionmaker.class_.commit

            request_task = asyncio.current_task()

            async def slow_commit(self: object) -> None:
                await anyio.sleep(0.05)  # a busy disk: the commit lands late
                await original(self)
                # Only the request's own commit: background work (the queue watcher, admission)
                # commits in tasks of its own, whenever it likes.
                if asyncio.current_task() is request_task:
                    order.append("committed")

            app.state.sessionmaker.class_.commit = slow_commit
            order.clear()
            try:
                card = await c.post(f"/api/repos/{repo['id']}/cards", json={"title": "Now"})
            finally:
                app.state.sessionmaker.class_.commit = original
            assert card.status_code == 201
            assert order[:2] == ["committed", "response"], order


async def test_cards_come_a_page_at_a_time_with_the_total(client: httpx.AsyncClient) -> None:
    repo = (await client.post("/api/repos", json={"name": "paged"})).json()
    for i in range(5):
        await client.post(f"/api/repos/{repo['id']}/cards", json={"title": f"Card {i}"})
    first = await client.get(f"/api/repos/{repo['id']}/cards", params={"status": "todo", "limit": 2})
    assert [c["title"] for c in first.json()] == ["Card 0", "Card 1"]
    assert first.headers["x-total-count"] == "5"
    last = await client.get(f"/api/repos/{repo['id']}/cards", params={"limit": 2, "offset": 4})
    assert [c["title"] for c in last.json()] == ["Card 4"]
    found = await client.get(f"/api/repos/{repo['id']}/cards", params={"q": "card 3", "limit": 10})
    assert [c["title"] for c in found.json()] == ["Card 3"] and found.headers["x-total-count"] == "1"
    assert "x-total-count" not in (await client.get(f"/api/repos/{repo['id']}/cards")).headers
    bad = await client.get(f"/api/repos/{repo['id']}/cards", params={"limit": 0})
    assert bad.status_code == 422 and "limit" in bad.json()["detail"]
