// Browser call timings with the real library in headless Chromium, through a real
// rtcall-server on loopback (see BENCHMARKS.md):
//   setup:  startCall() until both pages are Connected, the callee accepting at once;
//   join:   join() of a running group call until the first remote video frame is decoded.
// Usage: node bench/browser-calls.mjs [calls]   (after `cargo build --profile server` and
// scripts/build-pkg.sh; bench/browser-calls.sh does both).
import { callPage, launchBrowser, startServer } from '../tests/e2e/harness.mjs';

const runs = Number(process.argv[2] ?? 20);
const server = await startServer();
const browser = await launchBrowser();

function summarize(label, samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.round((sorted.length - 1) * q)];
  console.log(
    `${label}: n=${sorted.length} median=${at(0.5).toFixed(1)} ms p95=${at(0.95).toFixed(1)} ms min=${sorted[0].toFixed(1)} ms max=${sorted.at(-1).toFixed(1)} ms`,
  );
}

// --- startCall -> both Connected ---
const alice = await callPage(browser, server, 'Alice');
const bob = await callPage(browser, server, 'Bob');
for (const p of [alice, bob]) p.page.on('pageerror', (e) => console.error(p.name, 'pageerror', e.message));
await bob.page.evaluate(() => {
  agent.on('incomingCall', async ({ incomingCall }) => {
    window.call = await incomingCall.accept({});
    call.on('stateChanged', () => {
      if (call.state === 'Connected') window.connectedAt = Date.now();
    });
  });
});
const setup = [];
for (let i = 0; i < runs; i++) {
  await bob.page.evaluate(() => (window.connectedAt = 0));
  const { started, connectedAt } = await alice.page.evaluate(async (id) => {
    const started = Date.now();
    window.call = agent.startCall([{ communicationUserId: id }]);
    await new Promise((resolve) => call.on('stateChanged', () => call.state === 'Connected' && resolve()));
    return { started, connectedAt: Date.now() };
  }, bob.id);
  await bob.page.waitForFunction(() => window.connectedAt > 0);
  const bobConnected = await bob.page.evaluate(() => window.connectedAt);
  setup.push(Math.max(connectedAt, bobConnected) - started);
  await alice.page.evaluate(() => call.hangUp());
  await bob.page.waitForFunction(() => call.state === 'Disconnected');
}
summarize('startCall -> both Connected', setup);

// --- join a running call -> first remote video frame decoded ---
const group = crypto.randomUUID();
await alice.page.evaluate(async (groupId) => {
  const [camera] = await devices.getCameras();
  window.call = agent.join({ groupId }, { videoOptions: { localVideoStreams: [new rtcall.LocalVideoStream(camera)] } });
  await new Promise((resolve) => call.on('stateChanged', () => call.state === 'Connected' && resolve()));
}, group);
const join = [];
for (let i = 0; i < runs; i++) {
  // A second between joins, as people join: browsers rate-limit the keyframes a join asks for.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const elapsed = await bob.page.evaluate(async (groupId) => {
    const started = performance.now();
    window.call = agent.join({ groupId });
    const remote = await new Promise((resolve) => {
      const check = () => {
        const p = call.remoteParticipants[0];
        if (p?.videoStreams[0]?.isAvailable) resolve(p.videoStreams[0]);
        else setTimeout(check, 5);
      };
      check();
    });
    const view = await new rtcall.VideoStreamRenderer(remote).createView();
    document.body.appendChild(view.target);
    const video = view.target.querySelector('video');
    await new Promise((resolve) => video.requestVideoFrameCallback(resolve));
    const elapsed = performance.now() - started;
    await call.hangUp();
    view.dispose();
    return elapsed;
  }, group);
  join.push(elapsed);
}
summarize('join a running call -> first remote video frame', join);

await browser.close();
await server.stop();
