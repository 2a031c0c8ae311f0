#!/usr/bin/env bash
# Call set-up time and SFU forwarding cost, measured with rtcall-loadgen's native clients over
# loopback against an optimised rtcall-server (cargo profile `server`). See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --quiet --profile server -p rtcall-server -p rtcall-loadgen
loadgen=target/server/rtcall-loadgen
server=target/server/rtcall-server
"$loadgen" setup --server-bin "$server" --calls 50
# Everyone's audio to everyone: 30 x 29 streams.
"$loadgen" sfu --server-bin "$server" --participants 30 --seconds 10 --forward-all-audio-max 40
# Large-call mode: the 3 loudest to everyone, 9 cameras watched by everyone.
"$loadgen" sfu --server-bin "$server" --participants 30 --video 9 --seconds 10
# Node scaling: four such calls at once (more than one media worker forwards), the media work
# on 1 and then 2 worker threads.
for workers in 1 2; do
  "$loadgen" sfu --server-bin "$server" --calls 4 --participants 30 --seconds 10 --forward-all-audio-max 40 --media-workers "$workers"
done
