// Per-frame cost of the AudioWorklet DSP module (pkg/rtcall_dsp.wasm), frame by frame: the
// worklet scope has no clock finer than Date.now(), so this runs the same module in Node's V8
// (the engine Chromium uses) and times each 480-sample frame with process.hrtime. Suppression
// on, 60 s of noise with a buzz (the model runs on every frame), after 1 s of warm-up.
// Usage: node bench/dsp-frame-times.mjs (after scripts/build-worklet.sh).
import { readFile } from 'node:fs/promises';

const FRAME = 480;
const { instance } = await WebAssembly.instantiate(await readFile('pkg/rtcall_dsp.wasm'), {});
const dsp = instance.exports;
dsp.set_noise_suppression(1);
const input = new Float32Array(dsp.memory.buffer, dsp.input_ptr(), FRAME);

let seed = 1;
let t = 0;
function fill() {
  for (let i = 0; i < FRAME; i++, t++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    input[i] = (seed / 2 ** 32 - 0.5) * 0.05 + 0.1 * Math.sin((2 * Math.PI * 150 * t) / 48_000);
  }
}

const warmUp = 100;
const frames = 6_000;
const times = new Float64Array(frames);
for (let n = 0; n < warmUp + frames; n++) {
  fill();
  const started = process.hrtime.bigint();
  dsp.process(FRAME);
  const ns = Number(process.hrtime.bigint() - started);
  if (n >= warmUp) times[n - warmUp] = ns / 1000;
}
times.sort();
const at = (q) => times[Math.min(frames - 1, Math.floor(frames * q))];
console.log(
  `per frame (µs, n=${frames}): median ${at(0.5).toFixed(1)}, p90 ${at(0.9).toFixed(1)}, ` +
    `p99 ${at(0.99).toFixed(1)}, p99.9 ${at(0.999).toFixed(1)}, max ${times[frames - 1].toFixed(1)}`,
);
