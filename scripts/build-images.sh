#!/usr/bin/env bash
# Build the images docker-compose.yml runs: lazyaf-backend:latest and lazyaf-runner:latest, both
# from the local Debian base image (no image registry needed). Starts a Docker engine if needed.
# Idempotent: an image built from the same sources is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/docker-base-image.sh
.venv/bin/python - <<'PY'
from lazyaf.runners.docker import build_backend_image, build_runner_image

print("lazyaf-runner:latest", build_runner_image())
print("lazyaf-backend:latest", build_backend_image())
PY
