// The microphone's effects and volume in a live call: rtcall's noise suppression (the DSP
// worklet) and the browser's, switched mid-call without renegotiating while audio keeps
// flowing; the volume following the microphone through mute and unmute.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { callBetween, flowing, hearsSound, launchBrowser, suite, until } from './harness.mjs';

const { user, closeAll } = suite();

async function inCall() {
  const alice = await user('Alice');
  const bob = await user('Bob');
  await callBetween(alice, bob);
  await flowing(bob, 'audio');
  return { alice, bob };
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
  // Muted, the processed track is silent too.
  await alice.page.evaluate(() => call.mute());
  await until(bob, () => call.remoteParticipants[0].isMuted);
  // (Audio already in flight may still play: wait for 0.8 s of packets, longer than the beeps'
  // period, that is silent.)
  await until(bob, async () => {
    const from = await __inbound();
    while ((await __inbound()).audio < from.audio + 40) await new Promise((r) => setTimeout(r, 50));
    return (await __inbound()).energy - from.energy < 0.001;
  });
  await alice.page.evaluate(() => call.unmute());
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
  // Another microphone keeps the choice (Chrome's default would turn it back on).
  await alice.page.evaluate(async () => devices.selectMicrophone((await devices.getMicrophones())[1]));
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

test('the volume follows the microphone: up with each beep, down between them, even while muted', async () => {
  const { alice } = await inCall();
  await alice.page.evaluate(async () => {
    window.volume = await call.localAudioStreams[0].getVolume();
    // Every level reported, in order (polling could miss a short dip).
    window.levels = [];
    volume.on('levelChanged', () => levels.push(volume.level));
  });
  // Chromium's fake microphone beeps about twice a second: the level jumps with each beep
  // (to ~80) and falls in the silence between them (to ~10 before the next).
  const swung = (times) => {
    let swings = 0;
    let high = false;
    for (const level of levels) {
      if (!high && level > 60) high = true;
      if (high && level < 20) [high, swings] = [false, swings + 1];
    }
    return swings >= times;
  };
  await until(alice, swung, 2);
  // Muted, the meter still shows what the microphone hears (the call sends nothing).
  await alice.page.evaluate(() => call.mute());
  await until(alice, () => volume.level > 30);
  assert.ok((await alice.page.evaluate(() => levels.length)) > 10);
  // Asking again gives the same object.
  assert.equal(await alice.page.evaluate(async () => (await call.localAudioStreams[0].getVolume()) === volume), true);
  await closeAll();
});

test('the received volume follows the other side: up with her beeps, to nothing when she mutes', async () => {
  const { alice, bob } = await inCall();
  await bob.page.evaluate(async () => {
    window.received = await call.remoteAudioStreams[0].getVolume();
  });
  await until(bob, () => received.level > 30);
  await alice.page.evaluate(() => call.mute());
  await until(bob, () => received.level === 0);
  await alice.page.evaluate(() => call.unmute());
  await until(bob, () => received.level > 30);
  await closeAll();
});

test('speaking into a muted microphone raises speakingWhileMicrophoneIsMuted, and unmuting clears it', async () => {
  // Alice's microphone says a sentence (espeak-ng), over and over.
  const dir = mkdtempSync(path.join(tmpdir(), 'rtcall-speech-'));
  const speech = path.join(dir, 'speech.wav');
  execFileSync('espeak-ng', ['-w', speech, 'Hello, can you hear me? I am talking while my microphone is muted.']);
  const talking = await launchBrowser({ fakeAudioFile: speech });
  try {
    const alice = await user('Alice', undefined, talking);
    const bob = await user('Bob');
    await callBetween(alice, bob);
    await alice.page.evaluate(() => {
      window.diagnostics = call.feature(rtcall.Features.UserFacingDiagnostics);
      window.changes = [];
      diagnostics.media.on('diagnosticChanged', (e) => changes.push([e.diagnostic, e.value, e.valueType]));
    });
    // Talking unmuted is not a problem: nothing is raised.
    await flowing(bob, 'audio', 50);
    assert.deepEqual(await alice.page.evaluate(() => [changes, diagnostics.media.getLatest()]), [[], {}]);
    await alice.page.evaluate(() => call.mute());
    await until(alice, () => diagnostics.media.getLatest().speakingWhileMicrophoneIsMuted?.value === true);
    await alice.page.evaluate(() => call.unmute());
    await until(alice, () => diagnostics.media.getLatest().speakingWhileMicrophoneIsMuted?.value === false);
    assert.deepEqual(await alice.page.evaluate(() => changes), [
      ['speakingWhileMicrophoneIsMuted', true, 'DiagnosticFlag'],
      ['speakingWhileMicrophoneIsMuted', false, 'DiagnosticFlag'],
    ]);
    assert.deepEqual(await alice.page.evaluate(() => diagnostics.network.getLatest()), {});
    await closeAll();
  } finally {
    await talking.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
