#!/usr/bin/env bash
# `make run`: the whole system on one machine, on its embedded default.
# Mints a bearer token for tenant "default", writes demo credentials to
# upload, then starts `mobilepush serve` (with fake Apple and Google
# servers unless GATEWAYS=real) and prints the URL and the token.
#   infra/scripts/run.sh BIN DATA ADDR GATEWAYS
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-bin/mobilepush}"
data="${2:-.mobilepush}"
addr="${3:-127.0.0.1:9006}"
gateways="${4:-fake}"

token=$("$bin" token --data "$data" --tenant default)
go run ./infra/mintcred -dir "$data/demo" -bundle-id com.example.app -password demo >/dev/null

flags=()
[ "$gateways" = real ] || flags+=(--fake-gateways)
cat <<MSG
==> mobilepush on http://$addr  (tenant "default"; open it in a browser for the admin page)
    token:  $token
    demo credentials to upload (password "demo", bundle id com.example.app): $data/demo/
    try:    curl -s -H "Authorization: Bearer $token" http://$addr/v1/apps
    stop:   Ctrl-C
MSG
exec "$bin" serve --data "$data" --addr "$addr" "${flags[@]}"
