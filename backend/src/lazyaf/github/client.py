"""The one module that talks to GitHub (and GitHub Enterprise): REST and GraphQL through githubkit.

``GitHubClient(token, api_url=...)`` wraps a githubkit ``GitHub`` whose every request (typed
REST calls, pagination, GraphQL) passes through one retry loop owned here, not githubkit's:

* **5xx and network errors**: retried with backoff (1, 2, 4 s) for requests that are safe to
  repeat (GET/PUT/PATCH/DELETE, GraphQL queries). A POST is not repeated: GitHub often applies a
  write and then answers 502, so a blind retry makes a second PR or comment. Those fail with
  ``GitHubUnavailable`` for the caller (the outbox) to retry idempotently.
* **Rate limits**, in GitHub's three shapes (any method, since GitHub refused the request):
  ``retry-after`` → wait that long (a ``0`` waits ``min_wait``, never githubkit's 60 s);
  ``x-ratelimit-remaining: 0`` → wait until ``x-ratelimit-reset``; a "secondary rate limit"
  message without headers → 60 s, doubling. A wait longer than ``max_wait`` is not waited: it
  raises ``GitHubRateLimited(retry_at=...)`` so queued work resumes later instead of blocking.
* **A gap between mutating requests** (``mutation_gap``, 1 s: GitHub's advice for POST/PATCH/PUT/
  DELETE), and mutations are sent one at a time.
* **Conditional requests**: ``get_conditional`` keeps each URL's ETag and sends
  ``If-None-Match``; a 304 costs no quota and returns the cached body with ``modified=False``.
* **Errors** become ``lazyaf.github.errors`` with a sentence saying what to fix.
* The **remaining quota** of every resource seen is in ``rate_limits`` (``rate_limit`` for core).

Time is injectable (``clock`` in epoch seconds, ``sleep``), so tests never wait. The token lives
only inside the auth hook: not in any repr, log line or error message.
"""

from __future__ import annotations

import json as jsonlib
import re
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx
import structlog
from githubkit import GitHub
from githubkit.auth.base import BaseAuthStrategy
from githubkit.exception import GitHubException, GraphQLFailed, RateLimitExceeded, RequestError, RequestFailed
from githubkit.response import Response
from githubkit.throttling import BaseThrottler
from githubkit.versions import RestVersionSwitcher
from githubkit_schemas.latest.models import Issue

from lazyaf.github.errors import (
    GitHubAuthFailed,
    GitHubError,
    GitHubForbidden,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubRejected,
    GitHubUnavailable,
)

log = structlog.get_logger(__name__)

DEFAULT_API_URL = "https://api.github.com"
MUTATING = frozenset({"POST", "PATCH", "PUT", "DELETE"})
T = TypeVar("T")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Set while graphql() runs, so the transport-level loop knows whether a POST may be repeated.
_REPEATABLE: ContextVar[bool | None] = ContextVar("github_repeatable", default=None)


def normalize_api_url(url: str | None) -> str:
    """The REST base for a user's input: github.com → api.github.com; an Enterprise host → …/api/v3."""
    if not url:
        return DEFAULT_API_URL
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    if parts.netloc in ("github.com", "www.github.com", "api.github.com"):
        return DEFAULT_API_URL
    if parts.path in ("", "/"):
        return f"{parts.scheme}://{parts.netloc}/api/v3"
    return url


@dataclass(frozen=True)
class RateLimit:
    """One quota bucket as GitHub last reported it."""

    resource: str  # core, graphql, search, ...
    limit: int
    remaining: int
    reset_at: float  # epoch seconds

    @property
    def used(self) -> int:
        return self.limit - self.remaining


@dataclass(frozen=True)
class Conditional:
    """The answer to a conditional GET: ``modified`` is False when GitHub said 304 Not Modified."""

    modified: bool
    data: Any
    etag: str | None


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for what; ``None`` from ``delay`` means "give up now"."""

    server_retries: int = 3
    rate_limit_retries: int = 3
    min_wait: float = 1.0  # floor for a retry-after of 0 or a reset already past
    max_wait: float = 900.0  # longer waits raise GitHubRateLimited instead
    secondary_wait: float = 60.0  # GitHub: "wait at least one minute" when no header says how long


class _Secret:
    """Holds the token; shows nothing of it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<token>"

    __str__ = __repr__


class _TokenAuth(httpx.Auth):
    def __init__(self, secret: _Secret) -> None:
        self._secret = secret

    def __repr__(self) -> str:
        return "_TokenAuth(<token>)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._secret.reveal()}"
        yield request


class _TokenStrategy(BaseAuthStrategy):
    def __init__(self, secret: _Secret) -> None:
        self._secret = secret

    def __repr__(self) -> str:
        return "_TokenStrategy(<token>)"

    def get_auth_flow(self, github: Any) -> httpx.Auth:
        return _TokenAuth(self._secret)


class _Throttler(BaseThrottler):
    """At most ``concurrency`` requests in flight; mutations one at a time, ``gap`` seconds apart."""

    def __init__(self, *, concurrency: int, gap: float, clock: Clock, sleep: Sleep) -> None:
        self.gap, self.clock, self.sleep = gap, clock, sleep
        self._slots = anyio.Semaphore(concurrency)
        self._mutations = anyio.Lock()
        self._last_mutation: float | None = None

    @contextmanager
    def acquire(self, request: httpx.Request) -> Generator[None, Any, Any]:
        raise RuntimeError("LazyAF's GitHub client is async only")
        yield  # pragma: no cover

    @asynccontextmanager
    async def async_acquire(self, request: httpx.Request) -> AsyncGenerator[None, Any]:
        async with self._slots:
            if not _is_mutation(request):
                yield
                return
            async with self._mutations:
                if self._last_mutation is not None:
                    wait = self._last_mutation + self.gap - self.clock()
                    if wait > 0:
                        await self.sleep(wait)
                try:
                    yield
                finally:
                    self._last_mutation = self.clock()


def _is_mutation(request: httpx.Request) -> bool:
    if request.method not in MUTATING:
        return False
    if request.url.path.endswith("/graphql"):
        try:
            query = jsonlib.loads(request.content or b"{}").get("query", "")
        except ValueError:
            return True
        return _is_graphql_mutation(query)
    return True


def _is_graphql_mutation(query: str) -> bool:
    return re.match(r"\s*(#[^\n]*\n\s*)*mutation\b", query) is not None


class _GitHub(GitHub[Any]):
    """githubkit's client with LazyAF's retry loop around every request."""

    lazyaf: GitHubClient

    async def arequest(self, method: str, url: Any, **kwargs: Any) -> Response[Any, Any]:
        send = super().arequest
        return await self.lazyaf._send(method, url, kwargs, lambda: send(method, url, **kwargs))


class GitHubClient:
    """A token's view of one GitHub (github.com or an Enterprise server)."""

    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        clock: Clock = time.time,
        sleep: Sleep = anyio.sleep,
        mutation_gap: float = 1.0,
        concurrency: int = 8,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        user_agent: str = "LazyAF",
        etag_cache_size: int = 512,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.clock, self.sleep = clock, sleep
        self.policy = policy or RetryPolicy()
        self.rate_limits: dict[str, RateLimit] = {}
        self._etags: OrderedDict[str, tuple[str, Any]] = OrderedDict()
        self._etag_cache_size = etag_cache_size
        self._gh = _GitHub(
            _TokenStrategy(_Secret(token)),
            base_url=self.api_url,
            user_agent=user_agent,
            timeout=timeout,
            async_transport=transport,
            async_event_hooks={"response": [self._observe]},
            http_cache=False,  # conditional requests are ours (get_conditional): 304s must be visible
            auto_retry=False,  # retries are ours (_send): injectable time, no 60 s for "retry-after: 0"
            throttler=_Throttler(concurrency=concurrency, gap=mutation_gap, clock=clock, sleep=sleep),
        )
        self._gh.lazyaf = self

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r})"

    async def __aenter__(self) -> GitHubClient:
        await self._gh.__aenter__()  # type: ignore[no-untyped-call]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._gh.__aexit__()

    # -- what callers use --------------------------------------------------------------------

    @property
    def rest(self) -> RestVersionSwitcher:
        """githubkit's typed REST API: ``await client.rest.pulls.async_create(owner=..., ...)``."""
        return self._gh.rest

    @property
    def rate_limit(self) -> RateLimit | None:
        """The core REST quota as last reported (None before the first answer)."""
        return self.rate_limits.get("core")

    async def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """An untyped REST call; returns the parsed JSON (None for an empty body)."""
        response = await self._gh.arequest(method, path, params=params, json=json)
        return response.json() if response.content else None

    async def paginate(
        self, method: Callable[..., Awaitable[Response[Any, Any]]], **kwargs: Any
    ) -> list[Any]:
        """Every item of a list endpoint, following ``Link: rel="next"`` to the end (never a short page)."""
        return [item async for item in self._gh.rest.paginate(method, **kwargs)]

    async def list_issues(self, owner: str, repo: str, *, per_page: int = 100, **filters: Any) -> list[Issue]:
        """A repo's issues matching ``filters`` (state, labels, since, ...), pull requests left out.

        Pull requests are dropped after paging, never before: a page shortened by filtering must
        not be mistaken for the last one.
        """
        items = await self.paginate(
            self._gh.rest.issues.async_list_for_repo, owner=owner, repo=repo, per_page=per_page, **filters
        )
        return [item for item in items if isinstance(item, Issue) and not item.pull_request]

    async def get_conditional(
        self, path: str, params: dict[str, Any] | None = None, *, etag: str | None = None
    ) -> Conditional:
        """GET with the URL's last ETag: ``modified=False`` (and the cached body) when unchanged.

        With ``etag`` (one the caller kept, e.g. in its database across restarts) that ETag is
        sent instead, and an unchanged answer has ``data=None``.
        """
        key = path + "?" + "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
        if etag is not None:
            response = await self._gh.arequest("GET", path, params=params, headers={"If-None-Match": etag})
            if response.status_code == 304:
                return Conditional(modified=False, data=None, etag=etag)
            data = response.json() if response.content else None
            return Conditional(modified=True, data=data, etag=response.headers.get("etag"))
        cached = self._etags.get(key)
        headers = {"If-None-Match": cached[0]} if cached else None
        response = await self._gh.arequest("GET", path, params=params, headers=headers)
        if response.status_code == 304 and cached is not None:
            self._etags.move_to_end(key)
            return Conditional(modified=False, data=cached[1], etag=cached[0])
        data = response.json() if response.content else None
        etag = response.headers.get("etag")
        if etag:
            self._etags[key] = (etag, data)
            self._etags.move_to_end(key)
            while len(self._etags) > self._etag_cache_size:
                self._etags.popitem(last=False)
        return Conditional(modified=True, data=data, etag=etag)

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, idempotent: bool | None = None
    ) -> dict[str, Any]:
        """Run a GraphQL document (``/graphql``, or ``/api/graphql`` on Enterprise); returns ``data``.

        Queries are repeated after a 5xx; mutations only when ``idempotent=True`` (e.g.
        ``markPullRequestReadyForReview``).
        """
        repeatable = idempotent if idempotent is not None else not _is_graphql_mutation(query)
        token = _REPEATABLE.set(repeatable)
        try:
            attempt = 0
            while True:
                response = await self._gh.graphql._arequest(query, variables)
                try:
                    return self._gh.graphql.parse_graphql_response(response)
                except RateLimitExceeded as exc:  # GitHub answers 200 with errors[].type RATE_LIMITED
                    delay = self._rate_limit_delay(exc.response.raw_response, attempt)
                    await self._wait(delay, "graphql", "/graphql", 200)
                    attempt += 1
                except GraphQLFailed as exc:
                    raise _graphql_error(exc) from None
        finally:
            _REPEATABLE.reset(token)

    async def aclose(self) -> None:
        await self._gh.__aexit__()

    # -- the loop every request goes through -------------------------------------------------

    async def _send(
        self, method: str, url: Any, kwargs: dict[str, Any], call: Callable[[], Awaitable[Response[Any, Any]]]
    ) -> Response[Any, Any]:
        method = method.upper()
        path = urlsplit(str(url)).path or str(url)
        server_attempt = rate_attempt = 0
        while True:
            try:
                return await call()
            except RequestFailed as exc:
                raw = exc.response.raw_response
                status = raw.status_code
                if status in (403, 429) and _rate_limit_kind(raw) is not None:
                    delay = self._rate_limit_delay(raw, rate_attempt)
                    rate_attempt += 1
                elif (
                    status >= 500
                    and self._repeatable(method, kwargs)
                    and server_attempt < self.policy.server_retries
                ):
                    delay = float(2**server_attempt)
                    server_attempt += 1
                else:
                    raise _error(method, path, raw, self.api_url) from None
                await self._wait(delay, method, path, status)
            except RequestError as exc:
                if not (self._repeatable(method, kwargs) and server_attempt < self.policy.server_retries):
                    raise GitHubUnavailable(
                        f"GitHub at {self.api_url} cannot be reached ({type(exc.exc).__name__}); "
                        "check the network and the link's API URL. LazyAF will try again later."
                    ) from None
                delay = float(2**server_attempt)
                server_attempt += 1
                await self._wait(delay, method, path, None)
            except GitHubException as exc:
                raise GitHubError(f"GitHub client error on {method} {path}: {type(exc).__name__}.") from None

    def _repeatable(self, method: str, kwargs: dict[str, Any]) -> bool:
        if method != "POST":
            return True
        repeatable = _REPEATABLE.get()
        return bool(repeatable)

    def _rate_limit_delay(self, response: httpx.Response, attempt: int) -> float:
        """Seconds to wait before retrying a rate-limited request, or raise if that is too long."""
        kind = _rate_limit_kind(response) or "primary"
        now = self.clock()
        if kind == "retry_after":
            wait = _number(response.headers.get("retry-after")) or 0.0
        elif kind == "primary":
            reset = _number(response.headers.get("x-ratelimit-reset")) or now + self.policy.secondary_wait
            wait = reset - now + 1.0  # one second of slack: GitHub's clock and ours differ
        else:
            wait = self.policy.secondary_wait * 2**attempt
        wait = max(wait, self.policy.min_wait)
        if wait > self.policy.max_wait or attempt >= self.policy.rate_limit_retries:
            retry_at = now + wait
            when = datetime.fromtimestamp(retry_at, UTC).strftime("%H:%M UTC")
            raise GitHubRateLimited(
                f"GitHub's {'secondary ' if kind != 'primary' else ''}rate limit for this token holds until "
                f"about {when}; LazyAF will continue then (to go faster, use a token with a larger quota).",
                status=response.status_code,
                retry_at=retry_at,
            )
        return wait

    async def _wait(self, delay: float, method: str, path: str, status: int | None) -> None:
        log.info("github_retry", method=method, path=path, status=status, wait_s=round(delay, 3))
        await self.sleep(delay)

    async def _observe(self, response: httpx.Response) -> None:
        headers = response.headers
        if "x-ratelimit-remaining" not in headers:
            return
        resource = headers.get("x-ratelimit-resource", "core")
        limit = _number(headers.get("x-ratelimit-limit"))
        remaining = _number(headers.get("x-ratelimit-remaining"))
        reset = _number(headers.get("x-ratelimit-reset"))
        if limit is not None and remaining is not None and reset is not None:
            self.rate_limits[resource] = RateLimit(resource, int(limit), int(remaining), reset)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    message = str(body.get("message", ""))
    details = [
        str(e.get("message") or f"{e.get('field')} {e.get('code')}")
        for e in body.get("errors") or []
        if isinstance(e, dict)
    ]
    return "; ".join([message, *details]) if details else message


def _rate_limit_kind(response: httpx.Response) -> str | None:
    if "retry-after" in response.headers:
        return "retry_after"
    if response.headers.get("x-ratelimit-remaining") == "0":
        return "primary"
    if "secondary rate limit" in _message(response).lower() or response.status_code == 429:
        return "secondary"
    return None


_REPO_PATH = re.compile(r"^(?:/api/v3)?/repos/([^/]+)/([^/]+)")


def _error(method: str, path: str, response: httpx.Response, api_url: str) -> GitHubError:
    status = response.status_code
    said = _message(response)
    quoted = f' ("{said}")' if said else ""
    repo = _REPO_PATH.match(path)
    if status == 401:
        return GitHubAuthFailed(
            f"GitHub refused the token{quoted}: it was revoked, has expired or is mistyped. "
            "Create a new token and link the repository again.",
            status=status,
        )
    if status == 403:
        what = f"{repo.group(1)}/{repo.group(2)}" if repo else api_url
        return GitHubForbidden(
            f"The token may not {method} {path} on {what}{quoted}. Give it write access to the repository "
            "(fine-grained: Contents, Issues and Pull requests read/write; classic: the repo scope).",
            status=status,
        )
    if status == 404:
        if repo:
            detail = (
                f"GitHub has no repository {repo.group(1)}/{repo.group(2)} at {api_url}, or the token cannot "
                "see it; check the owner and name, and that the token has access to this repository."
            )
        else:
            detail = f"GitHub at {api_url} has nothing at {path}; check the link's API URL."
        return GitHubNotFound(detail, status=status)
    if status >= 500:
        return GitHubUnavailable(
            f"GitHub is not answering at {api_url} ({status} on {method} {path}); "
            "LazyAF will try again later.",
            status=status,
        )
    return GitHubRejected(f"GitHub refused {method} {path} ({status}){quoted}.", status=status)


def _graphql_error(exc: GraphQLFailed) -> GitHubError:
    errors = exc.response.errors or []
    text = "; ".join(e.message for e in errors) or "no message"
    types = {e.type for e in errors}
    if "NOT_FOUND" in types:
        return GitHubNotFound(f"GitHub found nothing: {text}. Check the owner, name and number.")
    if "FORBIDDEN" in types:
        return GitHubForbidden(f"The token may not do this: {text}. Give it write access to the repository.")
    return GitHubRejected(f"GitHub refused the GraphQL request: {text}.")
