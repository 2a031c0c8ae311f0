// The AudioWorklet DSP module in Chromium, rendered deterministically with OfflineAudioContext:
// the wasm module compiled on the main thread, instantiated in the worklet, fed pink noise,
// tones and silence through the real audio graph.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPage, suite } from './harness.mjs';

const ctx = suite();

/** Runs in the page: renders `seconds` of a signal through the worklet, returns input and output. */
async function render({ seconds, signal, noiseSuppression }) {
  const rate = 48_000;
  const n = seconds * rate;
  const context = new OfflineAudioContext(1, n, rate);
  await context.audioWorklet.addModule('/pkg/dsp-worklet.js');
  const module = await WebAssembly.compile(await (await fetch('/pkg/rtcall_dsp.wasm')).arrayBuffer());
  const input = new Float32Array(n);
  if (signal === 'pink') {
    // Paul Kellet's economy pink filter over a fixed-seed xorshift: the same noise every run.
    let seed = 0x2545f491;
    let [b0, b1, b2] = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      const white = (seed >>> 0) / 2 ** 31 - 1;
      b0 = 0.99765 * b0 + white * 0.099046;
      b1 = 0.963 * b1 + white * 0.2965164;
      b2 = 0.57 * b2 + white * 1.0526913;
      input[i] = (b0 + b1 + b2 + white * 0.1848) * 0.01;
    }
  } else {
    // A 440 Hz tone at -9 dBFS RMS in the 1st and 3rd second, silence in the 2nd.
    for (let i = 0; i < n; i++) input[i] = Math.floor(i / rate) % 2 === 0 ? 0.5 * Math.sin((2 * Math.PI * 440 * i) / rate) : 0;
  }
  const buffer = context.createBuffer(1, n, rate);
  buffer.copyToChannel(input, 0);
  const source = new AudioBufferSourceNode(context, { buffer });
  const node = new AudioWorkletNode(context, 'rtcall-dsp', { processorOptions: { module, noiseSuppression } });
  const reports = [];
  node.port.onmessage = ({ data }) => reports.push(data);
  source.connect(node).connect(context.destination);
  source.start();
  const output = (await context.startRendering()).getChannelData(0);
  // Reports posted during rendering arrive after it.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const rmsDb = (a, from, to) => {
    let sum = 0;
    for (let i = from; i < to; i++) sum += a[i] * a[i];
    return 10 * Math.log10(sum / (to - from));
  };
  // The chain lags by two 480-sample frames (the reframer's and the model's).
  let maxDifference = 0;
  for (let i = 960; i < n; i++) maxDifference = Math.max(maxDifference, Math.abs(output[i] - input[i - 960]));
  return {
    inputDb: rmsDb(input, n / 2, n),
    outputDb: rmsDb(output, n / 2, n),
    maxDifference,
    levels: reports.map((r) => Math.round(r.level)),
  };
}

test('the worklet suppresses noise when asked and otherwise passes audio through, two frames late', async () => {
  const { page, problems } = await openPage(ctx.browser, ctx.server.url);
  const on = await page.evaluate(render, { seconds: 4, signal: 'pink', noiseSuppression: true });
  const off = await page.evaluate(render, { seconds: 4, signal: 'pink', noiseSuppression: false });
  console.log(`pink noise at ${on.inputDb.toFixed(1)} dBFS: ${on.outputDb.toFixed(1)} dBFS with suppression`);
  assert.ok(on.inputDb - on.outputDb > 10, `suppressed by ${(on.inputDb - on.outputDb).toFixed(1)} dB`);
  assert.ok(off.maxDifference < 1e-6, `pass-through differs by ${off.maxDifference}`);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the worklet reports a level that follows a tone and silence', async () => {
  const { page, problems } = await openPage(ctx.browser, ctx.server.url);
  const { levels } = await page.evaluate(render, { seconds: 3, signal: 'tone', noiseSuppression: false });
  // About ten reports a second: loud (-9 dBFS reads 85), down to nothing, loud again.
  const firstQuiet = levels.findIndex((l) => l === 0);
  assert.ok(levels.length >= 25, `${levels.length} reports`);
  assert.ok(levels.slice(2, 9).every((l) => l >= 80 && l <= 90), `${levels}`);
  assert.ok(firstQuiet > 9 && firstQuiet < 18, `${levels}`);
  assert.ok(levels.slice(-5).every((l) => l >= 80), `${levels}`);
  assert.deepEqual(problems, []);
  await page.close();
});
