#!/usr/bin/env bash
# Starts the demo: builds the npm package and rtcall-server, then serves the demo app on
# http://127.0.0.1:8080 (Ctrl-C stops it). Identities persist in target/demo-data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "demo: building the browser package"
scripts/build-pkg.sh
echo "demo: building rtcall-server"
cargo build --quiet -p rtcall-server
exec target/debug/rtcall-server --listen "${RTCALL_LISTEN:-127.0.0.1:8080}" --data-dir target/demo-data "$@"
