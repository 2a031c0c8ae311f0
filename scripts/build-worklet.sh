#!/usr/bin/env bash
# Builds the AudioWorklet DSP module (crates/dsp-worklet) into pkg/: wasm SIMD on (the model's
# loops vectorise), then wasm-opt from npm's binaryen. Its own
# target directory keeps the SIMD flag from invalidating the library's build.
set -euo pipefail
cd "$(dirname "$0")/.."

RUSTFLAGS="-C target-feature=+simd128" CARGO_TARGET_DIR=target/worklet \
  cargo build --quiet -p rtcall-dsp-worklet --target wasm32-unknown-unknown --profile worklet
mkdir -p pkg
node_modules/.bin/wasm-opt -O3 \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-multivalue --enable-reference-types --enable-simd \
  --strip-debug --strip-producers \
  target/worklet/wasm32-unknown-unknown/worklet/rtcall_dsp_worklet.wasm -o pkg/rtcall_dsp.wasm
cp js/dsp-worklet.js pkg/
