"""ASGI app serving git smart-HTTP at ``/git/{repo}.git/...`` (mounted by ``create_app``), where
``{repo}`` is the repo's id or its name (or a name it had before a rename: ``resolve_name``). Either
way the request is resolved to the repo id first; access rules and push notifications only ever
see that id, so a URL by name is held to exactly the same rules as one by id.

Endpoints: ``GET info/refs?service=git-upload-pack|git-receive-pack``, ``POST git-upload-pack``,
``POST git-receive-pack`` and ``GET HEAD``; the dumb protocol is not served.

It is a raw ASGI app rather than Starlette routes because the body must be streamed to the
backend while the answer streams back, which Starlette's request/response helpers do not do
reliably together. Two backends do the git work (``PackBackend``): the git binary (``gitproc``)
and dulwich in a worker thread (``dulwich_backend``), used when there is no git binary.
After every receive-pack that changed refs, ``on_push`` gets exactly those changes. Who may
read and write what is decided per request from its principal (``access.py``).
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import anyio
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from lazyaf.auth import principal_of
from lazyaf.git import store
from lazyaf.gitserver import access
from lazyaf.gitserver.httpio import (
    SERVICES,
    ClientDisconnected,
    GitHTTPError,
    GitRequest,
    PackBackend,
    RequestBody,
    ResponseStream,
    Service,
    send_text,
    watch_disconnect,
)
from lazyaf.gitserver.refs import NameResolver, RefListener, RefUpdate, RepoResolver
from lazyaf.settings import Settings

log = structlog.get_logger(__name__)

_PATH = re.compile(r"/(?P<repo>[^/]*)\.git/(?P<rest>info/refs|git-upload-pack|git-receive-pack|HEAD)")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# What a repo name may be (repos/schemas.py); anything else is not looked up at all.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_METHODS = {"info/refs": "GET", "HEAD": "GET", "git-upload-pack": "POST", "git-receive-pack": "POST"}
_GIT_PROTOCOL = re.compile(r"[A-Za-z0-9=:._-]{1,256}")


def resolve_git_backend(settings: Settings) -> str:
    """``git`` when the git binary is there (or asked for), else ``dulwich``."""
    if settings.git_backend != "auto":
        return settings.git_backend
    return "git" if shutil.which(settings.git_binary) else "dulwich"


def _make_backend(settings: Settings, backend: str) -> PackBackend:
    if backend == "git":
        from lazyaf.gitserver.gitproc import GitProcessBackend, hooks_dir

        return GitProcessBackend(settings, hooks_dir(settings))
    if backend == "dulwich":
        from lazyaf.gitserver.dulwich_backend import DulwichBackend

        return DulwichBackend(settings)
    raise ValueError(f"Unknown git backend {backend!r}; use 'git' or 'dulwich'.")


def _route_path(scope: Scope) -> str:
    # Starlette's Mount leaves the full path in scope["path"] and the mount prefix in root_path.
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _printable(text: str, limit: int = 80) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


@dataclass(frozen=True, slots=True)
class _Target:
    repo_text: str
    action: str


def _parse_target(scope: Scope) -> _Target:
    match = _PATH.fullmatch(_route_path(scope))
    if match is None:
        raise GitHTTPError(
            404, "Not found: this server speaks git smart HTTP only (clone /git/<repo name>.git)."
        )
    target = _Target(repo_text=match["repo"], action=match["rest"])
    expected = _METHODS[target.action]
    if scope["method"] != expected:
        raise GitHTTPError(405, f"Use {expected} for {target.action}.", [(b"allow", expected.encode())])
    return target


def _service_from_query(scope: Scope) -> Service:
    query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    name = (query.get("service") or [""])[0]
    for service in SERVICES:
        if name == service:
            return service
    if not name:
        raise GitHTTPError(
            403, "The dumb HTTP protocol is not served; use a git client that speaks smart HTTP."
        )
    raise GitHTTPError(
        403, f"Unsupported service '{_printable(name)}'; use git-upload-pack or git-receive-pack."
    )


def _git_request(scope: Scope, repo_id: uuid.UUID, path: Path, service: Service) -> GitRequest:
    protocol = _header(scope, b"git-protocol")
    if protocol is not None and not _GIT_PROTOCOL.fullmatch(protocol):
        protocol = None  # passed to git's environment: only the key=value:... shape git sends
    allowed = access.check(principal_of(scope), repo_id, service)
    return GitRequest(
        repo_id=repo_id, path=path, service=service, push_ref=allowed.push_ref, git_protocol=protocol
    )


def _check_post_headers(scope: Scope, service: Service) -> bool:
    """Validate Content-Type; return whether the body is gzip-encoded."""
    expected = f"application/x-{service}-request"
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if content_type != expected:
        raise GitHTTPError(415, f"Content-Type must be {expected}.")
    encoding = (_header(scope, b"content-encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise GitHTTPError(415, f"Unsupported Content-Encoding '{_printable(encoding)}'; send gzip or none.")
    return encoding != "identity"


class GitApp:
    """The ASGI callable; one instance per server."""

    def __init__(
        self,
        settings: Settings,
        backend: PackBackend,
        resolve_repo: RepoResolver,
        on_push: RefListener,
        resolve_name: NameResolver | None = None,
    ) -> None:
        self._settings = settings
        self._backend = backend
        self._resolve_repo = resolve_repo
        self._resolve_name = resolve_name
        self._on_push = on_push

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        out = ResponseStream(send)
        try:
            await self._dispatch(scope, receive, send, out)
        except ClientDisconnected:
            log.info("git_client_disconnected", path=scope["path"])
        except GitHTTPError as exc:
            await self._answer_error(send, out, exc)
        except Exception:
            log.exception("git_request_failed", path=scope["path"])
            await self._answer_error(
                send, out, GitHTTPError(500, "Internal error in the git server; see its log.")
            )

    async def _answer_error(self, send: Send, out: ResponseStream, exc: GitHTTPError) -> None:
        if out.is_started:
            # Mid-answer: returning without ending the response makes the server drop the
            # connection, so the client reports an error instead of waiting for more.
            log.warning("git_response_aborted", status=exc.status, reason=exc.message)
            return
        await send_text(send, exc.status, exc.message, exc.headers)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, out: ResponseStream) -> None:
        target = _parse_target(scope)
        repo_id, path = await self._locate(target.repo_text)
        if target.action == "HEAD":
            access.check(principal_of(scope), repo_id, "git-upload-pack")
            await self._head(send, path)
            return
        if target.action == "info/refs":
            request = _git_request(scope, repo_id, path, _service_from_query(scope))
            out.content_type = f"application/x-{request.service}-advertisement"
            await self._backend.advertise(request, out)
            await out.finish()
            return
        service: Service = "git-upload-pack" if target.action == "git-upload-pack" else "git-receive-pack"
        gzip = _check_post_headers(scope, service)
        body = RequestBody(receive, gzip=gzip, max_inflated=self._settings.max_inflated_request_bytes)
        out.content_type = f"application/x-{service}-result"
        await self._rpc(_git_request(scope, repo_id, path, service), body, out)

    async def _rpc(self, request: GitRequest, body: RequestBody, out: ResponseStream) -> None:
        if request.service == "git-upload-pack":
            updates = await _with_watcher(body, out, self._backend.serve(request, body, out))
        else:
            # No disconnect watcher: once a push's body is in, let receive-pack finish, so a
            # client that hangs up early cannot leave refs half-updated or go unreported.
            updates = await self._backend.serve(request, body, out)
        if updates:
            # Before the response ends: when `git push` returns, the server already knows.
            with anyio.CancelScope(shield=True):
                await self._notify(request, updates)
        await out.finish()

    async def _notify(self, request: GitRequest, updates: list[RefUpdate]) -> None:
        log.info("git_push_received", repo_id=str(request.repo_id), refs=[u.ref for u in updates])
        try:
            await self._on_push(request.repo_id, updates)
        except Exception:
            log.exception("git_push_notification_failed", repo_id=str(request.repo_id))

    async def _locate(self, repo_text: str) -> tuple[uuid.UUID, Path]:
        """The repo id and bare repo path a URL names (by id or by name); a 404 when none.

        The path is built from the repo's UUID, never from the URL text."""
        missing = GitHTTPError(404, f"Repository '{_printable(repo_text)}' not found on this LazyAF server.")
        if _UUID.fullmatch(repo_text):
            repo_id = uuid.UUID(repo_text)
        elif self._resolve_name is not None and _NAME.fullmatch(repo_text):
            found = await self._resolve_name(repo_text)
            if found is None:
                raise missing
            repo_id = found
        else:
            raise missing
        path = store.repo_path(self._settings.git_repos_dir, repo_id)
        if not await self._resolve_repo(repo_id) or not await anyio.Path(path).is_dir():
            raise missing
        return repo_id, path

    async def _head(self, send: Send, path: Path) -> None:
        try:
            head = await anyio.Path(path / "HEAD").read_text(encoding="utf-8")
        except OSError:
            raise GitHTTPError(404, "This repository has no HEAD.") from None
        await send_text(send, 200, head)


async def _with_watcher(
    body: RequestBody, out: ResponseStream, work: Awaitable[list[RefUpdate]]
) -> list[RefUpdate]:
    """Run ``work`` while a watcher flags ``out`` when the client disconnects mid-answer."""
    result: list[RefUpdate] = []
    failure: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_disconnect, body, out)
        try:
            result = await work
        except Exception as exc:  # re-raised below, unwrapped from anyio's ExceptionGroup
            failure = exc
        tg.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return result


def make_git_app(
    settings: Settings,
    *,
    backend: str,
    resolve_repo: RepoResolver,
    on_push: RefListener,
    resolve_name: NameResolver | None = None,
) -> ASGIApp:
    """The git endpoint for ``create_app``: ``backend`` is ``"git"`` or ``"dulwich"``."""
    return GitApp(settings, _make_backend(settings, backend), resolve_repo, on_push, resolve_name)
