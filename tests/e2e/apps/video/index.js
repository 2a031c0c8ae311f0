// A 1:1 video call, making the SDK calls of the add-1-on-1-video-calling quickstart in its
// order, as CommonJS. Only the package name differs from an app written for ACS.
const { CallClient, VideoStreamRenderer, LocalVideoStream } = require('rtcall');
const { AzureCommunicationTokenCredential } = require('rtcall');
const { AzureLogger, setLogLevel } = require('@azure/logger');

setLogLevel('verbose');
AzureLogger.log = (...args) => console.log(...args);

const userAccessToken = document.getElementById('user-access-token');
const calleeAcsUserId = document.getElementById('callee-acs-user-id');
const initializeCallAgentButton = document.getElementById('initialize-call-agent');
const startCallButton = document.getElementById('start-call-button');
const hangUpCallButton = document.getElementById('hangup-call-button');
const acceptCallButton = document.getElementById('accept-call-button');
const startVideoButton = document.getElementById('start-video-button');
const stopVideoButton = document.getElementById('stop-video-button');
const connectedLabel = document.getElementById('connectedLabel');
const remoteVideosGallery = document.getElementById('remoteVideosGallery');
const localVideoContainer = document.getElementById('localVideoContainer');

let callAgent;
let deviceManager;
let call;
let incomingCall;
let localVideoStream;
let localVideoStreamRenderer;

initializeCallAgentButton.onclick = async () => {
  try {
    const callClient = new CallClient();
    const tokenCredential = new AzureCommunicationTokenCredential(userAccessToken.value.trim());
    callAgent = await callClient.createCallAgent(tokenCredential);
    deviceManager = await callClient.getDeviceManager();
    await deviceManager.askDevicePermission({ video: true });
    await deviceManager.askDevicePermission({ audio: true });
    callAgent.on('incomingCall', async (args) => {
      incomingCall = args.incomingCall;
      acceptCallButton.disabled = false;
      startCallButton.disabled = true;
    });
    startCallButton.disabled = false;
    initializeCallAgentButton.disabled = true;
  } catch (error) {
    console.error(error);
  }
};

startCallButton.onclick = async () => {
  const stream = await createLocalVideoStream();
  const videoOptions = stream ? { localVideoStreams: [stream] } : undefined;
  call = callAgent.startCall([{ communicationUserId: calleeAcsUserId.value.trim() }], { videoOptions });
  subscribeToCall(call);
};

acceptCallButton.onclick = async () => {
  const stream = await createLocalVideoStream();
  const videoOptions = stream ? { localVideoStreams: [stream] } : undefined;
  call = await incomingCall.accept({ videoOptions });
  subscribeToCall(call);
};

function subscribeToCall(call) {
  console.log(`Call Id: ${call.id}`);
  call.on('idChanged', () => console.log(`Call Id changed: ${call.id}`));
  console.log(`Call state: ${call.state}`);
  call.on('stateChanged', async () => {
    console.log(`Call state changed: ${call.state}`);
    if (call.state === 'Connected') {
      connectedLabel.hidden = false;
      acceptCallButton.disabled = true;
      startCallButton.disabled = true;
      hangUpCallButton.disabled = false;
      startVideoButton.disabled = false;
      stopVideoButton.disabled = false;
      remoteVideosGallery.hidden = false;
    } else if (call.state === 'Disconnected') {
      connectedLabel.hidden = true;
      startCallButton.disabled = false;
      hangUpCallButton.disabled = true;
      startVideoButton.disabled = true;
      stopVideoButton.disabled = true;
      console.log(`Call ended, call end reason={code=${call.callEndReason.code}, subCode=${call.callEndReason.subCode}}`);
    }
  });
  console.log(`Is local video started: ${call.isLocalVideoStarted}`);
  call.on('isLocalVideoStartedChanged', () => console.log(`Is local video started: ${call.isLocalVideoStarted}`));
  call.localVideoStreams.forEach(async (lvs) => {
    localVideoStream = lvs;
    await displayLocalVideoStream();
  });
  call.on('localVideoStreamsUpdated', (e) => {
    e.added.forEach(async (lvs) => {
      localVideoStream = lvs;
      await displayLocalVideoStream();
    });
    e.removed.forEach(() => removeLocalVideoStream());
  });
  call.remoteParticipants.forEach((remoteParticipant) => subscribeToRemoteParticipant(remoteParticipant));
  call.on('remoteParticipantsUpdated', (e) => {
    e.added.forEach((remoteParticipant) => subscribeToRemoteParticipant(remoteParticipant));
    e.removed.forEach(() => console.log('Remote participant removed from the call.'));
  });
}

function subscribeToRemoteParticipant(remoteParticipant) {
  console.log(`Remote participant state: ${remoteParticipant.state}`);
  remoteParticipant.on('stateChanged', () => console.log(`Remote participant state changed: ${remoteParticipant.state}`));
  remoteParticipant.videoStreams.forEach((remoteVideoStream) => subscribeToRemoteVideoStream(remoteVideoStream));
  remoteParticipant.on('videoStreamsUpdated', (e) => {
    e.added.forEach((remoteVideoStream) => subscribeToRemoteVideoStream(remoteVideoStream));
    e.removed.forEach(() => console.log('Remote participant video stream was removed.'));
  });
}

async function subscribeToRemoteVideoStream(remoteVideoStream) {
  const renderer = new VideoStreamRenderer(remoteVideoStream);
  let view;
  const remoteVideoContainer = document.createElement('div');
  remoteVideoContainer.className = 'remote-video-container';
  const loadingSpinner = document.createElement('div');
  loadingSpinner.className = 'loading-spinner';
  remoteVideoStream.on('isReceivingChanged', () => {
    if (remoteVideoStream.isAvailable) {
      const isLoading = !remoteVideoStream.isReceiving;
      const spinning = remoteVideoContainer.contains(loadingSpinner);
      if (isLoading && !spinning) remoteVideoContainer.appendChild(loadingSpinner);
      else if (!isLoading && spinning) remoteVideoContainer.removeChild(loadingSpinner);
    }
  });
  const createView = async () => {
    view = await renderer.createView();
    remoteVideoContainer.appendChild(view.target);
    remoteVideosGallery.appendChild(remoteVideoContainer);
  };
  remoteVideoStream.on('isAvailableChanged', async () => {
    if (remoteVideoStream.isAvailable) {
      await createView();
    } else {
      view.dispose();
      remoteVideosGallery.removeChild(remoteVideoContainer);
    }
  });
  if (remoteVideoStream.isAvailable) await createView();
}

startVideoButton.onclick = async () => {
  const stream = await createLocalVideoStream();
  await call.startVideo(stream);
};

stopVideoButton.onclick = async () => {
  await call.stopVideo(localVideoStream);
};

async function createLocalVideoStream() {
  const camera = (await deviceManager.getCameras())[0];
  if (camera) return new LocalVideoStream(camera);
  console.error('No camera device found on the system');
}

async function displayLocalVideoStream() {
  localVideoStreamRenderer = new VideoStreamRenderer(localVideoStream);
  const view = await localVideoStreamRenderer.createView();
  localVideoContainer.hidden = false;
  localVideoContainer.appendChild(view.target);
}

function removeLocalVideoStream() {
  localVideoStreamRenderer.dispose();
  localVideoContainer.hidden = true;
}

hangUpCallButton.addEventListener('click', async () => {
  await call.hangUp();
});
