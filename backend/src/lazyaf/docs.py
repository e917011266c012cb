"""``/docs``: Swagger UI served from the installed ``swagger-ui-bundle-v2`` package, not a CDN.

It works offline and under the boundary's Content-Security-Policy: the page has no inline script
(its set-up is ``/docs/init.js``), and every asset comes from this origin. The package's
``swagger-ui-bundle.js`` and ``swagger-ui.css`` are byte for byte those of the official
``swagger-ui-dist`` npm package of the same version.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import FileResponse, HTMLResponse, Response

from lazyaf.errors import NotFound

ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""

INIT = """window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  layout: 'BaseLayout',
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


def swagger_ui_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

    return Path(str(swagger_ui_path))


def install_docs(app: FastAPI) -> None:
    """Serve the API docs at /docs (the app is created with docs_url and redoc_url off)."""
    router = APIRouter(include_in_schema=False)
    root = swagger_ui_dir()

    @router.get("/docs")
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(PAGE.format(title=app.title), headers={"cache-control": "no-cache"})

    @router.get("/docs/init.js")
    async def docs_init() -> Response:
        return Response(INIT, media_type="text/javascript", headers={"cache-control": "no-cache"})

    @router.get("/docs/assets/{name}")
    async def docs_asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise NotFound(f"No docs asset {name}.")
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(
            root / name, media_type=media_type, headers={"cache-control": "public, max-age=86400"}
        )

    app.include_router(router)
