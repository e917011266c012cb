"""Who is asking: the one place that turns a request's credential into a principal.

Principals (DESIGN.md, "Who is trusted"):

* **user**: a loopback peer presenting no credential, or any peer presenting ``LAZYAF_TOKEN``.
  The person at the machine; may do everything.
* **registration**: the runner registration token (``LAZYAF_RUNNER_TOKEN``; by default
  ``lazyaf-reg.<mac>``, derived from the key file). May only open the runner socket, where the
  hub makes it a new runner and hands it its runner secret.
* **runner**: a runner secret, ``lazyaf-runner.<runner id>.<mac>`` (the mac is an HMAC of the
  id under the key in ``<data dir>/runner-secret``, so nothing is stored per runner and a pool
  runner's secret survives a backend restart). Speaks the runner protocol as that runner only,
  fetches from git (never pushes), downloads the session of a job it holds.
* **attempt**: an attempt token, ``lazyaf-attempt.<job id>.<attempt>.<nonce>``, minted when a
  runner claims the job (``orchestration.attempts.claim``; the job row keeps the nonce's sha256). Valid while
  that attempt runs. Reads its repo, pushes only its attempt ref (gitserver/access.py), uploads
  its own session file and downloads the session it resumes.

How a request is classified (``AuthMiddleware``), on every path under ``PROTECTED_PREFIXES``:

1. The credential is ``Authorization: Bearer <c>``, or the password of HTTP basic auth (git,
   any user name); on the board socket ``/ws`` also ``?token=`` (browsers cannot set headers).
2. ``LAZYAF_TOKEN`` -> user; the registration token -> registration; ``lazyaf-runner.`` ->
   runner if its mac checks; ``lazyaf-attempt.`` -> attempt if that attempt of the job is running
   and the nonce is its own. A runner or attempt credential makes that principal even on
   loopback: it never gets the user's rights.
3. A credential of one of those shapes that does not check out is refused (401), on loopback too.
   Any other value is ignored on loopback (a board holding a stale token keeps working) and
   refused elsewhere.
4. No credential: the user on loopback, refused elsewhere.
5. Principals other than the user reach only their own routes (``ROUTES``); anything else is 403.

``/api/health`` and the board's static files are open to everyone. ``POST /api/github/webhook`` —
that method on that exact path, nothing else — is open too: GitHub cannot send a token, so its
credential is the delivery's signature, checked by the route (github/commands/router.py) against
the links' webhook secrets before anything is read or stored; it gets the ``github`` principal,
which reaches nothing else. The principal is put in
``scope["state"]["principal"]`` (``request.state.principal``; read it with ``principal_of``);
finer rules live beside what they guard: the runner hub (``runners/connection.py``), the git
server (``gitserver/access.py``) and the session endpoints (``jobs/router.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import structlog
from lazyaf_protocol.messages import (
    ATTEMPT_TOKEN_PREFIX,
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHORIZED,
    REGISTRATION_TOKEN_PREFIX,
    RUNNER_SECRET_PREFIX,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from lazyaf.cards.models import Card
from lazyaf.errors import error_response
from lazyaf.gitserver.httpio import send_text
from lazyaf.jobs.models import Job, JobStatus
from lazyaf.settings import Settings, is_loopback_host

log = structlog.get_logger(__name__)

OPEN_PATHS = ("/api/health",)
# (method, exact path) of routes that authenticate the request themselves, by a signature.
SIGNED_ROUTES = frozenset({("POST", "/api/github/webhook")})
# The API, the board socket, git and the API docs need a principal; every other path is the
# board's static files, which hold no data (the board asks for the token when the API says 401).
PROTECTED_PREFIXES = ("/api/", "/api", "/ws", "/git/", "/docs", "/redoc", "/openapi.json")
RUNNER_SOCKET = "/api/runners/connect"


# --- principals -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UserPrincipal:
    """The person at the machine. ``with_token``: authenticated by LAZYAF_TOKEN, not by loopback."""

    with_token: bool = False


@dataclass(frozen=True, slots=True)
class GitHubPrincipal:
    """A webhook delivery: whoever sent it, it reaches only the webhook route, which checks its signature."""


@dataclass(frozen=True, slots=True)
class RegistrationPrincipal:
    """A runner that presented the registration token and has no identity yet."""


@dataclass(frozen=True, slots=True)
class RunnerPrincipal:
    runner_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class AttemptPrincipal:
    """A running job attempt (what its runner's git pushes and session uploads present)."""

    job_id: uuid.UUID
    attempt: int
    repo_id: uuid.UUID
    runner_id: uuid.UUID | None


Principal = UserPrincipal | RegistrationPrincipal | RunnerPrincipal | AttemptPrincipal | GitHubPrincipal

_SESSION_GET = re.compile(r"/api/sessions/[^/]+")
_SESSION_PUT = re.compile(r"/api/jobs/[^/]+/session")
_GIT = re.compile(r"/git/.*")
_SOCKET = re.compile(re.escape(RUNNER_SOCKET))
# (method, path) each non-user principal may reach; "WS" is a WebSocket upgrade, "*" any method.
ROUTES: dict[type[Any], tuple[tuple[str, re.Pattern[str]], ...]] = {
    RegistrationPrincipal: (("WS", _SOCKET),),
    RunnerPrincipal: (("WS", _SOCKET), ("GET", _SESSION_GET), ("PUT", _SESSION_PUT), ("*", _GIT)),
    AttemptPrincipal: (("GET", _SESSION_GET), ("PUT", _SESSION_PUT), ("*", _GIT)),
    GitHubPrincipal: tuple((method, re.compile(re.escape(path))) for method, path in SIGNED_ROUTES),
}


def principal_of(connection: HTTPConnection | Scope) -> Principal:
    """The principal the middleware found for this request (the user when it did not run: tests)."""
    scope = connection.scope if isinstance(connection, HTTPConnection) else connection
    found = scope.get("state", {}).get("principal")
    return found if found is not None else UserPrincipal()


def may_reach(principal: Principal, method: str, path: str) -> bool:
    if isinstance(principal, UserPrincipal):
        return True
    return any(m in ("*", method) and pattern.fullmatch(path) for m, pattern in ROUTES[type(principal)])


# --- credentials ------------------------------------------------------------------------------


def _mac(key: bytes, message: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_nonce(nonce: str) -> str:
    """What the job row keeps of an attempt token (``job.token_hash``)."""
    return hashlib.sha256(nonce.encode()).hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def attempt_token(job_id: uuid.UUID, attempt: int, nonce: str) -> str:
    return f"{ATTEMPT_TOKEN_PREFIX}{job_id}.{attempt}.{nonce}"


def parse_attempt_token(token: str) -> tuple[uuid.UUID, int, str] | None:
    parts = token.removeprefix(ATTEMPT_TOKEN_PREFIX).split(".")
    if not token.startswith(ATTEMPT_TOKEN_PREFIX) or len(parts) != 3 or not parts[1].isdigit():
        return None
    try:
        return uuid.UUID(parts[0]), int(parts[1]), parts[2]
    except ValueError:
        return None


class RunnerCredentials:
    """The server's runner key (``<data dir>/runner-secret``) and what is derived from it.

    Deleting the file (with the server stopped) revokes every runner secret and the default
    registration token; pool runners then have to be started again.
    """

    def __init__(self, key: bytes, registration_token: str | None = None) -> None:
        self._key = key
        self.registration_token = registration_token or REGISTRATION_TOKEN_PREFIX + _mac(key, "registration")

    @classmethod
    def load(cls, settings: Settings) -> RunnerCredentials:
        """Read the key file, creating it (random, mode 0600) on first use."""
        path = settings.runner_secret_file
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32) + "\n")
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        key = path.read_text().strip()
        if len(key) < 32:
            raise ValueError(f"{path} is damaged (too short); delete it and restart to make a new one.")
        token = settings.runner_token.get_secret_value() if settings.runner_token else None
        return cls(key.encode(), token)

    def runner_secret(self, runner_id: uuid.UUID) -> str:
        return f"{RUNNER_SECRET_PREFIX}{runner_id}.{_mac(self._key, f'runner:{runner_id}')}"

    def runner_of(self, secret: str) -> uuid.UUID | None:
        """The runner a runner secret proves to be, or None when it is not a valid secret."""
        text, _, _ = secret.removeprefix(RUNNER_SECRET_PREFIX).partition(".")
        try:
            runner_id = uuid.UUID(text)
        except ValueError:
            return None
        return runner_id if hmac.compare_digest(self.runner_secret(runner_id), secret) else None


def presented_token(authorization: str) -> str | None:
    """The token in a Bearer or Basic ``Authorization`` header value, if any."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


def _presented(scope: Scope) -> str | None:
    header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    token = presented_token(header) if header else None
    if not token and scope["type"] == "websocket" and scope["path"] == "/ws":
        # Browsers cannot set headers on a WebSocket; the board sends ?token= instead.
        token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [None])[0]
    return token or None


# --- the middleware ---------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class AuthMiddleware:
    """Classify every protected request (module docstring) and refuse what its principal may not do."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        credentials: RunnerCredentials,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        self.app = app
        self.settings = settings
        self.credentials = credentials
        self.sessionmaker = sessionmaker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        protected = path.startswith(PROTECTED_PREFIXES) and path not in OPEN_PATHS
        if scope["type"] not in ("http", "websocket") or not protected:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and (scope.get("method"), path) in SIGNED_ROUTES:
            scope.setdefault("state", {})["principal"] = GitHubPrincipal()
            await self.app(scope, receive, send)
            return
        try:
            principal = await self.classify(scope)
            method = "WS" if scope["type"] == "websocket" else scope["method"]
            if not may_reach(principal, method, path):
                raise Refused(403, _forbidden(principal))
        except Refused as refused:
            log.info("request_refused", path=path, status=refused.status, reason=refused.detail)
            await self._refuse(scope, receive, send, refused)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def classify(self, scope: Scope) -> Principal:
        """The principal of a request (module docstring, rules 1-4); Refused when there is none."""
        client = scope.get("client")
        loopback = client is None or is_loopback_host(client[0])
        token = _presented(scope)
        if token is None:
            if loopback:
                return UserPrincipal()
            raise Refused(401, self._need_token())
        expected = self.settings.token_value()
        if expected is not None and hmac.compare_digest(token.encode(), expected.encode()):
            return UserPrincipal(with_token=True)
        if hmac.compare_digest(token.encode(), self.credentials.registration_token.encode()):
            return RegistrationPrincipal()
        if token.startswith(RUNNER_SECRET_PREFIX):
            runner_id = self.credentials.runner_of(token)
            if runner_id is None:
                raise Refused(
                    401,
                    "This runner secret is not valid on this server; start the runner with "
                    "the registration token (LAZYAF_RUNNER_TOKEN) instead.",
                )
            return RunnerPrincipal(runner_id)
        if token.startswith(ATTEMPT_TOKEN_PREFIX):
            return await self._attempt(token)
        if token.startswith(REGISTRATION_TOKEN_PREFIX):
            raise Refused(
                401,
                "This registration token is not this server's; get the current one from "
                "GET /api/runners/docker-command.",
            )
        if loopback:
            return UserPrincipal()  # a stale or foreign token from the user's own machine: ignored
        raise Refused(401, self._need_token())

    def _need_token(self) -> str:
        if self.settings.token is None:
            return "This server accepts only loopback clients; set LAZYAF_TOKEN on it to allow others."
        return "A token is required: send 'Authorization: Bearer <LAZYAF_TOKEN>'."

    async def _attempt(self, token: str) -> AttemptPrincipal:
        parsed = parse_attempt_token(token)
        if parsed is None:
            raise Refused(401, "This attempt token is malformed; use the token of the assignment as sent.")
        job_id, attempt, nonce = parsed
        query = (
            select(Job.status, Job.attempt, Job.token_hash, Job.runner_id, Card.repo_id)
            .join(Card, Card.id == Job.card_id)
            .where(Job.id == job_id)
        )
        async with self.sessionmaker() as session:
            row = (await session.execute(query)).first()
        if (
            row is None
            or row.token_hash is None
            or row.attempt != attempt
            or not hmac.compare_digest(row.token_hash, hash_nonce(nonce))
        ):
            raise Refused(401, f"This attempt token is not valid for attempt {attempt} of job {job_id}.")
        if row.status != JobStatus.RUNNING:
            raise Refused(401, f"Attempt {attempt} of job {job_id} has ended; its token no longer works.")
        return AttemptPrincipal(job_id=job_id, attempt=attempt, repo_id=row.repo_id, runner_id=row.runner_id)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, refused: Refused) -> None:
        if scope["type"] == "websocket":
            # Accepted, then closed with the reason: a client learns why, not just "403".
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            close = CLOSE_UNAUTHORIZED if refused.status == 401 else CLOSE_FORBIDDEN
            await send({"type": "websocket.close", "code": close, "reason": close_reason(refused.detail)})
            return
        if scope["path"].startswith("/git/"):
            if refused.status == 401 and _presented(scope) is None:
                challenge = [(b"www-authenticate", b'Basic realm="LazyAF"')]
                await send_text(send, 401, refused.detail, challenge)
            else:
                # git answers a 401 by asking for a password and shows nothing of ours; a 403's
                # text it prints as "remote: ...", so a credential that failed says why.
                await send_text(send, 403, refused.detail)
            return
        extra = {"WWW-Authenticate": "Bearer"} if refused.status == 401 else {}
        code = "unauthorized" if refused.status == 401 else "forbidden"
        await error_response(refused.status, refused.detail, code, **extra)(scope, receive, send)


def _forbidden(principal: Principal) -> str:
    if isinstance(principal, RegistrationPrincipal):
        return "The registration token only connects a runner (lazyaf-runner); use LAZYAF_TOKEN for the API."
    if isinstance(principal, RunnerPrincipal):
        return "A runner secret reaches only the runner socket, git fetches and session files."
    if isinstance(principal, GitHubPrincipal):
        return "Only GitHub's webhook deliveries are taken without a token."
    return "An attempt token reaches only its repo's git and its session files."


def close_reason(text: str) -> str:
    """``text`` cut to the 123 bytes a WebSocket close reason may hold."""
    data = text.encode()
    return text if len(data) <= 123 else data[:120].decode("utf-8", "ignore") + "..."
