#!/usr/bin/env bash
# Run every test suite (protocol, backend, runner, cli, testkit), each with its own pytest config, then print one
# combined summary line. Extra arguments go to every pytest run (e.g. -x, -k name).
set -uo pipefail
cd "$(dirname "$0")/.."
# GitHub's official test data for the fake GitHub (testkit/); a no-op when already extracted.
testkit/setup.sh
passed=0 failed=0 skipped=0 status=0
for suite in protocol backend runner cli testkit; do
  echo "=== $suite ==="
  out=$(mktemp)
  (cd "$suite" && ../.venv/bin/python -m pytest -p no:cacheprovider "$@") 2>&1 | tee "$out"
  code=${PIPESTATUS[0]}
  [ "$code" -eq 0 ] || status=1
  summary=$(grep -E "(passed|failed|error|skipped|no tests ran).* in [0-9.]+s" "$out" | tail -1)
  for kind in passed failed skipped; do
    n=$(printf '%s' "$summary" | grep -oE "[0-9]+ $kind" | grep -oE "[0-9]+" || true)
    [ -n "$n" ] && eval "$kind=\$(( $kind + n ))"
  done
  n=$(printf '%s' "$summary" | grep -oE "[0-9]+ errors?" | grep -oE "[0-9]+" || true)
  [ -n "$n" ] && failed=$((failed + n))
  rm -f "$out"
done

# The board: types (svelte-check), Vitest, then Playwright end to end in Debian's Chromium.
echo "=== frontend ==="
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing Debian's chromium for the board's end-to-end tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
out=$(mktemp)
(cd frontend && npm run --silent check -- --output machine --fail-on-warnings) > "$out" 2>&1
code=$?
tail -3 "$out"
if [ "$code" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; cat "$out"; fi
(cd frontend && npx vitest run) 2>&1 | tee "$out"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -E "^ +Tests " | tail -1)
for kind in passed failed skipped; do
  n=$(printf '%s' "$summary" | grep -oE "[0-9]+ $kind" | grep -oE "[0-9]+" || true)
  [ -n "$n" ] && eval "$kind=\$(( $kind + n ))"
done
(cd frontend && npm run --silent e2e) 2>&1 | tee "$out"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
for kind in pass:passed fail:failed skipped:skipped; do
  n=$(sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -E "^ℹ ${kind%%:*} [0-9]+$" | grep -oE "[0-9]+" | tail -1 || true)
  var=${kind##*:}
  [ -n "$n" ] && eval "$var=\$(( $var + n ))"
done
rm -f "$out"

echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit $status
