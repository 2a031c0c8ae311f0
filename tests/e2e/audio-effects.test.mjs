// The microphone's effects and volume in a live call: rtcall's noise suppression (the DSP
// worklet) and the browser's, switched mid-call without renegotiating while audio keeps
// flowing; the volume following the microphone through mute and unmute.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accept, connected, flowing, ring, suite, until } from './harness.mjs';

const { user, closeAll } = suite();

async function inCall() {
  const alice = await user('Alice');
  const bob = await user('Bob');
  await ring(alice, [bob]);
  await accept(bob);
  await connected(alice, bob);
  await flowing(bob, 'audio');
  return { alice, bob };
}

/** Bob hears sound (not just packets of silence): inbound audio energy grows. */
async function hearsSound(p) {
  const start = await p.page.evaluate(async () => (await __inbound()).energy);
  await until(p, async (target) => (await __inbound()).energy > target, start + 0.05);
}

/** What Alice's audio line sends: the raw microphone, or another (processed) track. */
const sending = (alice) =>
  alice.page.evaluate(async () => {
    const raw = (await call.localAudioStreams[0].getMediaStream()).getAudioTracks()[0];
    const sender = __pcs[0].getSenders().find((s) => s.track?.kind === 'audio');
    return {
      raw: sender.track.id === raw.id,
      live: sender.track.readyState === 'live',
      browserSuppression: raw.getSettings().noiseSuppression,
      transceivers: __pcs[0].getTransceivers().length,
      connections: __pcs.length,
    };
  });

test('noise suppression goes on and off mid-call without renegotiating, and audio keeps flowing', async () => {
  const { alice, bob } = await inCall();
  const before = await sending(alice);
  assert.equal(before.raw, true);
  await alice.page.evaluate(() => {
    window.fx = call.localAudioStreams[0].feature(rtcall.Features.AudioEffects);
    window.fxEvents = [];
    for (const name of ['effectsStarted', 'effectsStopped', 'effectsError']) fx.on(name, (e) => fxEvents.push([name, e]));
  });
  assert.deepEqual(
    await alice.page.evaluate(async () => [
      await fx.isSupported(new rtcall.DeepNoiseSuppressionEffect()),
      await fx.isSupported(new rtcall.BrowserNoiseSuppressionEffect()),
      await fx.isSupported({ name: 'Nope' }),
    ]),
    [true, true, false],
  );

  await alice.page.evaluate(() => fx.startEffects({ noiseSuppression: new rtcall.DeepNoiseSuppressionEffect() }));
  const on = await sending(alice);
  assert.equal(on.raw, false, 'the processed track is sent');
  assert.equal(on.live, true);
  assert.deepEqual([on.transceivers, on.connections], [before.transceivers, 1], 'no renegotiation, same connection');
  assert.deepEqual(await alice.page.evaluate(() => fx.activeEffects), { noiseSuppression: 'DeepNoiseSuppression' });
  await flowing(bob, 'audio', 50);
  // The beeps of Chromium's fake microphone come through the suppressor (a voice would too).
  await hearsSound(bob);

  await alice.page.evaluate(() => fx.stopEffects({ noiseSuppression: true }));
  assert.equal((await sending(alice)).raw, true);
  assert.deepEqual(await alice.page.evaluate(() => fx.activeEffects), {});
  await flowing(bob, 'audio', 50);
  await hearsSound(bob);

  // The browser's own: the raw track is sent, with the constraint on.
  await alice.page.evaluate(() => fx.startEffects({ noiseSuppression: new rtcall.BrowserNoiseSuppressionEffect() }));
  const browser = await sending(alice);
  assert.deepEqual([browser.raw, browser.browserSuppression], [true, true]);
  await alice.page.evaluate(() => fx.stopEffects({ noiseSuppression: true }));
  assert.equal((await sending(alice)).browserSuppression, false);

  // An unknown effect is refused with a clear error, and said as an event too.
  const refused = await alice.page.evaluate(() =>
    fx.startEffects({ noiseSuppression: { name: 'Nope' } }).catch((e) => ({ code: e.code, subCode: e.subCode })),
  );
  assert.deepEqual(refused, { code: 400, subCode: 41001 });
  await until(alice, () => fxEvents.length === 5);
  assert.deepEqual(
    (await alice.page.evaluate(() => fxEvents)).map(([name, e]) => [name, e.noiseSuppression ?? e.subCode]),
    [
      ['effectsStarted', 'DeepNoiseSuppression'],
      ['effectsStopped', 'DeepNoiseSuppression'],
      ['effectsStarted', 'BrowserNoiseSuppression'],
      ['effectsStopped', 'BrowserNoiseSuppression'],
      ['effectsError', 41001],
    ],
  );
  await flowing(bob, 'audio', 25);
  await closeAll();
});

test('the volume follows the microphone: up while it beeps, down to nothing while muted', async () => {
  const { alice } = await inCall();
  await alice.page.evaluate(async () => {
    window.volume = await call.localAudioStreams[0].getVolume();
    window.levelEvents = 0;
    volume.on('levelChanged', () => levelEvents++);
  });
  // Chromium's fake microphone beeps.
  await until(alice, () => volume.level > 30);
  await alice.page.evaluate(() => call.mute());
  await until(alice, () => volume.level === 0);
  await alice.page.evaluate(() => call.unmute());
  await until(alice, () => volume.level > 30);
  assert.ok((await alice.page.evaluate(() => levelEvents)) > 5);
  // Asking again gives the same object, and noise suppression leaves the meter working.
  assert.equal(await alice.page.evaluate(async () => (await call.localAudioStreams[0].getVolume()) === volume), true);
  await closeAll();
});
