// The echo test service (8:echo123) from real browser pages. Each page's microphone is a pure
// tone of its own pitch, so what comes back can be told apart by frequency: the bot's prompt
// (880 Hz), then, one recording window later, the page's own tone, and never another page's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connected, flowing, suite, until } from './harness.mjs';

const RECORD_MS = 3000;
const PROMPT_HZ = 880;
const ctx = suite({ serverArgs: ['--echo-record-ms', String(RECORD_MS)] });

/**
 * A page whose microphone is a `toneHz` sine, and which listens to what it receives: for each
 * pitch in `listenHz`, `heard[hz]` records when it was first and last loud in the incoming
 * audio, and how often.
 */
async function tester(name, toneHz, listenHz) {
  const p = await ctx.user(name);
  await p.page.evaluate(
    ({ toneHz, listenHz }) => {
      const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = async (constraints) => {
        if (!constraints.audio || constraints.video) return original(constraints);
        const context = new AudioContext();
        const oscillator = new OscillatorNode(context, { frequency: toneHz });
        const gain = new GainNode(context, { gain: 0.3 });
        const output = context.createMediaStreamDestination();
        oscillator.connect(gain).connect(output);
        oscillator.start();
        return output.stream;
      };
      window.heard = Object.fromEntries(listenHz.map((hz) => [hz, { first: null, last: null, count: 0 }]));
      // Taps the incoming audio lines (the library plays them itself) with an analyser.
      window.listen = () => {
        const context = new AudioContext();
        const analyser = new AnalyserNode(context, { fftSize: 4096, smoothingTimeConstant: 0 });
        const tapped = new Set();
        const spectrum = new Float32Array(analyser.frequencyBinCount);
        const binHz = context.sampleRate / analyser.fftSize;
        setInterval(() => {
          for (const t of __pcs.at(-1).getTransceivers()) {
            const track = t.receiver.track;
            if (t.direction !== 'recvonly' || track.kind !== 'audio' || tapped.has(track.id)) continue;
            tapped.add(track.id);
            context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
          }
          analyser.getFloatFrequencyData(spectrum);
          const sorted = Float32Array.from(spectrum).sort();
          const floor = sorted[sorted.length >> 1];
          const now = performance.now();
          for (const hz of Object.keys(heard)) {
            const bin = Math.round(hz / binHz);
            const level = Math.max(spectrum[bin - 1], spectrum[bin], spectrum[bin + 1]);
            if (level > -70 && level - floor > 30) {
              const h = heard[hz];
              h.first ??= now;
              h.last = now;
              h.count++;
            }
          }
        }, 50);
      };
    },
    { toneHz, listenHz },
  );
  return p;
}

test('the bot plays its prompt, then what it recorded, audio and video, and reports', async () => {
  const alice = await tester('Alice', 1500, [PROMPT_HZ, 1500]);
  await alice.page.evaluate(async () => {
    const [device] = await devices.getCameras();
    window.camera = new rtcall.LocalVideoStream(device);
    window.call = agent.startCall([{ communicationUserId: '8:echo123' }], { videoOptions: { localVideoStreams: [camera] } });
    window.echo = call.feature(rtcall.Features.EchoTest);
    window.reports = 0;
    echo.on('reportChanged', () => reports++);
    listen();
  });
  await connected(alice);
  const bot = await alice.page.evaluate(() => {
    const [bot] = call.remoteParticipants;
    return { n: call.remoteParticipants.length, id: rtcall.getIdentifierRawId(bot.identifier), name: bot.displayName, state: bot.state };
  });
  assert.deepEqual(bot, { n: 1, id: '8:echo123', name: 'Echo test', state: 'Connected' });

  // The prompt, then silence while the bot records, then Alice's own tone.
  await until(alice, (hz) => heard[hz].count >= 3, PROMPT_HZ);
  await until(alice, () => heard[1500].count >= 3);
  const timing = await alice.page.evaluate((hz) => ({ promptEnd: heard[hz].last, echoStart: heard[1500].first }), PROMPT_HZ);
  const delay = timing.echoStart - timing.promptEnd;
  assert.ok(delay >= RECORD_MS - 300, `her tone came back ${delay} ms after the prompt, inside the ${RECORD_MS} ms recording`);
  assert.ok(delay <= RECORD_MS + 3000, `her tone came back only ${delay} ms after the prompt`);

  // Her video comes back too, as the bot's camera stream, while it plays back.
  await until(alice, () => call.remoteParticipants[0].videoStreams.find((s) => s.mediaStreamType === 'Video').isAvailable);
  await alice.page.evaluate(async () => {
    const stream = call.remoteParticipants[0].videoStreams.find((s) => s.mediaStreamType === 'Video');
    const view = await new rtcall.VideoStreamRenderer(stream).createView();
    document.body.appendChild(view.target);
  });
  await flowing(alice, 'frames', 10);

  await until(alice, () => echo.report?.audioReceived && echo.report.videoReceived && echo.report.roundTripTimeMs !== undefined);
  const report = await alice.page.evaluate(() => ({ ...echo.report, events: reports }));
  assert.ok(['prompt', 'recording', 'playback'].includes(report.phase), report.phase);
  assert.ok(report.roundTripTimeMs >= 0 && report.roundTripTimeMs < 1000, `RTT ${report.roundTripTimeMs}`);
  assert.ok(report.events >= 2, `${report.events} reportChanged events`);

  await alice.page.evaluate(() => call.hangUp());
  await until(alice, () => call.state === 'Disconnected');
  assert.deepEqual(await alice.page.evaluate(() => call.callEndReason), { code: 0, subCode: 0 });
  await ctx.closeAll();
});

test('two pages testing at once each hear only themselves', async () => {
  const a = await tester('A', 1500, [1500, 2500]);
  const b = await tester('B', 2500, [1500, 2500]);
  // Both identifier forms reach the bot.
  for (const [p, target] of [
    [a, { communicationUserId: '8:echo123' }],
    [b, { id: '8:echo123' }],
  ]) {
    await p.page.evaluate((target) => {
      window.call = agent.startCall([target]);
      window.echo = call.feature(rtcall.Features.EchoTest);
      listen();
    }, target);
  }
  await connected(a, b);
  await until(a, () => heard[1500].count >= 10);
  await until(b, () => heard[2500].count >= 10);
  assert.equal(await a.page.evaluate(() => heard[2500].count), 0, 'A never hears B');
  assert.equal(await b.page.evaluate(() => heard[1500].count), 0, 'B never hears A');
  // Audio only: the report says the camera did not reach the bot.
  await until(a, () => echo.report?.audioReceived);
  assert.equal(await a.page.evaluate(() => echo.report.videoReceived), false);
  await ctx.closeAll();
});
