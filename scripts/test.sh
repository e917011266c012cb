#!/usr/bin/env bash
# Run every test suite (backend, runner, cli), each with its own pytest config, then print one
# combined summary line. Extra arguments go to every pytest run (e.g. -x, -k name).
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0 status=0
for suite in backend runner cli; do
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
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit $status
