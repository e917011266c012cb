#!/usr/bin/env bash
# Build lazyaf-runner:latest (what `docker compose up` and the docker pool run): starts a Docker
# engine if needed, builds the local Debian base image, then the runner image. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/docker-base-image.sh
.venv/bin/python -c "from lazyaf.runners.docker import build_runner_image as b; print(b())"
