"""Helpers for the boundary tests: a snapshot of everything stored, path filling, refusal checks."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI

from lazyaf.settings import Settings
from tests.gitutil import git


def snapshot(settings: Settings) -> dict[str, Any]:
    """Every row of every table, and every ref of every bare repo."""
    db = settings.sqlite_path
    assert db is not None
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables}
    refs = {
        bare.name: git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare).stdout
        for bare in sorted(settings.git_repos_dir.glob("*.git"))
    }
    return {"rows": rows, "refs": refs}


async def raw_client(app: FastAPI, base_url: str = "http://localhost") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as c:
        yield c


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    body = response.json()
    assert body["code"] == code
    assert body["detail"].endswith(".") and len(body["detail"]) > 40


def fill(path: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ids, f"add a value for the path parameter {name} to the world fixture"
        return ids[name]

    return re.sub(r"\{(\w+)\}", value, path)
