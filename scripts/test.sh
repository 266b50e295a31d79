#!/usr/bin/env bash
# The test command: sets up this host (Debian packages, libvirtd, npm packages, native addon) and
# runs every check: proto lint + regeneration diff, type check, lint, unit, integration and system
# tests. Prints one closing line "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/lib.sh
# The OpenStack tests run a real standalone Ironic (21.4, API 1.82) and Nova API from Debian.
ensure_packages_nostart ironic-api ironic-conductor python3-ironicclient python3-openstackclient nova-api

npm run --silent proto:check
node_modules/.bin/tsc --noEmit
echo "typecheck: clean"
npm run --silent lint
echo "lint: clean"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
for suite in unit integration system; do
  echo "== $suite tests"
  node_modules/.bin/mocha --config ".mocharc.$suite.json" 2>&1 | tee -a "$out" || status=1
done

count() { { grep -Eo "^ +[0-9]+ $1" "$out" || true; } | awk '{s+=$1} END {print s+0}'; }
passed=$(count passing)
failed=$(count failing)
skipped=$(count pending)
printf "\ntests: %s passed, %s failed, %s skipped\n" "$passed" "$failed" "$skipped"
[ "$failed" = 0 ] || status=1
exit $status
