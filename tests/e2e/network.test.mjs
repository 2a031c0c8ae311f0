// Calls over a network that fails: Alice's browser runs in a network namespace of its own and
// the test cuts, degrades and moves her link with nftables and veth pairs; Bob's browser and the
// server are on the host. Each time the call must stay Connected with the same participants,
// audio and video must come back, and the diagnostics must say what happened and then clear.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { callPage, connected, flowing, hearsSound, launchBrowser, startServer, until } from './harness.mjs';
import { NETWORK_NOISE, blackout, clearLog, has, logOf, mediaFlows, unchanged, videoCall, world } from './netcall.mjs';
import { canMakeNetworks, makeNetwork } from './netns.mjs';
import { freeUdpPort, startRelay } from './relay.mjs';

const skip = !canMakeNetworks() && 'making network namespaces needs root and nftables';

let shared;
before(async () => {
  if (skip) return;
  shared = await world();
});
after(async () => shared?.close());

test('a 3 s and a 20 s blackout: the call stays, media and diagnostics come back', { skip }, async () => {
  const w = shared;
  const alice = await w.alice();
  const bob = await w.bob();
  await videoCall(alice, bob);

  await blackout(w, alice, 3000);
  await mediaFlows(alice, bob);
  await until(alice, () => log.some(([k, d, v]) => k === 'net' && d === 'networkReconnect' && v === 1));
  await unchanged(alice);
  await unchanged(bob);

  await clearLog(alice);
  await clearLog(bob);
  await blackout(w, alice, 20_000);
  await mediaFlows(alice, bob);
  await until(alice, () => log.some(([k, d, v]) => k === 'net' && d === 'networkReconnect' && v === 1), undefined, 30_000);
  // Her signaling was lost and resumed; Bob saw her reconnecting, then back.
  assert.ok(await has(alice, ['agent', 'Disconnected', 'connectionIssue']), JSON.stringify(await logOf(alice)));
  await until(alice, () => agent.connectionState === 'Connected');
  await until(bob, () => log.some(([k, , v, same]) => k === 'remote' && v === 1 && same));
  assert.ok(await has(bob, ['remote', 'networkReconnect', 3, true]), JSON.stringify(await logOf(bob)));
  await unchanged(alice);
  await unchanged(bob);
  await alice.page.evaluate(() => call.hangUp());
  await until(bob, () => call.state === 'Disconnected');
});

test('10 % and 30 % random loss for 20 s each: media goes on and the quality is reported', { skip }, async () => {
  const w = shared;
  const alice = await w.alice();
  const bob = await w.bob();
  await videoCall(alice, bob);
  for (const [percent, quality] of [
    [10, 2],
    [30, 3],
  ]) {
    w.net.loss(percent);
    const from = Date.now();
    await until(alice, (q) => log.some(([k, d, v]) => k === 'net' && d === 'networkReceiveQuality' && v >= q), quality);
    // Media keeps flowing through the loss, both ways.
    await mediaFlows(alice, bob);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 20_000 - (Date.now() - from))));
    w.net.heal();
    await until(alice, () => log.filter(([, d]) => d === 'networkReceiveQuality').at(-1)?.[2] === 1);
    await mediaFlows(alice, bob);
  }
  await unchanged(alice);
  await unchanged(bob);
  await alice.page.evaluate(() => call.hangUp());
  await until(bob, () => call.state === 'Disconnected');
});

/** Each page joins group call `groupId` and waits to be connected with media flowing. */
async function joinGroup(groupId, ...ps) {
  for (const p of ps) {
    await p.page.evaluate((groupId) => {
      window.call = agent.join({ groupId });
    }, groupId);
  }
  await connected(...ps);
  for (const p of ps) await until(p, (n) => call.remoteParticipants.filter((r) => r.state === 'Connected').length === n, ps.length - 1);
  for (const p of ps) await hearsSound(p);
}

test('her link moves to another interface: ICE restarts on the new one and the call goes on', { skip }, async () => {
  const w = shared;
  const alice = await w.alice();
  const bob = await w.bob();
  await videoCall(alice, bob);
  const before = await alice.page.evaluate(async () => {
    for (const s of (await __pcs.at(-1).getStats()).values()) if (s.type === 'local-candidate' && s.candidateType === 'host') return s.address;
  });
  const second = w.net.switchLink();
  await mediaFlows(alice, bob);
  // Her media now leaves from the new address.
  await until(
    alice,
    async (address) => {
      const stats = [...(await __pcs.at(-1).getStats()).values()];
      const pair = stats.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && s.bytesReceived > 0);
      return stats.some((s) => s.id === pair?.localCandidateId && s.address === address);
    },
    second.clientIp,
  );
  assert.notEqual(before, second.clientIp);
  await until(alice, () => log.filter(([, d]) => d === 'networkReconnect').at(-1)?.[2] !== 3);
  await unchanged(alice);
  await unchanged(bob);
  await alice.page.evaluate(() => call.hangUp());
  await until(bob, () => call.state === 'Disconnected');
});

test('cut past the resume window: she leaves the group call with 496/7, the others see 0/4521', { skip }, async () => {
  const w = await world(['--resume-window', '5']);
  try {
    const alice = await w.alice();
    const bob = await w.bob();
    await joinGroup(crypto.randomUUID(), alice, bob);
    await bob.page.evaluate(() => {
      window.gone = [];
      call.on('remoteParticipantsUpdated', (e) => gone.push(...e.removed.map((r) => r.callEndReason)));
    });
    w.net.cut();
    // The service drops her after its heartbeat (9 s) and its window (5 s); she gives up after
    // hers (5 s after she last heard from it).
    await until(bob, () => gone.length > 0, undefined, 30_000);
    assert.deepEqual(await bob.page.evaluate(() => gone), [{ code: 0, subCode: 4521 }]);
    await until(alice, () => call.state === 'Disconnected', undefined, 30_000);
    assert.deepEqual(await alice.page.evaluate(() => call.callEndReason), { code: 496, subCode: 7 });
    assert.equal(await bob.page.evaluate(() => call.state), 'Connected');
    w.net.heal();
    // Back on the network, her agent signs in again on its own.
    await until(alice, () => agent.connectionState === 'Connected', undefined, 30_000);
  } finally {
    await w.close();
  }
});

test('the service is killed and restarted: a group call of three is back on its own', { skip }, async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rtcall-restart-'));
  let server = await startServer([], { dataDir });
  const listen = new URL(server.url).host;
  const browser = await launchBrowser();
  const pages = [];
  try {
    for (const name of ['Ann', 'Ben', 'Cy']) pages.push(await callPage(browser, server, name));
    const groupId = crypto.randomUUID();
    await joinGroup(groupId, ...pages);
    for (const p of pages) {
      await p.page.evaluate(() => {
        window.before = call.remoteParticipants.slice();
        window.states = [];
        call.on('stateChanged', () => states.push(call.state));
      });
    }
    await server.kill();
    for (const p of pages) await until(p, () => agent.connectionState === 'Disconnected');
    server = await startServer([], { listen, dataDir });
    // Same tokens (their keys are in the data directory), same group, same objects, media again.
    for (const p of pages) {
      await until(p, () => agent.connectionState === 'Connected');
      await until(p, () => call.remoteParticipants.length === 2 && call.remoteParticipants.every((r) => before.includes(r) && r.state === 'Connected'));
      await hearsSound(p);
      const seen = await p.page.evaluate((groupId) => ({ id: call.id, state: call.state, states }), groupId);
      assert.deepEqual(seen, { id: groupId, state: 'Connected', states: [] }, p.name);
    }
    for (const p of pages) assert.deepEqual(p.problems.filter((m) => !NETWORK_NOISE.some((re) => re.test(m))), [], p.name);
  } finally {
    await browser.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** coturn on `address` (TCP and UDP), with the REST scheme's shared `secret`; stopped by the caller. */
async function startTurn(address, secret) {
  const port = 20000 + (process.pid % 20000);
  const child = spawn(
    'turnserver',
    ['-n', `--listening-ip=${address}`, `--relay-ip=${address}`, `--listening-port=${port}`, '--use-auth-secret', `--static-auth-secret=${secret}`,
      '--realm=rtcall', '--no-tls', '--no-dtls', '--no-cli', '--log-file=stdout', '--simple-log'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout.on('data', (chunk) => (log += chunk));
  child.stderr.on('data', (chunk) => (log += chunk));
  // Ready once its TCP listener takes connections.
  const deadline = Date.now() + 10_000;
  const accepts = () =>
    new Promise((resolve) => {
      const socket = connect({ host: address, port }, () => resolve(true) || socket.end());
      socket.on('error', () => resolve(false));
    });
  while (!(await accepts())) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`coturn did not start: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `turn:${address}:${port}?transport=tcp`,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}

const hasCoturn = (() => {
  try {
    execFileSync('turnserver', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('UDP to the SFU blocked: the call goes through coturn over TCP', { skip: skip || (!hasCoturn && 'coturn is not installed') }, async () => {
  const net = makeNetwork();
  const secret = crypto.randomUUID();
  const turn = await startTurn(net.hostIp, secret);
  const w = await world(['--turn-urls', turn.url, '--turn-secret', secret], net);
  try {
    w.net.blockUdp();
    const alice = await w.alice();
    const bob = await w.bob();
    await videoCall(alice, bob);
    const path = await alice.page.evaluate(async () => {
      const stats = [...(await __pcs.at(-1).getStats()).values()];
      const pair = stats.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
      const local = stats.find((s) => s.id === pair?.localCandidateId);
      return { type: local?.candidateType, relayProtocol: local?.relayProtocol };
    });
    assert.deepEqual(path, { type: 'relay', relayProtocol: 'tcp' });
    await mediaFlows(alice, bob);
    assert.doesNotMatch(w.server.log() + turn.log(), new RegExp(secret), 'the secret is never logged');
  } finally {
    await w.close();
    await turn.stop();
  }
});

test('300 ms of delay each way: the call connects and carries media at that delay', async () => {
  const host = '127.0.0.1';
  const media = await freeUdpPort(host);
  const relay = await startRelay({ host, target: { address: host, port: media }, seed: 300 });
  const server = await startServer(['--media-workers', '1', '--media-public', `${host}:${relay.port}`], { media: `${host}:${media}` });
  const browser = await launchBrowser();
  try {
    const alice = await callPage(browser, server, 'Alice');
    const bob = await callPage(browser, server, 'Bob');
    relay.impair({ delayMs: 300 });
    await videoCall(alice, bob);
    // The browser measures the round trip to the SFU: both delays.
    await until(alice, async () => {
      for (const s of (await __pcs.at(-1).getStats()).values()) {
        if (s.type === 'remote-inbound-rtp' && s.roundTripTime >= 0.6) return true;
      }
      return false;
    });
    await mediaFlows(alice, bob);
    for (const p of [alice, bob]) {
      await unchanged(p);
      assert.ok(!(await has(p, ['net', 'networkReconnect', 3])), 'a slow network is not a broken one');
      assert.deepEqual(p.problems, [], p.name);
    }
    assert.ok(relay.counts.relayed > 500, `media went through the relay (${relay.counts.relayed})`);
  } finally {
    await browser.close();
    await server.stop();
    relay.stop();
  }
});

test('a congested downlink gets smaller simulcast layers, and the full one when it clears', { skip }, async () => {
  const w = shared;
  const alice = await w.alice();
  const bob = await w.bob();
  await videoCall(alice, bob);
  // Alice shows Bob big: she wants his full layer (the fake camera's 640x480).
  await alice.page.evaluate(() => {
    for (const video of document.querySelectorAll('video')) Object.assign(video.parentElement.style, { width: '1280px', height: '720px' });
    // The height of the video she decodes.
    window.tallest = async () => Math.max(0, ...(await __inboundVideo()).map((s) => s.height ?? 0));
  });
  await until(alice, async () => (await tallest()) >= 480, undefined, 30_000);
  w.net.limitDownlink(400);
  await until(alice, async () => (await tallest()) <= 240, undefined, 40_000);
  await flowing(alice, 'frames', 10);
  w.net.heal();
  await until(alice, async () => (await tallest()) >= 480, undefined, 60_000);
  await unchanged(alice);
  await alice.page.evaluate(() => call.hangUp());
  await until(bob, () => call.state === 'Disconnected');
});

test('the browser going offline raises noNetwork, and coming back clears it', { skip }, async () => {
  const w = shared;
  const alice = await w.alice();
  const bob = await w.bob();
  await videoCall(alice, bob);
  await bob.page.context().setOffline(true);
  await until(bob, () => log.some(([k, d, v]) => k === 'net' && d === 'noNetwork' && v === true));
  await bob.page.context().setOffline(false);
  await until(bob, () => log.filter(([, d]) => d === 'noNetwork').at(-1)?.[2] === false);
  await mediaFlows(alice, bob);
  await unchanged(bob);
  await alice.page.evaluate(() => call.hangUp());
  await until(bob, () => call.state === 'Disconnected');
});
