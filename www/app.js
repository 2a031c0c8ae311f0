// The demo app. It uses only rtcall's public API, imported by name like any customer app.
import { AzureCommunicationTokenCredential, CallClient } from 'rtcall';

const $ = (id) => document.getElementById(id);

function showStatus(message, isError = false) {
  $('status').textContent = message;
  $('status').classList.toggle('error', isError);
}

/** Asks this server's demo endpoint for a new identity and a calling token. */
async function fetchDemoIdentity() {
  const response = await fetch('/demo/identity', { method: 'POST' });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
  return { id: body.identity.id, token: body.accessToken.token };
}

/** Asks the server whose identity a token carries, as it verifies it. */
async function verifiedIdentity(credential) {
  const { token } = await credential.getToken();
  const response = await fetch('/session', { headers: { Authorization: `Bearer ${token}` } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
  return body.identity.id;
}

async function signIn() {
  $('sign-in').disabled = true;
  showStatus('Signing in…');
  try {
    const { token } = await fetchDemoIdentity();
    const credential = new AzureCommunicationTokenCredential(token);
    // Constructing the client proves the package loaded; calls arrive with the next issues.
    new CallClient();
    const id = await verifiedIdentity(credential);
    const { expiresOnTimestamp } = await credential.getToken();
    $('identity-id').textContent = id;
    $('token-expiry').textContent = new Date(expiresOnTimestamp).toLocaleString();
    $('token-expiry').dateTime = new Date(expiresOnTimestamp).toISOString();
    $('signed-out').hidden = true;
    $('signed-in').hidden = false;
    $('sign-in').textContent = 'Sign in as a new user';
    showStatus('Signed in.');
  } catch (error) {
    showStatus(`Could not sign in: ${error.message}`, true);
  } finally {
    $('sign-in').disabled = false;
  }
}

$('sign-in').addEventListener('click', signIn);
$('copy-id').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText($('identity-id').textContent);
    showStatus('Identity id copied.');
  } catch {
    showStatus('Copying is not allowed here; select the id and copy it by hand.', true);
  }
});
document.body.dataset.ready = 'true';
