// Compiled by `tsc -p tests/types` against the built package's index.d.ts: code written for
// @azure/communication-calling and -common type-checks against rtcall with only the imports
// changed, and misuse is a type error (each @ts-expect-error must be needed, or tsc fails).
import {
  Call,
  CallAgent,
  CallClient,
  DiagnosticQuality,
  Features,
  IncomingCall,
  LocalAudioStream,
  LocalVideoStream,
  RemoteParticipant,
  RemoteVideoStream,
  VideoStreamRenderer,
} from '@azure/communication-calling';
import {
  AzureCommunicationTokenCredential,
  CommunicationIdentifier,
  CommunicationIdentifierKind,
  CommunicationTokenCredential,
  createIdentifierFromRawId,
  getIdentifierKind,
  getIdentifierRawId,
  isCommunicationUserIdentifier,
  isPhoneNumberIdentifier,
} from '@azure/communication-common';
import { BrowserNoiseSuppressionEffect, configure, DeepNoiseSuppressionEffect, load } from 'rtcall';
import type { ParticipantRole } from '@azure/communication-calling';
import type { CommunicationServicesError } from 'rtcall';

export async function usage(token: string, fetchToken: () => Promise<string>): Promise<void> {
  const staticCredential: CommunicationTokenCredential = new AzureCommunicationTokenCredential(token);
  const refreshing = new AzureCommunicationTokenCredential({
    tokenRefresher: async (abortSignal?: AbortSignal) => {
      abortSignal?.throwIfAborted();
      return fetchToken();
    },
    token,
    refreshProactively: true,
  });
  const { token: jwt, expiresOnTimestamp }: { token: string; expiresOnTimestamp: number } =
    await refreshing.getToken({ abortSignal: new AbortController().signal });
  staticCredential.dispose();

  new CallClient();
  new CallClient({ networkConfiguration: { turn: { iceServers: [{ urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'p' }] } } });

  const kind: CommunicationIdentifierKind = createIdentifierFromRawId('4:+14255550123');
  if (kind.kind === 'phoneNumber') {
    const number: string = kind.phoneNumber;
    void number;
  }
  const someone: CommunicationIdentifier = { communicationUserId: '8:echo123' };
  const raw: string = getIdentifierRawId(someone);
  if (isCommunicationUserIdentifier(someone)) {
    const id: string = someone.communicationUserId;
    void id;
  }
  void isPhoneNumberIdentifier({ phoneNumber: '+1' });
  void getIdentifierKind({ id: raw });

  try {
    new AzureCommunicationTokenCredential('');
  } catch (e) {
    const error = e as CommunicationServicesError;
    const codes: [number, number] = [error.code, error.subCode];
    void codes;
  }
  void jwt;
  void expiresOnTimestamp;

  // @ts-expect-error: a refresher must return a promise of a string
  new AzureCommunicationTokenCredential({ tokenRefresher: () => 42 });
  // @ts-expect-error: identifiers are objects
  getIdentifierRawId('8:echo123');
  // @ts-expect-error: iceServers need urls
  new CallClient({ networkConfiguration: { turn: { iceServers: [{ username: 'u' }] } } });
}

// A 1:1 video call as the ACS quickstarts write it.
export async function calling(token: string, calleeId: string, container: HTMLElement): Promise<void> {
  const callClient = new CallClient();
  const callAgent: CallAgent = await callClient.createCallAgent(new AzureCommunicationTokenCredential(token), {
    displayName: 'Ada',
  });
  const deviceManager = await callClient.getDeviceManager();
  await deviceManager.askDevicePermission({ audio: true, video: true });
  const [camera] = await deviceManager.getCameras();
  const localVideoStream = new LocalVideoStream(camera);
  const call: Call = callAgent.startCall([{ communicationUserId: calleeId }], {
    videoOptions: { localVideoStreams: [localVideoStream] },
  });
  call.on('stateChanged', () => {
    if (call.state === 'Disconnected') console.log(call.callEndReason?.code, call.callEndReason?.subCode);
  });
  const renderRemote = async (stream: RemoteVideoStream) => {
    if (!stream.isAvailable) return;
    const view = await new VideoStreamRenderer(stream).createView({ scalingMode: 'Crop' });
    container.appendChild(view.target);
  };
  const subscribe = (participant: RemoteParticipant) => {
    participant.videoStreams.forEach((s) => void renderRemote(s));
    participant.on('videoStreamsUpdated', ({ added }) => added.forEach((s) => void renderRemote(s)));
    participant.on('isSpeakingChanged', () => console.log(participant.isSpeaking));
  };
  call.remoteParticipants.forEach(subscribe);
  call.on('remoteParticipantsUpdated', ({ added, removed }) => {
    added.forEach(subscribe);
    removed.forEach((p) => console.log(p.callEndReason));
  });
  const dominant = call.feature(Features.DominantSpeakers);
  dominant.on('dominantSpeakersChanged', () => console.log(dominant.dominantSpeakers.speakersList[0]?.kind));
  await call.mute();
  await call.hold();
  await call.resume();
  await call.stopVideo(localVideoStream);
  const added: RemoteParticipant = call.addParticipant({ communicationUserId: '8:acs:x_y' });
  await call.removeParticipant(added.identifier);
  callAgent.on('incomingCall', async ({ incomingCall }: { incomingCall: IncomingCall }) => {
    const accepted: Call = await incomingCall.accept({ audioOptions: { muted: true } });
    await accepted.hangUp({ forEveryone: false });
  });
  const group = callAgent.join({ groupId: '29228d3e-040e-4656-a70e-890ab4e173e5' });
  await group.hangUp();
  await callAgent.dispose();

  // @ts-expect-error: hangUp options need forEveryone
  await call.hangUp({});
  // @ts-expect-error: there is no such call state
  const impossible: boolean = call.state === 'Paused';
  void impossible;
}

// Screen sharing (the ACS call, plus rtcall's options) and the echo test with its report.
export async function sharingAndTesting(callAgent: CallAgent): Promise<void> {
  const call = callAgent.startCall([{ communicationUserId: '8:echo123' }]);
  call.on('isScreenSharingOnChanged', () => console.log(call.isScreenSharingOn));
  await call.startScreenSharing();
  await call.startScreenSharing({ displaySurface: 'browser', audio: true, contentHint: 'motion' });
  const preview = call.localVideoStreams.find((s) => s.mediaStreamType === 'ScreenSharing');
  if (preview) await new VideoStreamRenderer(preview).createView();
  await call.stopScreenSharing();
  const echo = call.feature(Features.EchoTest);
  echo.on('reportChanged', () => {
    const report = echo.report;
    if (report) console.log(report.phase, report.audioReceived, report.videoReceived, report.roundTripTimeMs ?? 'n/a');
  });
  // @ts-expect-error: displaySurface is monitor, window or browser
  await call.startScreenSharing({ displaySurface: 'desk' });
}

// The microphone's volume and noise suppression, as ACS apps reach them from the call.
export async function microphone(call: Call): Promise<void> {
  const [stream] = call.localAudioStreams;
  const volume = await stream.getVolume();
  volume.on('levelChanged', () => console.log(volume.level));
  const effects = stream.feature(Features.AudioEffects);
  const deep = new DeepNoiseSuppressionEffect();
  if (await effects.isSupported(deep)) await effects.startEffects({ noiseSuppression: deep });
  else await effects.startEffects({ noiseSuppression: new BrowserNoiseSuppressionEffect() });
  effects.on('effectsError', ({ code, subCode, message }) => console.log(code, subCode, message));
  console.log(effects.activeEffects.noiseSuppression);
  await effects.stopEffects({ noiseSuppression: true });
  const received = await call.remoteAudioStreams[0].getVolume();
  received.on('levelChanged', () => console.log(received.level));
  const diagnostics = call.feature(Features.UserFacingDiagnostics);
  diagnostics.media.on('diagnosticChanged', ({ diagnostic, value }) => console.log(diagnostic, value));
  console.log(diagnostics.media.getLatest().speakingWhileMicrophoneIsMuted?.value);
  // The network diagnostics as ACS apps read them.
  diagnostics.network.on('diagnosticChanged', (e) => {
    if (e.diagnostic === 'networkReconnect' && e.valueType === 'DiagnosticQuality' && e.value === DiagnosticQuality.Bad) {
      console.log('reconnecting');
    }
  });
  console.log(diagnostics.network.getLatest().networkReconnect?.value === DiagnosticQuality.Good);
  diagnostics.remote.on('diagnosticChanged', ({ diagnostics: changed }) => {
    for (const d of changed) console.log(d.rawId, d.remoteParticipant?.displayName, d.diagnostic, d.value);
  });
  // @ts-expect-error: not a network diagnostic
  console.log(diagnostics.network.getLatest().speakingWhileMicrophoneIsMuted);
  // @ts-expect-error: noise suppression takes an effect object, not a name
  await effects.startEffects({ noiseSuppression: 'DeepNoiseSuppression' });
}

// Custom audio and microphones chosen per stream, as ACS apps do it.
export async function customAudio(agent: CallAgent, call: Call, music: MediaStream): Promise<void> {
  const custom = new LocalAudioStream(music);
  await call.startAudio(custom);
  call.on('localAudioStreamsUpdated', ({ added, removed }) => console.log(added[0]?.mediaStreamType, removed.length));
  console.log(call.localAudioStreams[0].source);
  call.stopAudio();
  const [microphone] = await (await new CallClient().getDeviceManager()).getMicrophones();
  const stream = new LocalAudioStream(microphone);
  await stream.switchSource(microphone);
  agent.join({ groupId: '29228d3e-040e-4656-a70e-890ab4e173e5' }, { audioOptions: { localAudioStreams: [stream] } });
  // @ts-expect-error: startAudio takes a LocalAudioStream, not a MediaStream
  await call.startAudio(music);
}

// Phone numbers, with the deployment's number as caller id, as ACS apps call them.
export function phoneCalls(agent: CallAgent, call: Call): void {
  const caller = { phoneNumber: '+14255550100' };
  agent.startCall([{ phoneNumber: '+14255550123' }], { alternateCallerId: caller });
  call.addParticipant({ phoneNumber: '+14255550124' }, { alternateCallerId: caller });
  void call.sendDtmf('Pound');
  call.on('dtmfReceived', ({ participant, tone }) => console.log(participant.identifier, tone));
  // @ts-expect-error: DTMF tones have names
  void call.sendDtmf('#');
  // @ts-expect-error: the caller id is a PhoneNumberIdentifier, not a string
  agent.startCall([{ phoneNumber: '+14255550123' }], { alternateCallerId: '+14255550100' });
}

// Call features, as the ACS docs' samples use them.
export async function callFeatures(agent: CallAgent, call: Call): Promise<void> {
  const raiseHandFeature = call.feature(Features.RaiseHand);
  await raiseHandFeature.raiseHand();
  raiseHandFeature.on('raisedHandEvent', (event) => console.log(event.identifier));
  const hands: { identifier: CommunicationIdentifier; order: number }[] = raiseHandFeature.getRaisedHands();
  await raiseHandFeature.lowerHands([{ communicationUserId: '8:acs:r_bob' }]);
  const reaction = call.feature(Features.Reaction);
  await reaction.sendReaction({ reactionType: 'applause' });
  reaction.on('reaction', (event) => console.log(event.identifier, event.reactionMessage.reactionType));
  const spotlight = call.feature(Features.Spotlight);
  await spotlight.startSpotlight();
  spotlight.on('spotlightChanged', ({ added, removed }) => console.log(added[0]?.order, removed.length));
  const capabilities = call.feature(Features.Capabilities);
  console.log(capabilities.capabilities.muteOthers?.isPresent, capabilities.capabilities.manageLobby?.reason);
  capabilities.on('capabilitiesChanged', ({ newValue, reason }) => console.log(newValue.unmuteMic, reason));
  const collector = call.feature(Features.MediaStats).createCollector({ aggregationInterval: 10, dataPointsPerAggregation: 6 });
  collector.on('sampleReported', (s) => console.log(s.video.receive[0]?.frameRateDecoded, s.transports[0]?.rttInMs));
  collector.on('summaryReported', (s) => console.log(s.audio.send[0]?.bitrate?.aggregation?.max));
  collector.dispose();
  const dataChannel = call.feature(Features.DataChannel);
  const sender = dataChannel.createDataChannelSender({ channelId: 1000, reliability: 'Lossy' });
  sender.setParticipants([call.remoteParticipants[0].identifier]);
  await sender.sendMessage(new TextEncoder().encode('abc'));
  dataChannel.on('dataChannelReceiverCreated', (receiver) => {
    receiver.on('messageReady', () => console.log(receiver.readMessage()?.data.byteLength, receiver.senderParticipantIdentifier));
  });
  const transfer = call.feature(Features.Transfer).transfer({ targetParticipant: { phoneNumber: '+14255550123' } });
  transfer.on('stateChanged', () => console.log(transfer.state, transfer.error?.subCode));
  call.feature(Features.Transfer).on('transferAccepted', ({ targetCall }) => console.log(targetCall.id));
  const ovc = call.feature(Features.OptimalVideoCount);
  ovc.on('optimalVideoCountChanged', () => console.log(ovc.optimalVideoCount, ovc.lastOvcChangeReason));
  const rtt = call.feature(Features.RealTimeText);
  await rtt.sendRealTimeText('hello', true);
  rtt.on('realTimeTextReceived', (info) => console.log(info.resultType, info.sender.displayName, info.isLocal));
  // Roles, soft mute and the lobby.
  console.log(call.role, call.remoteParticipants[0].role);
  call.on('mutedByOthers', () => console.log(call.isMuted));
  await call.remoteParticipants[0].mute();
  await call.muteAllRemoteParticipants();
  const lobbyCall = agent.join({ groupId: '29228d3e-040e-4656-a70e-890ab4e173e5', lobby: true });
  lobbyCall.lobby.on('lobbyParticipantsUpdated', ({ added }) => added.forEach((p) => void lobbyCall.lobby.admit(p.identifier)));
  const { successCount } = await lobbyCall.lobby.admitAll();
  console.log(hands.length, successCount);
  // @ts-expect-error: reactions are ACS's five
  await reaction.sendReaction({ reactionType: 'thumbsDown' });
  // @ts-expect-error: data channel messages are bytes
  await sender.sendMessage('abc');
  // @ts-expect-error: a role is one of ACS's names
  const role: ParticipantRole = 'Host';
}

// Where the package's files are, for a bundle that does not copy them.
export function files(): void {
  configure({ baseUrl: '/static/rtcall/' });
  void load();
}
