"""A small synchronous client for the LazyAF REST API.

Every failure comes back as a ``click.ClickException`` (``ApiError`` for answers from the
server) carrying one line that says what to do, so commands never print tracebacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import httpx

DEFAULT_TIMEOUT = 30.0
SEQ_HEADER = "X-LazyAF-Seq"

Repo = dict[str, Any]
Card = dict[str, Any]
Job = dict[str, Any]


class ApiError(click.ClickException):
    """The server answered with an error: its ``detail`` sentence, status and code."""

    def __init__(self, message: str, *, status_code: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code


def one_line(text: str) -> str:
    return " ".join(text.split())


class ApiClient:
    """The LazyAF API at ``base_url``; sends ``Authorization: Bearer <token>`` when a token is given."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.token = token
        self._token_set = bool(token)
        self.last_seq: int | None = None
        self._openapi: dict[str, Any] | None = None
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Send one request to ``/api{path}``; the decoded JSON body, or None for 204.

        ``last_seq`` keeps the board-event sequence number the answer was read at.
        """
        with self._transport_errors():
            response = self._http.request(method, f"/api{path}", json=json, params=params)
        seq = response.headers.get(SEQ_HEADER)
        if seq is not None and seq.isdigit():
            self.last_seq = int(seq)
        if response.is_error:
            raise self._error(method, path, response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise self._not_lazyaf(method, path, response) from None

    def request_or_none(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request``, but None when the server answers 404."""
        try:
            return self.request(method, path, **kwargs)
        except ApiError as exc:
            if exc.status_code == 404:
                return None
            raise

    @contextmanager
    def _transport_errors(self) -> Iterator[None]:
        try:
            yield
        except httpx.TimeoutException:
            raise click.ClickException(
                f"LazyAF server at {self.base_url} did not answer in time; check the `lazyaf serve` log."
            ) from None
        except (httpx.ConnectError, httpx.UnsupportedProtocol):
            raise self.unreachable() from None
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"Lost the connection to the LazyAF server at {self.base_url}: {one_line(str(exc))}."
            ) from None

    def _error(self, method: str, path: str, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        # LazyAF's errors always carry a code; a bare {"detail": "Not Found"} comes from some other app.
        if not isinstance(body, dict) or not isinstance(body.get("detail"), str) or "code" not in body:
            return self._not_lazyaf(method, path, response)
        if response.status_code == 401:
            what = "refused the token" if self._token_set else "requires a token"
            message = f"The LazyAF server {what}; set LAZYAF_TOKEN (or --token) to the server's token."
        else:
            message = one_line(body["detail"])
        return ApiError(message, status_code=response.status_code, code=body.get("code"))

    def _not_lazyaf(self, method: str, path: str, response: httpx.Response) -> ApiError:
        return ApiError(
            f"The server at {self.base_url} answered {response.status_code} to {method} /api{path}; "
            "is it a LazyAF server? Check --server or LAZYAF_URL.",
            status_code=response.status_code,
        )

    def unreachable(self) -> click.ClickException:
        return click.ClickException(
            f"LazyAF server not reachable at {self.base_url}; start it with `lazyaf serve`."
        )

    # The endpoints the CLI uses.

    def list_repos(self) -> list[Repo]:
        repos: list[Repo] = self.request("GET", "/repos")
        return repos

    def get_repo(self, repo_id: str) -> Repo:
        repo: Repo = self.request("GET", f"/repos/{repo_id}")
        return repo

    def ingest_repo(self, *, name: str, remote_url: str | None, default_branch: str) -> Repo:
        body = {"name": name, "remote_url": remote_url, "default_branch": default_branch}
        repo: Repo = self.request("POST", "/repos/ingest", json=body)
        return repo

    def delete_repo(self, repo_id: str) -> None:
        self.request("DELETE", f"/repos/{repo_id}")

    def list_branches(self, repo_id: str) -> list[dict[str, Any]]:
        branches: list[dict[str, Any]] = self.request("GET", f"/repos/{repo_id}/branches")
        return branches

    def branch_sha(self, repo_id: str, branch: str) -> str | None:
        return next((b["sha"] for b in self.list_branches(repo_id) if b["name"] == branch), None)

    def find_repo(self, name_or_id: str) -> Repo:
        """The repo with this exact name, else this id."""
        repos = self.list_repos()
        for key in ("name", "id"):
            for repo in repos:
                if str(repo.get(key)) == name_or_id:
                    return repo
        raise click.ClickException(f"No repo named '{name_or_id}' (or with that id); see `lazyaf repos`.")

    def list_cards(self, repo_id: str, *, status: str | None = None) -> list[Card]:
        params = {"status": status} if status else None
        cards: list[Card] = self.request("GET", f"/repos/{repo_id}/cards", params=params)
        return cards

    def current_jobs(self, repo_id: str) -> list[Job]:
        jobs: list[Job] = self.request("GET", f"/repos/{repo_id}/current-jobs")
        return jobs

    def get_card(self, card_id: str) -> Card:
        card: Card = self.request("GET", f"/cards/{card_id}")
        return card

    def create_card(self, repo_id: str, fields: dict[str, Any]) -> Card:
        card: Card = self.request("POST", f"/repos/{repo_id}/cards", json=fields)
        return card

    def get_job(self, job_id: str) -> Job:
        job: Job = self.request("GET", f"/jobs/{job_id}")
        return job

    def card_jobs(self, card_id: str) -> list[Job]:
        jobs: list[Job] = self.request("GET", f"/cards/{card_id}/jobs")
        return jobs

    def job_events(self, job_id: str, *, after: int = 0) -> Iterator[dict[str, Any]]:
        """Every stored event of a job after ``after``, page by page."""
        while True:
            page = self.request("GET", f"/jobs/{job_id}/logs", params={"after": after, "limit": 5000})
            yield from page["events"]
            if not page["events"]:
                return
            after = page["next_after"]

    def card_diff_pages(self, card_id: str, repo_id: str, *, limit: int = 500) -> Iterator[dict[str, Any]]:
        """The card's diff, a page of files at a time; later pages pinned to the first page's commits."""
        page: dict[str, Any] = self.request("GET", f"/cards/{card_id}/diff", params={"limit": limit})
        yield page
        offset = len(page["files"])
        base, head = page["base_sha"], page["head_sha"]
        while offset < page["total_files"]:
            params = {"base": base, "head": head, "offset": offset, "limit": limit}
            page = self.request("GET", f"/repos/{repo_id}/diff", params=params)
            if not page["files"]:
                return
            yield page
            offset += len(page["files"])

    def card_commits(self, card_id: str) -> list[dict[str, Any]]:
        commits: list[dict[str, Any]] = self.request("GET", f"/cards/{card_id}/commits")
        return commits

    def accepts_field(self, method: str, path: str, name: str) -> bool:
        """Whether the server's OpenAPI document lets ``method path`` take a JSON body field ``name``."""
        if self._openapi is None:
            with self._transport_errors():
                response = self._http.get("/openapi.json")
            self._openapi = response.json() if response.is_success else {}
        doc = self._openapi
        operation = doc.get("paths", {}).get(path, {}).get(method.lower(), {})
        schema = (
            operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        )
        return name in _properties(doc, schema)

    def ws_url(self, since: int | None) -> str:
        base = "ws" + self.base_url.removeprefix("http")
        return f"{base}/ws" + (f"?since={since}" if since is not None else "")


def _properties(doc: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> set[str]:
    """Property names of a JSON schema, following $ref and anyOf/allOf/oneOf (an optional body)."""
    if depth > 5:
        return set()
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _properties(doc, target, depth + 1)
    names = set(schema.get("properties", {}))
    for key in ("anyOf", "allOf", "oneOf"):
        for sub in schema.get(key, []):
            names |= _properties(doc, sub, depth + 1)
    return names
