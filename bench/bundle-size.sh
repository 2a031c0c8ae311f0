#!/usr/bin/env bash
# Measures the browser library's download size the way BENCHMARKS.md's anchors were measured:
# the package entry bundled and minified by esbuild, then gzip -9; plus the wasm module, gzip -9.
# The call features that load on demand are split into their own chunks (esbuild --splitting),
# as a bundler ships them. Builds the release package first. Prints one row per part, in bytes:
# `core` (the entry and the wasm module: what every app downloads), each feature chunk (and the
# code chunks they share), `total` (core and every feature), and apart from the total the
# AudioWorklet DSP module that noise suppression loads.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-pkg.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
node_modules/.bin/esbuild pkg/index.js --bundle --minify --format=esm --splitting --chunk-names='[name]-[hash]' \
  --log-level=warning --outdir="$out"
gz() { gzip -9c "$@" | wc -c; }
raw() { cat "$@" | wc -c; }
row() { printf '%-22s %9d %9d\n' "$1" "$2" "$3"; }
printf '%-22s %9s %9s\n' part raw gzip-9
core_raw=$(($(raw "$out/index.js") + $(raw pkg/rtcall_bg.wasm)))
core_gz=$(($(gz "$out/index.js") + $(gz pkg/rtcall_bg.wasm)))
row core "$core_raw" "$core_gz"
row '  of which js' "$(raw "$out/index.js")" "$(gz "$out/index.js")"
row '  of which wasm' "$(raw pkg/rtcall_bg.wasm)" "$(gz pkg/rtcall_bg.wasm)"
total_raw=$core_raw
total_gz=$core_gz
for chunk in "$out"/*.js; do
  [ "$(basename "$chunk")" = index.js ] && continue
  name=$(basename "$chunk" .js)
  name=${name%-*}
  row "$name" "$(raw "$chunk")" "$(gz "$chunk")"
  total_raw=$((total_raw + $(raw "$chunk")))
  total_gz=$((total_gz + $(gz "$chunk")))
done
row total "$total_raw" "$total_gz"
row 'dsp (noise supp.)' "$(($(raw pkg/dsp-worklet.js) + $(raw pkg/rtcall_dsp.wasm)))" "$(($(gz pkg/dsp-worklet.js) + $(gz pkg/rtcall_dsp.wasm)))"
