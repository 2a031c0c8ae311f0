#!/usr/bin/env bash
# Runs every test layer (lint, native, browser units in Chromium and in Firefox, package types,
# end to end with Chromium, Firefox and WebKitGTK pages) and ends with a
# pass/fail summary. Each layer's full output is in target/test-logs/<layer>.log; a failing
# layer's tail is printed as it fails. Exit status 0 only if every layer passed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh || { echo "test: setup failed"; exit 1; }

export CHROMEDRIVER=/usr/bin/chromedriver
GECKODRIVER=$(command -v geckodriver)
export GECKODRIVER
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-60}
logs=target/test-logs
mkdir -p "$logs"
summary=()
failed=0

# count <log>: "passed failed" summed over the test runners' own summary lines.
count() {
  awk '
    /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
    /^# pass / { p += $3 }
    /^# fail / { f += $3 }
    END { printf "%d %d", p, f }' "$1"
}

# layer <name> <timeout seconds> <command...>
layer() {
  local name=$1 limit=$2
  shift 2
  local log="$logs/$name.log" start=$SECONDS status
  printf 'test: %-8s ... ' "$name"
  # bash -c so that a layer can be one of the functions below (exported to it).
  timeout --kill-after=10 "$limit" bash -c "$*" > "$log" 2>&1
  status=$?
  read -r passed failed_count < <(count "$log")
  local took=$((SECONDS - start))
  if [ $status -eq 0 ] && [ "$failed_count" -eq 0 ]; then
    echo "ok ($passed passed, ${took}s)"
    summary+=("$(printf '%-8s  PASS  %4d passed  %4d failed  %4ds' "$name" "$passed" "$failed_count" "$took")")
  else
    [ $status -eq 124 ] && echo "TIMED OUT after ${limit}s" || echo "FAILED (exit $status)"
    tail -n 60 "$log" | sed 's/^/    | /'
    summary+=("$(printf '%-8s  FAIL  %4d passed  %4d failed  %4ds  (see %s)' "$name" "$passed" "$failed_count" "$took" "$log")")
    failed=1
  fi
}

lint() {
  cargo fmt --all -- --check &&
    cargo clippy --workspace --all-targets -- -D warnings &&
    cargo clippy -p rtcall -p rtcall-dsp-worklet --target wasm32-unknown-unknown --all-targets -- -D warnings &&
    echo "test result: ok. 3 passed; 0 failed"
}
types() {
  scripts/build-pkg.sh && node_modules/.bin/tsc -p tests/types && echo "test result: ok. 1 passed; 0 failed"
}
e2e() {
  # The server binary as the native layer built it (its integration tests need it): a plain
  # `cargo build` resolves features without the dev-dependencies' and compiles it all again.
  # rtcall-loadgen joins native clients to a browser test's large call.
  cargo test --workspace --no-run && cargo build -p rtcall-loadgen &&
    node --test --test-reporter=tap --test-concurrency=1 tests/e2e/
}

export -f lint types e2e
layer lint 1200 lint
layer native 1200 cargo test --workspace
layer chromium 900 wasm-pack test --headless --chrome
layer firefox 900 wasm-pack test --headless --firefox
layer types 900 types
layer e2e 1200 e2e

echo
echo "test summary"
printf '  %s\n' "${summary[@]}"
if [ $failed -eq 0 ]; then echo "ALL PASSED"; else echo "SOME FAILED"; fi
exit $failed
