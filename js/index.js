// rtcall: the package entry. It instantiates the WebAssembly module itself (top-level await), so
// an app only imports classes, from a bundler or from a <script type="module"> with an import
// map, and never calls an init(). The names are those of @azure/communication-calling and
// @azure/communication-common, so both specifiers can resolve to this file.
import init, { __rtcallSetAudioWorklet } from './rtcall.js';

await init({ module_or_path: new URL('./rtcall_bg.wasm', import.meta.url) });
// The microphone DSP (noise suppression, levels) loads from next to this file, on first use.
__rtcallSetAudioWorklet(new URL('./dsp-worklet.js', import.meta.url).href, new URL('./rtcall_dsp.wasm', import.meta.url).href);

export {
  AudioEffectsFeature,
  AzureCommunicationTokenCredential,
  Call,
  CallAgent,
  CallClient,
  DebugInfoFeature,
  DeviceManager,
  DominantSpeakersFeature,
  EchoTestFeature,
  IncomingCall,
  LocalAudioStream,
  LocalVideoStream,
  RemoteAudioStream,
  RemoteParticipant,
  RemoteVideoStream,
  VideoStreamRenderer,
  VideoStreamRendererView,
  Volume,
  createIdentifierFromRawId,
  getIdentifierKind,
  getIdentifierRawId,
  isCommunicationUserIdentifier,
  isMicrosoftTeamsAppIdentifier,
  isMicrosoftTeamsUserIdentifier,
  isPhoneNumberIdentifier,
  isUnknownIdentifier,
} from './rtcall.js';
export { DominantSpeakersFeature as DominantSpeakersCallFeature } from './rtcall.js';
export { EchoTestFeature as EchoTestCallFeature } from './rtcall.js';
export { UserFacingDiagnosticsFeature } from './rtcall.js';

/** The features `call.feature()`, `callClient.feature()` and `localAudioStream.feature()` accept. */
export const Features = Object.freeze({
  AudioEffects: Object.freeze({ name: 'AudioEffects' }),
  DebugInfo: Object.freeze({ name: 'DebugInfo' }),
  DominantSpeakers: Object.freeze({ name: 'DominantSpeakers' }),
  EchoTest: Object.freeze({ name: 'EchoTest' }),
  UserFacingDiagnostics: Object.freeze({ name: 'UserFacingDiagnostics' }),
});

/** How good a network diagnostic says the network is (`value` of a `DiagnosticQuality`). */
export const DiagnosticQuality = Object.freeze({ Good: 1, Poor: 2, Bad: 3, 1: 'Good', 2: 'Poor', 3: 'Bad' });

/** rtcall's noise suppression (RNNoise-class, in an AudioWorklet); the name ACS's effects package uses. */
export class DeepNoiseSuppressionEffect {
  get name() {
    return 'DeepNoiseSuppression';
  }
}

/** The browser's own noise suppression (the `noiseSuppression` track constraint). */
export class BrowserNoiseSuppressionEffect {
  get name() {
    return 'BrowserNoiseSuppression';
  }
}
