#!/usr/bin/env bash
# Measures the browser library's download size the way BENCHMARKS.md's anchors were measured:
# the package entry bundled and minified by esbuild, then gzip -9; plus the wasm module, gzip -9.
# Builds the release package first. Prints one line per part and the total, in bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-pkg.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
node_modules/.bin/esbuild pkg/index.js --bundle --minify --format=esm --log-level=warning --outfile="$out/bundle.js"
js_raw=$(wc -c < "$out/bundle.js")
js_gz=$(gzip -9c "$out/bundle.js" | wc -c)
wasm_raw=$(wc -c < pkg/rtcall_bg.wasm)
wasm_gz=$(gzip -9c pkg/rtcall_bg.wasm | wc -c)
printf '%-6s %9s %9s\n' part raw gzip-9
printf '%-6s %9d %9d\n' js "$js_raw" "$js_gz" wasm "$wasm_raw" "$wasm_gz" total $((js_raw + wasm_raw)) $((js_gz + wasm_gz))
