#!/usr/bin/env bash
# Lints the proto contract and checks that proto/gen is exactly what the generator makes.
set -euo pipefail
cd "$(dirname "$0")/.."
npx buf lint
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npx buf generate -o "$tmp"
npx prettier --config .prettierrc.json --log-level warn --write "$tmp/proto/gen"
if ! diff -ru proto/gen "$tmp/proto/gen"; then
  echo "proto/gen is stale: run 'npm run proto:gen' and commit the result" >&2
  exit 1
fi
echo "proto: lint clean, generated code up to date"
