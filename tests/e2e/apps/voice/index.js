// A 1:1 voice call, making the SDK calls of the add-1-on-1-voice-calling quickstart in its
// order, as an ES module. Only the package name differs from an app written for ACS.
import { CallClient } from 'rtcall';
import { AzureCommunicationTokenCredential } from 'rtcall';

let call;
let incomingCall;
let callAgent;
let deviceManager;
let tokenCredential;
const userToken = document.getElementById('token-input');
const calleeInput = document.getElementById('callee-id-input');
const submitToken = document.getElementById('token-submit');
const callButton = document.getElementById('call-button');
const hangUpButton = document.getElementById('hang-up-button');
const acceptCallButton = document.getElementById('accept-call-button');

submitToken.addEventListener('click', async () => {
  const callClient = new CallClient();
  const userTokenCredential = userToken.value;
  try {
    tokenCredential = new AzureCommunicationTokenCredential(userTokenCredential);
    callAgent = await callClient.createCallAgent(tokenCredential);
    deviceManager = await callClient.getDeviceManager();
    await deviceManager.askDevicePermission({ audio: true });
    callButton.disabled = false;
    submitToken.disabled = true;
    // Listen for an incoming call to accept.
    callAgent.on('incomingCall', async (args) => {
      try {
        incomingCall = args.incomingCall;
        acceptCallButton.disabled = false;
        callButton.disabled = true;
      } catch (error) {
        console.error(error);
      }
    });
  } catch (error) {
    window.alert('Please submit a valid token!');
  }
});

callButton.addEventListener('click', () => {
  const userToCall = calleeInput.value;
  call = callAgent.startCall([{ id: userToCall }], {});
  hangUpButton.disabled = false;
  callButton.disabled = true;
});

hangUpButton.addEventListener('click', () => {
  call.hangUp({ forEveryone: true });
  hangUpButton.disabled = true;
  callButton.disabled = false;
  submitToken.disabled = false;
  acceptCallButton.disabled = true;
});

acceptCallButton.onclick = async () => {
  try {
    call = await incomingCall.accept();
    acceptCallButton.disabled = true;
    hangUpButton.disabled = false;
  } catch (error) {
    console.error(error);
  }
};
