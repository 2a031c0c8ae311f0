#!/usr/bin/env bash
# Calls over a failing network: recovery after cuts, concealment under loss with RED on and off,
# and recovery after a server restart, in headless Chromium against an optimised rtcall-server.
# Needs root (it makes a network namespace). See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-pkg.sh
cargo build --quiet --profile server -p rtcall-server
RTCALL_SERVER_BIN=target/server/rtcall-server node bench/network.mjs "${1:-20}" "${2:-10}" "${3:-60}"
