// Types of the rtcall package: the names and shapes of @azure/communication-calling and
// @azure/communication-common that rtcall implements so far.

// ---- Identifiers (@azure/communication-common) ----

/** An ACS user (`8:acs:…`) or a service bot such as `8:echo123`. */
export interface CommunicationUserIdentifier {
  communicationUserId: string;
}
/** A phone number in E.164 form. */
export interface PhoneNumberIdentifier {
  phoneNumber: string;
  rawId?: string;
}
/** A Microsoft Teams user. */
export interface MicrosoftTeamsUserIdentifier {
  microsoftTeamsUserId: string;
  isAnonymous?: boolean;
  cloud?: 'public' | 'dod' | 'gcch';
  rawId?: string;
}
/** A Microsoft Teams app (bot). */
export interface MicrosoftTeamsAppIdentifier {
  teamsAppId: string;
  cloud?: 'public' | 'dod' | 'gcch';
  rawId?: string;
}
/** Any other identifier, by raw id. */
export interface UnknownIdentifier {
  id: string;
}
export type CommunicationIdentifier =
  | CommunicationUserIdentifier
  | PhoneNumberIdentifier
  | MicrosoftTeamsUserIdentifier
  | MicrosoftTeamsAppIdentifier
  | UnknownIdentifier;

export interface CommunicationUserKind extends CommunicationUserIdentifier {
  kind: 'communicationUser';
}
export interface PhoneNumberKind extends PhoneNumberIdentifier {
  kind: 'phoneNumber';
}
export interface MicrosoftTeamsUserKind extends MicrosoftTeamsUserIdentifier {
  kind: 'microsoftTeamsUser';
}
export interface MicrosoftTeamsAppKind extends MicrosoftTeamsAppIdentifier {
  kind: 'microsoftTeamsApp';
}
export interface UnknownIdentifierKind extends UnknownIdentifier {
  kind: 'unknown';
}
export type CommunicationIdentifierKind =
  | CommunicationUserKind
  | PhoneNumberKind
  | MicrosoftTeamsUserKind
  | MicrosoftTeamsAppKind
  | UnknownIdentifierKind;

/** Parses a raw id (`8:acs:…`, `4:+1…`, `8:orgid:…`, `28:orgid:…`) into an identifier. */
export declare function createIdentifierFromRawId(rawId: string): CommunicationIdentifierKind;
/** The raw id of an identifier. */
export declare function getIdentifierRawId(identifier: CommunicationIdentifier): string;
/** The identifier with its `kind`. */
export declare function getIdentifierKind(identifier: CommunicationIdentifier): CommunicationIdentifierKind;
export declare function isCommunicationUserIdentifier(
  identifier: CommunicationIdentifier,
): identifier is CommunicationUserIdentifier;
export declare function isPhoneNumberIdentifier(identifier: CommunicationIdentifier): identifier is PhoneNumberIdentifier;
export declare function isMicrosoftTeamsUserIdentifier(
  identifier: CommunicationIdentifier,
): identifier is MicrosoftTeamsUserIdentifier;
export declare function isMicrosoftTeamsAppIdentifier(
  identifier: CommunicationIdentifier,
): identifier is MicrosoftTeamsAppIdentifier;
export declare function isUnknownIdentifier(identifier: CommunicationIdentifier): identifier is UnknownIdentifier;

// ---- Credentials (@azure/communication-common) ----

/** A token and its expiry in milliseconds since the Unix epoch. */
export interface AccessToken {
  token: string;
  expiresOnTimestamp: number;
}
export interface CommunicationGetTokenOptions {
  /** An already aborted signal makes `getToken` reject. */
  abortSignal?: AbortSignal;
}
/** What `createCallAgent` accepts: anything that hands out tokens. */
export interface CommunicationTokenCredential {
  getToken(options?: CommunicationGetTokenOptions): Promise<AccessToken>;
  dispose(): void;
}
export interface CommunicationTokenRefreshOptions {
  /** Fetches a fresh token; the signal aborts when the credential is disposed. */
  tokenRefresher: (abortSignal?: AbortSignal) => Promise<string>;
  /** A token to start with. */
  token?: string;
  /** Refresh on a timer before expiry instead of only when `getToken` needs it. */
  refreshProactively?: boolean;
}
/** An access-token credential: a static token, or a refresher. */
export declare class AzureCommunicationTokenCredential implements CommunicationTokenCredential {
  constructor(token: string);
  constructor(options: CommunicationTokenRefreshOptions);
  getToken(options?: CommunicationGetTokenOptions): Promise<AccessToken>;
  dispose(): void;
}

// ---- Loading (rtcall's own; ACS has no such calls) ----

/** Where the package's files are, for bundles that do not copy them beside themselves. */
export interface RtcallFiles {
  /** The folder holding `rtcall_bg.wasm`, `dsp-worklet.js` and `rtcall_dsp.wasm`. */
  baseUrl?: string | URL;
  /** The main WebAssembly module itself. */
  wasm?: string | URL | Request | Response | BufferSource | WebAssembly.Module;
}
/**
 * Says where the package's files are. Optional: by default they are found beside the module
 * (or, for a classic-script bundle, beside the running script). Must come before the first
 * call that loads the library.
 */
export declare function configure(files?: RtcallFiles): void;
/**
 * Loads the library's WebAssembly. Optional: the first asynchronous call (`createCallAgent`,
 * `getDeviceManager`, `getToken`, …) loads it; classes other than `CallClient` and
 * `AzureCommunicationTokenCredential` can be constructed once it has.
 */
export declare function load(): Promise<void>;

// ---- Errors ----

/** What every rtcall method throws or rejects with. */
export interface CommunicationServicesError extends Error {
  name: 'CommunicationServicesError';
  /** HTTP-like class: 400 bad argument, 401 token problem, 409 wrong state, … */
  code: number;
  /** Exactly which error. */
  subCode: number;
}

// ---- Calling (@azure/communication-calling) ----

/** A listener of a property event (`xxxChanged`): re-read the property. */
export type PropertyChangedEvent = () => void;
/** A listener of a collection event (`xxxUpdated`). */
export type CollectionUpdatedEvent<T> = (args: { added: T[]; removed: T[] }) => void;

export type CallState =
  | 'None'
  | 'Connecting'
  | 'Ringing'
  | 'EarlyMedia'
  | 'Connected'
  | 'LocalHold'
  | 'RemoteHold'
  | 'InLobby'
  | 'Disconnecting'
  | 'Disconnected';
export type RemoteParticipantState =
  | 'Idle'
  | 'Connecting'
  | 'Ringing'
  | 'Connected'
  | 'Hold'
  | 'InLobby'
  | 'EarlyMedia'
  | 'Disconnected';
export type CallDirection = 'Incoming' | 'Outgoing';
export type ConnectionState = 'Connected' | 'Disconnected';
export type ScalingMode = 'Stretch' | 'Crop' | 'Fit';
export type MediaStreamType = 'Video' | 'ScreenSharing' | 'RawMedia';

/** Why a call ended or a participant left. */
export interface CallEndReason {
  code: number;
  subCode?: number;
}
export interface CallerInfo {
  identifier: CommunicationIdentifierKind | undefined;
  displayName?: string;
}

export interface CallClientOptions {
  /** Accepted for compatibility; rtcall logs to the console. */
  logger?: unknown;
  /** Accepted for compatibility. */
  diagnostics?: { appName?: string; appVersion?: string; tags?: string[] };
  networkConfiguration?: {
    turn?: { iceServers: { urls: string | string[]; username?: string; credential?: string }[] };
    proxy?: { url: string };
  };
  /** rtcall's own: the service URL, when not the token's issuer. */
  serviceUrl?: string;
}
export interface CallAgentOptions {
  displayName?: string;
}

/** The entry object. */
export declare class CallClient {
  constructor(options?: CallClientOptions);
  /** Signs in; one agent per identity per client. */
  createCallAgent(credential: CommunicationTokenCredential, options?: CallAgentOptions): Promise<CallAgent>;
  /** Works without an agent. */
  getDeviceManager(): Promise<DeviceManager>;
  /** `Features.DebugInfo`: whether this browser can call, before any call. */
  feature(factory: typeof Features.DebugInfo): DebugInfoFeature;
}

/** The browser and platform, as `getEnvironmentInfo()` read them. */
export interface Environment {
  /** `Windows`, `macOS`, `iOS`, `Android`, `Linux`, `ChromeOS` or `Unknown`. */
  platform: string;
  /** `Chrome`, `Edge`, `Firefox`, `Safari`, `Opera`, `Samsung Internet` or `Unknown`. */
  browser: string;
  browserVersion: string;
}
export interface EnvironmentInfo {
  environment: Environment;
  isSupportedPlatform: boolean;
  isSupportedBrowser: boolean;
  /** From feature detection: the browser has WebRTC, transceivers and capture (and Safari is 13.1+). */
  isSupportedBrowserVersion: boolean;
  isSupportedEnvironment: boolean;
}
/** `callClient.feature(Features.DebugInfo)`. */
export declare class DebugInfoFeature {
  readonly name: 'DebugInfo';
  getEnvironmentInfo(): Promise<EnvironmentInfo>;
}

export interface ConnectionStateChangedEventArgs {
  newValue: ConnectionState;
  oldValue: ConnectionState;
  reason?: 'invalidToken' | 'connectionIssue';
}
export interface IncomingCallEventArgs {
  incomingCall: IncomingCall;
}

export interface AudioOptions {
  muted?: boolean;
  /** A microphone to use, or an app's own audio to send instead (custom audio). */
  localAudioStreams?: LocalAudioStream[];
}
export interface VideoOptions {
  localVideoStreams?: LocalVideoStream[];
}
export interface JoinCallOptions {
  audioOptions?: AudioOptions;
  videoOptions?: VideoOptions;
}
export type StartCallOptions = JoinCallOptions & { alternateCallerId?: PhoneNumberIdentifier };
export type AcceptCallOptions = JoinCallOptions;
export interface GroupLocator {
  groupId: string;
  /** rtcall: when this join makes the group call, later joiners wait in its lobby until admitted. */
  lobby?: boolean;
}
export interface HangUpOptions {
  forEveryone: boolean;
}
export type DtmfTone =
  | 'A' | 'B' | 'C' | 'D' | 'Flash' | 'Pound' | 'Star'
  | 'Num0' | 'Num1' | 'Num2' | 'Num3' | 'Num4' | 'Num5' | 'Num6' | 'Num7' | 'Num8' | 'Num9';
export interface AddPhoneNumberOptions {
  alternateCallerId?: PhoneNumberIdentifier;
}

/** A signed-in identity. */
export declare class CallAgent {
  readonly kind: 'CallAgent';
  readonly calls: ReadonlyArray<Call>;
  readonly displayName?: string;
  readonly connectionState: ConnectionState;
  startCall(participants: CommunicationIdentifier[], options?: StartCallOptions): Call;
  join(groupLocator: GroupLocator, options?: JoinCallOptions): Call;
  dispose(): Promise<void>;
  on(event: 'incomingCall', listener: (args: IncomingCallEventArgs) => void): void;
  on(event: 'callsUpdated', listener: CollectionUpdatedEvent<Call>): void;
  on(event: 'connectionStateChanged', listener: (args: ConnectionStateChangedEventArgs) => void): void;
  off(event: 'incomingCall', listener: (args: IncomingCallEventArgs) => void): void;
  off(event: 'callsUpdated', listener: CollectionUpdatedEvent<Call>): void;
  off(event: 'connectionStateChanged', listener: (args: ConnectionStateChangedEventArgs) => void): void;
}

/** A call ringing here. */
export declare class IncomingCall {
  readonly kind: 'IncomingCall';
  readonly id: string;
  readonly callerInfo: CallerInfo;
  readonly callEndReason?: CallEndReason;
  accept(options?: AcceptCallOptions): Promise<Call>;
  reject(): Promise<void>;
  on(event: 'callEnded', listener: (args: { callEndReason: CallEndReason }) => void): void;
  off(event: 'callEnded', listener: (args: { callEndReason: CallEndReason }) => void): void;
}

type CallPropertyEvent =
  | 'stateChanged'
  | 'idChanged'
  | 'isMutedChanged'
  | 'isScreenSharingOnChanged'
  | 'isLocalVideoStartedChanged'
  | 'roleChanged'
  | 'mutedByOthers';

/** A participant's role: the group call's maker is its `Organizer`, joiners are `Presenter`s (`Attendee`s where it has a lobby); ad hoc calls have none (`Unknown`). */
export type ParticipantRole = 'Unknown' | 'Attendee' | 'Presenter' | 'Organizer' | 'Co-organizer' | 'Consumer' | 'Collaborator';

/** `startScreenSharing` options (rtcall; ACS takes none). */
export interface ScreenSharingOptions {
  /** The surface the picker offers first. */
  displaySurface?: 'monitor' | 'window' | 'browser';
  /** Share the tab's (or system's) audio where the browser offers it, mixed with the microphone. */
  audio?: boolean;
  /** `'detail'` (default): full resolution, up to 15 fps, for text. `'motion'`: up to 30 fps, for video. */
  contentHint?: 'detail' | 'motion';
}

/** A call. */
export declare class Call {
  readonly kind: 'Call';
  readonly id: string;
  readonly state: CallState;
  readonly callEndReason?: CallEndReason;
  readonly direction: CallDirection;
  readonly callerInfo: CallerInfo;
  readonly isMuted: boolean;
  readonly isScreenSharingOn: boolean;
  readonly isLocalVideoStarted: boolean;
  readonly localVideoStreams: ReadonlyArray<LocalVideoStream>;
  /** What the call sends: its microphone, or the app's own audio after `startAudio`. */
  readonly localAudioStreams: ReadonlyArray<LocalAudioStream>;
  /** What the call receives, all remote audio together. */
  readonly remoteAudioStreams: ReadonlyArray<RemoteAudioStream>;
  /** Those in the call (not those waiting in the lobby: see `lobby`). */
  readonly remoteParticipants: ReadonlyArray<RemoteParticipant>;
  readonly role: ParticipantRole;
  readonly lobby: Lobby;
  mute(): Promise<void>;
  unmute(): Promise<void>;
  hold(): Promise<void>;
  resume(): Promise<void>;
  startVideo(localVideoStream: LocalVideoStream): Promise<void>;
  stopVideo(localVideoStream: LocalVideoStream): Promise<void>;
  /** Opens the browser's picker and shares the screen, window or tab chosen. */
  startScreenSharing(options?: ScreenSharingOptions): Promise<void>;
  stopScreenSharing(): Promise<void>;
  /** Sends a telephone key to the phones in the call (RFC 4733). */
  sendDtmf(dtmfTone: DtmfTone): Promise<void>;
  /** Sends an app's own audio (a `LocalAudioStream` made from a `MediaStream`) instead of the microphone. */
  startAudio(localAudioStream: LocalAudioStream): Promise<void>;
  /** Stops the app's own audio; the microphone goes back on. */
  stopAudio(): void;
  /** A user, or a phone number (with `alternateCallerId`, a number of the deployment's). */
  addParticipant(identifier: CommunicationUserIdentifier | PhoneNumberIdentifier | UnknownIdentifier, options?: AddPhoneNumberOptions): RemoteParticipant;
  removeParticipant(identifier: CommunicationIdentifier): Promise<void>;
  hangUp(options?: HangUpOptions): Promise<void>;
  /** Mutes everyone else (refused to those whose role does not allow it, and in 1:1 calls). */
  muteAllRemoteParticipants(): Promise<void>;
  feature(factory: typeof Features.RaiseHand): RaiseHandCallFeature;
  feature(factory: typeof Features.Reaction): ReactionCallFeature;
  feature(factory: typeof Features.Spotlight): SpotlightCallFeature;
  feature(factory: typeof Features.Capabilities): CapabilitiesFeature;
  feature(factory: typeof Features.MediaStats): MediaStatsCallFeature;
  feature(factory: typeof Features.DataChannel): DataChannelCallFeature;
  feature(factory: typeof Features.Transfer): TransferCallFeature;
  feature(factory: typeof Features.OptimalVideoCount): OptimalVideoCountCallFeature;
  feature(factory: typeof Features.RealTimeText): RealTimeTextFeature;
  feature(factory: typeof Features.DominantSpeakers): DominantSpeakersCallFeature;
  feature(factory: typeof Features.EchoTest): EchoTestCallFeature;
  feature(factory: typeof Features.UserFacingDiagnostics): UserFacingDiagnosticsFeature;
  on(event: CallPropertyEvent, listener: PropertyChangedEvent): void;
  on(event: 'remoteParticipantsUpdated', listener: CollectionUpdatedEvent<RemoteParticipant>): void;
  on(event: 'localVideoStreamsUpdated', listener: CollectionUpdatedEvent<LocalVideoStream>): void;
  on(event: 'localAudioStreamsUpdated', listener: CollectionUpdatedEvent<LocalAudioStream>): void;
  /** rtcall: a phone in the call pressed a key. */
  on(event: 'dtmfReceived', listener: (args: { participant: RemoteParticipant; tone: DtmfTone }) => void): void;
  off(event: CallPropertyEvent, listener: PropertyChangedEvent): void;
  off(event: 'remoteParticipantsUpdated', listener: CollectionUpdatedEvent<RemoteParticipant>): void;
  off(event: 'localVideoStreamsUpdated', listener: CollectionUpdatedEvent<LocalVideoStream>): void;
  off(event: 'localAudioStreamsUpdated', listener: CollectionUpdatedEvent<LocalAudioStream>): void;
}

export interface EndpointDetails {
  participantId: string;
}

/** Someone else in a call. */
export declare class RemoteParticipant {
  readonly identifier: CommunicationIdentifierKind;
  readonly displayName?: string;
  readonly state: RemoteParticipantState;
  readonly callEndReason?: CallEndReason;
  readonly isMuted: boolean;
  readonly isSpeaking: boolean;
  readonly role: ParticipantRole;
  /** The camera and the screen share, present even while off (`isAvailable` false). */
  readonly videoStreams: ReadonlyArray<RemoteVideoStream>;
  readonly endpointDetails: ReadonlyArray<EndpointDetails>;
  /** Mutes its microphone (refused to those whose role does not allow it, and in 1:1 calls). */
  mute(): Promise<void>;
  on(
    event: 'stateChanged' | 'isMutedChanged' | 'isSpeakingChanged' | 'displayNameChanged' | 'roleChanged',
    listener: PropertyChangedEvent,
  ): void;
  on(event: 'videoStreamsUpdated', listener: CollectionUpdatedEvent<RemoteVideoStream>): void;
  off(
    event: 'stateChanged' | 'isMutedChanged' | 'isSpeakingChanged' | 'displayNameChanged' | 'roleChanged',
    listener: PropertyChangedEvent,
  ): void;
  off(event: 'videoStreamsUpdated', listener: CollectionUpdatedEvent<RemoteVideoStream>): void;
}

/** A camera, or an app's own MediaStream. */
export declare class LocalVideoStream {
  constructor(source: VideoDeviceInfo | MediaStream);
  readonly source: VideoDeviceInfo | MediaStream;
  readonly mediaStreamType: MediaStreamType;
  switchSource(source: VideoDeviceInfo): Promise<void>;
  getMediaStream(): Promise<MediaStream>;
  setMediaStream(stream: MediaStream): Promise<void>;
  on(event: 'videoSourceChanged', listener: PropertyChangedEvent): void;
  off(event: 'videoSourceChanged', listener: PropertyChangedEvent): void;
}

export interface StreamSize {
  width: number;
  height: number;
}

/** A participant's camera or screen share; received only while a view of it exists. */
export declare class RemoteVideoStream {
  readonly id: number;
  readonly mediaStreamType: MediaStreamType;
  readonly isAvailable: boolean;
  readonly isReceiving: boolean;
  readonly size: StreamSize;
  getMediaStream(): Promise<MediaStream>;
  on(event: 'isAvailableChanged' | 'isReceivingChanged' | 'sizeChanged', listener: PropertyChangedEvent): void;
  off(event: 'isAvailableChanged' | 'isReceivingChanged' | 'sizeChanged', listener: PropertyChangedEvent): void;
}

export interface CreateViewOptions {
  isMirrored?: boolean;
  scalingMode?: ScalingMode;
}

/** Renders a stream into views. */
export declare class VideoStreamRenderer {
  constructor(videoStream: LocalVideoStream | RemoteVideoStream);
  createView(options?: CreateViewOptions): Promise<VideoStreamRendererView>;
  dispose(): void;
}

/** A view: append `target` to the page. */
export declare class VideoStreamRendererView {
  readonly target: HTMLElement;
  readonly scalingMode: ScalingMode;
  readonly isMirrored: boolean;
  updateScalingMode(scalingMode: ScalingMode): Promise<void>;
  dispose(): void;
}

export interface AudioDeviceInfo {
  id: string;
  name: string;
  isSystemDefault: boolean;
  deviceType: 'Microphone' | 'Speaker' | 'CompositeAudioDevice' | 'Virtual';
}
export interface VideoDeviceInfo {
  id: string;
  name: string;
  deviceType: 'Unknown' | 'UsbCamera' | 'CaptureAdapter' | 'Virtual' | 'ScreenSharing';
}
export interface PermissionConstraints {
  audio: boolean;
  video: boolean;
}
export interface DeviceAccess {
  audio?: boolean;
  video?: boolean;
}

/** Cameras, microphones and speakers. */
export declare class DeviceManager {
  readonly isSpeakerSelectionAvailable: boolean;
  readonly selectedMicrophone?: AudioDeviceInfo;
  readonly selectedSpeaker?: AudioDeviceInfo;
  getCameras(): Promise<VideoDeviceInfo[]>;
  getMicrophones(): Promise<AudioDeviceInfo[]>;
  getSpeakers(): Promise<AudioDeviceInfo[]>;
  selectMicrophone(device: AudioDeviceInfo): Promise<void>;
  selectSpeaker(device: AudioDeviceInfo): Promise<void>;
  askDevicePermission(constraints: PermissionConstraints): Promise<DeviceAccess>;
  on(event: 'videoDevicesUpdated', listener: CollectionUpdatedEvent<VideoDeviceInfo>): void;
  on(event: 'audioDevicesUpdated', listener: CollectionUpdatedEvent<AudioDeviceInfo>): void;
  on(event: 'selectedMicrophoneChanged' | 'selectedSpeakerChanged', listener: PropertyChangedEvent): void;
  off(event: 'videoDevicesUpdated', listener: CollectionUpdatedEvent<VideoDeviceInfo>): void;
  off(event: 'audioDevicesUpdated', listener: CollectionUpdatedEvent<AudioDeviceInfo>): void;
  off(event: 'selectedMicrophoneChanged' | 'selectedSpeakerChanged', listener: PropertyChangedEvent): void;
}

export interface DominantSpeakersInfo {
  /** Most dominant first. */
  speakersList: ReadonlyArray<CommunicationIdentifierKind>;
  timestamp: Date;
}

/** `call.feature(Features.DominantSpeakers)`. */
export declare class DominantSpeakersCallFeature {
  readonly name: 'DominantSpeakers';
  readonly dominantSpeakers: DominantSpeakersInfo;
  on(event: 'dominantSpeakersChanged', listener: PropertyChangedEvent): void;
  off(event: 'dominantSpeakersChanged', listener: PropertyChangedEvent): void;
}
/** The class behind `Features.DominantSpeakers` (exported under this name too). */
export { DominantSpeakersCallFeature as DominantSpeakersFeature };

/** What the echo test bot (`8:echo123`) saw of the caller's media. */
export interface EchoTestReport {
  phase: 'prompt' | 'recording' | 'playback';
  /** The caller's audio reached the bot (in the recording under way or the last one). */
  audioReceived: boolean;
  /** The caller's camera video reached the bot. */
  videoReceived: boolean;
  roundTripTimeMs?: number;
  /** Share of the caller's packets lost on the way to the service. */
  packetLossPercent?: number;
  /** Interarrival jitter of the caller's audio. */
  jitterMs?: number;
}

/** `call.feature(Features.EchoTest)` (rtcall) in a call to `8:echo123`. */
export declare class EchoTestCallFeature {
  readonly name: 'EchoTest';
  /** Undefined until the bot's first report (about a second into the call). */
  readonly report?: EchoTestReport;
  on(event: 'reportChanged', listener: PropertyChangedEvent): void;
  off(event: 'reportChanged', listener: PropertyChangedEvent): void;
}
export { EchoTestCallFeature as EchoTestFeature };

/** The call's microphone. */
export declare class LocalAudioStream {
  constructor(source: AudioDeviceInfo | MediaStream);
  /** The microphone (the selected one for a call's own stream), or the app's stream. */
  readonly source: AudioDeviceInfo | MediaStream | undefined;
  /** `'Audio'` for a microphone, `'RawMedia'` for an app's `MediaStream`. */
  readonly mediaStreamType: 'Audio' | 'RawMedia';
  /** Another microphone (or, for custom audio, another stream); a call sending it follows in place. */
  switchSource(source: AudioDeviceInfo | MediaStream): Promise<void>;
  setMediaStream(mediaStream: MediaStream): Promise<void>;
  /** The audio as captured (before effects). */
  getMediaStream(): Promise<MediaStream>;
  /** Its volume while a call sends it; loads the DSP worklet on first use. */
  getVolume(): Promise<Volume>;
  feature(factory: typeof Features.AudioEffects): AudioEffectsFeature;
}

/** The audio a call receives. */
export declare class RemoteAudioStream {
  readonly mediaStreamType: 'Audio';
  /** The loudest remote audio's volume, sampled every 200 ms from the browser's statistics. */
  getVolume(): Promise<Volume>;
}

/** A microphone's (or the received audio's) volume. */
export declare class Volume {
  /** 0 (silence) to 100 (full scale), updated about ten times a second. */
  readonly level: number;
  on(event: 'levelChanged', listener: PropertyChangedEvent): void;
  off(event: 'levelChanged', listener: PropertyChangedEvent): void;
}

export type AudioEffect = DeepNoiseSuppressionEffect | BrowserNoiseSuppressionEffect;
export interface AudioEffects {
  noiseSuppression?: AudioEffect;
}
export interface ActiveAudioEffects {
  noiseSuppression?: 'DeepNoiseSuppression' | 'BrowserNoiseSuppression';
}
export interface AudioEffectErrorPayload {
  code: number;
  subCode: number;
  message: string;
}

/** `localAudioStream.feature(Features.AudioEffects)`: noise suppression on the microphone. */
export declare class AudioEffectsFeature {
  readonly name: 'AudioEffects';
  readonly activeEffects: ActiveAudioEffects;
  isSupported(effect: AudioEffect): Promise<boolean>;
  /** Turns the effect on; swaps the sent track in place (no renegotiation). */
  startEffects(effects: AudioEffects): Promise<void>;
  stopEffects(effects: { noiseSuppression?: boolean }): Promise<void>;
  on(event: 'effectsStarted' | 'effectsStopped', listener: (effects: ActiveAudioEffects) => void): void;
  on(event: 'effectsError', listener: (error: AudioEffectErrorPayload) => void): void;
  off(event: 'effectsStarted' | 'effectsStopped', listener: (effects: ActiveAudioEffects) => void): void;
  off(event: 'effectsError', listener: (error: AudioEffectErrorPayload) => void): void;
}

/** rtcall's noise suppression, in an AudioWorklet. */
export declare class DeepNoiseSuppressionEffect {
  readonly name: 'DeepNoiseSuppression';
}
/** The browser's noise suppression. */
export declare class BrowserNoiseSuppressionEffect {
  readonly name: 'BrowserNoiseSuppression';
}

export type MediaDiagnosticType = 'speakingWhileMicrophoneIsMuted';
/**
 * `networkReconnect` (Bad while the call's connection is interrupted: signaling lost, ICE
 * disconnected or failed, or nothing received for 2.5 s; Good once it is back),
 * `networkReceiveQuality` / `networkSendQuality` (from packet loss: under 3 % Good, up to 10 %
 * Poor, beyond Bad), `noNetwork` (the browser is offline).
 */
export type NetworkDiagnosticType = 'networkReconnect' | 'networkReceiveQuality' | 'networkSendQuality' | 'noNetwork';
export declare enum DiagnosticQuality {
  Good = 1,
  Poor = 2,
  Bad = 3,
}
export type DiagnosticValueType = 'DiagnosticFlag' | 'DiagnosticQuality';
export interface DiagnosticFlagChangedEventArgs {
  diagnostic: string;
  value: boolean;
  valueType: 'DiagnosticFlag';
}
export interface DiagnosticQualityChangedEventArgs {
  diagnostic: string;
  value: DiagnosticQuality;
  valueType: 'DiagnosticQuality';
}
export interface DiagnosticFlag {
  value: boolean;
  valueType: 'DiagnosticFlag';
}
export interface LatestDiagnosticQuality {
  value: DiagnosticQuality;
  valueType: 'DiagnosticQuality';
}
/** A group of diagnostics: the latest value of each one raised so far, and their changes. */
export interface DiagnosticGroup<Name extends string, Latest, Changed> {
  getLatest(): { [name in Name]?: Latest };
  on(event: 'diagnosticChanged', listener: (args: Changed) => void): void;
  off(event: 'diagnosticChanged', listener: (args: Changed) => void): void;
}
export type MediaDiagnostics = DiagnosticGroup<MediaDiagnosticType, DiagnosticFlag, DiagnosticFlagChangedEventArgs>;
export type NetworkDiagnostics = DiagnosticGroup<
  NetworkDiagnosticType,
  DiagnosticFlag | LatestDiagnosticQuality,
  DiagnosticFlagChangedEventArgs | DiagnosticQualityChangedEventArgs
>;
/** Another participant's diagnostic (today its `networkReconnect`, as the service sees it). */
export interface RemoteDiagnostic {
  diagnostic: NetworkDiagnosticType;
  participantId: string;
  rawId: string;
  remoteParticipant?: RemoteParticipant;
  value: DiagnosticQuality;
  valueType: 'DiagnosticQuality';
}
export interface RemoteParticipantDiagnosticsData {
  diagnostics: RemoteDiagnostic[];
}
export interface RemoteDiagnostics {
  getLatest(): RemoteParticipantDiagnosticsData;
  on(event: 'diagnosticChanged', listener: (args: RemoteParticipantDiagnosticsData) => void): void;
  off(event: 'diagnosticChanged', listener: (args: RemoteParticipantDiagnosticsData) => void): void;
}

/** `call.feature(Features.UserFacingDiagnostics)`: problems worth telling the user about. */
export declare class UserFacingDiagnosticsFeature {
  readonly name: 'UserFacingDiagnostics';
  /** `speakingWhileMicrophoneIsMuted`: raised while the muted microphone hears speech. */
  readonly media: MediaDiagnostics;
  readonly network: NetworkDiagnostics;
  /** Other participants reconnecting (`networkReconnect` Bad) and back (Good). */
  readonly remote: RemoteDiagnostics;
}

/** The features `call.feature()`, `callClient.feature()` and `localAudioStream.feature()` accept. */
/** A feature whose code loads when an app first asks for it (`call.feature(factory)`). */
export interface OnDemandFeatureFactory<Name extends string> {
  readonly name: Name;
}

export declare const Features: {
  readonly AudioEffects: { readonly name: 'AudioEffects' };
  readonly DebugInfo: { readonly name: 'DebugInfo' };
  readonly UserFacingDiagnostics: { readonly name: 'UserFacingDiagnostics' };
  readonly DominantSpeakers: { readonly name: 'DominantSpeakers' };
  /** rtcall: the echo test's report. */
  readonly EchoTest: { readonly name: 'EchoTest' };
  readonly RaiseHand: OnDemandFeatureFactory<'RaiseHand'>;
  readonly Reaction: OnDemandFeatureFactory<'Reaction'>;
  readonly Spotlight: OnDemandFeatureFactory<'Spotlight'>;
  readonly Capabilities: OnDemandFeatureFactory<'Capabilities'>;
  readonly MediaStats: OnDemandFeatureFactory<'MediaStats'>;
  readonly DataChannel: OnDemandFeatureFactory<'DataChannel'>;
  readonly Transfer: OnDemandFeatureFactory<'Transfer'>;
  readonly OptimalVideoCount: OnDemandFeatureFactory<'OptimalVideoCount'>;
  readonly RealTimeText: OnDemandFeatureFactory<'RealTimeText'>;
};

// ---- The lobby (call.lobby) ----

export interface AdmitAllOperationResult {
  readonly successCount: number;
  readonly failureCount: number;
}
/** Who waits in a group call's lobby, for those who may let them in. */
export declare class Lobby {
  /** Participants `InLobby`. */
  readonly participants: ReadonlyArray<RemoteParticipant>;
  admit(participant: CommunicationIdentifier, options?: {}): Promise<void>;
  reject(participant: CommunicationIdentifier, options?: {}): Promise<void>;
  admitAll(options?: {}): Promise<AdmitAllOperationResult>;
  on(event: 'lobbyParticipantsUpdated', listener: CollectionUpdatedEvent<RemoteParticipant>): void;
  off(event: 'lobbyParticipantsUpdated', listener: CollectionUpdatedEvent<RemoteParticipant>): void;
}

// ---- Call features that load on demand ----

/** What every call feature has. */
export interface CallFeature {
  readonly name: string;
  dispose(): void;
}

export interface RaisedHand {
  identifier: CommunicationUserIdentifier | MicrosoftTeamsUserIdentifier;
  /** Its place among the raised hands, from 1. */
  order: number;
}
export interface RaisedHandChangedEvent {
  identifier: CommunicationUserIdentifier | MicrosoftTeamsUserIdentifier;
}
export interface RaiseHandCallFeature extends CallFeature {
  raiseHand(): Promise<void>;
  lowerHand(): Promise<void>;
  /** Lowers others' hands (refused to those whose role does not allow it). */
  lowerHands(identifiers: (CommunicationUserIdentifier | MicrosoftTeamsUserIdentifier)[]): Promise<void>;
  lowerAllHands(): Promise<void>;
  getRaisedHands(): RaisedHand[];
  on(event: 'raisedHandEvent' | 'loweredHandEvent', listener: (data: RaisedHandChangedEvent) => void): void;
  off(event: 'raisedHandEvent' | 'loweredHandEvent', listener: (data: RaisedHandChangedEvent) => void): void;
}

export type Reaction = 'like' | 'heart' | 'laugh' | 'surprised' | 'applause';
export interface ReactionMessage {
  reactionType: Reaction;
}
export interface ReactionEventPayload {
  identifier: CommunicationUserIdentifier | MicrosoftTeamsUserIdentifier;
  reactionMessage: ReactionMessage;
}
export interface ReactionCallFeature extends CallFeature {
  sendReaction(reactionMessage: ReactionMessage): Promise<void>;
  on(event: 'reaction', listener: (data: ReactionEventPayload) => void): void;
  off(event: 'reaction', listener: (data: ReactionEventPayload) => void): void;
}

export interface SpotlightedParticipant {
  identifier: CommunicationIdentifier;
  order?: number;
}
export interface SpotlightCallFeature extends CallFeature {
  readonly maxParticipantsToSpotlight: number;
  /** These participants, or (none given) this one. */
  startSpotlight(participants?: CommunicationIdentifier[]): Promise<void>;
  stopSpotlight(participants?: CommunicationIdentifier[]): Promise<void>;
  stopAllSpotlight(): Promise<void>;
  getSpotlightedParticipants(): SpotlightedParticipant[];
  on(event: 'spotlightChanged', listener: CollectionUpdatedEvent<SpotlightedParticipant>): void;
  off(event: 'spotlightChanged', listener: CollectionUpdatedEvent<SpotlightedParticipant>): void;
}

export type ParticipantCapabilityName =
  | 'turnVideoOn' | 'unmuteMic' | 'shareScreen' | 'removeParticipant' | 'hangUpForEveryOne'
  | 'addCommunicationUser' | 'addTeamsUser' | 'addPhoneNumber' | 'manageLobby' | 'spotlightParticipant'
  | 'removeParticipantsSpotlight' | 'blurBackground' | 'startLiveMeetingCaptions' | 'startLiveCallingCaptions'
  | 'setCaptionLanguage' | 'raiseHand' | 'pstnDialOut' | 'muteOthers' | 'useReactions' | 'viewAttendeeNames'
  | 'startTogetherMode' | 'joinBreakoutRooms' | 'forbidOthersAudio' | 'forbidOthersVideo' | 'realTimeText';
export type CapabilityResolutionReason =
  | 'Capable' | 'CapabilityNotApplicableForTheCallType' | 'ClientRestricted' | 'UserPolicyRestricted'
  | 'RoleRestricted' | 'FeatureNotSupported' | 'MeetingRestricted' | 'NotInitialized' | 'NotCapable'
  | 'TeamsPremiumLicenseRestricted' | 'IpModeUserPolicyRestricted' | 'ExplicitConsentRequired';
export type ParticipantCapabilities = Record<ParticipantCapabilityName, { isPresent: boolean; reason: CapabilityResolutionReason }>;
export type CapabilitiesChangedReason = 'RoleChanged' | 'UserPolicyChanged' | 'MeetingOptionOrOrganizerPolicyChanged' | 'TeamsPremiumLicenseChanged';
export interface CapabilitiesChangeInfo {
  oldValue: Partial<ParticipantCapabilities>;
  newValue: Partial<ParticipantCapabilities>;
  reason: CapabilitiesChangedReason;
}
/** What this participant may do, as the service decides it. */
export interface CapabilitiesFeature extends CallFeature {
  /** Empty until the service has said. */
  readonly capabilities: Partial<ParticipantCapabilities>;
  on(event: 'capabilitiesChanged', listener: (data: CapabilitiesChangeInfo) => void): void;
  off(event: 'capabilitiesChanged', listener: (data: CapabilitiesChangeInfo) => void): void;
}

export type MediaStatsCollectorOptions = {
  /** Seconds a summary's aggregation point covers (10). */
  aggregationInterval?: number;
  /** Aggregation points a summary holds (6). */
  dataPointsPerAggregation?: number;
};
export interface OutgoingAudioMediaStats<N, S> {
  id: string; codecName?: S; bitrate?: N; jitterInMs?: N; packets?: N; packetsPerSecond?: N;
  packetsLost?: N; packetsLostPerSecond?: N; rttInMs?: N; audioInputLevel?: N; transportId?: S;
}
export interface IncomingAudioMediaStats<N, S> {
  id: string; codecName?: S; bitrate?: N; jitterInMs?: N; packets?: N; packetsPerSecond?: N;
  packetsLost?: N; packetsLostPerSecond?: N; rttInMs?: N; jitterBufferDelayInMs?: N;
  audioOutputLevel?: N; healedRatio?: N; transportId?: S;
}
export interface OutgoingVideoMediaStats<N, S> {
  id: string; codecName?: S; bitrate?: N; jitterInMs?: N; packets?: N; packetsPerSecond?: N;
  packetsLost?: N; packetsLostPerSecond?: N; rttInMs?: N; frameRateInput?: N; frameWidthInput?: N;
  frameHeightInput?: N; framesEncoded?: N; frameRateEncoded?: N; framesSent?: N; frameRateSent?: N;
  frameWidthSent?: N; frameHeightSent?: N; keyFramesEncoded?: N; transportId?: S;
  /** The other simulcast layers. */
  altLayouts?: OutgoingVideoMediaStats<N, S>[];
}
export interface IncomingVideoMediaStats<N, S> {
  id: string; codecName?: S; bitrate?: N; jitterInMs?: N; packets?: N; packetsPerSecond?: N;
  packetsLost?: N; packetsLostPerSecond?: N; rttInMs?: N;
  /** The `RemoteVideoStream.id` it is. */
  streamId?: N;
  jitterBufferDelayInMs?: N; frameRateDecoded?: N; frameRateReceived?: N; frameWidthReceived?: N;
  frameHeightReceived?: N; longestFreezeDurationInMs?: N; totalFreezeDurationInMs?: N; framesReceived?: N;
  framesDropped?: N; framesDecoded?: N; keyFramesDecoded?: N; transportId?: S;
}
export interface TransportMediaStats<N> {
  id: string; rttInMs?: N; availableIncomingBitrate?: N; availableOutgoingBitrate?: N;
}
interface MediaStatsReport<N, S> {
  audio: { send: OutgoingAudioMediaStats<N, S>[]; receive: IncomingAudioMediaStats<N, S>[] };
  video: { send: OutgoingVideoMediaStats<N, S>[]; receive: IncomingVideoMediaStats<N, S>[] };
  screenShare: { send: OutgoingVideoMediaStats<N, S>[]; receive: IncomingVideoMediaStats<N, S>[] };
  transports: TransportMediaStats<N>[];
}
export type MediaStatsAggregation = { count: number[]; sum: number[]; min: number[]; max: number[] };
export type MediaStatValue<T> = { aggregation?: MediaStatsAggregation; raw: T[]; timestamp: Date };
export type MediaStatsReportSample = MediaStatsReport<number, string>;
export type MediaStatsReportSummary = MediaStatsReport<MediaStatValue<number>, MediaStatValue<string>>;
export interface MediaStatsCollector {
  dispose(): void;
  on(event: 'sampleReported', listener: (args: MediaStatsReportSample) => void): void;
  on(event: 'summaryReported', listener: (args: MediaStatsReportSummary) => void): void;
  off(event: 'sampleReported', listener: (args: MediaStatsReportSample) => void): void;
  off(event: 'summaryReported', listener: (args: MediaStatsReportSummary) => void): void;
}
export interface MediaStatsCallFeature extends CallFeature {
  createCollector(options?: MediaStatsCollectorOptions): MediaStatsCollector;
}

export type DataChannelPriority = 'High' | 'Normal';
export type DataChannelReliability = 'Durable' | 'Lossy';
export type DataChannelSenderOpenOptions = {
  bitrateInKbps?: number;
  /** 1–65535; none: one is chosen. */
  channelId?: number;
  /** At most 64; none: everyone in the call. */
  participants?: CommunicationIdentifier[];
  priority?: DataChannelPriority;
  reliability?: DataChannelReliability;
};
export interface DataChannelSender {
  channelId: number;
  /** 32768 bytes. */
  maxMessageSize: number;
  setParticipants(participants: CommunicationIdentifier[]): void;
  sendMessage(data: Uint8Array): Promise<void>;
  close(): void;
}
export interface DataChannelMessage {
  sequenceNumber: number;
  data: Uint8Array;
}
export interface DataChannelReceiver {
  channelId: number;
  senderParticipantIdentifier: CommunicationIdentifierKind;
  readMessage(): DataChannelMessage | undefined;
  on(event: 'messageReady' | 'close', listener: () => void): void;
  off(event: 'messageReady' | 'close', listener: () => void): void;
}
export interface DataChannelCallFeature extends CallFeature {
  createDataChannelSender(options: DataChannelSenderOpenOptions): DataChannelSender;
  on(event: 'dataChannelReceiverCreated', listener: (args: DataChannelReceiver) => void): void;
  off(event: 'dataChannelReceiverCreated', listener: (args: DataChannelReceiver) => void): void;
}

export type TransferState = 'None' | 'Transferring' | 'Transferred' | 'Failed';
export interface TransferErrorCode {
  readonly code: number;
  readonly subCode?: number;
}
export interface Transfer {
  readonly state: TransferState;
  readonly error?: TransferErrorCode;
  on(event: 'stateChanged', listener: PropertyChangedEvent): void;
  off(event: 'stateChanged', listener: PropertyChangedEvent): void;
}
export interface TransferToParticipantLocator {
  targetParticipant: CommunicationUserIdentifier | PhoneNumberIdentifier | UnknownIdentifier;
}
export interface TransferEventArgs {
  targetCall: Call;
}
/** Blind transfer of a 1:1 call to a user or a phone number. */
export interface TransferCallFeature extends CallFeature {
  transfer(target: TransferToParticipantLocator, options?: { disableForwardingAndUnanswered?: boolean }): Transfer;
  on(event: 'transferAccepted', listener: (args: TransferEventArgs) => void): void;
  off(event: 'transferAccepted', listener: (args: TransferEventArgs) => void): void;
}

export type OvcChangeReason = 'bandwidth' | 'performance' | 'externalLimit' | 'unknown';
export interface OptimalVideoCountCallFeature extends CallFeature {
  readonly optimalVideoCount: number;
  readonly lastOvcChangeReason: OvcChangeReason;
  on(event: 'optimalVideoCountChanged', listener: PropertyChangedEvent): void;
  off(event: 'optimalVideoCountChanged', listener: PropertyChangedEvent): void;
}

export type RealTimeTextResultType = 'Partial' | 'Final';
export interface RealTimeTextInfo {
  sequenceId: number;
  sender: { identifier: CommunicationIdentifierKind; displayName?: string };
  text: string;
  resultType: RealTimeTextResultType;
  receivedTimestamp: Date;
  updatedTimestamp: Date;
  isLocal: boolean;
}
export interface RealTimeTextFeature extends CallFeature {
  sendRealTimeText(text: string, finalized?: boolean): Promise<void>;
  on(event: 'realTimeTextReceived', listener: (data: RealTimeTextInfo) => void): void;
  off(event: 'realTimeTextReceived', listener: (data: RealTimeTextInfo) => void): void;
}
