// Cost of the microphone DSP inside Chromium's AudioWorklet (see BENCHMARKS.md): an
// OfflineAudioContext renders 20 s of pink noise through the rtcall-dsp worklet (suppression
// on), and, for the graph's own cost, through a pass-through worklet; the difference per
// 10 ms frame is the DSP's cost. Usage: node bench/dsp-worklet.mjs [runs] (after
// scripts/build-pkg.sh; bench/dsp-worklet.sh does that).
import { launchBrowser, openPage, startServer } from '../tests/e2e/harness.mjs';

const runs = Number(process.argv[2] ?? 9);
const server = await startServer();
const browser = await launchBrowser();
const { page } = await openPage(browser, server.url);

const perFrameUs = await page.evaluate(async (runs) => {
  const rate = 48_000;
  const seconds = 20;
  const frames = (seconds * rate) / 480;
  const passThrough = URL.createObjectURL(
    new Blob(
      [
        `registerProcessor('pass', class extends AudioWorkletProcessor {
           process(inputs, outputs) { const i = inputs[0][0]; if (i) for (const o of outputs[0]) o.set(i); return true; }
         });`,
      ],
      { type: 'text/javascript' },
    ),
  );
  const module = await WebAssembly.compile(await (await fetch('/pkg/rtcall_dsp.wasm')).arrayBuffer());
  const noise = new Float32Array(seconds * rate);
  let seed = 1;
  for (let i = 0; i < noise.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    noise[i] = (seed / 2 ** 32 - 0.5) * 0.05;
  }
  async function renderMs(name) {
    const context = new OfflineAudioContext(1, noise.length, rate);
    await context.audioWorklet.addModule(name === 'pass' ? passThrough : '/pkg/dsp-worklet.js');
    const buffer = context.createBuffer(1, noise.length, rate);
    buffer.copyToChannel(noise, 0);
    const source = new AudioBufferSourceNode(context, { buffer });
    const node =
      name === 'pass'
        ? new AudioWorkletNode(context, 'pass')
        : new AudioWorkletNode(context, 'rtcall-dsp', { processorOptions: { module, noiseSuppression: true } });
    source.connect(node).connect(context.destination);
    source.start();
    const started = performance.now();
    await context.startRendering();
    return performance.now() - started;
  }
  const samples = { dsp: [], pass: [] };
  for (let i = 0; i < runs; i++) {
    samples.pass.push(await renderMs('pass'));
    samples.dsp.push(await renderMs('dsp'));
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map((ms) => (ms * 1000) / frames)]));
}, runs);

function summarize(label, samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.round((sorted.length - 1) * q)];
  console.log(`${label}: n=${sorted.length} median=${at(0.5).toFixed(1)} µs min=${sorted[0].toFixed(1)} µs max=${sorted.at(-1).toFixed(1)} µs per 10 ms frame`);
  return at(0.5);
}
const dsp = summarize('worklet with rtcall-dsp (graph included)', perFrameUs.dsp);
const pass = summarize('pass-through worklet (the graph alone)', perFrameUs.pass);
console.log(`rtcall-dsp in the worklet: ${(dsp - pass).toFixed(1)} µs per frame (median difference)`);
await browser.close();
await server.stop();
