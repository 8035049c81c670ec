#!/usr/bin/env bash
# Runs the whole test suite the way CI does.
#
# Starts moto_server on a free loopback port for the AWS tests (the real SDK
# against an AWS emulator), exports AWS_ENDPOINT_URL, AWS_REGION and dummy
# credentials, runs lint and `go test ./...` (fuzz seed corpora included),
# and stops moto_server on exit. Without moto_server the AWS tests skip
# loudly; with CI=true they fail instead.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '==> %s\n' "$*" >&2; }

moto_pid=""
cleanup() {
  if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  if command -v moto_server >/dev/null 2>&1; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    mkdir -p bin
    moto_server -H 127.0.0.1 -p "$port" >bin/moto.log 2>&1 &
    moto_pid=$!
    for _ in $(seq 1 100); do
      if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
      if ! kill -0 "$moto_pid" 2>/dev/null; then log "moto_server exited; see bin/moto.log"; cat bin/moto.log >&2; exit 1; fi
      sleep 0.1
    done
    export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
    log "moto_server on $AWS_ENDPOINT_URL (pid $moto_pid)"
  else
    log "WARNING: moto_server not found: the AWS tests will SKIP (they fail when CI=true)"
  fi
fi
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_EC2_METADATA_DISABLED=true

log "lint"
make --no-print-directory lint

log "go test ./..."
go test -count=1 ${GOTESTFLAGS:-} ./...
