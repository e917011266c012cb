"""The web boundary: which requests a browser may make, how big they may be, what pages may do.

One ASGI middleware, outermost, in front of everything (the API, ``/ws``, the runners' socket, git
and the board). In order, for HTTP requests and WebSocket upgrades:

1. **Host** (DNS rebinding). The ``Host`` header must name this server: a loopback name
   (``localhost``, ``127.0.0.0/8``, ``[::1]``), the host of ``LAZYAF_PUBLIC_URL``, a non-loopback
   ``LAZYAF_HOST``, or an entry of ``LAZYAF_ALLOWED_HOSTS``. Names match on any port: a rebinding
   page puts *its own* name in ``Host``, so the port adds nothing, while the port a client dials
   often differs from the one uvicorn binds (``docker -p 8080:8765``, reverse proxies, the Vite dev
   server, which passes the browser's ``Host: localhost:5173`` through). An entry written
   ``name:port`` matches that port only. The set lives in ``app.state.allowed_hosts``
   (:class:`AllowedHosts`) and may grow at runtime (the Docker network's gateway address).
   Refused: 400 ``host_not_allowed``.
2. **Origin** (CSRF, cross-site WebSockets). A state-changing request (POST, PUT, PATCH, DELETE)
   or a WebSocket upgrade is refused (403 ``cross_origin``) when it carries an ``Origin`` other than
   the server's own — the scheme, host and port of the request's (allowed) ``Host``, or the origin
   of ``LAZYAF_PUBLIC_URL`` — or ``Sec-Fetch-Site: cross-site`` or ``same-site``. ``same-site``
   counts as foreign: for ``localhost`` and IP addresses the "site" ignores the port, so it means
   *another* local web app, never this board (whose own requests are ``same-origin``). Requests
   without ``Origin`` (the CLI, git, curl, runners) are not browsers' and pass. Reads (GET, HEAD)
   are refused too when the browser marks them cross-site or same-site and they are not a
   top-level navigation: nothing but a link needs to reach LazyAF from another site, and no CORS
   header is ever sent, so such reads were unreadable anyway.
3. **Body size.** An HTTP request body larger than ``LAZYAF_MAX_REQUEST_BYTES`` is refused with
   413 ``request_too_large`` — by ``Content-Length`` before anything is read, or once the bytes
   received pass the cap for a chunked body (the app's partial answer is discarded). Git
   (``/git/``) and agent session uploads (``PUT /api/jobs/{id}/session``) stream to disk and keep
   their own caps; GitHub's webhook (``/api/github/webhook``) reads up to GitHub's own 25 MB cap.
4. **Page headers** on every HTTP answer: ``X-Frame-Options: DENY``, a Content-Security-Policy the
   built board and ``/docs`` work under (scripts, styles, fonts and connections from this origin
   only, nothing inline; no frames, plugins or ``<base>``; every e2e test in Chromium fails on a
   violation), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, and
   ``Cross-Origin-Resource-Policy`` / ``Cross-Origin-Opener-Policy: same-origin``.

A refused WebSocket is refused before it is accepted: an HTTP 4xx with the JSON body where the
server supports it (uvicorn does), else a close, which the client sees as 403.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lazyaf.errors import error_response
from lazyaf.settings import Settings, is_loopback_host

log = structlog.get_logger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FOREIGN_SITES = frozenset({b"cross-site", b"same-site"})
_NAME = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]{0,252})$")
_PORT = re.compile(r"^[0-9]{1,5}$")
# Bodies of these stream to disk, or are read by the route, under caps of their own.
_UNCAPPED_PATH = re.compile(r"^/git/|^/api/jobs/[^/]+/session$|^/api/github/webhook$")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # No 'unsafe-inline': Svelte sets styles through the CSSOM (style.cssText, setProperty),
        # which CSP allows, and the board has no style="" in its markup; Swagger UI (React) too.
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def split_host(value: str) -> tuple[str, int | None] | None:
    """``(name, port)`` of a ``Host`` header (or allowed-hosts entry), or None when it is not one.

    Names are lower-cased without a trailing dot; IPv6 addresses keep their brackets.
    """
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return None
        name, rest = value[: end + 1], value[end + 1 :]
        if not is_valid_ipv6(name[1:-1]):
            return None
    else:
        name, colon, port_text = value.partition(":")
        rest = colon + port_text
        name = name.removesuffix(".")
        if not _NAME.match(name):
            return None
    port: int | None = None
    if rest:
        if not rest.startswith(":") or not _PORT.match(rest[1:]) or int(rest[1:]) > 65535:
            return None
        port = int(rest[1:])
    return name, port


def is_valid_ipv6(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def origin_of(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin or URL, the port filled in from the scheme."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.netloc or "@" in parts.netloc:
            return None
        hostport = split_host(parts.netloc)
    except ValueError:
        return None
    if hostport is None:
        return None
    name, port = hostport
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return scheme, name, port if port is not None else DEFAULT_PORTS[scheme]


@dataclass
class AllowedHosts:
    """The host names this server answers to, besides loopback ones; may change at runtime.

    ``add("172.18.0.1:8765")`` lets requests with that ``Host`` in (that port only);
    ``add("lazyaf.lan")`` lets that name in on any port. ``discard`` takes an entry back out.
    """

    entries: set[tuple[str, int | None]] = field(default_factory=set)

    @classmethod
    def from_settings(cls, settings: Settings) -> AllowedHosts:
        hosts = cls()
        for entry in settings.allowed_hosts:
            hosts.add(entry)
        if settings.public_url:
            public = origin_of(settings.public_url)
            if public is None:
                raise ValueError(f"LAZYAF_PUBLIC_URL '{settings.public_url}' is not an http(s) URL.")
            hosts.add(public[1])
        if not is_loopback_host(settings.host) and settings.host not in ("0.0.0.0", "::", ""):
            # A wildcard address is no name a client uses: list the machine's names in allowed_hosts.
            host = settings.host
            hosts.add(f"[{host}]" if is_valid_ipv6(host) else host)
        return hosts

    def add(self, entry: str) -> None:
        parsed = split_host(entry)
        if parsed is None:
            raise ValueError(f"'{entry}' is not a host name or host:port.")
        self.entries.add(parsed)

    def discard(self, entry: str) -> None:
        parsed = split_host(entry)
        if parsed is not None:
            self.entries.discard(parsed)

    def __iter__(self) -> Iterator[str]:
        for name, port in sorted(self.entries, key=lambda e: (e[0], e[1] or 0)):
            yield name if port is None else f"{name}:{port}"

    def __contains__(self, host: object) -> bool:
        return isinstance(host, str) and self.allows(host)

    def allows(self, host: str, scheme: str = "http") -> bool:
        """Whether a request with this ``Host`` header is for this server."""
        parsed = split_host(host)
        if parsed is None:
            return False
        name, port = parsed
        if is_loopback_host(name):
            return True
        if port is None:
            port = DEFAULT_PORTS.get(scheme, 80)
        return (name, None) in self.entries or (name, port) in self.entries

    def update(self, entries: Iterable[str]) -> None:
        for entry in entries:
            self.add(entry)


class _BodyTooLarge(Exception):
    pass


class BoundaryMiddleware:
    """Host and Origin checks, the request body cap and the page security headers (module doc)."""

    def __init__(self, app: ASGIApp, settings: Settings, allowed_hosts: AllowedHosts) -> None:
        self.app = app
        self.settings = settings
        self.allowed_hosts = allowed_hosts
        self.public_origin = origin_of(settings.public_url) if settings.public_url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            status, detail, code = refusal
            await self._refuse(scope, receive, send, status, detail, code)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self._serve_http(scope, receive, send)

    # -- the checks ------------------------------------------------------------------------------

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        headers = _headers(scope)
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        host = headers.get(b"host", b"").decode("latin-1")
        if not host:
            return 400, "Send a Host header naming this server.", "host_not_allowed"
        if not self.allowed_hosts.allows(host, scheme):
            shown = host[:100]
            name = (split_host(host) or (shown, None))[0]
            return (
                400,
                f"This server does not answer to the host name '{shown}' (a guard against DNS "
                f"rebinding); open LazyAF at localhost or 127.0.0.1, or add '{name}' to "
                "LAZYAF_ALLOWED_HOSTS on the server.",
                "host_not_allowed",
            )
        is_socket = scope["type"] == "websocket"
        method = scope.get("method", "GET")
        site = headers.get(b"sec-fetch-site")
        origin = headers.get(b"origin")
        if is_socket or method not in SAFE_METHODS:
            if origin is not None and not self._is_own_origin(origin.decode("latin-1"), scheme, host):
                return (
                    403,
                    f"Refused: this request comes from the web page at {origin.decode('latin-1')[:100]}, "
                    "not from LazyAF's own board; only the board, the CLI, git and runners may "
                    "change anything or open a socket.",
                    "cross_origin",
                )
            if site in FOREIGN_SITES:
                return (
                    403,
                    f"Refused: the browser marked this request as {site.decode()} (sent by another "
                    "web page); only LazyAF's own board, the CLI, git and runners may change "
                    "anything or open a socket.",
                    "cross_origin",
                )
        elif site in FOREIGN_SITES and headers.get(b"sec-fetch-mode") != b"navigate":
            return (
                403,
                f"Refused: another web page ({site.decode()}) tried to read from LazyAF; open "
                "LazyAF's board itself instead.",
                "cross_origin",
            )
        return None

    def _is_own_origin(self, origin: str, scheme: str, host: str) -> bool:
        found = origin_of(origin)
        if found is None:  # "null" (sandboxed frames, file: pages, redirects) or garbage
            return False
        own = origin_of(f"{scheme}://{host}")
        return found == own or (self.public_origin is not None and found == self.public_origin)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, detail: str, code: str
    ) -> None:
        headers = _headers(scope)
        log.warning(
            "request_refused",
            code=code,
            path=scope["path"][:200],
            method=scope.get("method", "WEBSOCKET"),
            host=headers.get(b"host", b"").decode("latin-1")[:100],
            origin=headers.get(b"origin", b"").decode("latin-1")[:100] or None,
            sec_fetch_site=headers.get(b"sec-fetch-site", b"").decode("latin-1")[:20] or None,
        )
        response = error_response(status, detail, code)
        if scope["type"] == "websocket":
            if "websocket.http.response" in scope.get("extensions", {}):
                await response(scope, receive, send)  # Starlette sends websocket.http.response.*
            else:
                await send({"type": "websocket.close", "code": 1008, "reason": code})
            return
        await response(scope, receive, _with_security_headers(send))

    # -- HTTP: body cap and headers --------------------------------------------------------------

    async def _serve_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        send = _with_security_headers(send)
        limit = None if _UNCAPPED_PATH.match(scope["path"]) else self.settings.max_request_bytes
        if limit is None:
            await self.app(scope, receive, send)
            return
        too_large = error_response(
            413,
            f"The request body is larger than {_size(limit)}, the limit for API requests "
            "(LAZYAF_MAX_REQUEST_BYTES); send less.",
            "request_too_large",
        )
        declared = _headers(scope).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            log.warning(
                "request_refused", code="request_too_large", path=scope["path"][:200], bytes=int(declared)
            )
            await too_large(scope, receive, send)
            return

        received = 0
        exceeded = False
        started = False

        async def capped_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app answers to a cut-off body, the answer is 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            log.warning("request_refused", code="request_too_large", path=scope["path"][:200], bytes=received)
            await too_large(scope, receive, send)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope.get("headers") or [])


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n} bytes"


def _with_security_headers(send: Send) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            if b"content-security-policy" not in present:
                extra.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
            message = {**message, "headers": headers + extra}
        await send(message)

    return sender
