// rtcall: the package entry. It instantiates the WebAssembly module itself (top-level await), so
// an app only imports classes, from a bundler or from a <script type="module"> with an import
// map, and never calls an init(). The names are those of @azure/communication-calling and
// @azure/communication-common, so both specifiers can resolve to this file.
import init from './rtcall.js';

await init({ module_or_path: new URL('./rtcall_bg.wasm', import.meta.url) });

export {
  AzureCommunicationTokenCredential,
  Call,
  CallAgent,
  CallClient,
  DeviceManager,
  DominantSpeakersFeature,
  EchoTestFeature,
  IncomingCall,
  LocalVideoStream,
  RemoteParticipant,
  RemoteVideoStream,
  VideoStreamRenderer,
  VideoStreamRendererView,
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

/** The call features `call.feature()` accepts. */
export const Features = Object.freeze({
  DominantSpeakers: Object.freeze({ name: 'DominantSpeakers' }),
  EchoTest: Object.freeze({ name: 'EchoTest' }),
});
