#!/usr/bin/env bash
# Builds the npm package into pkg/: the release wasm (wasm-pack, web target), shrunk with
# wasm-opt from npm's binaryen, the AudioWorklet DSP module (loaded only when an audio effect is
# on), plus the hand-written entry, types and on-demand call features from js/.
set -euo pipefail
cd "$(dirname "$0")/.."

wasm-pack --quiet build --release --target web --out-dir pkg --out-name rtcall --no-pack --no-typescript

# The features current Rust enables by default for wasm32-unknown-unknown; wasm-opt must accept
# them to read the module.
node_modules/.bin/wasm-opt -Oz \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-multivalue --enable-reference-types --strip-debug --strip-producers \
  pkg/rtcall_bg.wasm -o pkg/rtcall_bg.wasm

bash scripts/build-worklet.sh
cp js/index.js js/index.d.ts pkg/
# The call features that load on demand, each its own module.
rm -rf pkg/features && cp -r js/features pkg/features
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
sed "s/\"version\": \"0.0.0\"/\"version\": \"$version\"/" js/package.json > pkg/package.json
