#!/usr/bin/env bash
# Install the pinned Claude Code CLI (runner/claude/package.json) into runner/claude/node_modules
# and print the absolute path of its binary on stdout. Safe to re-run; instant when the pinned
# version already answers `--version`. Progress and errors go to stderr.
set -euo pipefail
cd "$(dirname "$0")/../runner/claude"

fail() { echo "install-claude: $*" >&2; exit 1; }

want=$(node -p 'require("./package.json").dependencies["@anthropic-ai/claude-code"]' 2>/dev/null) \
  || fail "node is missing; install Node.js 18 or newer (Debian: apt-get install nodejs npm)."
bin="$PWD/node_modules/.bin/claude"

answers() { [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "^$want "; }

if ! answers; then
  command -v npm >/dev/null 2>&1 || fail "npm is missing; install it (Debian: apt-get install npm)."
  echo "install-claude: installing @anthropic-ai/claude-code@$want into $PWD (about 240 MB)" >&2
  if ! npm ci --no-audit --no-fund --loglevel=error >&2; then
    npm install --no-audit --no-fund --loglevel=error >&2 \
      || fail "npm could not install @anthropic-ai/claude-code@$want; check the network or the npm registry."
  fi
  # The package's postinstall copies the native binary over a placeholder bin/claude.exe. npm
  # setups that skip install scripts leave the placeholder, so run it ourselves then.
  if ! answers && [ -f node_modules/@anthropic-ai/claude-code/install.cjs ]; then
    (cd node_modules/@anthropic-ai/claude-code && node install.cjs >&2) || true
  fi
  answers || fail "$bin does not answer --version with $want after installing; see the npm output above."
fi

# A symlink to node_modules/@anthropic-ai/claude-code/bin/claude.exe, a self-contained ELF.
echo "$bin"
