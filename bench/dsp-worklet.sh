#!/usr/bin/env bash
# The DSP's cost natively (criterion), inside Chromium's AudioWorklet, frame by frame in V8, and the worklet
# module's size; BENCHMARKS.md records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p rtcall-dsp --bench frame
bash scripts/build-pkg.sh
cargo build -q -p rtcall-server
node bench/dsp-worklet.mjs "${1:-9}"
node bench/dsp-frame-times.mjs
echo "worklet module: $(stat -c %s pkg/rtcall_dsp.wasm) B raw, $(gzip -9c pkg/rtcall_dsp.wasm | wc -c) B gzip -9"
