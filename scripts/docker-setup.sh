#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`. When none does: install Debian's docker.io
# (and iptables) if dockerd is missing, start dockerd in the background (log:
# /var/log/lazyaf-dockerd.log) and wait for it. Safe to re-run; instant when an engine answers.
# Exit 0 when an engine answers; otherwise non-zero with one line on stderr that says why.
set -euo pipefail

LOG=${LAZYAF_DOCKERD_LOG:-/var/log/lazyaf-dockerd.log}
WAIT=${LAZYAF_DOCKERD_WAIT:-60}

fail() { echo "docker-setup: $*" >&2; exit 1; }
# The client is only a probe here; any version talks to any engine through API negotiation.
answers() { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }

answers && exit 0

[ "$(id -u)" = 0 ] || fail "no Docker engine answers and starting one needs root; start dockerd yourself."

# Two callers at once (parallel test sessions) must not start two daemons.
exec 9>/run/lazyaf-docker-setup.lock
flock -w $((WAIT + 300)) 9 || fail "another docker-setup is still running; try again."
answers && exit 0

if ! command -v dockerd >/dev/null 2>&1 || ! command -v iptables >/dev/null 2>&1 \
  || ! command -v docker >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || fail "dockerd is missing and apt-get is not available; install Docker."
  echo "docker-setup: installing docker.io and iptables from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-q -o DPkg::Lock::Timeout=300)
  if ! apt-get "${apt_opts[@]}" install -y --no-install-recommends docker.io iptables >/dev/null 2>&1; then
    apt-get "${apt_opts[@]}" update >/dev/null 2>&1 || fail "apt-get update failed; check the Debian mirror."
    apt-get "${apt_opts[@]}" install -y --no-install-recommends docker.io iptables >/dev/null 2>&1 \
      || fail "apt-get install docker.io iptables failed; run it by hand to see why."
  fi
fi

# A dockerd may already be starting (or hung); only start one when none runs.
if ! pgrep -x dockerd >/dev/null 2>&1; then
  mkdir -p "$(dirname "$LOG")"
  echo "=== $(date -Is) docker-setup starts dockerd" >>"$LOG"
  # setsid + nohup: the daemon outlives this script and the caller's process group; every
  # stream is redirected so a caller that captures our output is not held open by it.
  setsid nohup dockerd >>"$LOG" 2>&1 </dev/null 9>&- &
fi

for _ in $(seq $((WAIT * 2))); do
  answers && exit 0
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    fail "dockerd exited: $(grep -iE 'level=(fatal|error)|failed' "$LOG" | tail -n 1 | cut -c1-240)"
  fi
  sleep 0.5
done
fail "dockerd did not answer within ${WAIT}s; see $LOG."
