// The demo page signs in against a real server; the Azure identity SDK manages identities on
// rtcall-server unchanged; the package loads from a bundle as well as from an import map.
import { CommunicationIdentityClient } from '@azure/communication-identity';
import * as esbuild from 'esbuild';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, openPage, repoRoot, startServer } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function whoIs(token) {
  const response = await fetch(new URL('session', server.url), { headers: { Authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
}

test('the demo page signs in and shows the identity the server verified', async () => {
  const { page, problems } = await openPage(browser, server.url);
  const issued = page.waitForResponse((r) => r.url().endsWith('/demo/identity'));
  await page.click('#sign-in');
  const body = await (await issued).json();
  await page.locator('#identity-id').filter({ hasText: '8:acs:' }).waitFor();
  const shown = await page.textContent('#identity-id');
  assert.equal(shown, body.identity.id);
  // Checked independently of the page: the token it got belongs to the identity it shows.
  const who = await whoIs(body.accessToken.token);
  assert.equal(who.status, 200);
  assert.equal(who.body.identity.id, shown);
  const expiry = Date.parse(await page.getAttribute('#token-expiry', 'datetime'));
  assert.equal(expiry, Date.parse(body.accessToken.expiresOn));

  // Signing in again gives a different user.
  await page.click('#sign-in');
  await page.waitForFunction((previous) => {
    const text = document.getElementById('identity-id').textContent;
    return text.startsWith('8:acs:') && text !== previous;
  }, shown);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the Azure identity SDK manages identities on rtcall-server', async () => {
  const client = new CommunicationIdentityClient(server.connectionString, { allowInsecureConnection: true });
  const { user, token, expiresOn } = await client.createUserAndToken(['voip']);
  assert.match(user.communicationUserId, /^8:acs:[0-9a-f-]{36}_[0-9a-f-]{36}$/);
  assert.ok(expiresOn.getTime() - Date.now() > 23 * 3600_000, 'default lifetime is 24 h');
  assert.equal((await whoIs(token)).body.identity.id, user.communicationUserId);

  const short = await client.getToken(user, ['voip', 'chat'], { tokenExpiresInMinutes: 60 });
  assert.ok(Math.abs(short.expiresOn.getTime() - Date.now() - 3600_000) < 60_000);

  await client.revokeTokens(user);
  for (const revoked of [token, short.token]) {
    const who = await whoIs(revoked);
    assert.equal(who.status, 401);
    assert.equal(who.body.error.code, 'TokenRevoked');
  }

  await client.deleteUser(user);
  await assert.rejects(client.getToken(user, ['voip']), (error) => error.statusCode === 404);
  await assert.rejects(
    client.getToken(user, ['voip'], { tokenExpiresInMinutes: 30 }),
    (error) => error.statusCode === 400 || error.statusCode === 404,
  );

  const forged = new CommunicationIdentityClient(
    server.connectionString.replace(/accesskey=.*/, `accesskey=${Buffer.from('x'.repeat(32)).toString('base64')}`),
    { allowInsecureConnection: true },
  );
  await assert.rejects(forged.createUser(), (error) => error.statusCode === 401);
});

test('the package works from a bundle with the ACS import names', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtcall-bundle-'));
  try {
    writeFileSync(
      path.join(dir, 'app.js'),
      `import { AzureCommunicationTokenCredential, createIdentifierFromRawId } from '@azure/communication-common';
       import { CallClient } from '@azure/communication-calling';
       new CallClient();
       const credential = new AzureCommunicationTokenCredential(window.TOKEN);
       const { expiresOnTimestamp } = await credential.getToken();
       window.RESULT = { kind: createIdentifierFromRawId('4:+15551234').kind, expiresOnTimestamp };`,
    );
    const pkg = path.join(repoRoot, 'pkg/index.js');
    await esbuild.build({
      entryPoints: [path.join(dir, 'app.js')],
      bundle: true,
      minify: true,
      format: 'esm',
      outfile: path.join(dir, 'out/app.js'),
      alias: { '@azure/communication-calling': pkg, '@azure/communication-common': pkg },
      logLevel: 'silent',
    });
    // The bundled entry fetches its wasm from beside itself, as an app's build would ship it.
    copyFileSync(path.join(repoRoot, 'pkg/rtcall_bg.wasm'), path.join(dir, 'out/rtcall_bg.wasm'));
    const { token, expiresOn } = (await (await fetch(new URL('demo/identity', server.url), { method: 'POST' })).json())
      .accessToken;
    const files = { '/': 'text/html', '/app.js': 'text/javascript', '/rtcall_bg.wasm': 'application/wasm' };
    const http = createServer((request, response) => {
      const type = files[request.url];
      if (!type) return response.writeHead(404).end();
      const body =
        request.url === '/'
          ? `<link rel="icon" href="data:,"><script>window.TOKEN = ${JSON.stringify(token)}</script><script type="module" src="/app.js"></script>`
          : readFileSync(path.join(dir, 'out', request.url));
      response.writeHead(200, { 'content-type': type }).end(body);
    });
    await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const { page, problems } = await openPage(browser, `http://127.0.0.1:${http.address().port}/`);
      const result = await page.waitForFunction(() => window.RESULT).then((handle) => handle.jsonValue());
      assert.deepEqual(result, { kind: 'phoneNumber', expiresOnTimestamp: Date.parse(expiresOn) });
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      http.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
