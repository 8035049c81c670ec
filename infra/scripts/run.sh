#!/usr/bin/env bash
# `make run`: the whole system on one machine, on its embedded default.
#   infra/scripts/run.sh BIN DATA ADDR GATEWAYS MINTCRED
# Checks that ADDR can be bound (a busy port stops here, having created
# nothing), mints the demo credentials into DATA/demo once (they are kept
# across runs), then starts `mobilepush serve --make-run` (with fake Apple
# and Google servers unless GATEWAYS=real): once it has bound the port it
# prints the URL and the bearer token of tenant "default", which it keeps
# in DATA/api-token (mode 0600) across runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-bin/mobilepush}"
data="${2:-.mobilepush}"
addr="${3:-127.0.0.1:9006}"
gateways="${4:-fake}"
mintcred="${5:-bin/mintcred}"

if ! out=$("$bin" serve --check-addr --addr "$addr" 2>&1); then
	out="${out#mobilepush serve: }"
	echo "make run: ${out%% (another server*}" >&2
	echo "make run: stop what listens on $addr, or choose another address: make run ADDR=127.0.0.1:9010" >&2
	exit 1
fi
if [ ! -f "$data/demo/push.p12" ]; then
	"$mintcred" -dir "$data/demo" -bundle-id com.example.app -password demo >/dev/null
fi

flags=(--make-run)
[ "$gateways" = real ] || flags+=(--fake-gateways)
exec "$bin" serve --data "$data" --addr "$addr" "${flags[@]}"
