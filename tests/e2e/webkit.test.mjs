// WebKit as far as this machine has it: Debian's WebKitGTK MiniBrowser through its WebDriver
// (WebKitWebDriver), in a virtual display. It has no WebRTC (Debian builds it without), so the
// test checks what an app sees there: the package loads, the device manager answers, the
// environment check says the browser cannot call, and a call is refused with a typed error
// rather than failing later. Safari on macOS runs `wasm-pack test --safari`; see
// docs/browsers.md.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { startServer, virtualDisplay } from './harness.mjs';

// Debian puts MiniBrowser under the architecture's library directory.
const MINIBROWSER = readdirSync('/usr/lib')
  .map((dir) => `/usr/lib/${dir}/webkit2gtk-4.1/MiniBrowser`)
  .find((candidate) => existsSync(candidate));
const DEADLINE_MS = 20_000;
const available = existsSync('/usr/bin/WebKitWebDriver') && MINIBROWSER !== undefined;

/** A free loopback TCP port for the driver. */
async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  return port;
}

let server;
let screen;
let driver;
let session;

/** A W3C WebDriver command; throws with the driver's message on an error. */
async function webdriver(method, path, body) {
  const response = await fetch(`${session.base}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  const { value } = await response.json();
  if (!response.ok) throw new Error(`WebDriver ${method} ${path}: ${value?.message ?? response.status}`);
  return value;
}

/** Runs `body` (an async function's source, returning JSON) in the page. */
const inPage = (body) =>
  webdriver('POST', `/session/${session.id}/execute/async`, {
    script: `const done = arguments[0]; (${body})().then(done, (e) => done({ thrown: String(e) }));`,
    args: [],
  });

before(async () => {
  if (!available) return;
  server = await startServer();
  screen = await virtualDisplay();
  const port = await freePort();
  driver = spawn('WebKitWebDriver', [`--port=${port}`], {
    stdio: 'ignore',
    env: { ...process.env, DISPLAY: screen.display },
  });
  session = { base: `http://127.0.0.1:${port}` };
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    try {
      const created = await webdriver('POST', '/session', {
        capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } } },
      });
      session.id = created.sessionId;
      session.version = created.capabilities.browserVersion;
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await webdriver('POST', `/session/${session.id}/url`, { url: server.url });
});

after(async () => {
  if (session?.id) await webdriver('DELETE', `/session/${session.id}`).catch(() => {});
  if (driver && driver.exitCode === null && driver.signalCode === null) {
    driver.kill('SIGTERM');
    await once(driver, 'exit');
  }
  await screen?.stop();
  await server?.stop();
});

test('WebKitGTK loads the package, lists devices, and is told it cannot call', { skip: !available && 'no WebKitGTK' }, async () => {
  const seen = await inPage(`async () => {
    const rtcall = await import('/pkg/index.js');
    // The entry has no top-level await (Safari before 15 has none): the first objects are made
    // at once and the module loads on the first asynchronous call.
    const client = new rtcall.CallClient();
    const info = await client.feature(rtcall.Features.DebugInfo).getEnvironmentInfo();
    const devices = await client.getDeviceManager();
    const cameras = await devices.getCameras();
    const user = await (await fetch('/demo/identity', { method: 'POST' })).json();
    const agent = await client.createCallAgent(new rtcall.AzureCommunicationTokenCredential(user.accessToken.token), { displayName: 'WebKit' });
    let refused;
    try { agent.startCall([{ communicationUserId: '8:echo123' }]); refused = 'started'; }
    catch (e) { refused = { name: e.name, code: e.code, subCode: e.subCode, message: e.message }; }
    const joined = (() => { try { agent.join({ groupId: crypto.randomUUID() }); return 'joined'; } catch (e) { return e.code; } })();
    const unknown = (() => { try { client.feature({ name: 'Nope' }); return 'made'; } catch (e) { return e.code; } })();
    await agent.dispose();
    return { webrtc: typeof RTCPeerConnection, info, cameras: Array.isArray(cameras), speakerSelection: devices.isSpeakerSelectionAvailable, refused, joined, unknown };
  }`);
  assert.equal(seen.thrown, undefined, seen.thrown);
  assert.equal(seen.webrtc, 'undefined', 'this WebKitGTK has no WebRTC (if it gains it, test calls here)');
  assert.equal(seen.info.environment.browser, 'Safari');
  assert.equal(seen.info.environment.platform, 'Linux');
  assert.deepEqual(
    [seen.info.isSupportedBrowser, seen.info.isSupportedBrowserVersion, seen.info.isSupportedEnvironment],
    [false, false, false],
  );
  assert.equal(seen.cameras, true, 'the device manager answers');
  assert.equal(typeof seen.speakerSelection, 'boolean');
  assert.deepEqual(
    { name: seen.refused.name, code: seen.refused.code, subCode: seen.refused.subCode },
    { name: 'CommunicationServicesError', code: 501, subCode: 41011 },
  );
  assert.match(seen.refused.message, /RTCPeerConnection/);
  assert.equal(seen.joined, 501);
  assert.equal(seen.unknown, 501);
  assert.match(session.version, /^2\.\d+/);
});
