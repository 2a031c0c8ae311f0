// End-to-end harness: starts a real rtcall-server on a loopback port with its own data
// directory, and Chromium (headless) or Firefox (in Xvfb) with the flags and prefs in
// webdriver.json (the same that wasm-pack's browser tests use); stops both.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const serverBinary = process.env.RTCALL_SERVER_BIN ?? path.join(repoRoot, 'target/debug/rtcall-server');
const START_DEADLINE_MS = 20_000;

const webdriver = JSON.parse(readFileSync(path.join(repoRoot, 'webdriver.json'), 'utf8'));
/** Chromium's flags for fake media devices, shared with wasm-pack's browser tests. */
export const chromiumArgs = webdriver['goog:chromeOptions'].args;
/** Firefox's prefs for fake media devices and no first-run noise, shared the same way. */
export const firefoxPrefs = webdriver['moz:firefoxOptions'].prefs;

/**
 * Starts rtcall-server; resolves once it listens. `listen` and `media` are its addresses
 * (loopback, any port, by default); `dataDir` keeps its identities across a restart; `www` is
 * the folder it serves at `/` (the demo by default).
 */
export async function startServer(extraArgs = [], { listen = '127.0.0.1:0', media, dataDir, www = 'www' } = {}) {
  const ownDir = !dataDir;
  dataDir ??= mkdtempSync(path.join(tmpdir(), 'rtcall-e2e-'));
  media ??= `${listen.split(':')[0]}:0`;
  const child = spawn(
    serverBinary,
    ['--listen', listen, '--media-udp', media, '--data-dir', dataDir, '--www-dir', www, '--pkg-dir', 'pkg', ...extraArgs],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stderr.on('data', (chunk) => (log += chunk));
  const banner = [];
  const lines = readline.createInterface({ input: child.stdout });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rtcall-server did not start: ${banner.join('\n')}\n${log}`)), START_DEADLINE_MS);
    child.once('exit', (code) => reject(new Error(`rtcall-server exited (${code}): ${log}`)));
    lines.on('line', (line) => {
      banner.push(line);
      if (line.startsWith('connection string')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const url = banner[0].replace('rtcall-server listening on ', '');
  const connectionString = banner[1].replace('connection string: ', '');
  return {
    url,
    connectionString,
    dataDir,
    log: () => log,
    /** Kills it as a crash would (SIGKILL), keeping its data. */
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Starts Xvfb on a free display; resolves with its name (`:N`) and a stop function. */
export async function virtualDisplay() {
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x720x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let errors = '';
  xvfb.stderr.on('data', (chunk) => (errors += chunk));
  const display = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      xvfb.kill('SIGKILL');
      reject(new Error(`Xvfb did not start: ${errors}`));
    }, START_DEADLINE_MS);
    xvfb.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited (${code}): ${errors}`));
    });
    xvfb.stdio[3].once('data', (chunk) => {
      clearTimeout(timer);
      resolve(`:${String(chunk).trim()}`);
    });
  });
  return {
    display,
    async stop() {
      if (xvfb.exitCode === null && xvfb.signalCode === null) {
        xvfb.kill('SIGTERM');
        await once(xvfb, 'exit');
      }
    },
  };
}

/**
 * Launches Firefox (Debian's firefox-esr) over WebDriver BiDi with puppeteer-core (Playwright
 * drives only its own patched Firefox, which cannot be downloaded here). It runs in a virtual
 * display (Xvfb) rather than headless: headless Firefox has no screen to share. Its pages get
 * Playwright's `addInitScript` name, so that the helpers below serve both engines.
 */
async function launchFirefox({ executablePath } = {}) {
  const screen = await virtualDisplay();
  let browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: executablePath ?? process.env.FIREFOX ?? '/usr/bin/firefox-esr',
      headless: false,
      env: { ...process.env, DISPLAY: screen.display },
      extraPrefsFirefox: firefoxPrefs,
      // A page script that never returns fails its test in time (the default is 180 s).
      protocolTimeout: 30_000,
    });
  } catch (error) {
    await screen.stop();
    throw error;
  }
  return {
    async newPage() {
      const page = await browser.newPage();
      page.addInitScript = (script) => page.evaluateOnNewDocument(script);
      return page;
    },
    async close() {
      try {
        await browser.close();
      } finally {
        await screen.stop();
      }
    },
  };
}

/**
 * Launches a browser: `engine` 'chromium' (headless; Debian's, never a downloaded one) or
 * 'firefox'. For Chromium, `displayMediaType` (`monitor`, `window` or `browser`) is what its
 * fake screen picker returns; `fakeAudioFile` (a 16-bit PCM WAV, looped) replaces the fake
 * microphone's beeps.
 */
export async function launchBrowser({ engine = 'chromium', displayMediaType, fakeAudioFile, executablePath, extraArgs = [] } = {}) {
  if (engine === 'firefox') return launchFirefox({ executablePath });
  const args = chromiumArgs.map((arg) =>
    displayMediaType && arg.startsWith('--use-fake-device-for-media-stream=')
      ? arg.replace(/display-media-type=\w+/, `display-media-type=${displayMediaType}`)
      : arg,
  );
  if (fakeAudioFile) args.push(`--use-file-for-fake-audio-capture=${fakeAudioFile}`);
  return chromium.launch({
    executablePath: executablePath ?? process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // The sandbox needs user namespaces that CI's root containers do not offer.
    args: [...args, ...extraArgs, '--no-sandbox'],
  });
}

/**
 * Opens a page and records what would otherwise be silent: uncaught errors, unhandled
 * rejections and console errors. Tests assert `problems` is empty at the end.
 */
export async function openPage(browser, url, initScript) {
  const page = await browser.newPage();
  if (initScript) await page.addInitScript(initScript);
  const problems = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console.error: ${message.text()}`);
  });
  await page.goto(url);
  return { page, problems };
}

/**
 * Before any page script: records every RTCPeerConnection the page makes (in `__pcs`), so
 * tests can read `getStats()` without the library exposing its connections.
 */
export function recordPeerConnections() {
  const Original = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (...args) {
    const pc = new Original(...args);
    pc.__madeAt = Date.now();
    window.__pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
  // Inbound media totals over every connection: packets and decoded video frames.
  // Per inbound video stream: decoded frames and size, for tests that tell streams apart.
  window.__inboundVideo = async () => {
    const streams = [];
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      for (const s of (await pc.getStats()).values()) {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          streams.push({ mid: s.mid, frames: s.framesDecoded ?? 0, width: s.frameWidth, height: s.frameHeight });
        }
      }
    }
    return streams;
  };
  window.__inbound = async () => {
    const totals = { audio: 0, video: 0, frames: 0, samples: 0, energy: 0 };
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      for (const s of (await pc.getStats()).values()) {
        if (s.type !== 'inbound-rtp') continue;
        if (s.kind === 'audio') {
          totals.audio += s.packetsReceived;
          // Audio samples are only pulled from the jitter buffer while something plays them.
          totals.samples += s.totalSamplesReceived ?? 0;
          totals.energy += s.totalAudioEnergy ?? 0;
        } else {
          totals.video += s.packetsReceived;
          totals.frames += s.framesDecoded ?? 0;
        }
      }
    }
    return totals;
  };
}

/**
 * Opens a page signed in as a new demo user (or as `as`: {id, token}) with a CallAgent.
 * The page gets `rtcall`, `client`, `agent`, `devices`, `me`, `incoming` (every incoming
 * call, newest last) and `events` (a log tests read).
 */
export async function callPage(browser, server, name, as) {
  const { page, problems } = await openPage(browser, server.url, recordPeerConnections);
  const me = await page.evaluate(
    async ({ name, as }) => {
      window.rtcall = await import('/pkg/index.js');
      const user = as ?? (await (await fetch('/demo/identity', { method: 'POST' })).json());
      const token = as?.token ?? user.accessToken.token;
      window.client = new rtcall.CallClient();
      window.agent = await client.createCallAgent(new rtcall.AzureCommunicationTokenCredential(token), {
        displayName: name,
      });
      window.devices = await client.getDeviceManager();
      window.incoming = [];
      window.events = [];
      agent.on('incomingCall', ({ incomingCall }) => {
        incoming.push(incomingCall);
        incomingCall.on('callEnded', ({ callEndReason }) => events.push(['incomingEnded', callEndReason]));
      });
      return { id: as?.id ?? user.identity.id, token };
    },
    { name, as },
  );
  return { page, problems, id: me.id, token: me.token, name };
}

/**
 * A test file's server (`startServer`'s options in `serverOptions`) and browser, started
 * before its tests and stopped after them, and
 * its pages: `user(name)` opens a signed-in page, `closeAll()` checks each page logged no
 * errors and closes it.
 */
export function suite({ serverArgs = [], serverOptions, browserOptions } = {}) {
  const ctx = { server: undefined, browser: undefined, pages: [] };
  before(async () => {
    ctx.server = await startServer(serverArgs, serverOptions);
    ctx.browser = await launchBrowser(browserOptions);
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.stop();
  });
  ctx.user = async (name, as, browser = ctx.browser) => {
    const p = await callPage(browser, ctx.server, name, as);
    ctx.pages.push(p);
    return p;
  };
  ctx.closeAll = async () => {
    for (const p of ctx.pages.splice(0)) {
      assert.deepEqual(p.problems, [], `${p.name}: no errors on the page`);
      await p.page.close();
    }
  };
  return ctx;
}

/**
 * Waits until `predicate(arg)` holds in the page; the predicate may be async. (Playwright's
 * `waitForFunction` takes a returned promise as truthy, so it cannot wait on `getStats()`.)
 */
export async function until(p, predicate, arg, timeout = 20_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await p.page.evaluate(predicate, arg)) return;
    if (Date.now() > deadline) throw new Error(`${p.name ?? 'page'}: not within ${timeout} ms: ${predicate}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts a call from `caller` to `callees`; returns after every callee has it ringing. */
export async function ring(caller, callees, options = {}) {
  await caller.page.evaluate(
    ({ ids, options }) => {
      window.call = agent.startCall(
        ids.map((id) => ({ communicationUserId: id })),
        options,
      );
      call.on('stateChanged', () => events.push(['state', call.state]));
    },
    { ids: callees.map((c) => c.id), options },
  );
  for (const callee of callees) await until(callee, () => incoming.length > 0);
}

/** Accepts the latest incoming call (options as for `IncomingCall.accept`). */
export async function accept(callee, options = {}) {
  await callee.page.evaluate(async (options) => {
    window.call = await incoming.at(-1).accept(options);
    call.on('stateChanged', () => events.push(['state', call.state]));
  }, options);
}

/** Waits until every page's `call` is Connected. */
export async function connected(...ps) {
  for (const p of ps) await until(p, () => call.state === 'Connected');
}

/** `caller` calls `callee`, who answers; returns once both are Connected. */
export async function callBetween(caller, callee) {
  await ring(caller, [callee]);
  await accept(callee);
  await connected(caller, callee);
}

/** The page hears sound (not just packets of silence): its inbound audio energy grows. */
export async function hearsSound(p) {
  const start = await p.page.evaluate(async () => (await __inbound()).energy);
  await until(p, async (target) => (await __inbound()).energy > target, start + 0.05);
}

/** Inbound packets keep arriving: the count grows by `by` from now. */
export async function flowing(p, kind, by = 20) {
  const start = await p.page.evaluate(async (kind) => (await __inbound())[kind], kind);
  await until(p, async ({ kind, target }) => (await __inbound())[kind] >= target, { kind, target: start + by });
}
