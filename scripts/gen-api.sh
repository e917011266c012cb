#!/usr/bin/env bash
# Regenerate the board's API types from the backend's OpenAPI document.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m lazyaf.openapi > frontend/src/lib/api/openapi.json
cd frontend && npx openapi-typescript src/lib/api/openapi.json -o src/lib/api/schema.d.ts >/dev/null
