#!/usr/bin/env bash
# Browser call timings: startCall -> both Connected, and join -> first remote video frame, in
# headless Chromium against an optimised rtcall-server. See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-pkg.sh
cargo build --quiet --profile server -p rtcall-server
RTCALL_SERVER_BIN=target/server/rtcall-server node bench/browser-calls.mjs "${1:-20}"
