#!/usr/bin/env bash
# Set up a fresh machine for LazyAF: system tools it needs, then .venv at the repository root
# with the protocol package, the runner, the backend, the CLI, the test tools and the test
# doubles (testkit/) installed editable.
# Safe to re-run; fast when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing ${need_apt[*]} from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "bootstrap: please install: ${need_apt[*]}" >&2
    exit 1
  fi
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bootstrap: LazyAF needs Python 3.11 or newer (found $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi

stamp=.venv/.lazyaf-installed
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ -n "$(find backend/pyproject.toml cli/pyproject.toml runner/pyproject.toml protocol/pyproject.toml testkit/pyproject.toml scripts/bootstrap.sh -newer "$stamp" 2>/dev/null)" ]; then
  echo "bootstrap: installing Python packages into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e protocol -e runner -e "backend[dev]" -e cli -e testkit
  touch "$stamp"
fi

# The pinned Claude Code CLI that local runners (and the tests) run.
scripts/install-claude.sh >/dev/null

# The board: install its packages when the lock file changed, build it when a source changed.
if [ ! -f frontend/node_modules/.package-lock.json ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then
  echo "bootstrap: installing the board's packages (npm ci)" >&2
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
if [ ! -f frontend/dist/index.html ] || [ -n "$(find frontend/src frontend/index.html frontend/public frontend/package-lock.json frontend/vite.config.ts -newer frontend/dist/index.html 2>/dev/null | head -1)" ]; then
  echo "bootstrap: building the board" >&2
  (cd frontend && npm run build --silent >/dev/null)
fi
