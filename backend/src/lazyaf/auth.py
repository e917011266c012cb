"""Token check for clients that are not on loopback.

On loopback no credentials are needed. Any other peer must present the configured token, as
``Authorization: Bearer <token>`` (API, git) or as the password of HTTP basic auth (git clients).
With no token configured, non-loopback peers are refused outright.
"""

from __future__ import annotations

import base64
import hmac
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from lazyaf.errors import error_response
from lazyaf.settings import Settings, is_loopback_host

OPEN_PATHS = ("/api/health",)
# The API, the board socket, git and the API docs need the token off loopback; every other path is
# the board's static files, which hold no data (the board asks for the token when the API says 401).
PROTECTED_PREFIXES = ("/api/", "/api", "/ws", "/git/", "/docs", "/redoc", "/openapi.json")


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


class TokenAuthMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        is_git = scope["path"].startswith("/git/")
        if self.settings.token is None:
            detail = "This server accepts only loopback clients; set LAZYAF_TOKEN on it to allow others."
        else:
            detail = "A token is required: send 'Authorization: Bearer <LAZYAF_TOKEN>'."
        challenge = 'Basic realm="LazyAF"' if is_git else "Bearer"
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401, "reason": "unauthorized"})
            return
        response = error_response(401, detail, "unauthorized", **{"WWW-Authenticate": challenge})
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        client = scope.get("client")
        path = scope["path"]
        if client is None or is_loopback_host(client[0]) or path in OPEN_PATHS:
            return True
        if not path.startswith(PROTECTED_PREFIXES):
            return True
        expected = self.settings.token_value()
        if expected is None:
            return False
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        token = presented_token(header)
        if token is None and scope["type"] == "websocket" and path == "/ws":
            # Browsers cannot set headers on a WebSocket; the board sends ?token= instead.
            token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [None])[0]
        return token is not None and hmac.compare_digest(token.encode(), expected.encode())
