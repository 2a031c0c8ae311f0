// The package as apps build it: the apps in apps/ (shaped like Microsoft's three calling
// quickstarts, see apps/README.md) bundled with webpack 5, Vite and esbuild (ES module and
// IIFE) from the npm registry, with `rtcall` installed in node_modules as npm would, each page
// loading its bundle as its HTML says (classic scripts included), then placing a call through
// a real rtcall-server: a 1:1 video call between two pages, calls to the echo bot, and a call
// to a phone number on a SIP trunk (sipp). Media must flow in each.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import * as esbuild from 'esbuild';
import { build as viteBuild } from 'vite';
import webpack from 'webpack';
import { flowing, hearsSound, openPage, recordPeerConnections, repoRoot, suite, until } from './harness.mjs';
import { freeUdpPort } from './relay.mjs';

const OWNED = '+14255550100';
const PHONE = '+14255550123';
const apps = path.join(repoRoot, 'target/bundler-apps');

// The apps are copied beside a node_modules holding the package as `npm install` leaves it.
rmSync(apps, { recursive: true, force: true });
mkdirSync(path.join(apps, 'node_modules'), { recursive: true });
cpSync(path.join(repoRoot, 'pkg'), path.join(apps, 'node_modules/rtcall'), { recursive: true });
cpSync(path.join(repoRoot, 'tests/e2e/apps'), apps, { recursive: true });
// The site's icon, which the browser asks the server's root for.
writeFileSync(path.join(apps, 'favicon.ico'), '');

const trunkPort = await freeUdpPort('127.0.0.1');
writeFileSync(
  path.join(apps, 'phone.toml'),
  `sip_udp = "127.0.0.1:0"\nphone_rtp_udp = "127.0.0.1:0"\nphone_rtp_ports = 2\n\n[[trunks]]\nname = "sipp"\naddress = "127.0.0.1:${trunkPort}"\nnumbers = ["${OWNED}"]\n`,
);
// The echo bot plays back after 2 s of recording rather than 10.
const ctx = suite({ serverArgs: ['--config', path.join(apps, 'phone.toml'), '--echo-record-ms', '2000'], serverOptions: { www: apps } });

/** Runs webpack 5 with `config` in the app folder `dir`; fails on any error or warning. */
async function runWebpack(dir, config) {
  const stats = await new Promise((resolve, reject) =>
    webpack({ context: dir, ...config }, (error, result) => (error ? reject(error) : resolve(result))),
  );
  assert.ok(!stats.hasErrors() && !stats.hasWarnings(), stats.toString('errors-warnings'));
}

/** The quickstart's page with `script` (the tag its bundle needs) put in, into `dir`. */
function voicePage(dir, script) {
  const html = readFileSync(path.join(apps, 'voice/index.html'), 'utf8');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'index.html'), html.replace('<!-- BUNDLE: the test puts the script tag each bundler\'s output needs here. -->', script));
}

/** esbuild does not copy the files the package loads beside itself: an app ships them. */
function copyPackageFiles(dir) {
  for (const file of ['rtcall_bg.wasm', 'dsp-worklet.js', 'rtcall_dsp.wasm']) {
    cpSync(path.join(apps, 'node_modules/rtcall', file), path.join(dir, file));
  }
}

/** A new demo identity: `{id, token}`. */
async function identity() {
  const user = await (await fetch(`${ctx.server.url}demo/identity`, { method: 'POST' })).json();
  return { id: user.identity.id, token: user.accessToken.token };
}

/** Opens an app page (recording its connections, so tests can see media flow). */
async function appPage(name, url, initScript) {
  const script = initScript ? `(${recordPeerConnections})(); (${initScript})();` : recordPeerConnections;
  const p = { name, ...(await openPage(ctx.browser, `${ctx.server.url}${url}`, script)) };
  ctx.pages.push(p);
  return p;
}

/** Before any page script: counts what each WebSocket the page opens receives (`__sockets`). */
function watchSockets() {
  const Original = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = function (...args) {
    const socket = new Original(...args);
    socket.received = 0;
    socket.addEventListener('message', () => socket.received++);
    window.__sockets.push(socket);
    return socket;
  };
  Object.assign(window.WebSocket, Original);
  window.WebSocket.prototype = Original.prototype;
}

/** Clicks `#id` once it is enabled. */
async function click(p, id) {
  await until(p, (id) => document.getElementById(id)?.disabled === false, id);
  await p.page.click(`#${id}`);
}

test('webpack 5, CommonJS require and a classic script: the video quickstart calls and shows video', async () => {
  const dir = path.join(apps, 'video');
  await runWebpack(dir, createRequire(import.meta.url)(path.join(dir, 'webpack.config.js')));
  cpSync(path.join(dir, 'index.html'), path.join(dir, 'dist/index.html'));
  const [aliceId, bobId] = [await identity(), await identity()];
  const alice = await appPage('Alice', 'video/dist/');
  const bob = await appPage('Bob', 'video/dist/');
  for (const [p, user] of [
    [alice, aliceId],
    [bob, bobId],
  ]) {
    await p.page.fill('#user-access-token', user.token);
    await click(p, 'initialize-call-agent');
    await until(p, () => document.getElementById('start-call-button').disabled === false);
  }
  await alice.page.fill('#callee-acs-user-id', bobId.id);
  await click(alice, 'start-call-button');
  await click(bob, 'accept-call-button');
  for (const p of [alice, bob]) {
    await until(p, () => !document.getElementById('connectedLabel').hidden);
    // Each sees the other's camera in the gallery and its own in the preview, and hears them.
    await until(p, () => document.querySelector('#remoteVideosGallery video')?.videoWidth > 0);
    await until(p, () => document.querySelector('#localVideoContainer video')?.videoWidth > 0);
    await flowing(p, 'frames', 10);
    await hearsSound(p);
  }
  await click(alice, 'hangup-call-button');
  await until(bob, () => document.getElementById('connectedLabel').hidden);
  await ctx.closeAll();
});

test('webpack 5, ES imports and a classic script: the voice quickstart calls the echo bot', async () => {
  const dir = path.join(apps, 'voice');
  await runWebpack(dir, createRequire(import.meta.url)(path.join(dir, 'webpack.config.js')));
  voicePage(path.join(dir, 'dist'), '<script src="./main.js"></script>');
  await echoCall('voice/dist/');
});

test('Vite builds the voice app with its defaults, and it calls', async () => {
  const dir = path.join(apps, 'voice-vite');
  cpSync(path.join(apps, 'voice/index.js'), path.join(dir, 'index.js'));
  voicePage(dir, '<script type="module" src="./index.js"></script>');
  // `base: './'` because the test serves the app from a folder, not from the site's root.
  await viteBuild({ root: dir, base: './', configFile: false, logLevel: 'error', build: { outDir: 'dist', emptyOutDir: true } });
  await echoCall('voice-vite/dist/');
});

for (const format of ['esm', 'iife']) {
  test(`esbuild bundles the voice app as ${format === 'esm' ? 'an ES module' : 'a classic script (IIFE)'}, and it calls`, async () => {
    const dir = path.join(apps, `voice-esbuild-${format}`);
    await esbuild.build({
      entryPoints: [path.join(apps, 'voice/index.js')],
      bundle: true,
      minify: true,
      format,
      outfile: path.join(dir, 'app.js'),
      logLevel: 'silent',
    });
    copyPackageFiles(dir);
    voicePage(dir, format === 'esm' ? '<script type="module" src="./app.js"></script>' : '<script src="./app.js"></script>');
    await echoCall(`voice-esbuild-${format}/`);
  });
}

/** Signs the voice app at `url` in and calls `8:echo123` with it: the bot's prompt is heard. */
async function echoCall(url) {
  const user = await identity();
  const p = await appPage('Voice', url);
  await p.page.fill('#token-input', user.token);
  await click(p, 'token-submit');
  await p.page.fill('#callee-id-input', '8:echo123');
  await click(p, 'call-button');
  await hearsSound(p);
  await click(p, 'hang-up-button');
  await until(p, () => __pcs.every((pc) => pc.connectionState === 'closed'));
  await ctx.closeAll();
}

test('the phone quickstart, its token and number written in and built with webpack 5, calls a phone', async () => {
  const dir = path.join(apps, 'phone');
  const user = await identity();
  const source = readFileSync(path.join(dir, 'client.js'), 'utf8')
    .replace('<USER ACCESS TOKEN with PSTN scope>', user.token)
    .replace("'ACS Number'", `'${OWNED}'`);
  writeFileSync(path.join(dir, 'client.js'), source);
  // The README's command line: webpack-dev-server --entry ./client.js --output bundle.js
  // --devtool inline-source-map.
  await runWebpack(dir, { mode: 'development', entry: './client.js', output: { path: dir, filename: 'bundle.js' }, devtool: 'inline-source-map' });
  // The phone answers and says back what it hears (sipp -rtp_echo) until the caller hangs up.
  const sipp = spawn(
    'sipp',
    ['-sf', path.join(repoRoot, 'crates/server/tests/sipp/answer_caller_hangs_up.xml'), '-i', '127.0.0.1', '-p', String(trunkPort),
      '-m', '1', '-timeout', '40s', '-timeout_error', '-nostdin', '-rtp_echo'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let sippErrors = '';
  sipp.stderr.on('data', (chunk) => (sippErrors += chunk));
  const p = await appPage('Phone', 'phone/', watchSockets);
  // The page signs in as it loads; its button works once the agent is made (the service's
  // welcome has arrived).
  await until(p, () => __sockets.some((socket) => socket.received > 0));
  await p.page.fill('#callee-phone-input', PHONE);
  await click(p, 'call-phone-button');
  await hearsSound(p);
  await click(p, 'hang-up-phone-button');
  const [code] = sipp.exitCode === null ? await once(sipp, 'exit') : [sipp.exitCode];
  assert.equal(code, 0, `sipp: ${sippErrors}`);
  await ctx.closeAll();
});
