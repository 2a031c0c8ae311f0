// A call across a network the test controls, for the network tests and benchmarks: a server on
// the host end of a namespace's link, Alice's browser inside the namespace, Bob's outside, a
// video call between them, and a log of what each page's app would see of network trouble.
import assert from 'node:assert/strict';
import { accept, callPage, connected, flowing, hearsSound, launchBrowser, ring, startServer, until } from './harness.mjs';
import { makeNetwork } from './netns.mjs';

/** Chromium's own console errors for connections the dead network refused (not the library's). */
export const NETWORK_NOISE = [/WebSocket connection to .* failed/, /net::ERR_/];

/**
 * A server on the host end of a fresh namespace's link, and a browser on each side. The pages'
 * origin is the link's address, which Chromium treats as secure only when told to.
 */
export async function world(serverArgs = [], net = makeNetwork()) {
  const server = await startServer(serverArgs, { listen: `${net.hostIp}:0` });
  const origin = `--unsafely-treat-insecure-origin-as-secure=${server.url.replace(/\/$/, '')}`;
  const inside = await launchBrowser({ executablePath: net.browserPath, extraArgs: [origin] });
  const outside = await launchBrowser({ extraArgs: [origin] });
  const pages = [];
  const open = async (browser, name) => {
    const p = await callPage(browser, server, name);
    pages.push(p);
    return p;
  };
  return {
    net,
    server,
    alice: () => open(inside, 'Alice'),
    bob: () => open(outside, 'Bob'),
    async close() {
      for (const p of pages) {
        const problems = p.problems.filter((m) => !NETWORK_NOISE.some((re) => re.test(m)));
        assert.deepEqual(problems, [], `${p.name}: no errors on the page`);
      }
      await inside.close();
      await outside.close();
      await server.stop();
      net.close();
    },
  };
}

/** Alice calls Bob with cameras on both sides; each renders the other; media flows. */
export async function videoCall(alice, bob) {
  for (const p of [alice, bob]) {
    await p.page.evaluate(async () => {
      const [camera] = await devices.getCameras();
      window.camera = new rtcall.LocalVideoStream(camera);
    });
  }
  await ring(alice, [bob], {});
  await accept(bob, {});
  await connected(alice, bob);
  for (const p of [alice, bob]) {
    await p.page.evaluate(async () => {
      await call.startVideo(camera);
    });
  }
  for (const p of [alice, bob]) {
    await until(p, () => call.remoteParticipants[0]?.videoStreams.some((s) => s.mediaStreamType === 'Video' && s.isAvailable));
    await p.page.evaluate(async () => {
      const stream = call.remoteParticipants[0].videoStreams.find((s) => s.mediaStreamType === 'Video');
      const view = await new rtcall.VideoStreamRenderer(stream).createView();
      document.body.appendChild(view.target);
    });
  }
  await mediaFlows(alice, bob);
  for (const p of [alice, bob]) await p.page.evaluate(watch);
}

/** Both hear each other and decode each other's frames. */
export async function mediaFlows(...ps) {
  for (const p of ps) {
    await hearsSound(p);
    await flowing(p, 'frames', 10);
  }
}

/** In the page: logs what the app would see of the network's trouble. */
function watch() {
  window.log = [];
  window.peer = call.remoteParticipants[0];
  const ufd = call.feature(rtcall.Features.UserFacingDiagnostics);
  ufd.network.on('diagnosticChanged', (e) => log.push(['net', e.diagnostic, e.value]));
  ufd.remote.on('diagnosticChanged', (e) => {
    for (const d of e.diagnostics) log.push(['remote', d.diagnostic, d.value, d.remoteParticipant === peer]);
  });
  call.on('stateChanged', () => log.push(['call', call.state]));
  call.on('remoteParticipantsUpdated', (e) => log.push(['roster', e.added.length, e.removed.length]));
  peer.on('stateChanged', () => log.push(['peer', peer.state]));
  agent.on('connectionStateChanged', (e) => log.push(['agent', e.newValue, e.reason]));
}

export const logOf = (p) => p.page.evaluate(() => log);
export const has = (p, entry) => p.page.evaluate((entry) => log.some((e) => JSON.stringify(e) === JSON.stringify(entry)), entry);
export const clearLog = (p) => p.page.evaluate(() => (log.length = 0));

/** What must hold after any fault: still connected, the same participant, nothing else logged. */
export async function unchanged(p) {
  const still = await p.page.evaluate(() => ({
    state: call.state,
    same: call.remoteParticipants.length === 1 && call.remoteParticipants[0] === peer,
    peer: peer.state,
    churn: log.filter(([kind]) => ['call', 'roster', 'peer'].includes(kind)),
  }));
  assert.deepEqual(still, { state: 'Connected', same: true, peer: 'Connected', churn: [] }, p.name);
}

/** Cuts Alice's link for `ms`, and at least until she has noticed. */
export async function blackout(w, alice, ms) {
  const from = Date.now();
  w.net.cut();
  await until(alice, () => log.some(([k, d, v]) => k === 'net' && d === 'networkReconnect' && v === 3), undefined, ms + 10_000);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, ms - (Date.now() - from))));
  w.net.heal();
}

