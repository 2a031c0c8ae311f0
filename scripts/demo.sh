#!/usr/bin/env bash
# Starts the demo: builds the npm package (release wasm, wasm-opt) and an optimised
# rtcall-server (the `server` profile), then serves the demo app on http://127.0.0.1:8080
# (Ctrl-C stops it). Identities persist in target/demo-data. With
# DEMO_TURN=1 it also starts a coturn relay and hands clients credentials for it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "demo: building the browser package"
scripts/build-pkg.sh
echo "demo: building rtcall-server (optimised: a few minutes the first time)"
cargo build --quiet --profile server -p rtcall-server
listen="${RTCALL_LISTEN:-127.0.0.1:8080}"
if [ "${DEMO_TURN:-}" = 1 ]; then
  # A coturn relay beside the service (TCP and UDP on 3478), with a secret made for this run.
  host="${listen%:*}"
  secret="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
  echo "demo: starting coturn on $host:3478 (log: target/demo-turn.log)"
  # The secret goes in a private file, not on a command line others can read.
  (umask 077 && printf 'static-auth-secret=%s\n' "$secret" > target/demo-turn.conf)
  turnserver -c target/demo-turn.conf --listening-ip="$host" --relay-ip="$host" --listening-port=3478 \
    --use-auth-secret --realm=rtcall --no-tls --no-dtls --no-cli --no-stdout-log \
    --log-file=target/demo-turn.log --simple-log &
  turn=$!
  trap 'kill "$turn" 2>/dev/null' EXIT
  export RTCALL_TURN_SECRET="$secret"
  set -- --turn-urls "turn:$host:3478?transport=udp,turn:$host:3478?transport=tcp" "$@"
  target/server/rtcall-server --listen "$listen" --data-dir target/demo-data "$@"
else
  exec target/server/rtcall-server --listen "$listen" --data-dir target/demo-data "$@"
fi
