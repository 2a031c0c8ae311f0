// Firefox beside Chromium: Firefox pages (Debian's firefox-esr over WebDriver BiDi) test their
// devices with the echo bot, call Chromium pages with audio and video both ways and screen
// shares each way, and meet in a group with both engines. Firefox never sends media from
// loopback, so the server listens on every interface (0.0.0.0) and advertises each address as a
// candidate; the test gives the machine an address of its own first (a veth link to a namespace
// it makes), so that this holds on a machine with no network interface but loopback.
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { after, before, test } from 'node:test';
import { accept, connected, flowing, hearsSound, launchBrowser, ring, suite, until } from './harness.mjs';
import { canMakeNetworks, makeNetwork } from './netns.mjs';

// Firefox needs an address other than loopback: the machine's own, or one the test makes.
const ownAddress = Object.values(networkInterfaces())
  .flat()
  .some((a) => a.family === 'IPv4' && !a.internal);
const skip = !ownAddress && !canMakeNetworks() && 'Firefox needs a non-loopback address (or root to make one)';

let link;
before(() => {
  if (!skip && canMakeNetworks()) link = makeNetwork();
});

// Long enough for a playback to carry a dozen frames even when its first keyframe is late.
const RECORD_MS = 4000;
const ctx = suite({ serverArgs: ['--echo-record-ms', String(RECORD_MS)], serverOptions: { media: '0.0.0.0:0' } });
let firefox;
before(async () => {
  firefox = await launchBrowser({ engine: 'firefox' });
});
after(() => firefox?.close());
// Last: the server and browsers stop first.
after(() => link?.close());

/** A signed-in page in Firefox. */
const firefoxUser = (name) => ctx.user(name, undefined, firefox);

/** The page renders every remote stream of `type` ('Video' or 'ScreenSharing') it has. */
const render = (p, type) =>
  p.page.evaluate(async (type) => {
    for (const remote of call.remoteParticipants) {
      const stream = remote.videoStreams.find((s) => s.mediaStreamType === type);
      const view = await new rtcall.VideoStreamRenderer(stream).createView();
      document.body.appendChild(view.target);
    }
  }, type);

/**
 * Starts the page's camera in its call. Firefox holds a background tab's camera request until
 * the tab is shown (as it would a user's), so the page comes to the front first.
 */
const startCamera = async (p) => {
  await p.page.bringToFront();
  await p.page.evaluate(async () => {
    const [camera] = await devices.getCameras();
    await call.startVideo(new rtcall.LocalVideoStream(camera));
  });
};

/**
 * Calls `call[method]()` from a click on the page, as an app's button would: Firefox and Safari
 * let a page capture its screen only in a user gesture.
 */
const byClick = async (p, method) => {
  await p.page.bringToFront();
  await p.page.evaluate((method) => {
    const button = document.createElement('button');
    button.id = 'gesture';
    button.textContent = method;
    button.onclick = () => {
      window.clicked = call[method]();
      button.remove();
    };
    document.body.prepend(button);
  }, method);
  await p.page.click('#gesture');
  await p.page.evaluate(() => clicked);
};

/**
 * Makes the page's microphone beep (a 1 kHz tone, 150 ms in every second), as Chromium's fake
 * one does: Firefox's fake microphone is a steady tone, which noise suppression rightly removes.
 */
const beepingMicrophone = (p) =>
  p.page.evaluate(() => {
    const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      if (!constraints.audio || constraints.video) return original(constraints);
      const context = new AudioContext();
      const oscillator = new OscillatorNode(context, { frequency: 1000 });
      const gate = new GainNode(context, { gain: 0 });
      const output = context.createMediaStreamDestination();
      oscillator.connect(gate).connect(output);
      oscillator.start();
      setInterval(() => {
        gate.gain.setValueAtTime(0.5, context.currentTime);
        gate.gain.setValueAtTime(0, context.currentTime + 0.15);
      }, 1000);
      return output.stream;
    };
  });

/** What the page's connection negotiated: the codecs of its inbound media and their sizes. */
const inboundCodecs = (p) =>
  p.page.evaluate(async () => {
    const found = [];
    for (const pc of __pcs) {
      const stats = await pc.getStats();
      for (const s of stats.values()) {
        if (s.type === 'inbound-rtp' && s.codecId && s.packetsReceived > 0) found.push(stats.get(s.codecId)?.mimeType);
      }
    }
    return [...new Set(found)].sort();
  });

test('Firefox says what it is and tests its microphone and camera with 8:echo123', { skip }, async () => {
  const alice = await firefoxUser('Alice');
  const info = await alice.page.evaluate(() => client.feature(rtcall.Features.DebugInfo).getEnvironmentInfo());
  assert.equal(info.environment.browser, 'Firefox');
  assert.match(info.environment.browserVersion, /^\d+\.\d+/);
  assert.equal(info.environment.platform, 'Linux');
  assert.deepEqual(
    [info.isSupportedPlatform, info.isSupportedBrowser, info.isSupportedBrowserVersion, info.isSupportedEnvironment],
    [true, true, true, true],
  );

  await alice.page.evaluate(async () => {
    const [device] = await devices.getCameras();
    window.call = agent.startCall([{ communicationUserId: '8:echo123' }], {
      videoOptions: { localVideoStreams: [new rtcall.LocalVideoStream(device)] },
    });
    window.echo = call.feature(rtcall.Features.EchoTest);
  });
  await connected(alice);
  await until(alice, () => echo.report?.audioReceived && echo.report.videoReceived);
  // What the bot recorded comes back: Firefox's fake tone, and its camera as the bot's video,
  // for a recording's length each time. As an app does, the page renders it whenever it is
  // available (a view ends with its stream): a single playback may be over before the first
  // frames of a late view arrive.
  await alice.page.evaluate(() => {
    const stream = call.remoteParticipants[0].videoStreams.find((s) => s.mediaStreamType === 'Video');
    const show = async () => {
      if (!stream.isAvailable) return;
      const view = await new rtcall.VideoStreamRenderer(stream).createView();
      document.body.appendChild(view.target);
    };
    // A playback can end while its view is being made; the next one is shown.
    const showing = () => show().catch((e) => [41009, 41010].includes(e.subCode) || Promise.reject(e));
    stream.on('isAvailableChanged', showing);
    showing();
  });
  await until(alice, async () => (await __inboundVideo()).some((s) => s.frames >= 10));
  // Sound during a playback: Firefox counts each of the bot's sources apart and forgets one
  // that stops, so the energy is compared within one playback, not over the call.
  await until(alice, async () => {
    const playing = () => echo.report?.phase === 'playback';
    if (!playing()) return false;
    const before = (await __inbound()).energy;
    await new Promise((resolve) => setTimeout(resolve, 300));
    return playing() && (await __inbound()).energy - before > 0.001;
  });
  await alice.page.evaluate(() => call.hangUp());
  await until(alice, () => call.state === 'Disconnected');
  assert.deepEqual(await alice.page.evaluate(() => call.callEndReason), { code: 0, subCode: 0 });
  await ctx.closeAll();
});

test('Firefox and Chromium call each other with audio and video both ways, and each shares its screen with the other', { skip }, async () => {
  const fox = await firefoxUser('Fox');
  const chrome = await ctx.user('Chrome');
  await ring(fox, [chrome]);
  await accept(chrome);
  await connected(fox, chrome);
  await startCamera(fox);
  await startCamera(chrome);
  for (const [p, other] of [
    [fox, chrome],
    [chrome, fox],
  ]) {
    await until(p, () => call.remoteParticipants[0]?.videoStreams.find((s) => s.mediaStreamType === 'Video')?.isAvailable);
    await render(p, 'Video');
    await flowing(p, 'frames', 15);
    await hearsSound(p);
    assert.deepEqual(p.problems, [], `${p.name} logged no errors (${other.name} is its peer)`);
  }
  // Each engine decodes what the other encoded: Opus both ways, and a video codec both have.
  for (const p of [fox, chrome]) {
    const codecs = await inboundCodecs(p);
    assert.ok(codecs.includes('audio/opus'), `${p.name}: ${codecs}`);
    assert.ok(codecs.some((c) => /^video\/(VP8|VP9|H264|AV1)$/.test(c)), `${p.name}: ${codecs}`);
  }

  // Outside a user gesture Firefox refuses to capture: a typed permission error, no share.
  const refused = await fox.page.evaluate(() =>
    call.startScreenSharing().then(
      () => 'shared',
      (e) => ({ name: e.name, code: e.code, subCode: e.subCode, sharing: call.isScreenSharingOn }),
    ),
  );
  assert.deepEqual(refused, { name: 'CommunicationServicesError', code: 403, subCode: 41013, sharing: false });
  // From a click, Firefox's screen (the virtual display) reaches Chromium as a share it renders.
  await byClick(fox, 'startScreenSharing');
  assert.equal(await fox.page.evaluate(() => call.isScreenSharingOn), true);
  await until(chrome, () => call.remoteParticipants[0].videoStreams.find((s) => s.mediaStreamType === 'ScreenSharing')?.isAvailable);
  const before = await chrome.page.evaluate(async () => (await __inboundVideo()).filter((s) => s.frames > 10).length);
  await render(chrome, 'ScreenSharing');
  await until(chrome, async (n) => (await __inboundVideo()).filter((s) => s.frames > 10).length > n, before);
  await fox.page.evaluate(() => call.stopScreenSharing());
  await until(chrome, () => !call.remoteParticipants[0].videoStreams.find((s) => s.mediaStreamType === 'ScreenSharing')?.isAvailable);
  // And the other way: Chromium's share (its fake picker gives its own tab) decoded in Firefox.
  await chrome.page.evaluate(() => call.startScreenSharing());
  await until(fox, () => call.remoteParticipants[0].videoStreams.find((s) => s.mediaStreamType === 'ScreenSharing')?.isAvailable);
  const foxBefore = await fox.page.evaluate(async () => (await __inboundVideo()).filter((s) => s.frames > 10).length);
  await render(fox, 'ScreenSharing');
  await until(fox, async (n) => (await __inboundVideo()).filter((s) => s.frames > 10).length > n, foxBefore);

  await fox.page.evaluate(() => call.hangUp());
  await until(chrome, () => call.state === 'Disconnected');
  await ctx.closeAll();
});

test('a group of three with both engines: everyone hears everyone and sees the Firefox camera', { skip }, async () => {
  const chrome = await ctx.user('Chrome');
  const foxes = [await firefoxUser('Fox 1'), await firefoxUser('Fox 2')];
  const groupId = crypto.randomUUID();
  for (const p of [chrome, ...foxes]) {
    await p.page.evaluate((groupId) => {
      window.call = agent.join({ groupId });
    }, groupId);
  }
  await connected(chrome, ...foxes);
  for (const p of [chrome, ...foxes]) await until(p, () => call.remoteParticipants.filter((r) => r.state === 'Connected').length === 2);
  await startCamera(foxes[0]);
  for (const p of [chrome, foxes[1]]) {
    await hearsSound(p);
    await until(p, () => call.remoteParticipants.find((r) => r.displayName === 'Fox 1').videoStreams.find((s) => s.mediaStreamType === 'Video').isAvailable);
    await p.page.evaluate(async () => {
      const fox = call.remoteParticipants.find((r) => r.displayName === 'Fox 1');
      const view = await new rtcall.VideoStreamRenderer(fox.videoStreams.find((s) => s.mediaStreamType === 'Video')).createView();
      document.body.appendChild(view.target);
    });
    await flowing(p, 'frames', 15);
  }
  await hearsSound(foxes[0]);
  for (const p of [chrome, ...foxes]) await p.page.evaluate(() => call.hangUp());
  await ctx.closeAll();
});

test("Firefox runs rtcall's noise suppression in its AudioWorklet, and speaker choice fails typed where it has none", { skip }, async () => {
  const fox = await firefoxUser('Fox');
  await beepingMicrophone(fox);
  const chrome = await ctx.user('Chrome');
  await ring(fox, [chrome]);
  await accept(chrome);
  await connected(fox, chrome);
  await flowing(chrome, 'audio');
  await fox.page.evaluate(async () => {
    window.fx = call.localAudioStreams[0].feature(rtcall.Features.AudioEffects);
    await fx.startEffects({ noiseSuppression: new rtcall.DeepNoiseSuppressionEffect() });
  });
  const sent = await fox.page.evaluate(async () => {
    const raw = (await call.localAudioStreams[0].getMediaStream()).getAudioTracks()[0];
    const sender = __pcs[0].getSenders().find((s) => s.track?.kind === 'audio');
    return { active: fx.activeEffects, processed: sender.track.id !== raw.id, live: sender.track.readyState };
  });
  assert.deepEqual(sent, { active: { noiseSuppression: 'DeepNoiseSuppression' }, processed: true, live: 'live' });
  await flowing(chrome, 'audio', 50);
  await hearsSound(chrome);
  // The worklet's meter follows the beeps (up with each, down between): its DSP runs in
  // Firefox's audio thread, at Firefox's own sample rate.
  await fox.page.evaluate(async () => {
    window.volume = await call.localAudioStreams[0].getVolume();
    window.levels = [];
    volume.on('levelChanged', () => levels.push(volume.level));
  });
  await until(fox, () => {
    let [swings, high] = [0, false];
    for (const level of levels) {
      if (!high && level > 60) high = true;
      if (high && level < 20) [high, swings] = [false, swings + 1];
    }
    return swings >= 2;
  });

  // Firefox has setSinkId but its fake devices no speaker: choosing one is refused as a
  // device that is not listed (400), with a typed error.
  const refused = await fox.page.evaluate(async () => ({
    available: devices.isSpeakerSelectionAvailable,
    speakers: (await devices.getSpeakers()).length,
    error: await devices.selectSpeaker({ id: 'default', name: 'Speaker' }).then(
      () => 'selected',
      (e) => ({ name: e.name, code: e.code, subCode: e.subCode }),
    ),
  }));
  assert.deepEqual(refused, {
    available: true,
    speakers: 0,
    error: { name: 'CommunicationServicesError', code: 400, subCode: 41001 },
  });
  await fox.page.evaluate(() => call.hangUp());
  await ctx.closeAll();
});
