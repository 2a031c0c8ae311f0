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
# The brief's large meeting (5 talking, silence as Opus DTX, 10 simulcast cameras, a screen
# share, everyone rendering the loudest large and nine tiles): 350 people at 1 and 2 media
# workers, then the curve of one call's cost as it grows (a call holds 350 at most).
for workers in 1 2; do
  "$loadgen" meeting --server-bin "$server" --participants 350 --seconds 10 --media-workers "$workers"
done
for n in 50 100 200 350; do
  "$loadgen" meeting --server-bin "$server" --participants "$n" --seconds 10 --media-workers 1
done
