// Custom audio and per-stream microphones: `call.startAudio(new LocalAudioStream(mediaStream))`
// sends an app's own audio in place of the microphone (no renegotiation), `switchSource`
// changes it mid-call, `stopAudio` brings the microphone back, and a `LocalAudioStream` made
// from a microphone's `AudioDeviceInfo` picks the device a call opens. What Bob hears is
// checked by frequency: the app's tones are pure sines the fake microphone's beeps are not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accept, callBetween, connected, flowing, ring, suite, until } from './harness.mjs';

const { user, closeAll } = suite();

/** Alice's page: `tone(hz)` makes a MediaStream playing a sine (kept in `tones`). */
async function withTones(p) {
  await p.page.evaluate(() => {
    window.toneContext = new AudioContext();
    window.tone = (hz) => {
      const oscillator = new OscillatorNode(toneContext, { frequency: hz });
      const gain = new GainNode(toneContext, { gain: 0.3 });
      const out = new MediaStreamAudioDestinationNode(toneContext);
      oscillator.connect(gain).connect(out);
      oscillator.start();
      return out.stream;
    };
  });
}

/**
 * Bob's page: the level (dB) of what he receives at a frequency, from an analyser on every
 * received audio track.
 */
async function withAnalyser(p) {
  await p.page.evaluate(() => {
    window.levelAt = (hz) => {
      if (!window.analyser) {
        const context = new AudioContext();
        window.analyser = new AnalyserNode(context, { fftSize: 4096, smoothingTimeConstant: 0 });
        for (const receiver of __pcs[0].getReceivers().filter((r) => r.track.kind === 'audio')) {
          context.createMediaStreamSource(new MediaStream([receiver.track])).connect(analyser);
        }
      }
      const bins = new Float32Array(analyser.frequencyBinCount);
      analyser.getFloatFrequencyData(bins);
      const at = Math.round((hz * analyser.fftSize) / analyser.context.sampleRate);
      return Math.max(...bins.slice(at - 2, at + 3));
    };
  });
}

/** Waits until Bob hears `hz` loud (above -50 dB) or, with `loud` false, not at all (below -90 dB). */
const hears = (bob, hz, loud = true) =>
  until(bob, ({ hz, loud }) => (loud ? levelAt(hz) > -50 : levelAt(hz) < -90), { hz, loud });

test('custom audio replaces the microphone in place, follows switchSource and mute, and stopAudio brings the microphone back', async () => {
  const alice = await user('Alice');
  const bob = await user('Bob');
  await callBetween(alice, bob);
  await flowing(bob, 'audio');
  await withTones(alice);
  await withAnalyser(bob);
  await hears(bob, 2500, false);

  const before = await alice.page.evaluate(() => {
    window.audioEvents = [];
    call.on('localAudioStreamsUpdated', ({ added, removed }) => audioEvents.push({ added, removed }));
    window.microphone = call.localAudioStreams[0];
    return { type: microphone.mediaStreamType, transceivers: __pcs[0].getTransceivers().length };
  });
  assert.equal(before.type, 'Audio');

  const started = await alice.page.evaluate(async () => {
    window.music = tone(2500);
    window.custom = new rtcall.LocalAudioStream(music);
    await call.startAudio(custom);
    const sent = __pcs[0].getSenders().find((s) => s.track?.kind === 'audio').track;
    return {
      shown: call.localAudioStreams.length === 1 && call.localAudioStreams[0] === custom,
      type: custom.mediaStreamType,
      source: custom.source === music,
      events: audioEvents.map(({ added, removed }) => [added[0] === custom, removed[0] === microphone]),
      transceivers: __pcs[0].getTransceivers().length,
      connections: __pcs.length,
      appTrackUntouched: sent !== music.getAudioTracks()[0],
    };
  });
  assert.deepEqual(started, {
    shown: true,
    type: 'RawMedia',
    source: true,
    events: [[true, true]],
    transceivers: before.transceivers,
    connections: 1,
    appTrackUntouched: true,
  });
  await hears(bob, 2500);

  // Muted, Bob hears nothing of it; the app's own track stays on.
  await alice.page.evaluate(() => call.mute());
  await hears(bob, 2500, false);
  assert.equal(await alice.page.evaluate(() => music.getAudioTracks()[0].enabled), true);
  await alice.page.evaluate(() => call.unmute());
  await hears(bob, 2500);

  // Another stream mid-call: the new tone replaces the old one.
  await alice.page.evaluate(() => custom.switchSource(tone(1200)));
  await hears(bob, 1200);
  await hears(bob, 2500, false);

  // The microphone back: the same microphone object as before, the tone gone.
  await alice.page.evaluate(() => call.stopAudio());
  await until(alice, () => audioEvents.length === 2);
  const stopped = await alice.page.evaluate(() => ({
    shown: call.localAudioStreams[0] === microphone,
    event: [audioEvents[1].added[0] === microphone, audioEvents[1].removed[0] === custom],
    transceivers: __pcs[0].getTransceivers().length,
  }));
  assert.deepEqual(stopped, { shown: true, event: [true, true], transceivers: before.transceivers });
  await hears(bob, 1200, false);
  await flowing(bob, 'audio', 25);
  await alice.page.evaluate(() => call.hangUp());
  await closeAll();
});

test('bad custom audio is refused with clear errors and the call goes on', async () => {
  const alice = await user('Alice');
  const bob = await user('Bob');
  await ring(alice, [bob]);
  // Answering with something that is not a LocalAudioStream fails, and the call still rings.
  const badAnswer = await bob.page.evaluate(() =>
    incoming
      .at(-1)
      .accept({ audioOptions: { localAudioStreams: [{}] } })
      .then(() => 'accepted', (e) => [e.code, e.subCode]),
  );
  assert.deepEqual(badAnswer, [400, 41001]);
  await accept(bob);
  await connected(alice, bob);
  await withTones(alice);
  const errors = await alice.page.evaluate(async () => {
    const caught = async (f) => {
      try {
        await f();
        return 'no error';
      } catch (e) {
        return [e.code, e.subCode];
      }
    };
    const [microphone] = await devices.getMicrophones();
    const [speaker] = await devices.getSpeakers();
    const video = new MediaStream([(await navigator.mediaDevices.getUserMedia({ video: true })).getVideoTracks()[0]]);
    return {
      empty: await caught(() => new rtcall.LocalAudioStream({})),
      speaker: speaker ? await caught(() => new rtcall.LocalAudioStream(speaker)) : 'no speaker',
      videoOnly: await caught(() => new rtcall.LocalAudioStream(video)),
      microphoneAsCustom: await caught(() => call.startAudio(new rtcall.LocalAudioStream(microphone))),
      notAStream: await caught(() => call.startAudio(tone(500))),
      // The browser's suppression needs a microphone; custom audio has none.
      browserSuppressionOnCustom: await caught(async () => {
        await call.startAudio(new rtcall.LocalAudioStream(tone(500)));
        await call.localAudioStreams[0]
          .feature(rtcall.Features.AudioEffects)
          .startEffects({ noiseSuppression: new rtcall.BrowserNoiseSuppressionEffect() });
      }),
      // A microphone stream cannot turn into custom audio under a call's feet.
      switchToCustom: await caught(() => call.localAudioStreams[0].switchSource(tone(700))),
      stopAudioTwice: (call.stopAudio(), call.stopAudio(), 'no error'),
    };
  });
  assert.deepEqual(errors, {
    empty: [400, 41001],
    speaker: errors.speaker === 'no speaker' ? 'no speaker' : [400, 41001],
    videoOnly: [400, 41001],
    microphoneAsCustom: [400, 41001],
    notAStream: [400, 41001],
    browserSuppressionOnCustom: [501, 41011],
    switchToCustom: 'no error',
    stopAudioTwice: 'no error',
  });
  await flowing(bob, 'audio', 25);
  assert.equal(await alice.page.evaluate(() => call.state), 'Connected');
  await alice.page.evaluate(() => call.hangUp());
  await closeAll();
});

test('a LocalAudioStream of a microphone chooses the device a call opens, and switchSource changes it mid-call', async () => {
  const alice = await user('Alice');
  const bob = await user('Bob');
  const mics = await alice.page.evaluate(async () => (await devices.getMicrophones()).map((m) => m.id));
  assert.ok(mics.length >= 2, `two fake microphones to choose from (${mics.length})`);
  await alice.page.evaluate(
    async ({ bob }) => {
      const [, second] = await devices.getMicrophones();
      window.chosen = new rtcall.LocalAudioStream(second);
      window.call = agent.startCall([{ communicationUserId: bob }], { audioOptions: { localAudioStreams: [chosen] } });
    },
    { bob: bob.id },
  );
  await until(bob, () => incoming.length > 0);
  await accept(bob);
  await connected(alice, bob);
  await flowing(bob, 'audio');
  const deviceOf = () =>
    alice.page.evaluate(async () => {
      const sent = (await call.localAudioStreams[0].getMediaStream()).getAudioTracks()[0];
      return { same: call.localAudioStreams[0] === chosen, device: sent.getSettings().deviceId, source: chosen.source.id };
    });
  assert.deepEqual(await deviceOf(), { same: true, device: mics[1], source: mics[1] });
  await alice.page.evaluate(async () => chosen.switchSource((await devices.getMicrophones())[0]));
  const switched = await deviceOf();
  assert.equal(switched.source, mics[0]);
  assert.notEqual(switched.device, mics[1]);
  await flowing(bob, 'audio', 25);
  await alice.page.evaluate(() => call.hangUp());
  await closeAll();
});
