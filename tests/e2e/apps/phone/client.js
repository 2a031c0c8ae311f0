// A call to a phone number, making the SDK calls of the add-1-on-1-phone-calling quickstart in
// its order, as an ES module. As its README says, the token and the caller id (a number the
// deployment owns) are written into the source before building. Only the package name differs
// from an app written for ACS.
import { CallClient, CallAgent } from 'rtcall';
import { AzureCommunicationTokenCredential } from 'rtcall';

let call;
let callAgent;

const calleePhoneInput = document.getElementById('callee-phone-input');
const callPhoneButton = document.getElementById('call-phone-button');
const hangUpPhoneButton = document.getElementById('hang-up-phone-button');

async function init() {
  const callClient = new CallClient();
  const tokenCredential = new AzureCommunicationTokenCredential('<USER ACCESS TOKEN with PSTN scope>');
  callAgent = await callClient.createCallAgent(tokenCredential);
}
init();

callPhoneButton.addEventListener('click', () => {
  const phoneToCall = calleePhoneInput.value;
  call = callAgent.startCall([{ phoneNumber: phoneToCall }], { alternateCallerId: { phoneNumber: 'ACS Number' } });
  hangUpPhoneButton.disabled = false;
  callPhoneButton.disabled = true;
});

hangUpPhoneButton.addEventListener('click', () => {
  call.hangUp({ forEveryone: true });
  hangUpPhoneButton.disabled = true;
  callPhoneButton.disabled = false;
});
