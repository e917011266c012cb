"""``FakeGitHub``: GitHub's REST and GraphQL APIs over in-memory state, held to GitHub's own contract.

Every request is resolved to an operation of the official OpenAPI description (unknown → 501 and
a violation), its query and JSON body validated against the spec, GraphQL documents validated
against the official schema, and every call recorded. Answers come from a stateful model
(``state.py``) rendered into GitHub's shapes (``render.py``) and checked against the documented
response schema (a mismatch is a violation too: a bug in the fake). Around that: rate-limit
headers, ``Link`` pagination (``/repositories/{id}/...`` links, as GitHub sends), ETags with
``If-None-Match`` → 304, tokens (unknown or revoked → 401), and scripted faults.

Use it in-process (``fake.transport()`` for httpx, ``fake.app`` for ASGI) or on 127.0.0.1
(``server.serve(fake)``). State is guarded by one lock: tests may seed and inspect it while a
server thread answers.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from lazyaf_testkit.github import spec as spec_module
from lazyaf_testkit.github.render import Renderer
from lazyaf_testkit.github.state import (
    Comment,
    Issue,
    Label,
    Milestone,
    Permission,
    Pull,
    Repo,
    ReviewComment,
    ReviewThread,
    Token,
    User,
)

DOCS = "https://docs.github.com/rest"
Kind = Literal["unknown_operation", "unimplemented", "request", "response", "graphql"]


@dataclass
class Violation:
    """A breach of GitHub's contract seen by the fake (``response``: the fake's own bug)."""

    kind: Kind
    method: str
    path: str
    operation: str | None
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.method} {self.path} ({self.operation or '?'}): {self.message}"


@dataclass
class Call:
    """One request the fake answered."""

    method: str
    path: str  # without the Enterprise prefix
    query: list[tuple[str, str]]
    operation: str | None  # operationId, or "graphql"
    status: int
    body: Any  # the request's JSON, or None
    response: Any  # the answer's JSON, or None
    headers: dict[str, str]  # request headers, Authorization removed
    prefix: str = ""  # "/api/v3" or "/api" when the client used GitHub Enterprise paths
    graphql_fields: tuple[str, ...] = ()  # top-level fields of a GraphQL document

    def param(self, name: str) -> str | None:
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else None


@dataclass
class Fault:
    operation: str  # operationId, "graphql", or "*" for any
    remaining: int
    status: int
    headers: dict[str, str]
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    reset_in: int | None = None  # primary limit: x-ratelimit-reset = the time it fires + reset_in


class GitHubHTTPError(Exception):
    """Raised by a handler: answer ``status`` with GitHub's error body."""

    def __init__(self, status: int, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    paginate: bool = False


@dataclass
class Ctx:
    """What a REST handler gets."""

    fake: FakeGitHub
    op: spec_module.Operation
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    user: User | None
    render: Renderer

    @property
    def now(self) -> float:
        return self.fake.now()

    def repo(self) -> Repo:
        repo = self.fake.repos.get(f"{self.params['owner']}/{self.params['repo']}".lower())
        if repo is None or not repo.can_read(self.user):
            raise GitHubHTTPError(404, "Not Found")
        return repo

    def issue(self, repo: Repo, key: str = "issue_number", *, pull: bool | None = None) -> Issue:
        try:
            issue = repo.issues.get(int(self.params[key]))
        except ValueError:
            issue = None
        if issue is None or (pull is True and issue.pull is None):
            raise GitHubHTTPError(404, "Not Found")
        return issue

    def require_user(self) -> User:
        if self.user is None:
            raise GitHubHTTPError(401, "Requires authentication")
        return self.user

    def require_write(self, repo: Repo) -> User:
        user = self.require_user()
        if not repo.can_write(user):
            raise GitHubHTTPError(403, "Resource not accessible by personal access token")
        return user

    def int_param(self, name: str, default: int) -> int:
        value = self.query.get(name)
        return int(value) if value is not None and value.lstrip("-").isdigit() else default


Handler = Callable[[Ctx], Reply]


class FakeGitHub:
    """A GitHub for tests. Seed it, point a client at it, then ``assert_clean()``."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        html_url: str = "https://github.com",
        rate_limit: int = 5000,
    ) -> None:
        self.spec = spec_module.load()
        self.now = clock
        self.html_url = html_url.rstrip("/")
        self.url: str | None = None  # set while served on 127.0.0.1 (server.serve)
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.repos: dict[str, Repo] = {}
        self.nodes: dict[str, object] = {}
        self.violations: list[Violation] = []
        self.faults: list[Fault] = []
        self._calls: list[Call] = []
        self._rate_limit = rate_limit
        self._buckets: dict[str, list[int]] = {}  # resource → [limit, remaining, reset]

    # -- seeding -----------------------------------------------------------------------------

    def add_user(self, login: str, *, type: Literal["User", "Bot", "Organization"] = "User") -> User:
        """A GitHub account (``type="Bot"`` for ``name[bot]`` apps)."""
        with self.lock:
            key = login.lower()
            if key not in self.users:
                self.users[key] = User(login=login, type=type, name=login, created_at=self.now())
                self.nodes[self.users[key].node_id] = self.users[key]
            return self.users[key]

    def add_token(self, login: str, token: str | None = None) -> str:
        """A personal access token acting as ``login`` (created if needed); returns its value."""
        with self.lock:
            user = self.add_user(login)
            value = token or f"ghp_{uuid.uuid4().hex}{uuid.uuid4().hex[:4]}"
            self.tokens[value] = Token(value=value, user=user)
            return value

    def revoke(self, token: str) -> None:
        """The token stops working (401 Bad credentials), as when a user revokes it."""
        with self.lock:
            self.tokens[token].revoked = True

    def add_repo(
        self,
        full_name: str,
        *,
        private: bool = False,
        default_branch: str = "main",
        collaborators: dict[str, Permission] | None = None,
        branches: Iterable[str] = (),
    ) -> Repo:
        """``owner/name``; ``collaborators`` maps logins to roles.

        ``branches``, when given, are the only heads and bases a pull request may name.
        """
        owner_login, name = full_name.split("/", 1)
        with self.lock:
            owner = self.add_user(owner_login)
            repo = Repo(
                owner=owner,
                name=name,
                private=private,
                default_branch=default_branch,
                created_at=self.now(),
            )
            for login, role in (collaborators or {}).items():
                self.add_user(login)
                repo.collaborators[login] = role
            for branch in branches:
                repo.branches[branch] = _sha(f"{full_name}:{branch}")
            if repo.branches:
                repo.branches.setdefault(default_branch, _sha(f"{full_name}:{default_branch}"))
            self.repos[full_name.lower()] = repo
            self.nodes[repo.node_id] = repo
            return repo

    def repo(self, full_name: str) -> Repo:
        return self.repos[full_name.lower()]

    def label(self, repo: Repo, name: str) -> Label:
        with self.lock:
            label = next((lb for lb in repo.labels.values() if lb.name.lower() == name.lower()), None)
            if label is None:
                label = repo.labels[name] = Label(name=name)
                self.nodes[label.node_id] = label
            return label

    def milestone(self, repo: Repo, title: str) -> Milestone:
        with self.lock:
            found = next((m for m in repo.milestones.values() if m.title == title), None)
            if found is None:
                number = len(repo.milestones) + 1
                found = repo.milestones[number] = Milestone(
                    number=number, title=title, creator=repo.owner, created_at=self.now()
                )
            return found

    def add_issue(
        self,
        repo: Repo,
        title: str,
        *,
        body: str | None = "",
        user: str | None = None,
        labels: Iterable[str] = (),
        assignees: Iterable[str] = (),
        milestone: str | None = None,
        state: Literal["open", "closed"] = "open",
    ) -> Issue:
        """An issue with the next number; ``user`` defaults to the repo's owner."""
        with self.lock:
            now = self.now()
            issue = Issue(
                repo=repo,
                number=repo.next_number(),
                title=title,
                body=body,
                user=self.add_user(user) if user else repo.owner,
                created_at=now,
                updated_at=now,
                labels=[self.label(repo, name) for name in labels],
                assignees=[self.add_user(login) for login in assignees],
                milestone=self.milestone(repo, milestone) if milestone else None,
            )
            if state == "closed":
                issue.state, issue.closed_at, issue.state_reason = "closed", now, "completed"
            repo.issues[issue.number] = issue
            self.nodes[issue.node_id] = issue
            return issue

    def add_pull(
        self,
        repo: Repo,
        title: str,
        *,
        head: str,
        base: str | None = None,
        body: str | None = "",
        user: str | None = None,
        draft: bool = False,
        labels: Iterable[str] = (),
    ) -> Issue:
        """A pull request from branch ``head`` (an ``Issue`` whose ``pull`` is set)."""
        with self.lock:
            issue = self.add_issue(repo, title, body=body, user=user, labels=labels)
            del self.nodes[issue.node_id]
            base = base or repo.default_branch
            issue.pull = Pull(
                head=head,
                base=base,
                head_sha=repo.branches.get(head) or _sha(f"{repo.full_name}:{head}"),
                base_sha=repo.branches.get(base) or _sha(f"{repo.full_name}:{base}"),
                draft=draft,
            )
            self.nodes[issue.node_id] = issue
            return issue

    def add_comment(self, issue: Issue, body: str, *, user: str | None = None) -> Comment:
        """A comment on an issue or pull request conversation; bumps the issue's ``updated_at``."""
        with self.lock:
            now = self.now()
            comment = Comment(
                issue=issue,
                user=self.add_user(user) if user else issue.repo.owner,
                body=body,
                created_at=now,
                updated_at=now,
            )
            issue.comments.append(comment)
            issue.updated_at = now
            self.nodes[comment.node_id] = comment
            return comment

    def add_review_thread(
        self,
        pull: Issue,
        body: str,
        *,
        path: str = "README.md",
        line: int = 1,
        user: str | None = None,
        resolved: bool = False,
    ) -> ReviewThread:
        """A review thread on a line of a pull request, with its first comment."""
        assert pull.pull is not None, "review threads belong to pull requests"
        with self.lock:
            thread = ReviewThread(pull=pull, path=path, line=line, resolved=resolved)
            pull.pull.threads.append(thread)
            self.nodes[thread.node_id] = thread
            self.add_review_reply(thread, body, user=user)
            return thread

    def add_review_reply(self, thread: ReviewThread, body: str, *, user: str | None = None) -> ReviewComment:
        with self.lock:
            now = self.now()
            rc = ReviewComment(
                thread=thread,
                user=self.add_user(user) if user else thread.pull.repo.owner,
                body=body,
                created_at=now,
                updated_at=now,
                in_reply_to=thread.comments[0] if thread.comments else None,
            )
            thread.comments.append(rc)
            thread.pull.updated_at = now
            self.nodes[rc.node_id] = rc
            return rc

    # -- faults ------------------------------------------------------------------------------

    def fail_next(
        self, operation: str, status: int = 502, *, times: int = 1, message: str | None = None
    ) -> None:
        """The next ``times`` requests to ``operation`` ("*": any) answer ``status``.

        5xx answers are GitHub's HTML error page (clients must not assume JSON); others carry
        GitHub's JSON error body (401 "Bad credentials", 403, 404 "Not Found", ...).
        """
        if status >= 500:
            body = b"<!DOCTYPE html><html><body><h1>Unicorn!</h1>This page is taking too long.</body></html>"
            fault = Fault(operation, times, status, {}, body, "text/html; charset=utf-8")
        else:
            text = message or _REASONS.get(status, "Error")
            fault = Fault(operation, times, status, {}, _error_body(status, text))
        with self.lock:
            self.faults.append(fault)

    def rate_limit_next(
        self,
        operation: str,
        kind: Literal["retry_after", "secondary", "primary"],
        *,
        times: int = 1,
        retry_after: int = 1,
        reset_in: int = 1,
    ) -> None:
        """The next ``times`` requests to ``operation`` hit a rate limit, in one of GitHub's three shapes.

        * ``retry_after``: 403 with ``retry-after: <retry_after>`` (a secondary limit);
        * ``secondary``: 403 whose message says "You have exceeded a secondary rate limit", no header;
        * ``primary``: 403 with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset`` ``reset_in``
          seconds after the moment it is answered.
        """
        if kind == "retry_after":
            headers = {"retry-after": str(retry_after)}
            text = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        elif kind == "secondary":
            headers = {}
            text = (
                "You have exceeded a secondary rate limit and have been temporarily blocked from "
                "content creation. Please retry your request again later."
            )
        else:
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-used": str(self._rate_limit)}
            text = "API rate limit exceeded for user ID 1."
        fault = Fault(operation, times, 403, headers, _error_body(403, text))
        fault.reset_in = reset_in if kind == "primary" else None
        with self.lock:
            self.faults.append(fault)

    # -- inspection --------------------------------------------------------------------------

    def calls(self, operation: str | None = None) -> list[Call]:
        """Recorded calls, oldest first; only those to ``operation`` when given."""
        with self.lock:
            return [c for c in self._calls if operation is None or c.operation == operation]

    def problems(self) -> list[Violation]:
        with self.lock:
            return list(self.violations)

    def assert_clean(self) -> None:
        """0 unknown operations, 0 unimplemented operations, 0 schema violations (GraphQL included)."""
        problems = self.problems()
        if problems:
            lines = "\n  ".join(str(v) for v in problems)
            raise AssertionError(f"the fake GitHub saw {len(problems)} contract violation(s):\n  {lines}")

    def rate_limit(self, resource: str = "core") -> tuple[int, int, int]:
        """(limit, remaining, reset epoch) of a resource's bucket."""
        with self.lock:
            limit, remaining, reset = self._bucket(resource)
            return limit, remaining, reset

    # -- answering ---------------------------------------------------------------------------

    def handle(
        self, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: (status, headers, body). ``headers`` keys are lower case."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self.lock:
            from lazyaf_testkit.github import control, gql

            path = parts.path or "/"
            if path.startswith("/_fake/"):
                return control.handle(self, method, path, body)
            prefix = ""
            if path.startswith("/api/v3/") or path == "/api/v3":
                prefix, path = "/api/v3", path[len("/api/v3") :] or "/"
            elif path == "/api/graphql":
                prefix, path = "/api", "/graphql"
            query = parse_qsl(parts.query, keep_blank_values=True)
            request = _Request(method.upper(), path, query, headers, body, origin, prefix)
            if path == "/graphql" and request.method == "POST":
                return gql.handle(self, request)
            return self._rest(request)

    def _rest(self, req: _Request) -> tuple[int, dict[str, str], bytes]:
        path = self._unalias(req.path)
        match = self.spec.resolve(req.method, path)
        if match is None:
            return self._refuse(req, None, "unknown_operation", f"no GitHub operation is {req.method} {path}")
        op = match.operation
        for problem in self.spec.check_request(op, req.query, req.body, req.headers.get("content-type", "")):
            self._violate("request", req, op.id, problem)
        fault = self._take_fault(op.id)
        if fault is not None:
            return self._answer_fault(req, op.id, fault)
        user, denied = self._authenticate(req)
        if denied is not None:
            return self._finish(req, op.id, denied, "core", count=False)
        from lazyaf_testkit.github.rest import HANDLERS

        handler = HANDLERS.get(op.id)
        if handler is None:
            return self._refuse(
                req, op.id, "unimplemented", f"{op.id} is GitHub's, but the fake does not implement it yet"
            )
        resource = "core" if op.id != "rate-limit/get" else ""
        exhausted = self._exhausted(resource)
        if exhausted is not None:
            return self._finish(req, op.id, exhausted, resource, count=False)
        ctx = Ctx(
            fake=self,
            op=op,
            params=match.params,
            query=dict(req.query),
            body=req.json(),
            user=user,
            render=Renderer(self.spec, req.origin + req.prefix, self.html_url),
        )
        try:
            reply = handler(ctx)
        except GitHubHTTPError as exc:
            reply = Reply(exc.status, json.loads(_error_body(exc.status, exc.message, exc.errors)))
        if reply.paginate:
            reply = self._paginate(req, path, reply, ctx)
        for problem in self._check_response(op, reply):
            self._violate("response", req, op.id, problem)
        return self._finish(req, op.id, reply, resource)

    def _check_response(self, op: spec_module.Operation, reply: Reply) -> list[str]:
        if reply.status >= 400 and not op.documents(reply.status):
            return []  # GitHub answers 401/403/404 on operations whose description omits them
        return self.spec.check_response(op, reply.status, reply.body)

    def _unalias(self, path: str) -> str:
        # GitHub's Link headers point at /repositories/{id}/...; it serves them as /repos/{o}/{r}/...
        segments = path.strip("/").split("/")
        if len(segments) >= 2 and segments[0] == "repositories" and segments[1].isdigit():
            repo = next((r for r in self.repos.values() if r.id == int(segments[1])), None)
            if repo is not None:
                return "/" + "/".join(["repos", repo.owner.login, repo.name, *segments[2:]])
        return path

    def _authenticate(self, req: _Request) -> tuple[User | None, Reply | None]:
        header = req.headers.get("authorization", "")
        if not header:
            return None, None
        scheme, _, value = header.partition(" ")
        token = self.tokens.get(value.strip()) if scheme.lower() in ("token", "bearer") else None
        if token is None or token.revoked:
            return None, Reply(401, json.loads(_error_body(401, "Bad credentials")))
        return token.user, None

    def _bucket(self, resource: str) -> list[int]:
        now = int(self.now())
        bucket = self._buckets.get(resource)
        if bucket is None or now >= bucket[2]:
            bucket = self._buckets[resource] = [self._rate_limit, self._rate_limit, now + 3600]
        return bucket

    def _exhausted(self, resource: str) -> Reply | None:
        if not resource or self._bucket(resource)[1] > 0:
            return None
        return Reply(403, json.loads(_error_body(403, "API rate limit exceeded for user ID 1.")))

    def _take_fault(self, operation: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and fault.operation in (operation, "*"):
                fault.remaining -= 1
                return fault
        return None

    def _answer_fault(self, req: _Request, operation: str, fault: Fault) -> tuple[int, dict[str, str], bytes]:
        headers = {"content-type": fault.content_type, **self._rate_headers("core"), **fault.headers}
        if fault.reset_in is not None:
            headers["x-ratelimit-reset"] = str(int(self.now()) + fault.reset_in)
        response = json.loads(fault.body) if "json" in fault.content_type else None
        self._record(req, operation, fault.status, response)
        return fault.status, headers, fault.body

    def _refuse(
        self, req: _Request, operation: str | None, kind: Kind, message: str
    ) -> tuple[int, dict[str, str], bytes]:
        self._violate(kind, req, operation, message)
        body = _error_body(501, f"Not implemented by the fake GitHub: {message}")
        self._record(req, operation, 501, json.loads(body))
        return 501, {"content-type": "application/json; charset=utf-8"}, body

    def _violate(self, kind: Kind, req: _Request, operation: str | None, message: str) -> None:
        self.violations.append(Violation(kind, req.method, req.prefix + req.path, operation, message))

    def _rate_headers(self, resource: str) -> dict[str, str]:
        if not resource:
            return {}
        limit, remaining, reset = self._bucket(resource)
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-used": str(limit - remaining),
            "x-ratelimit-resource": resource,
        }

    def _finish(
        self,
        req: _Request,
        operation: str | None,
        reply: Reply,
        resource: str,
        *,
        count: bool = True,
        graphql_fields: tuple[str, ...] = (),
    ) -> tuple[int, dict[str, str], bytes]:
        body = b"" if reply.body is None else json.dumps(reply.body).encode()
        headers = {"x-github-media-type": "github.v3; format=json", "x-github-request-id": uuid.uuid4().hex}
        if reply.body is not None:
            headers["content-type"] = "application/json; charset=utf-8"
        status = reply.status
        if req.method == "GET" and status == 200:
            etag = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            headers["etag"] = etag
            if _etag_matches(req.headers.get("if-none-match", ""), etag):
                # GitHub: an authorized 304 does not count against the rate limit.
                status, body, count = 304, b"", False
                headers.pop("content-type", None)
        if count and resource and status != 401:
            self._bucket(resource)[1] -= 1
        headers.update(self._rate_headers(resource))
        headers.update(reply.headers)
        self._record(req, operation, status, reply.body if status != 304 else None, graphql_fields)
        return status, headers, body

    def _record(
        self,
        req: _Request,
        operation: str | None,
        status: int,
        response: Any,
        graphql_fields: tuple[str, ...] = (),
    ) -> None:
        headers = {k: v for k, v in req.headers.items() if k != "authorization"}
        self._calls.append(
            Call(
                req.method,
                req.path,
                req.query,
                operation,
                status,
                req.json(),
                response,
                headers,
                req.prefix,
                graphql_fields,
            )
        )

    def _paginate(self, req: _Request, path: str, reply: Reply, ctx: Ctx) -> Reply:
        items = list(reply.body)
        per_page = max(1, min(ctx.int_param("per_page", 30), 100))
        page = max(1, ctx.int_param("page", 1))
        last = max(1, -(-len(items) // per_page))
        links = {}
        if page > 1:
            links["prev"] = page - 1
        if page < last:
            links["next"] = page + 1
            links["last"] = last
        if page > 1:
            links["first"] = 1
        if links:
            link_path = path
            segments = path.strip("/").split("/")
            if segments[0] == "repos" and len(segments) >= 3:
                repo = self.repos.get(f"{segments[1]}/{segments[2]}".lower())
                if repo is not None:
                    link_path = "/" + "/".join(["repositories", str(repo.id), *segments[3:]])
            base = [(k, v) for k, v in req.query if k != "page"]
            reply.headers["link"] = ", ".join(
                f'<{req.origin}{req.prefix}{link_path}?{urlencode([*base, ("page", str(n))])}>; rel="{rel}"'
                for rel, n in links.items()
            )
        reply.body = items[(page - 1) * per_page : page * per_page]
        return reply

    # -- transports --------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        """An httpx transport (sync and async) answering from this fake, in-process."""

        def handler(request: httpx.Request) -> httpx.Response:
            body = request.read()
            headers = {k.lower(): v for k, v in request.headers.items()}
            status, out_headers, out = self.handle(request.method, str(request.url), headers, body)
            return httpx.Response(status, headers=out_headers, content=out)

        return httpx.MockTransport(handler)

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI: serve this fake (uvicorn on 127.0.0.1, or ``httpx.ASGITransport``)."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host") or "{}:{}".format(*scope.get("server", ("127.0.0.1", 80)))
        query = scope.get("query_string", b"").decode("latin-1")
        raw_path = scope.get("raw_path") or scope["path"].encode()
        url = f"{scope.get('scheme', 'http')}://{host}{raw_path.decode('latin-1')}" + (
            f"?{query}" if query else ""
        )
        status, out_headers, body = self.handle(scope["method"], url, headers, b"".join(chunks))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in out_headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})


@dataclass
class _Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    origin: str
    prefix: str

    def json(self) -> Any:
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


_REASONS = {401: "Bad credentials", 403: "Forbidden", 404: "Not Found", 422: "Validation Failed"}


def _error_body(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> bytes:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return json.dumps(body).encode()


def _etag_matches(header: str, etag: str) -> bool:
    # Weak comparison (RFC 9110 §13.1.2): W/ prefixes do not matter for If-None-Match.
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
    return "*" in wanted or etag.removeprefix("W/") in wanted


def _sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()
