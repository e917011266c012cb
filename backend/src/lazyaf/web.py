"""Serve the built board (``frontend/dist``) at ``/``: one origin, one port.

Hashed assets under ``/assets/`` are cached for a year; ``index.html`` never is. A file's
``.gz`` sibling (written by the front-end build) is sent to clients that accept gzip. Paths
under ``/api`` that no route took get the API's JSON 404, not the page.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from lazyaf.errors import error_response

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>LazyAF</title>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>LazyAF is running</h1>
<p>The board has not been built yet. Run <code>make run</code> from the checkout (it builds
<code>frontend/</code>), or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>
<p>The API is at <a href="/docs">/docs</a>.</p>
"""

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/css", ".css")
mimetypes.add_type("image/svg+xml", ".svg")


class BoardApp:
    """A small static-file ASGI app with an index.html fallback for client-side paths."""

    def __init__(self, root: Path | None) -> None:
        self.root = root.resolve() if root is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.respond(scope)
        await response(scope, receive, send)

    def respond(self, scope: Scope) -> Response:
        if scope["path"].startswith(("/api/", "/git/")) or scope["path"] == "/api":
            return error_response(
                404, f"No such endpoint: {scope['path']}; see /docs for the API.", "not_found"
            )
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return Response("Method not allowed", status_code=405)
        if self.root is None or not (self.root / "index.html").is_file():
            return HTMLResponse(NOT_BUILT)
        relative = scope["path"].lstrip("/")
        target = (self.root / relative).resolve() if relative else self.root / "index.html"
        if not target.is_relative_to(self.root) or not target.is_file():
            if relative.startswith("assets/") or "." in relative.rsplit("/", 1)[-1]:
                return Response("Not found", status_code=404, media_type="text/plain")
            target = self.root / "index.html"  # a client-side path: the app decides
        immutable = target.parent.name == "assets"
        headers = {"cache-control": "public, max-age=31536000, immutable" if immutable else "no-cache"}
        media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        accepts = dict(scope["headers"]).get(b"accept-encoding", b"")
        compressed = target.with_name(target.name + ".gz")
        if b"gzip" in accepts and compressed.is_file():
            headers["content-encoding"] = "gzip"
            headers["vary"] = "accept-encoding"
            return FileResponse(compressed, media_type=media_type, headers=headers)
        return FileResponse(target, media_type=media_type, headers=headers)
