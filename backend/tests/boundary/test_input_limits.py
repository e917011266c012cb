"""Bad input gets a 4xx, never a 500: integer ranges, control characters, long text, remote URLs, file modes.

Integer parameters are found in the OpenAPI document, so a new one without a bound fails here.
"""

from __future__ import annotations

import json
import re
import sqlite3
import stat
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.sync.client as ws_client
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from lazyaf.db.migrate import upgrade
from lazyaf.main import create_app
from lazyaf.settings import Settings
from lazyaf.testing import LiveServer
from lazyaf.validation import INT64_MAX, strip_credentials
from tests.boundary.support import fill, snapshot
from tests.gitutil import git, make_source_repo

# -- integers --------------------------------------------------------------------------------------


def _integer_query_parameters(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                schema = param["schema"]
                options = schema.get("anyOf", [schema])
                for option in options:
                    if option.get("type") == "integer" and param["in"] == "query":
                        found.append((f"{method.upper()} {path}", param["name"], option))
    return found


def _integer_body_fields(app: FastAPI) -> list[tuple[str, dict[str, Any]]]:
    """Integer properties of every schema a request body can reach."""
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    todo = [
        name
        for operations in spec["paths"].values()
        for operation in operations.values()
        for name in re.findall(r"#/components/schemas/(\w+)", json.dumps(operation.get("requestBody", {})))
    ]
    seen: set[str] = set()
    found = []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(re.findall(r"#/components/schemas/(\w+)", json.dumps(schemas[name])))
        for field, schema in schemas[name].get("properties", {}).items():
            for option in schema.get("anyOf", [schema]):
                if option.get("type") == "integer":
                    found.append((f"{name}.{field}", option))
    return found


def test_every_integer_parameter_and_field_is_bounded(app: FastAPI) -> None:
    params = _integer_query_parameters(app)
    fields = _integer_body_fields(app)
    assert len(params) >= 8 and len(fields) >= 5, (params, fields)
    for where, schema in [(f"{op} ?{name}", s) for op, name, s in params] + fields:
        assert "minimum" in schema, f"{where} has no minimum"
        # (The document may carry the bound as a float: 2**63 - 1 prints as 9.223372036854776e18.)
        assert "maximum" in schema and schema["maximum"] <= float(INT64_MAX), f"{where} may exceed int64"


async def test_integer_query_parameters_past_their_bound_get_a_422(
    app: FastAPI,
    raw: httpx.AsyncClient,
    world: dict[str, str],
    settings: Settings,
) -> None:
    before = snapshot(settings)
    for operation, name, schema in _integer_query_parameters(app):
        method, template = operation.split(" ", 1)
        path = fill(template, world)
        for value, expected in ((2**63, 422), (schema["maximum"] + 1, 422), (schema["minimum"] - 1, 422)):
            response = await raw.request(method, path, params={"attempt": 1, "session_id": "x", name: value})
            assert response.status_code == expected, (operation, name, value, response.text)
            assert name in response.json()["detail"]
        if method == "GET":
            response = await raw.get(path, params={name: schema["maximum"]})
            assert response.status_code < 500, (operation, name, response.text)
    assert snapshot(settings) == before


async def test_integer_body_fields_past_int64_get_a_422(
    raw: httpx.AsyncClient,
    world: dict[str, str],
    settings: Settings,
) -> None:
    before = snapshot(settings)
    card = f"/api/cards/{world['card_id']}"
    for method, path, body in [
        ("PATCH", card, {"position": 2**63}),
        ("PATCH", card, {"position": -1}),
        ("POST", f"{card}/comments", {"body": "x", "line": 2**63}),
        ("POST", f"/api/repos/{world['repo_id']}/cards", {"title": "t", "priority": 2**64}),
        ("POST", "/api/runners/scale", {"kind": "local", "count": 2**63}),
    ]:
        response = await raw.request(method, path, json=body)
        assert response.status_code == 422, (path, body, response.text)
    assert snapshot(settings) == before
    top = await raw.patch(card, json={"position": INT64_MAX})  # the largest allowed: the column's end
    assert top.status_code == 200 and top.json()["position"] <= 1


def test_the_board_socket_bounds_since(live: LiveServer) -> None:
    url = live.url.replace("http://", "ws://") + "/ws?since="
    with pytest.raises((InvalidStatus, ConnectionClosedError)):
        with ws_client.connect(url + str(2**63), open_timeout=10) as socket:
            socket.recv(timeout=10)
    with ws_client.connect(url + str(INT64_MAX), open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "hello"


# -- text ------------------------------------------------------------------------------------------

CONTROL = ["\x00", "\x1b[2J", "\x07", "\x7f", "\x9b31m", "\x0b", "\x0c"]


@pytest.mark.parametrize("char", CONTROL, ids=[repr(c) for c in CONTROL])
async def test_control_characters_are_refused_in_text(
    raw: httpx.AsyncClient,
    world: dict[str, str],
    settings: Settings,
    char: str,
) -> None:
    before = snapshot(settings)
    cards = f"/api/repos/{world['repo_id']}/cards"
    card = f"/api/cards/{world['card_id']}"
    for method, path, body, field in [
        ("POST", cards, {"title": f"a{char}b"}, "title"),
        ("POST", cards, {"title": "ok", "description": f"a{char}b"}, "description"),
        ("PATCH", card, {"title": f"a{char}b"}, "title"),
        ("PATCH", card, {"description": f"x{char}y"}, "description"),
        ("POST", f"{card}/comments", {"body": f"see{char}this"}, "body"),
        ("POST", f"{card}/comments", {"body": "ok", "file": f"a{char}.py"}, "file"),
        ("PATCH", f"/api/repos/{world['repo_id']}", {"test_command": f"py{char}test"}, "test_command"),
        ("PATCH", f"/api/repos/{world['repo_id']}", {"remote_url": f"https://h/r{char}.git"}, "remote_url"),
        ("POST", "/api/repos", {"name": f"r{char}x"}, "name"),
    ]:
        response = await raw.request(method, path, json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["detail"], response.text
    response = await raw.get(cards, params={"q": f"a{char}"})
    assert response.status_code == 422
    assert snapshot(settings) == before


async def test_a_nul_title_is_refused_with_a_sentence(raw: httpx.AsyncClient, world: dict[str, str]) -> None:
    response = await raw.post(f"/api/repos/{world['repo_id']}/cards", json={"title": "Fix\x00it"})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "Invalid request: title: Value error, must be one line without control characters (found U+0000)."
    )
    titles = [c["title"] for c in (await raw.get(f"/api/repos/{world['repo_id']}/cards")).json()]
    assert not any("Fix" in t for t in titles)


async def test_lone_surrogates_are_refused(raw: httpx.AsyncClient, world: dict[str, str]) -> None:
    path = f"/api/cards/{world['card_id']}/comments"
    response = await raw.post(
        path, content=b'{"body": "a\\ud800b"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_tabs_and_line_breaks_are_kept_where_text_spans_lines(
    raw: httpx.AsyncClient,
    world: dict[str, str],
) -> None:
    text = "Line one\n\tindented\r\nline three"
    card = await raw.post(f"/api/repos/{world['repo_id']}/cards", json={"title": "a\tb", "description": text})
    assert card.status_code == 201, card.text
    assert card.json()["description"] == text
    assert (await raw.post(f"/api/repos/{world['repo_id']}/cards", json={"title": "a\nb"})).status_code == 422
    repo = await raw.patch(f"/api/repos/{world['repo_id']}", json={"test_command": "set -e\npytest -q"})
    assert repo.json()["test_command"] == "set -e\npytest -q"


async def test_a_card_at_the_length_limit_in_three_byte_characters(
    raw: httpx.AsyncClient,
    world: dict[str, str],
) -> None:
    description = "€" * 50_000  # 150,000 bytes of UTF-8, 300,000 as JSON escapes
    cards = f"/api/repos/{world['repo_id']}/cards"
    escaped = json.dumps({"title": "Euros", "description": description}).encode()  # ensure_ascii
    created = await raw.post(cards, content=escaped, headers={"content-type": "application/json"})
    assert created.status_code == 201, created.text[:300]
    stored = (await raw.get(f"/api/cards/{created.json()['id']}")).json()["description"]
    assert stored == description
    over = await raw.post(cards, json={"title": "Euros", "description": description + "€"})
    assert over.status_code == 422 and "description" in over.json()["detail"]


# -- remote URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://user:ghp_abcdef123456@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://ghp_abcdef123456@github.com/o/r.git", "https://github.com/o/r.git"),
        ("http://a%40b:p%3Ass@host:8080/r.git?x=1#f", "http://host:8080/r.git?x=1#f"),
        ("HTTPS://tok@GitHub.com/o/r", "HTTPS://GitHub.com/o/r"),
        ("ssh://git:hunter2@github.com/o/r.git", "ssh://git@github.com/o/r.git"),
        ("ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("/srv/git/r.git", "/srv/git/r.git"),
        ("https://github.com/o/r@v1.git", "https://github.com/o/r@v1.git"),
    ],
)
def test_credentials_are_stripped_from_remote_urls(given: str, stored: str) -> None:
    assert strip_credentials(given) == stored


async def test_remote_url_credentials_are_never_stored(
    raw: httpx.AsyncClient,
    settings: Settings,
) -> None:
    secret = "ghp_NeverStoreThis0123456789"
    url = f"https://me:{secret}@github.com/me/proj.git"
    created = await raw.post("/api/repos/ingest", json={"name": "creds", "remote_url": url})
    assert created.status_code == 201
    assert created.json()["remote_url"] == "https://github.com/me/proj.git"
    other = (await raw.post("/api/repos", json={"name": "other"})).json()
    patched = await raw.patch(f"/api/repos/{other['id']}", json={"remote_url": url})
    assert patched.json()["remote_url"] == "https://github.com/me/proj.git"
    listed = (await raw.get("/api/repos")).text
    assert secret not in listed
    db = settings.sqlite_path
    assert db is not None
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert secret.encode() not in db.read_bytes()
    assert not Path(f"{db}-wal").exists() or secret.encode() not in Path(f"{db}-wal").read_bytes()


async def test_a_remote_url_that_is_an_option_is_refused(raw: httpx.AsyncClient, settings: Settings) -> None:
    before = snapshot(settings)
    for url in ("--upload-pack=touch /tmp/pwned", "-oProxyCommand=id", "  -x"):
        response = await raw.post("/api/repos", json={"name": "opt", "remote_url": url})
        assert response.status_code == 422, response.text
        assert "must not start with '-'" in response.json()["detail"]
    assert snapshot(settings) == before


def test_the_migration_strips_credentials_stored_before(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{db}"
    upgrade(url, "1b04bf60109a")
    with sqlite3.connect(db) as conn:
        for i, remote in enumerate(
            ["https://x:ghp_old@github.com/o/r.git", "git@github.com:o/r.git", "ssh://u:pw@h/r", None]
        ):
            conn.execute(
                "INSERT INTO repo (id, name, remote_url, default_branch, is_ingested, merge_strategy, "
                "created_at, updated_at) VALUES (?, ?, ?, 'main', 0, 'auto', '2026-01-01', '2026-01-01')",
                (f"{i:032x}", f"r{i}", remote),
            )
    upgrade(url, "dc9d2985d4a1")
    with sqlite3.connect(db) as conn:
        remotes = [r[0] for r in conn.execute("SELECT remote_url FROM repo ORDER BY name")]
    assert remotes == ["https://github.com/o/r.git", "git@github.com:o/r.git", "ssh://u@h/r", None]


# -- files -----------------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_and_its_files_are_the_users_alone(tmp_path: Path, migrated_db: Path) -> None:
    data = tmp_path / "new" / "data"
    settings = Settings(data_dir=data, log_format="console")
    settings.ensure_dirs()
    assert _mode(data) == 0o700
    for sub in ("git_repos", "logs", "sessions"):
        assert _mode(data / sub) == 0o700, sub
    database = data / "lazyaf.db"
    assert _mode(database) == 0o600
    database.write_bytes(migrated_db.read_bytes())
    database.chmod(0o644)  # as an older LazyAF left it
    app = create_app(settings)  # ensure_dirs again: existing files are closed too
    assert _mode(database) == 0o600

    async def write() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
                assert (await c.post("/api/repos", json={"name": "modes"})).status_code == 201
                for suffix in ("-wal", "-shm"):  # SQLite gives them the database's mode
                    assert _mode(Path(f"{database}{suffix}")) == 0o600, suffix

    import anyio

    anyio.run(write)


def test_lazyaf_serve_creates_nothing_others_can_read(
    serve_process: tuple[subprocess.Popen[bytes], int, Path],
    tmp_path: Path,
) -> None:
    proc, port, data = serve_process
    repo = httpx.post(f"http://127.0.0.1:{port}/api/repos/ingest", json={"name": "m"}).json()
    git("push", "-q", repo["clone_url"], "main", cwd=make_source_repo(tmp_path / "src", commits=1))
    card = httpx.post(f"http://127.0.0.1:{port}/api/repos/{repo['id']}/cards", json={"title": "t"})
    assert card.status_code == 201
    proc.terminate()
    proc.wait(timeout=30)
    assert _mode(data) == 0o700
    created = list(data.rglob("*"))
    assert any(p.name.endswith(".pack") or p.parent.name.startswith("pack") for p in created) or any(
        len(p.parent.name) == 2 for p in created
    ), "the push wrote no objects"
    assert (data / "lazyaf.db").is_file()
    readable = [str(p.relative_to(data)) for p in created if _mode(p) & (stat.S_IRWXG | stat.S_IRWXO)]
    assert readable == [], readable
