// Calling phone numbers from the browser, as an ACS app does it, with sipp (Debian's
// sip-tester) as the SIP trunk on loopback: the phone participant's identifier and states, and
// ACS's PSTN end reasons. Each sipp scenario fails (non-zero exit) if the gateway's SIP deviates.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hearsSound, openPage, recordPeerConnections, suite, until } from './harness.mjs';
import { freeUdpPort } from './relay.mjs';

const OWNED = '+14255550100';
const PHONE = '+14255550123';

const trunkPort = await freeUdpPort('127.0.0.1');
const config = path.join(mkdtempSync(path.join(tmpdir(), 'rtcall-phone-')), 'phone.toml');
writeFileSync(
  config,
  `sip_udp = "127.0.0.1:0"\nphone_rtp_udp = "127.0.0.1:0"\nphone_rtp_ports = 4\n\n[[trunks]]\nname = "sipp"\naddress = "127.0.0.1:${trunkPort}"\nnumbers = ["${OWNED}"]\n`,
);
const ctx = suite({ serverArgs: ['--config', config] });
const { user, closeAll } = ctx;

/**
 * Runs one call of a sipp scenario (crates/server/tests/sipp) as the trunk, with more sipp
 * `flags` (`-rtp_echo`: the phone says back what it hears; `-d`: how long it talks);
 * `done()` checks the scenario passed.
 */
function trunk(scenario, flags = []) {
  const file = path.join('crates/server/tests/sipp', scenario);
  const args = ['-sf', file, '-i', '127.0.0.1', '-p', String(trunkPort), '-m', '1', '-timeout', '40s', '-timeout_error', '-nostdin'];
  const child = spawn('sipp', [...args, ...flags], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (chunk) => (errors += chunk));
  return {
    async done() {
      const [code] = child.exitCode === null ? await once(child, 'exit') : [child.exitCode];
      assert.equal(code, 0, `sipp scenario ${scenario} failed: ${errors}`);
    },
  };
}

/** Alice's page calls the phone; `seen` collects the phone participant's states. */
function dial(alice, callerId = OWNED) {
  return alice.page.evaluate(
    ({ phone, callerId }) => {
      window.seen = [];
      window.call = agent.startCall([{ phoneNumber: phone }], { alternateCallerId: { phoneNumber: callerId } });
      call.on('remoteParticipantsUpdated', ({ added }) => {
        for (const p of added) {
          seen.push(p.state);
          p.on('stateChanged', () => seen.push(p.state));
        }
      });
    },
    { phone: PHONE, callerId },
  );
}

test('a page calls a phone that answers then hangs up: states, identifier and 0/560000', async () => {
  const sipp = trunk('answer_then_hang_up.xml', ['-d', '1000']);
  const alice = await user('Alice');
  await dial(alice);
  await until(alice, () => call.state === 'Connected');
  const phone = await alice.page.evaluate(() => {
    const [p] = call.remoteParticipants;
    return { kind: p.identifier.kind, rawId: p.identifier.rawId, number: p.identifier.phoneNumber, state: p.state };
  });
  assert.deepEqual(phone, { kind: 'phoneNumber', rawId: `4:${PHONE}`, number: PHONE, state: 'Connected' });
  await until(alice, () => call.state === 'Disconnected');
  const { reason, seen } = await alice.page.evaluate(() => ({ reason: call.callEndReason, seen }));
  assert.deepEqual(reason, { code: 0, subCode: 560000 });
  assert.ok(seen.includes('Ringing') && seen.includes('Connected'), `phone states: ${seen}`);
  await sipp.done();
  await closeAll();
});

test('a busy phone ends the call with 486/560486', async () => {
  const sipp = trunk('busy.xml');
  const alice = await user('Alice');
  await dial(alice);
  await until(alice, () => call.state === 'Disconnected');
  assert.deepEqual(await alice.page.evaluate(() => call.callEndReason), { code: 486, subCode: 560486 });
  await sipp.done();
  await closeAll();
});

test('a caller id the deployment does not own is refused with a clear error', async () => {
  const alice = await user('Alice');
  await dial(alice, '+14255559999');
  await until(alice, () => call.state === 'Disconnected');
  assert.deepEqual(await alice.page.evaluate(() => call.callEndReason), { code: 400, subCode: 40003 });
  await closeAll();
});

test('two pages in a group call dial a phone out: it hears them, they hear it, it hangs up', async () => {
  // The phone says back what it hears (sipp -rtp_echo), for 12 s, then hangs up.
  const sipp = trunk('answer_then_hang_up.xml', ['-rtp_echo', '-d', '12000']);
  const alice = await user('Alice');
  const bob = await user('Bob');
  const group = crypto.randomUUID();
  for (const p of [alice, bob]) {
    await p.page.evaluate((groupId) => {
      window.call = agent.join({ groupId });
      window.gone = [];
      call.on('remoteParticipantsUpdated', ({ removed }) => gone.push(...removed.map((r) => [r.identifier.kind, r.callEndReason])));
      window.phone = () => call.remoteParticipants.find((r) => r.identifier.kind === 'phoneNumber');
      window.keys = [];
      call.on('dtmfReceived', ({ participant, tone }) => keys.push([participant.identifier.kind, tone]));
    }, group);
  }
  for (const p of [alice, bob]) await until(p, () => call.state === 'Connected' && call.remoteParticipants.length === 1);
  // Only Alice speaks (Chromium's fake microphone beeps): what Alice hears can only come back
  // from the phone.
  await bob.page.evaluate(() => call.mute());
  await alice.page.evaluate(
    ({ phone, owned }) => call.addParticipant({ phoneNumber: phone }, { alternateCallerId: { phoneNumber: owned } }),
    { phone: PHONE, owned: OWNED },
  );
  for (const p of [alice, bob]) await until(p, () => phone()?.state === 'Connected');
  // The phone heard Alice: it says her beeps back, and the service marks it speaking.
  await until(bob, () => phone()?.isSpeaking === true);
  await hearsSound(alice);
  await hearsSound(bob);
  // Keys go to the phone as RFC 4733 events; it says them back, and both pages see them.
  await alice.page.evaluate(async () => {
    await call.sendDtmf('Num7');
    await call.sendDtmf('Pound');
  });
  for (const p of [alice, bob]) await until(p, () => keys.length === 2);
  for (const p of [alice, bob]) {
    assert.deepEqual(await p.page.evaluate(() => keys), [['phoneNumber', 'Num7'], ['phoneNumber', 'Pound']]);
  }
  // It hangs up: both see it leave with 0/560000 and stay in the group call.
  for (const p of [alice, bob]) await until(p, () => gone.length === 1, undefined, 30_000);
  for (const p of [alice, bob]) {
    assert.deepEqual(await p.page.evaluate(() => [gone[0], call.state]), [['phoneNumber', { code: 0, subCode: 560000 }], 'Connected']);
  }
  await sipp.done();
  await closeAll();
});

test('the demo calls a phone number with the server\'s caller id, and its keypad reaches the phone', async () => {
  // The phone answers and says back what it hears, keys included, until the demo leaves.
  const sipp = trunk('answer_caller_hangs_up.xml', ['-rtp_echo']);
  const demo = await openPage(ctx.browser, ctx.server.url, recordPeerConnections);
  demo.name = 'Alice';
  ctx.pages.push(demo);
  const { page } = demo;
  await page.getByLabel('Your name, as others see it').fill('Alice');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Call a phone number').click();
  await page.getByLabel('Phone number').fill(PHONE);
  assert.equal(await page.getByLabel('Show this number').inputValue(), OWNED);
  await page.getByRole('button', { name: 'Call the number' }).click();
  await page.locator('#roster li[data-state="Connected"]').filter({ hasText: PHONE }).waitFor({ timeout: 20_000 });
  await page.getByRole('button', { name: 'Key 5' }).click();
  await page.locator('#status').filter({ hasText: `${PHONE} pressed 5.` }).waitFor({ timeout: 20_000 });
  await page.getByRole('button', { name: 'Leave' }).click();
  await sipp.done();
  await closeAll();
});
