// The demo app driven like a person would: by the labels and roles of its controls, in real
// pages against a real server. Screenshots of the main states go to target/test-artifacts/demo/,
// and every screenshot of video is checked to show a picture (pixel variance), not a blank.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { flowing, openPage, recordPeerConnections, repoRoot, suite } from './harness.mjs';

const ctx = suite({ serverArgs: ['--echo-record-ms', '2000'] });
const artifacts = path.join(repoRoot, 'target/test-artifacts/demo');
mkdirSync(artifacts, { recursive: true });
const TIMEOUT = 20_000;

async function person(name, url = ctx.server.url, viewport) {
  const p = await openPage(ctx.browser, url, recordPeerConnections);
  if (viewport) await p.page.setViewportSize(viewport);
  p.name = name;
  ctx.pages.push(p);
  return p;
}

async function signIn(p) {
  await p.page.getByLabel('Your name, as others see it').fill(p.name);
  await p.page.getByRole('button', { name: 'Sign in' }).click();
  await p.page.locator('#identity-id').filter({ hasText: '8:acs:' }).waitFor({ timeout: TIMEOUT });
  p.id = await p.page.textContent('#identity-id');
  return p;
}

const stateIs = (p, state) => p.page.locator('#call-state').filter({ hasText: new RegExp(`^${state}$`) }).waitFor({ timeout: TIMEOUT });
const statusSays = (p, text) => p.page.locator('#status').filter({ hasText: text }).waitFor({ timeout: TIMEOUT });

/**
 * Waits until a video inside `selector` shows a live picture: new frames keep being painted
 * (a frozen last frame does not count), and drawn to a small canvas its luminance varies (a
 * blank or black element has none). Returns the variance.
 */
async function showsPicture(p, selector) {
  const handle = await p.page.waitForFunction(
    (selector) => {
      window.__framesSeen ??= new WeakMap();
      for (const video of document.querySelectorAll(`${selector} video`)) {
        if (video.videoWidth === 0) continue;
        const frames = video.getVideoPlaybackQuality().totalVideoFrames;
        if (!__framesSeen.has(video)) __framesSeen.set(video, frames);
        if (frames < __framesSeen.get(video) + 5) continue;
        const canvas = Object.assign(document.createElement('canvas'), { width: 64, height: 36 });
        const g = canvas.getContext('2d', { willReadFrequently: true });
        g.drawImage(video, 0, 0, 64, 36);
        const { data } = g.getImageData(0, 0, 64, 36);
        let sum = 0;
        let squares = 0;
        for (let i = 0; i < data.length; i += 4) {
          const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
          sum += y;
          squares += y * y;
        }
        const n = data.length / 4;
        const variance = squares / n - (sum / n) ** 2;
        if (variance > 20) return variance;
      }
      return false;
    },
    selector,
    { timeout: TIMEOUT, polling: 200 },
  );
  return handle.jsonValue();
}

function screenshot(p, name) {
  return p.page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

test('two people call each other and use every control', async () => {
  const alice = await signIn(await person('Alice'));
  const bob = await signIn(await person('Bob'));
  await screenshot(alice, 'signed-in');
  // This server has no telephone trunk: a phone number cannot be called, and the page says why.
  await alice.page.getByText('Call a phone number').click();
  assert.equal(await alice.page.getByLabel('Phone number').isDisabled(), true);
  await alice.page.getByText('This server has no telephone trunk').waitFor({ timeout: TIMEOUT });

  await alice.page.getByLabel(/^Identity ids/).fill(bob.id);
  await alice.page.getByRole('button', { name: 'Call', exact: true }).click();
  await bob.page.getByRole('dialog').getByText('Alice is calling').waitFor({ timeout: TIMEOUT });
  await screenshot(bob, 'ringing');
  // The dialog is keyboard-ready: its first button has focus, and Enter answers.
  assert.equal(await bob.page.evaluate(() => document.activeElement.textContent), 'Accept with video');
  await bob.page.keyboard.press('Enter');
  await stateIs(alice, 'Connected');
  await stateIs(bob, 'Connected');
  // Each sees the other's camera and its own preview, mirrored.
  for (const p of [alice, bob]) {
    await showsPicture(p, '.tile.remote');
    await showsPicture(p, '.tile.local');
  }
  assert.match(await alice.page.locator('.tile.local video').evaluate((v) => getComputedStyle(v).transform), /matrix\(-1/);
  await screenshot(alice, 'one-to-one-video');

  // Mute: Bob's roster shows Alice muted.
  await alice.page.getByRole('button', { name: 'Mute', exact: true }).click();
  await bob.page.locator('#roster li', { hasText: 'Alice' }).locator('.muted').waitFor({ state: 'visible', timeout: TIMEOUT });
  await alice.page.getByRole('button', { name: 'Unmute', exact: true }).click();
  await bob.page.locator('#roster li', { hasText: 'Alice' }).locator('.muted').waitFor({ state: 'hidden', timeout: TIMEOUT });

  // Share the screen: Bob sees it large.
  await alice.page.getByRole('button', { name: 'Share screen' }).click();
  await showsPicture(bob, '#stage');
  await showsPicture(alice, '.tile.local-screen');
  await alice.page.getByRole('button', { name: 'Stop sharing' }).click();
  await bob.page.locator('#stage').waitFor({ state: 'hidden', timeout: TIMEOUT });

  // The microphone meter moves with the fake microphone's beeps; noise suppression goes on
  // and off mid-call (the line then sends the worklet's track) and Bob keeps hearing her.
  await alice.page.waitForFunction(() => document.querySelector('#mic-level').value > 30, null, { timeout: TIMEOUT });
  const rawAudio = await alice.page.evaluate(() => __pcs.at(-1).getSenders().find((s) => s.track?.kind === 'audio').track.id);
  await alice.page.getByLabel('Noise suppression').check();
  await alice.page.waitForFunction((raw) => __pcs.at(-1).getSenders().find((s) => s.track?.kind === 'audio').track.id !== raw, rawAudio);
  await flowing(bob, 'audio', 50);
  await alice.page.getByLabel('Noise suppression').uncheck();
  await alice.page.waitForFunction((raw) => __pcs.at(-1).getSenders().find((s) => s.track?.kind === 'audio').track.id === raw, rawAudio);
  await flowing(bob, 'audio', 50);

  // Hold and resume.
  await alice.page.getByRole('button', { name: 'Hold' }).click();
  await stateIs(alice, 'LocalHold');
  await stateIs(bob, 'RemoteHold');
  await bob.page.locator('#roster li[data-state="Hold"]', { hasText: 'Alice' }).waitFor({ timeout: TIMEOUT });
  await alice.page.getByRole('button', { name: 'Resume' }).click();
  await stateIs(alice, 'Connected');

  // Another camera and microphone mid-call: the call sends the new devices.
  const label = (kind) => alice.page.evaluate((kind) => __pcs.at(-1).getSenders().find((s) => s.track?.kind === kind)?.track.label, kind);
  const [cameraBefore, micBefore] = [await label('video'), await label('audio')];
  // Chromium's second fake camera sends Y16 (depth) frames WebRTC cannot encode; the third is
  // an ordinary MJPEG one.
  assert.equal(cameraBefore, 'fake_device_0');
  await alice.page.getByLabel('Camera', { exact: true }).selectOption({ label: 'fake_device_2' });
  const microphones = await alice.page.locator('#microphone-select option').allTextContents();
  await alice.page.getByLabel('Microphone', { exact: true }).selectOption({ label: microphones.find((m) => m !== micBefore && m !== 'Default') });
  await alice.page.waitForFunction((before) => __pcs.at(-1).getSenders().find((s) => s.track?.kind === 'video')?.track.label !== before, cameraBefore);
  await alice.page.waitForFunction((before) => __pcs.at(-1).getSenders().find((s) => s.track?.kind === 'audio')?.track.label !== before, micBefore);
  await showsPicture(bob, '.tile.remote');

  // Camera off and on again.
  await alice.page.getByRole('button', { name: 'Stop camera' }).click();
  await bob.page.locator('.tile.remote.has-video').waitFor({ state: 'detached', timeout: TIMEOUT });
  await alice.page.getByRole('button', { name: 'Start camera' }).click();
  await showsPicture(bob, '.tile.remote');

  await alice.page.getByRole('button', { name: 'Leave' }).click();
  await statusSays(alice, 'You left the call. (0/0)');
  await statusSays(bob, 'The call ended: the other side hung up. (0/0)');
  await ctx.closeAll();
});

test('a group by link, someone added and removed, a screen share, ended for everyone', async () => {
  const alice = await signIn(await person('Alice'));
  await alice.page.getByRole('button', { name: 'New group id' }).click();
  const link = await alice.page.locator('#group-link').getAttribute('href');
  await alice.page.getByRole('button', { name: 'Join' }).click();
  await stateIs(alice, 'Connected');
  // Bob opens the link on a phone: it signs in (as a guest: he never typed a name here) and
  // joins by itself.
  const bob = await person('Bob', link, { width: 390, height: 844 });
  await bob.page.locator('#identity-id').filter({ hasText: '8:acs:' }).waitFor({ timeout: TIMEOUT });
  await stateIs(bob, 'Connected');
  const carol = await signIn(await person('Carol'));
  await alice.page.getByLabel('Add someone (identity id)').fill(carol.id);
  await alice.page.getByRole('button', { name: 'Add', exact: true }).click();
  await carol.page.getByRole('button', { name: 'Accept audio only' }).click();
  await stateIs(carol, 'Connected');
  // Once Carol answers, Alice's status no longer says she is being called.
  await alice.page.locator('#status').filter({ hasText: /^$/ }).waitFor({ timeout: TIMEOUT });
  for (const p of [alice, bob, carol]) {
    await p.page.waitForFunction(() => document.querySelectorAll('#roster li[data-state="Connected"]').length === 2, null, { timeout: TIMEOUT });
  }
  // Chromium's fake microphones beep: with Bob and Carol muted, Alice is the one speaking.
  for (const p of [bob, carol]) await p.page.getByRole('button', { name: 'Mute', exact: true }).click();
  await bob.page.locator('#roster li.dominant', { hasText: 'Alice' }).waitFor({ timeout: TIMEOUT });
  await carol.page.locator('#roster li', { hasText: 'Alice' }).locator('.speaking').waitFor({ state: 'visible', timeout: TIMEOUT });
  await alice.page.locator('#roster li', { hasText: 'Guest' }).locator('.muted').waitFor({ state: 'visible', timeout: TIMEOUT });

  await alice.page.getByRole('button', { name: 'Share screen' }).click();
  await showsPicture(bob, '#stage');
  await showsPicture(bob, '.tile.remote');
  await screenshot(bob, 'group-phone-share');
  await showsPicture(carol, '#stage');
  await screenshot(carol, 'group-gallery-share');
  // The phone layout fits its width.
  assert.equal(await bob.page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), true);

  await alice.page.getByRole('button', { name: 'Remove Carol' }).click();
  await statusSays(carol, 'You were removed from the call. (0/5300)');
  await alice.page.locator('#roster li', { hasText: 'Carol' }).filter({ hasText: 'removed' }).waitFor({ timeout: TIMEOUT });
  await alice.page.getByRole('button', { name: 'End for everyone' }).click();
  await statusSays(bob, 'The call was ended for everyone. (0/4097)');
  await ctx.closeAll();
});

test('a meeting: preview, lobby, hands, reactions, spotlight, muting others, chat and call quality', async () => {
  const alice = await signIn(await person('Alice'));
  // Before joining: her camera's preview and her microphone's level (the fake one beeps).
  await showsPicture(alice, '#preview-tile');
  await alice.page.waitForFunction(() => document.querySelector('#preview-level').value > 30, null, { timeout: TIMEOUT });
  await screenshot(alice, 'prejoin');
  await alice.page.getByRole('button', { name: 'New group id' }).click();
  await alice.page.getByLabel('If I start it, others wait in a lobby until I let them in').check();
  const link = await alice.page.locator('#group-link').getAttribute('href');
  await alice.page.getByRole('button', { name: 'Join' }).click();
  await stateIs(alice, 'Connected');
  const bob = await person('Bob', link);
  await stateIs(bob, 'InLobby');
  await alice.page.locator('#lobby-list li', { hasText: 'Guest' }).waitFor({ timeout: TIMEOUT });
  await screenshot(alice, 'lobby');
  await alice.page.getByRole('button', { name: /^Admit Guest/ }).click();
  await stateIs(bob, 'Connected');
  await showsPicture(alice, '.tile.remote');
  // Bob is an attendee: no muting others for him; Alice is the organizer.
  assert.equal(await bob.page.textContent('#my-role'), 'Attendee');
  assert.equal(await alice.page.textContent('#my-role'), 'Organizer');
  assert.equal(await bob.page.getByRole('button', { name: 'Mute Alice' }).count(), 0);

  // A raised hand, seen by both; a reaction over Bob's tile at Alice.
  await bob.page.getByRole('button', { name: 'Raise hand' }).click();
  await alice.page.locator('.tile.remote.hand').waitFor({ timeout: TIMEOUT });
  await bob.page.getByRole('button', { name: 'Lower hand' }).waitFor({ timeout: TIMEOUT });
  await bob.page.getByRole('button', { name: 'React: applause' }).click();
  await alice.page.locator('.tile.remote .reaction[aria-label="applause"]').waitFor({ timeout: TIMEOUT });
  await screenshot(alice, 'hand-and-reaction');
  await alice.page.getByRole('button', { name: 'Lower all hands' }).click();
  await alice.page.locator('.tile.remote.hand').waitFor({ state: 'detached', timeout: TIMEOUT });

  // The organizer spotlights Bob (large for both) and mutes him.
  await alice.page.getByRole('button', { name: /^Spotlight Guest/ }).click();
  await bob.page.locator('.tile.local.spotlight').waitFor({ timeout: TIMEOUT });
  await alice.page.locator('.tile.remote.spotlight').waitFor({ timeout: TIMEOUT });
  await alice.page.getByRole('button', { name: /^Mute Guest/ }).click();
  await bob.page.getByRole('button', { name: 'Unmute', exact: true }).waitFor({ timeout: TIMEOUT });
  await alice.page.locator('#roster li', { hasText: 'Guest' }).locator('.muted').waitFor({ state: 'visible', timeout: TIMEOUT });

  // A chat over the data channel, both ways.
  await alice.page.getByLabel('Message to everyone').fill('Welcome, Bob');
  await alice.page.getByRole('button', { name: 'Send' }).click();
  await bob.page.locator('#chat-log li', { hasText: 'Alice: Welcome, Bob' }).waitFor({ timeout: TIMEOUT });
  await bob.page.getByLabel('Message to everyone').fill('Thanks!');
  await bob.page.keyboard.press('Enter');
  await alice.page.locator('#chat-log li', { hasText: 'Thanks!' }).waitFor({ timeout: TIMEOUT });

  // The call-quality panel says what is sent and received.
  await alice.page.getByText('Call quality').click();
  await alice.page.locator('#quality-list dd', { hasText: /fps/ }).first().waitFor({ timeout: TIMEOUT });
  const quality = await alice.page.textContent('#quality-list');
  assert.match(quality, /Sending\d+ kb\/s/);
  assert.match(quality, /Round trip\d+ ms/);
  await screenshot(alice, 'meeting');
  await alice.page.getByRole('button', { name: 'End for everyone' }).click();
  await statusSays(bob, 'The call was ended for everyone. (0/4097)');
  await ctx.closeAll();
});

test('testing my devices with the echo service reports microphone and camera working', async () => {
  const alice = await signIn(await person('Alice'));
  await alice.page.getByRole('button', { name: 'Test my devices' }).click();
  await stateIs(alice, 'Connected');
  await alice.page.locator('#echo-report[data-audio="true"][data-video="true"]').waitFor({ timeout: TIMEOUT });
  assert.match(await alice.page.textContent('#echo-report'), /Microphone works; camera works/);
  // The bot plays her camera back as its own video.
  await showsPicture(alice, '.tile.remote');
  await screenshot(alice, 'echo-test');
  await alice.page.getByRole('button', { name: 'Leave' }).click();
  await statusSays(alice, 'You left the call.');
  await ctx.closeAll();
});

test('calling someone who does not exist says so in words', async () => {
  const alice = await signIn(await person('Alice'));
  const missing = alice.id.replace(/_[0-9a-f-]+$/, `_${crypto.randomUUID()}`);
  await alice.page.getByLabel(/^Identity ids/).fill(missing);
  await alice.page.getByRole('button', { name: 'Call', exact: true }).click();
  await statusSays(alice, 'There is no user with that id. (404/10404)');
  // Not an id at all: refused with a message.
  await alice.page.getByLabel(/^Identity ids/).fill('hello');
  await alice.page.getByRole('button', { name: 'Call', exact: true }).click();
  await alice.page.locator('#error, #status').filter({ hasText: /\(\d+\/\d+\)/ }).first().waitFor({ timeout: TIMEOUT });
  await ctx.closeAll();
});

/**
 * `n` native clients (rtcall-loadgen join) in the group call `groupId`: P1 talks, the rest are
 * silent. Resolves once all are in, with a function that makes them leave.
 */
async function crowd(groupId, n) {
  const binary = path.join(repoRoot, 'target/debug/rtcall-loadgen');
  const args = ['join', '--server-url', ctx.server.url, '--group-id', groupId, '--participants', String(n)];
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  // A missing binary fails this test, not the whole file.
  const spawned = new Promise((resolve, reject) => child.once('error', reject));
  const leave = async () => {
    child.stdin.end();
    if (child.exitCode === null) await once(child, 'exit');
  };
  let out = '';
  let timer;
  const joined = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the crowd did not join: ${out}`)), 120_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes(`joined ${n}`)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`rtcall-loadgen exited (${code}): ${out}`)));
  });
  try {
    await Promise.race([joined, spawned]);
  } catch (e) {
    child.kill();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return leave;
}

test('a call of fifty pages its gallery: nine tiles, "+N more", the dominant speaker first, videos only on the page shown', async () => {
  const groupId = randomUUID();
  const leave = await crowd(groupId, 47);
  try {
    const link = `${ctx.server.url}?group=${groupId}`;
    const pages = [];
    for (const name of ['Alice', 'Bob', 'Carol']) {
      const p = await person(name, link);
      await stateIs(p, 'Connected');
      // Chromium's fake microphones beep: muted, the talking native client is the loudest.
      await p.page.getByRole('button', { name: 'Mute', exact: true }).click();
      pages.push(p);
    }
    const [alice] = pages;
    await alice.page.waitForFunction(() => document.querySelectorAll('#roster li[data-state="Connected"]').length === 49, null, { timeout: 60_000 });
    const visible = () => alice.page.evaluate(() => [...document.querySelectorAll('.tile.remote:not([hidden])')].map((t) => t.querySelector('figcaption').textContent));
    // A page of nine, the rest counted; the dominant speaker (P1) first.
    await alice.page.locator('#page-more').filter({ hasText: '+40 more' }).waitFor({ timeout: TIMEOUT });
    const p1 = alice.page.locator('figcaption', { hasText: /^P1$/ });
    await alice.page.locator('.tile.remote.dominant:not([hidden])', { has: p1 }).waitFor({ timeout: TIMEOUT });
    let shown = await visible();
    assert.equal(shown.length, 9);
    assert.equal(await alice.page.evaluate(() => document.querySelector('.tile.remote.dominant').style.order), '1');
    // The crowd has no cameras and joined first: the first page shows no video, the last page
    // Bob's and Carol's, decoded.
    assert.equal(await alice.page.locator('.tile.remote video').count(), 0);
    await screenshot(alice, 'large-call-first-page');
    while (await alice.page.getByRole('button', { name: 'Next page' }).isEnabled()) {
      await alice.page.getByRole('button', { name: 'Next page' }).click();
    }
    shown = await visible();
    assert.equal(shown.filter((name) => name.startsWith('Guest')).length, 2, `last page: ${shown}`);
    await alice.page.waitForFunction(() => document.querySelectorAll('.tile.remote:not([hidden]) video').length === 2, null, { timeout: TIMEOUT });
    await showsPicture(alice, '.tile.remote:not([hidden])');
    await screenshot(alice, 'large-call-last-page');
    // Back to the first page: those views are gone again, and the dominant speaker is there.
    while (await alice.page.getByRole('button', { name: 'Previous page' }).isEnabled()) {
      await alice.page.getByRole('button', { name: 'Previous page' }).click();
    }
    assert.equal(await alice.page.locator('.tile.remote video').count(), 0);
    assert.ok((await visible()).includes('P1'));
  } finally {
    await leave();
  }
  await ctx.closeAll();
});
