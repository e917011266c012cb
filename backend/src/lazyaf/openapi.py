"""Print the API's OpenAPI document: ``python -m lazyaf.openapi > frontend/src/lib/api/openapi.json``.

The board's TypeScript types are generated from it (``scripts/gen-api.sh``); a backend test checks
that the committed copy matches, so the types never drift from the API. With ``transitions``, print
what ``GET /api/meta/transitions`` answers instead (the board's tests use that copy as the server's
answer; a backend test checks it too).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def document() -> dict[str, Any]:
    from lazyaf.main import create_app
    from lazyaf.settings import Settings

    with tempfile.TemporaryDirectory(prefix="lazyaf-openapi-") as tmp:
        app = create_app(Settings(data_dir=Path(tmp), frontend_dir=None))
        return app.openapi()


def render() -> str:
    return json.dumps(document(), indent=1, sort_keys=True) + "\n"


def render_transitions() -> str:
    from lazyaf.orchestration.schemas import transitions

    return json.dumps(transitions().model_dump(mode="json"), indent=1) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_transitions() if sys.argv[1:] == ["transitions"] else render())
