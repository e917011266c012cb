#!/usr/bin/env bash
# Regenerate the board's API types from the backend's OpenAPI document (board events included), and
# the copy of GET /api/meta/transitions the board's tests answer with.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m lazyaf.openapi > frontend/src/lib/api/openapi.json
.venv/bin/python -m lazyaf.openapi transitions > frontend/src/lib/api/transitions.json
cd frontend && npx openapi-typescript src/lib/api/openapi.json -o src/lib/api/schema.d.ts >/dev/null
