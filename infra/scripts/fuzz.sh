#!/usr/bin/env bash
# Runs every fuzz target in the module for the given time each:
#   infra/scripts/fuzz.sh 30s
# `go test -fuzz` takes one target per run, so targets are listed first.
set -euo pipefail
cd "$(dirname "$0")/../.."
fuzztime="${1:-30s}"
found=0
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    found=1
    printf '==> %s %s (%s)\n' "$pkg" "$target" "$fuzztime"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
[ "$found" = 1 ] || { echo "no fuzz targets found" >&2; exit 1; }
