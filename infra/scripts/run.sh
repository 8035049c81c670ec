#!/usr/bin/env bash
# `make run`: until the local server lands (issue 4), this mints a set of
# demo credentials and runs the real inspector on each, showing what an
# administrator would see for a good upload and for common mistakes.
#   infra/scripts/run.sh BIN DATA
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-bin/mobilepush}"
data="${2:-.mobilepush}"
demo="$data/demo"

echo "==> minting demo credentials into $demo (made up; nothing trusts them)"
go run ./infra/mintcred -dir "$demo" -bundle-id com.example.app -password demo >/dev/null

show() {
  local title=$1; shift
  printf '\n==> %s\n$ mobilepush %s\n' "$title" "$*"
  "$bin" "$@" --format text || true
}
show "APNs certificate (.p12)" inspect --apns-p12 "$demo/push.p12" --password demo --bundle-id com.example.app --environment production
show "the same certificate, wrong bundle id" inspect --apns-p12 "$demo/push.p12" --password demo --bundle-id com.example.other
show "an expired certificate" inspect --apns-p12 "$demo/push-expired.p12" --password demo --bundle-id com.example.app
show "the .cer instead of the .p12" inspect --apns-p12 "$demo/push.cer" --password demo --bundle-id com.example.app
show "APNs auth key (.p8)" inspect --apns-p8 "$demo/AuthKey_ABC123DEFG.p8" --key-id ABC123DEFG --team-id ABCDE12345
show "Firebase service account" inspect --fcm-json "$demo/service-account.json"
printf '\nInspect your own files the same way: %s inspect -h\n' "$bin"
