#!/usr/bin/env bash
# Fetch GitHub's official test data (pinned in testkit/npm/package-lock.json) and keep only what
# the fake GitHub reads, in testkit/.data (git-ignored). Safe to re-run: when .data matches the
# lock file it does nothing; otherwise `npm ci` (~33 MB download, ~410 MB unpacked), copy ~23 MB,
# and delete node_modules again.
set -euo pipefail
cd "$(dirname "$0")"
data=.data
lock_sum=$(sha256sum npm/package-lock.json | cut -d' ' -f1)
if [ -f "$data/.lock-sha256" ] && [ "$(cat "$data/.lock-sha256")" = "$lock_sum" ]; then
  exit 0
fi
echo "testkit: installing GitHub's test data (npm ci in testkit/npm)" >&2
(cd npm && npm ci --no-audit --no-fund --loglevel=error --ignore-scripts >/dev/null)
modules=npm/node_modules/@octokit
tmp=$(mktemp -d "$PWD/.data-new.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$modules/openapi/generated/api.github.com.json" "$tmp/api.github.com.json"
cp "$modules/webhooks-examples/api.github.com/index.json" "$tmp/webhooks-examples.json"
cp "$modules/graphql-schema/schema.json" "$tmp/graphql-schema.json"
mkdir "$tmp/fixtures"
for scenario in "$modules"/fixtures/scenarios/api.github.com/*/; do
  name=$(basename "$scenario")
  cp "$scenario/normalized-fixture.json" "$tmp/fixtures/$name.json"
done
(cd npm && node -e 'const l=require("./package-lock.json");for(const[k,v]of Object.entries(l.packages))if(k.startsWith("node_modules/@octokit/"))console.log(k.slice(13)+"@"+v.version)') \
  > "$tmp/VERSIONS"
echo "$lock_sum" > "$tmp/.lock-sha256"
chmod 755 "$tmp"
rm -rf "$data" && mv "$tmp" "$data"
trap - EXIT
rm -rf npm/node_modules
