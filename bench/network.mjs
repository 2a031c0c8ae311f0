// Calls over a failing network, measured (see BENCHMARKS.md, "Calls over a failing network"):
//   cuts:     Alice's link (a network namespace) carries nothing for 3 s, N times; from the
//             moment it is back, how long until audio packets and decoded video frames arrive
//             again, on both sides (the later of the two).
//   loss:     a minute at 10 % random loss of media each way (a seeded relay, the same drops every
//             run), with the server's audio RED on and off: the share of received audio the
//             receiver concealed, and video freezes.
//   restarts: a group call of three; rtcall-server killed (SIGKILL) and started again, N times:
//             from the new server accepting connections until every page has audio again.
// Usage: node bench/network.mjs [cuts=20] [restarts=10] [loss seconds=60]; 0 skips a part
// (as root; bench/network.sh builds first).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { callPage, connected, hearsSound, launchBrowser, startServer, until } from '../tests/e2e/harness.mjs';
import { mediaFlows, videoCall, world } from '../tests/e2e/netcall.mjs';
import { freeUdpPort, startRelay } from '../tests/e2e/relay.mjs';

const cuts = Number(process.argv[2] ?? 20);
const restarts = Number(process.argv[3] ?? 10);
const lossSeconds = Number(process.argv[4] ?? 60);

function summarize(label, samples, unit = 'ms') {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.round((sorted.length - 1) * q)];
  const f = (v) => (unit === 'ms' ? v.toFixed(0) : v.toFixed(2));
  console.log(`${label}: n=${sorted.length} median=${f(at(0.5))} ${unit} p95=${f(at(0.95))} ${unit} min=${f(sorted[0])} max=${f(sorted.at(-1))}`);
}

/**
 * In the page: from now, polls the statistics every 20 ms until inbound audio packets and
 * decoded frames have both grown; resolves with how long each took (ms).
 */
function timeToMedia() {
  return (async () => {
    const start = performance.now();
    const first = await __inbound();
    const back = {};
    while (back.audio === undefined || back.video === undefined) {
      if (performance.now() - start > 30_000) break;
      const now = await __inbound();
      if (back.audio === undefined && now.audio > first.audio + 1) back.audio = performance.now() - start;
      if (back.video === undefined && now.frames > first.frames) back.video = performance.now() - start;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return back;
  })();
}

async function benchCuts() {
  const w = await world();
  const alice = await w.alice();
  const bob = await w.bob();
  await videoCall(alice, bob);
  const audio = [];
  const video = [];
  for (let i = 0; i < cuts; i++) {
    w.net.cut();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    w.net.heal();
    const [a, b] = await Promise.all([alice.page.evaluate(timeToMedia), bob.page.evaluate(timeToMedia)]);
    audio.push(Math.max(a.audio ?? 30_000, b.audio ?? 30_000));
    video.push(Math.max(a.video ?? 30_000, b.video ?? 30_000));
    // Steady again before the next cut.
    await mediaFlows(alice, bob);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  summarize(`3 s cut -> audio again (${cuts} cuts)`, audio);
  summarize(`3 s cut -> video frames again (${cuts} cuts)`, video);
  await w.close();
}

/** In the page: concealed / received audio samples and video freezes since `window.mark`. */
function receiveQuality() {
  return (async () => {
    const totals = { concealed: 0, samples: 0, freezes: 0, frozenMs: 0 };
    for (const pc of __pcs) {
      if (pc.connectionState === 'closed') continue;
      for (const s of (await pc.getStats()).values()) {
        if (s.type !== 'inbound-rtp') continue;
        if (s.kind === 'audio') {
          totals.concealed += s.concealedSamples ?? 0;
          totals.samples += s.totalSamplesReceived ?? 0;
        } else {
          totals.freezes += s.freezeCount ?? 0;
          totals.frozenMs += (s.totalFreezesDuration ?? 0) * 1000;
        }
      }
    }
    return totals;
  })();
}

async function benchLoss(red) {
  const host = '127.0.0.1';
  const media = await freeUdpPort(host);
  const relay = await startRelay({ host, target: { address: host, port: media }, seed: 10 });
  const server = await startServer(['--media-workers', '1', '--media-public', `${host}:${relay.port}`, '--audio-red', String(red)], {
    media: `${host}:${media}`,
  });
  const browser = await launchBrowser();
  const alice = await callPage(browser, server, 'Alice');
  const bob = await callPage(browser, server, 'Bob');
  await videoCall(alice, bob);
  const before = await Promise.all([alice, bob].map((p) => p.page.evaluate(receiveQuality)));
  relay.impair({ lossPercent: 10 });
  await new Promise((resolve) => setTimeout(resolve, lossSeconds * 1000));
  const after = await Promise.all([alice, bob].map((p) => p.page.evaluate(receiveQuality)));
  relay.impair({});
  for (const [i, name] of ['Alice', 'Bob'].entries()) {
    const concealed = after[i].concealed - before[i].concealed;
    const samples = after[i].samples - before[i].samples;
    console.log(
      `10 % loss, ${lossSeconds} s, RED ${red ? 'on ' : 'off'}: ${name} concealed ${((100 * concealed) / samples).toFixed(2)} % of audio;` +
        ` video freezes ${after[i].freezes - before[i].freezes}, frozen ${(after[i].frozenMs - before[i].frozenMs).toFixed(0)} ms` +
        ` (relay dropped ${relay.counts.dropped} of ${relay.counts.dropped + relay.counts.relayed})`,
    );
  }
  await browser.close();
  await server.stop();
  relay.stop();
}

async function benchRestarts() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rtcall-bench-'));
  let server = await startServer([], { dataDir });
  const listen = new URL(server.url).host;
  const browser = await launchBrowser();
  const pages = [];
  for (const name of ['Ann', 'Ben', 'Cy']) pages.push(await callPage(browser, server, name));
  const groupId = crypto.randomUUID();
  for (const p of pages) await p.page.evaluate((groupId) => (window.call = agent.join({ groupId })), groupId);
  await connected(...pages);
  for (const p of pages) await hearsSound(p);
  const back = [];
  for (let i = 0; i < restarts; i++) {
    await server.kill();
    for (const p of pages) await until(p, () => agent.connectionState === 'Disconnected');
    server = await startServer([], { listen, dataDir });
    const accepting = Date.now();
    const times = await Promise.all(
      pages.map(async (p) => {
        // Audio from the new connection: inbound packets of a connection made after the restart.
        await until(p, async (since) => {
          for (const pc of __pcs) {
            if (pc.connectionState === 'closed' || pc.__madeAt < since) continue;
            for (const s of (await pc.getStats()).values()) if (s.type === 'inbound-rtp' && s.kind === 'audio' && s.packetsReceived > 10) return true;
          }
          return false;
        }, accepting, 30_000);
        return Date.now() - accepting;
      }),
    );
    back.push(Math.max(...times));
  }
  summarize(`server restart -> all three with audio (${restarts} restarts)`, back);
  await browser.close();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

if (cuts > 0) await benchCuts();
if (lossSeconds > 0) {
  await benchLoss(true);
  await benchLoss(false);
}
if (restarts > 0) await benchRestarts();
