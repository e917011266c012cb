"""lazyaf repos: a small table, or the API's JSON."""

from __future__ import annotations

import json

import httpx
from cli_support import Invoke, api_repos, error_line, invoke
from lazyaf.testing import LiveServer


def _create(server: LiveServer, **body: str) -> dict[str, object]:
    response = httpx.post(server.api("/repos"), json=body, timeout=10)
    response.raise_for_status()
    repo: dict[str, object] = response.json()
    return repo


def test_no_repos_says_how_to_add_one(lazyaf: Invoke) -> None:
    result = lazyaf("repos")

    assert result.exit_code == 0
    assert result.stdout == "No repos yet; add one with `lazyaf ingest PATH`.\n"


def test_repos_are_listed_as_a_table(lazyaf: Invoke, server: LiveServer) -> None:
    web = _create(
        server, name="web", remote_url="https://me:tok@github.com/me/web.git", default_branch="trunk"
    )
    api = _create(server, name="api")

    result = lazyaf("repos")

    assert result.exit_code == 0, result.output
    urls = [f"{server.url}/git/api.git", f"{server.url}/git/web.git"]
    width = len(urls[0]) + 2
    assert result.stdout.splitlines() == [
        "NAME  DEFAULT BRANCH  INGESTED  " + "ID".ljust(38) + "CLONE URL".ljust(width) + "REMOTE",
        f"api   main            no        {api['id']}  {urls[0].ljust(width)}-",
        # The server stores remote URLs without their credentials.
        f"web   trunk           no        {web['id']}  {urls[1].ljust(width)}https://github.com/me/web.git",
    ]


def test_json_gives_the_api_listing(lazyaf: Invoke, server: LiveServer) -> None:
    _create(server, name="web", remote_url="git@github.com:me/web.git")

    result = lazyaf("repos", "--json")

    assert result.exit_code == 0
    assert json.loads(result.stdout) == api_repos(server)


def test_server_down(down_url: str) -> None:
    assert error_line(invoke("--server", down_url, "repos", "--json")) == (
        f"LazyAF server not reachable at {down_url}; start it with `lazyaf serve`."
    )
