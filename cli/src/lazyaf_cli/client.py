"""A small synchronous client for the LazyAF REST API.

Every failure comes back as a ``click.ClickException`` (``ApiError`` for answers from the
server) carrying one line that says what to do, so commands never print tracebacks.
"""

from __future__ import annotations

from typing import Any

import click
import httpx

DEFAULT_TIMEOUT = 30.0

Repo = dict[str, Any]


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
        self._token_set = bool(token)
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, json: Any = None) -> Any:
        """Send one request to ``/api{path}``; the decoded JSON body, or None for 204."""
        try:
            response = self._http.request(method, f"/api{path}", json=json)
        except httpx.TimeoutException:
            raise click.ClickException(
                f"LazyAF server at {self.base_url} did not answer in time; check the `lazyaf serve` log."
            ) from None
        except (httpx.ConnectError, httpx.UnsupportedProtocol):
            raise click.ClickException(
                f"LazyAF server not reachable at {self.base_url}; start it with `lazyaf serve`."
            ) from None
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"Lost the connection to the LazyAF server at {self.base_url}: {one_line(str(exc))}."
            ) from None
        if response.is_error:
            raise self._error(method, path, response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise self._not_lazyaf(method, path, response) from None

    def _error(self, method: str, path: str, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        # LazyAF's errors always carry a code; a bare {"detail": "Not Found"} comes from some other app.
        if not isinstance(body, dict) or not isinstance(body.get("detail"), str) or "code" not in body:
            return self._not_lazyaf(method, path, response)
        if response.status_code == 401:
            message = (
                "The LazyAF server refused LAZYAF_TOKEN; set it to the server's token."
                if self._token_set
                else "The LazyAF server requires a token; set LAZYAF_TOKEN to the server's token."
            )
        else:
            message = one_line(body["detail"])
        return ApiError(message, status_code=response.status_code, code=body.get("code"))

    def _not_lazyaf(self, method: str, path: str, response: httpx.Response) -> ApiError:
        return ApiError(
            f"The server at {self.base_url} answered {response.status_code} to {method} /api{path}; "
            "is it a LazyAF server? Check --server or LAZYAF_URL.",
            status_code=response.status_code,
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

    def find_repo(self, name_or_id: str) -> Repo:
        """The repo with this exact name, else this id."""
        repos = self.list_repos()
        for key in ("name", "id"):
            for repo in repos:
                if str(repo.get(key)) == name_or_id:
                    return repo
        raise click.ClickException(f"No repo named '{name_or_id}' (or with that id); see `lazyaf repos`.")
