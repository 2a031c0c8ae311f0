// End-to-end harness: starts a real rtcall-server on a loopback port with its own data
// directory, and headless Chromium with the flags in webdriver.json; stops both.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const serverBinary = process.env.RTCALL_SERVER_BIN ?? path.join(repoRoot, 'target/debug/rtcall-server');
const START_DEADLINE_MS = 20_000;

/** Chromium's flags for fake media devices, shared with wasm-pack's browser tests. */
export const chromiumArgs = JSON.parse(readFileSync(path.join(repoRoot, 'webdriver.json'), 'utf8'))[
  'goog:chromeOptions'
].args;

/** Starts rtcall-server; resolves once it listens. */
export async function startServer(extraArgs = []) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rtcall-e2e-'));
  const child = spawn(
    serverBinary,
    ['--listen', '127.0.0.1:0', '--media-udp', '127.0.0.1:0', '--data-dir', dataDir, '--www-dir', 'www', '--pkg-dir', 'pkg', ...extraArgs],
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
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Launches headless Chromium (Debian's, never a downloaded one). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // The sandbox needs user namespaces that CI's root containers do not offer.
    args: [...chromiumArgs, '--no-sandbox'],
  });
}

/**
 * Opens a page and records what would otherwise be silent: uncaught errors, unhandled
 * rejections and console errors. Tests assert `problems` is empty at the end.
 */
export async function openPage(browser, url) {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console.error: ${message.text()}`);
  });
  await page.goto(url);
  return { page, problems };
}
