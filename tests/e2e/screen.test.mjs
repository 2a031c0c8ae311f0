// Screen sharing between real browser pages: Chromium's fake picker returns the surface named
// by `display-media-type` (a 1920x1080 fake screen or window, or the real tab; with a fake audio
// track). The other page renders the share and decodes its frames at the source's resolution.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accept, connected, flowing, launchBrowser, ring, suite, until } from './harness.mjs';

const ctx = suite();

/** Alice calls Bob (in `browser`), both Connected; Bob watches Alice's screen stream. */
async function pair(browser, aliceOptions = {}) {
  const alice = await ctx.user('Alice', undefined, browser);
  const bob = await ctx.user('Bob', undefined, browser);
  await ring(alice, [bob], aliceOptions);
  await accept(bob);
  await connected(alice, bob);
  await alice.page.evaluate(() => {
    window.sharingEvents = 0;
    call.on('isScreenSharingOnChanged', () => sharingEvents++);
    window.localUpdates = [];
    call.on('localVideoStreamsUpdated', (e) => localUpdates.push([e.added.length, e.removed.length]));
  });
  await bob.page.evaluate(() => {
    window.remote = call.remoteParticipants[0];
    window.share = remote.videoStreams.find((s) => s.mediaStreamType === 'ScreenSharing');
  });
  return { alice, bob };
}

/** Bob renders a stream of Alice's (`share` or her camera) and returns the view's scaling. */
function render(bob, which) {
  return bob.page.evaluate(async (which) => {
    const stream = which === 'share' ? share : remote.videoStreams.find((s) => s.mediaStreamType === 'Video');
    const view = await new rtcall.VideoStreamRenderer(stream).createView();
    document.body.appendChild(view.target);
    return view.scalingMode;
  }, which);
}

for (const surface of ['monitor', 'window', 'browser']) {
  test(`sharing a ${surface}: previewed, then rendered remotely at full resolution, then stopped`, async () => {
    const browser = await launchBrowser({ displayMediaType: surface });
    try {
      const { alice, bob } = await pair(browser);
      await alice.page.evaluate((surface) => call.startScreenSharing({ displaySurface: surface }), surface);
      const sent = await alice.page.evaluate(async () => {
        const local = call.localVideoStreams.find((s) => s.mediaStreamType === 'ScreenSharing');
        const track = (await local.getMediaStream()).getVideoTracks()[0];
        const params = __pcs[0].getSenders().find((s) => s.track === track).getParameters();
        return {
          on: call.isScreenSharingOn,
          events: sharingEvents,
          updates: localUpdates,
          camera: call.isLocalVideoStarted,
          surface: track.getSettings().displaySurface,
          hint: track.contentHint,
          degradation: params.degradationPreference,
          maxFramerate: params.encodings[0].maxFramerate,
        };
      });
      assert.deepEqual(sent, {
        on: true,
        events: 1,
        updates: [[1, 0]],
        camera: false,
        surface,
        hint: 'detail',
        degradation: 'maintain-resolution',
        maxFramerate: 15,
      });
      // The local preview shows what is shared, whole.
      const previewScaling = await alice.page.evaluate(async () => {
        window.preview = await new rtcall.VideoStreamRenderer(call.localVideoStreams[0]).createView();
        document.body.appendChild(preview.target);
        return preview.scalingMode;
      });
      assert.equal(previewScaling, 'Fit');
      // The source's size: the fake screen and window are 1920x1080, a tab is its viewport.
      await until(alice, () => preview.target.querySelector('video')?.videoWidth > 0);
      const source = await alice.page.evaluate(() => {
        const video = preview.target.querySelector('video');
        return { width: video.videoWidth, height: video.videoHeight };
      });

      await until(bob, () => share.isAvailable);
      assert.equal(await render(bob, 'share'), 'Fit');
      // Decoded at the source's size: text is not scaled down.
      await until(
        bob,
        async ({ width, height }) => (await __inboundVideo()).some((s) => s.frames >= 10 && s.width === width && s.height === height),
        source,
      );

      await alice.page.evaluate(() => call.stopScreenSharing());
      await until(bob, () => !share.isAvailable);
      const stopped = await alice.page.evaluate(() => ({
        on: call.isScreenSharingOn,
        events: sharingEvents,
        updates: localUpdates,
        streams: call.localVideoStreams.length,
        previewLive: preview.target.querySelector('video')?.srcObject?.getVideoTracks()[0]?.readyState === 'live',
      }));
      assert.deepEqual(stopped, { on: false, events: 2, updates: [[1, 0], [0, 1]], streams: 0, previewLive: false });
      await ctx.closeAll();
    } finally {
      await browser.close();
    }
  });
}

test("camera and screen at once; the browser's stop button ends the share; tab audio is heard", async () => {
  const { alice, bob } = await pair(ctx.browser);
  await alice.page.evaluate(async () => {
    const [device] = await devices.getCameras();
    window.camera = new rtcall.LocalVideoStream(device);
    await call.startVideo(camera);
    // Muted: whatever Bob hears from Alice now is the shared tab's audio.
    await call.mute();
    await call.startScreenSharing({ audio: true, contentHint: 'motion' });
  });
  assert.deepEqual(
    await alice.page.evaluate(() => call.localVideoStreams.map((s) => s.mediaStreamType)),
    ['Video', 'ScreenSharing'],
  );
  await until(bob, () => remote.videoStreams.every((s) => s.isAvailable));
  await render(bob, 'camera');
  await render(bob, 'share');
  await until(bob, async () => (await __inboundVideo()).filter((s) => s.frames >= 10).length === 2);
  await flowing(bob, 'energy', 0.01);

  // The user presses the browser's "Stop sharing": the track ends.
  await alice.page.evaluate(async () => {
    const local = call.localVideoStreams.find((s) => s.mediaStreamType === 'ScreenSharing');
    const track = (await local.getMediaStream()).getVideoTracks()[0];
    track.stop();
    track.dispatchEvent(new Event('ended'));
  });
  await until(alice, () => !call.isScreenSharingOn && sharingEvents === 2);
  await until(bob, () => !share.isAvailable);
  assert.deepEqual(
    await alice.page.evaluate(() => ({ camera: call.isLocalVideoStarted, streams: call.localVideoStreams.map((s) => s.mediaStreamType) })),
    { camera: true, streams: ['Video'] },
  );
  // The camera goes on; the tab's audio stopped with the share (Alice is still muted).
  await flowing(bob, 'frames', 10);
  await until(bob, async () => {
    const before = (await __inbound()).energy;
    await new Promise((r) => setTimeout(r, 700));
    return (await __inbound()).energy - before < 0.001;
  });
  await ctx.closeAll();
});

test('a cancelled picker rejects with a permission error and leaves the call as it was', async () => {
  const { alice, bob } = await pair(ctx.browser);
  const result = await alice.page.evaluate(async () => {
    navigator.mediaDevices.getDisplayMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    const error = (p) => p.then(() => 'resolved', (e) => ({ name: e.name, code: e.code, subCode: e.subCode }));
    return {
      cancelled: await error(call.startScreenSharing()),
      badOption: await error(call.startScreenSharing({ displaySurface: 'desk' })),
      notSharing: await error(call.stopScreenSharing()),
      on: call.isScreenSharingOn,
      events: sharingEvents,
      streams: call.localVideoStreams.length,
      state: call.state,
    };
  });
  assert.deepEqual(result, {
    cancelled: { name: 'CommunicationServicesError', code: 403, subCode: 41013 },
    badOption: { name: 'CommunicationServicesError', code: 400, subCode: 41001 },
    notSharing: { name: 'CommunicationServicesError', code: 409, subCode: 41007 },
    on: false,
    events: 0,
    streams: 0,
    state: 'Connected',
  });
  assert.equal(await bob.page.evaluate(() => share.isAvailable), false);
  await flowing(bob, 'audio', 25);
  await ctx.closeAll();
});
