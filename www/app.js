// The demo app. It uses only rtcall's public API, imported by name like any customer app:
// sign-in, the lobby (a preview of camera and microphone, call people, join a group, test
// devices), the incoming call dialog and the device pickers live here; the in-call screen is
// `CallView`.
import { AzureCommunicationTokenCredential, CallClient, LocalAudioStream, LocalVideoStream, VideoStreamRenderer } from 'rtcall';
import { CallView, endReasonText } from './call-view.js';
import { $, act, copy, showError, showStatus } from './ui.js';

const ECHO_BOT = '8:echo123';

const app = {
  client: new CallClient(),
  credential: undefined,
  agent: undefined,
  devices: undefined,
  /** Resolves once the device list is in (calls wait for it to pick a camera). */
  devicesReady: undefined,
  cameras: [],
  /** The camera LocalVideoStream, shared by previews and calls (switching follows everywhere). */
  localVideo: { stream: undefined },
  /** The microphone's LocalAudioStream, measured before calls and sent in them. */
  microphone: undefined,
  /** The camera preview's renderer, while the lobby shows it. */
  preview: undefined,
  view: undefined,
  incoming: undefined,
};

const selectedCamera = () => app.cameras?.find((c) => c.id === $('camera-select').value) ?? app.cameras?.[0];

// ---- sign-in ----

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

const NAME_KEY = 'rtcall-demo.display-name';

const onIncoming = ({ incomingCall }) => ringing(incomingCall);
const onConnection = ({ newValue, reason }) => {
  if (newValue === 'Disconnected') showError(`Disconnected from the service${reason ? ` (${reason})` : ''}. Sign in again.`);
};

/** (Re)creates the call agent with the display name in the field. */
async function createAgent() {
  if (app.agent) {
    app.agent.off('connectionStateChanged', onConnection);
    app.agent.off('incomingCall', onIncoming);
    await app.agent.dispose();
  }
  app.agent = await app.client.createCallAgent(app.credential, { displayName: $('display-name').value.trim() || 'Guest' });
  app.agent.on('incomingCall', onIncoming);
  app.agent.on('connectionStateChanged', onConnection);
}

async function signIn() {
  if (app.view) return showError('Leave the call before signing in as someone else.');
  $('sign-in').disabled = true;
  showStatus('Signing in…');
  await act('Could not sign in', async () => {
    const { token } = await fetchDemoIdentity();
    app.credential = new AzureCommunicationTokenCredential(token);
    const id = await verifiedIdentity(app.credential);
    if (!$('display-name').value) $('display-name').value = `Guest ${id.slice(-4)}`;
    await createAgent();
    // Calls need the camera list: until it is in, the call controls stay hidden.
    app.devicesReady = setUpDevices();
    await app.devicesReady;
    const { expiresOnTimestamp } = await app.credential.getToken();
    $('identity-id').textContent = id;
    $('token-expiry').textContent = new Date(expiresOnTimestamp).toLocaleString();
    $('token-expiry').dateTime = new Date(expiresOnTimestamp).toISOString();
    for (const shown of ['signed-in', 'signed-in-note', 'actions', 'devices', 'prejoin']) $(shown).hidden = false;
    $('signed-out').hidden = true;
    $('sign-in').textContent = 'Sign in as a new user';
    // Said now, while nothing else has been: the user may call before the preview is up, and
    // what that call says must not be overwritten.
    showStatus('Signed in. Share your id to be called, or call someone.');
    await showPreview();
    await setUpPhone();
    // A group link joins directly.
    const group = new URLSearchParams(location.search).get('group');
    if (group && !app.view) {
      $('group-id').value = group;
      groupChanged();
      join(group);
    }
  });
  $('sign-in').disabled = false;
}

// ---- devices ----

function fill(select, list, selected) {
  const previous = select.value;
  select.replaceChildren(...list.map((d) => new Option(d.name || d.id, d.id)));
  select.value = selected?.id ?? previous;
  if (!select.value && list[0]) select.value = list[0].id;
  select.disabled = list.length === 0;
}

async function refreshDevices() {
  const devices = app.devices;
  app.cameras = await devices.getCameras();
  fill($('camera-select'), app.cameras, app.localVideo.stream?.source);
  fill($('microphone-select'), await devices.getMicrophones(), devices.selectedMicrophone);
  const speakers = devices.isSpeakerSelectionAvailable ? await devices.getSpeakers() : [];
  fill($('speaker-select'), speakers, devices.selectedSpeaker);
}

async function setUpDevices() {
  if (app.devices) return refreshDevices();
  app.devices = await app.client.getDeviceManager();
  await app.devices.askDevicePermission({ audio: true, video: true });
  app.devices.on('videoDevicesUpdated', refreshDevices);
  app.devices.on('audioDevicesUpdated', refreshDevices);
  await refreshDevices();
}

$('camera-select').addEventListener('change', () =>
  act('Cannot switch the camera', async () => {
    // The camera stream is shared by the preview and the call: both follow.
    if (app.localVideo.stream) await app.localVideo.stream.switchSource(selectedCamera());
  }),
);
$('microphone-select').addEventListener('change', (e) =>
  act('Cannot switch the microphone', async () => {
    const microphone = (await app.devices.getMicrophones()).find((m) => m.id === e.target.value);
    await app.devices.selectMicrophone(microphone);
    await app.microphone?.switchSource(microphone);
  }),
);

// ---- before a call: the preview ----

/** Shows the camera (if it is to be on) and the microphone's level, as a call would send them. */
async function showPreview() {
  await act('Cannot show the preview', async () => {
    if (!app.microphone) {
      const microphones = await app.devices.getMicrophones();
      const chosen = microphones.find((m) => m.id === $('microphone-select').value) ?? microphones[0];
      if (chosen) {
        app.microphone = new LocalAudioStream(chosen);
        const volume = await app.microphone.getVolume();
        volume.on('levelChanged', () => ($('preview-level').value = volume.level));
      }
    }
    // Measured again after a call (the call measured it meanwhile).
    await app.microphone?.getVolume();
    const camera = selectedCamera();
    if ($('call-video').checked && camera && !app.preview && !app.view) {
      app.localVideo.stream ??= new LocalVideoStream(camera);
      app.preview = new VideoStreamRenderer(app.localVideo.stream);
      const view = await app.preview.createView({ isMirrored: true });
      $('preview').replaceChildren(view.target);
      $('preview-tile').classList.add('has-video');
    }
  });
}

function hidePreview() {
  app.preview?.dispose();
  app.preview = undefined;
  $('preview').replaceChildren();
  $('preview-tile').classList.remove('has-video');
}

$('call-video').addEventListener('change', (e) => (e.target.checked ? showPreview() : hidePreview()));
$('speaker-select').addEventListener('change', (e) =>
  act('Cannot switch the speaker', async () => {
    const speaker = (await app.devices.getSpeakers()).find((s) => s.id === e.target.value);
    await app.devices.selectSpeaker(speaker);
  }),
);

// ---- calls ----

/** Call options as the preview set them: the selected camera (once the camera list is in, e.g.
 * for an early incoming call) and the microphone, on or muted. */
async function videoOptions(withVideo) {
  await app.devicesReady;
  const audioOptions = { muted: !$('call-mic').checked };
  if (app.microphone) audioOptions.localAudioStreams = [app.microphone];
  const camera = selectedCamera();
  if (!withVideo || !camera) return { audioOptions };
  app.localVideo.stream ??= new LocalVideoStream(camera);
  return { audioOptions, videoOptions: { localVideoStreams: [app.localVideo.stream] } };
}

function enterCall(call, { echo = false } = {}) {
  hidePreview();
  $('lobby').hidden = true;
  $('in-call').hidden = false;
  app.view = new CallView(call, {
    camera: selectedCamera,
    localVideo: app.localVideo,
    echo,
    myId: $('identity-id').textContent,
    onEnd: (reason, leftByMe) => {
      app.view = undefined;
      $('in-call').hidden = true;
      $('lobby').hidden = false;
      if (reason) showStatus(endReasonText(reason, leftByMe));
      showPreview();
    },
  });
  showStatus('');
}

/** Calls `targets` (identifiers); `extra` adds to the call options (a caller id). */
function startCall(targets, withVideo, extra = {}) {
  if (app.view) return showError('You are in a call already.');
  act('Cannot start the call', async () => {
    const options = { ...(await videoOptions(withVideo)), ...extra };
    if (app.view) return;
    const call = app.agent.startCall(targets, options);
    enterCall(call, { echo: targets.length === 1 && targets[0].communicationUserId === ECHO_BOT });
  });
}

const users = (ids) => ids.map((id) => ({ communicationUserId: id }));

function join(groupId) {
  if (app.view) return showError('You are in a call already.');
  act('Cannot join the group call', async () => {
    const options = await videoOptions($('call-video').checked);
    if (app.view) return;
    enterCall(app.agent.join({ groupId, lobby: $('group-lobby').checked }, options));
  });
}

$('call-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const ids = $('callee-ids').value.split(/[\s,]+/).filter(Boolean);
  if (ids.length === 0) return showError('Enter at least one identity id to call.');
  startCall(users(ids), $('call-video').checked);
});

/** Phone numbers: callable when the server has a trunk, with one of its numbers as caller id. */
async function setUpPhone() {
  const { callerIds } = await (await fetch('/demo/phone')).json();
  fill($('caller-id'), callerIds.map((n) => ({ id: n, name: n })), undefined);
  const usable = callerIds.length > 0;
  for (const id of ['phone-number', 'caller-id', 'phone-button']) $(id).disabled = !usable;
  $('phone-detail').textContent = usable
    ? 'The call goes out through the server\'s SIP trunk; the phone sees the number you choose.'
    : 'This server has no telephone trunk, so phone numbers cannot be called (see the README to configure one).';
}

$('phone-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const alternateCallerId = { phoneNumber: $('caller-id').value };
  startCall([{ phoneNumber: $('phone-number').value.trim() }], false, { alternateCallerId });
});

function groupChanged() {
  const link = new URL(location.href);
  link.search = '';
  link.searchParams.set('group', $('group-id').value);
  $('group-link').href = link.href;
  $('group-link').textContent = link.href;
}
$('group-id').addEventListener('input', groupChanged);
$('new-group').addEventListener('click', () => {
  $('group-id').value = crypto.randomUUID();
  groupChanged();
});
$('copy-link').addEventListener('click', () => copy($('group-link').href, 'Link'));
$('group-form').addEventListener('submit', (e) => {
  e.preventDefault();
  join($('group-id').value.trim());
});
$('echo-button').addEventListener('click', () => startCall(users([ECHO_BOT]), true));

// ---- incoming calls ----

function ringing(incomingCall) {
  if (app.view) return act('Cannot decline a second call', () => incomingCall.reject());
  app.incoming = incomingCall;
  const { displayName, identifier } = incomingCall.callerInfo;
  $('incoming-title').textContent = `${displayName || identifier.communicationUserId || 'Someone'} is calling`;
  $('incoming').showModal();
  incomingCall.on('callEnded', () => {
    if (app.incoming !== incomingCall) return;
    app.incoming = undefined;
    $('incoming').close();
    showStatus('Missed call.');
  });
}

async function answer(withVideo) {
  const incomingCall = app.incoming;
  app.incoming = undefined;
  $('incoming').close();
  if (!incomingCall) return;
  await act('Cannot answer', async () => enterCall(await incomingCall.accept(await videoOptions(withVideo))));
}
$('accept-video').addEventListener('click', () => answer(true));
$('accept-audio').addEventListener('click', () => answer(false));
$('reject').addEventListener('click', () => {
  const incomingCall = app.incoming;
  app.incoming = undefined;
  $('incoming').close();
  act('Cannot decline', () => incomingCall?.reject());
});
// Escape closes the dialog: that declines.
$('incoming').addEventListener('cancel', (e) => {
  e.preventDefault();
  $('reject').click();
});

// ---- in-call controls ----

$('mute').addEventListener('click', () => app.view?.toggleMute());
$('camera').addEventListener('click', () => app.view?.toggleCamera());
$('share').addEventListener('click', () => app.view?.toggleShare());
$('hold').addEventListener('click', () => app.view?.toggleHold());
$('noise-suppression').addEventListener('change', (e) => app.view?.toggleNoiseSuppression(e.target.checked));
$('hang-up').addEventListener('click', () => app.view?.hangUp(false));
$('end-for-all').addEventListener('click', () => app.view?.hangUp(true));
$('add-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const id = $('add-id').value.trim();
  $('add-id').value = '';
  if (id) app.view?.add(id);
});

// ---- identity header ----

$('sign-in').addEventListener('click', signIn);
$('copy-id').addEventListener('click', () => copy($('identity-id').textContent, 'Identity id'));
$('display-name').addEventListener('change', () => {
  localStorage.setItem(NAME_KEY, $('display-name').value.trim());
  if (!app.credential) return;
  if (app.view) return showError('Your name changes for your next call.');
  act('Cannot change your name', async () => {
    await createAgent();
    showStatus(`You are now “${$('display-name').value.trim()}”.`);
  });
});
window.addEventListener('unhandledrejection', (e) => showError('Something went wrong', e.reason));

// The name a person chose last time, so a group link joins under it.
$('display-name').value = localStorage.getItem(NAME_KEY) ?? '';
const group = new URLSearchParams(location.search).get('group');
if (group) signIn();
document.body.dataset.ready = 'true';
