// rtcall: the package entry. It loads its WebAssembly on the first asynchronous call
// (`createCallAgent`, `getDeviceManager`, `getToken`, …), not at import: no top-level await, so
// every bundler takes it, as an ES module or a classic script, imported or `require()`d. The
// constructors apps call first (`new CallClient()`, `new AzureCommunicationTokenCredential()`)
// work at once. The names are those of @azure/communication-calling and
// @azure/communication-common, so both specifiers can resolve to this file.
import init, * as wasm from './rtcall.js';

// A classic-script bundle has no `import.meta`: its files are found next to the script that
// is running now (read while it runs), unless the app says where with configure().
const runningScript = globalThis.document?.currentScript?.src;
let settings = {};
let loading;
let loaded = false;

function error(code, subCode, message) {
  return Object.assign(new Error(message), { name: 'CommunicationServicesError', code, subCode });
}

/** The URLs of the package's three files, as configured or next to this module (or bundle). */
function files() {
  const named = (folder) => ['rtcall_bg.wasm', 'dsp-worklet.js', 'rtcall_dsp.wasm'].map((name) => new URL(name, folder));
  if (settings.baseUrl !== undefined) return named(new URL(settings.baseUrl, globalThis.document?.baseURI));
  try {
    // Written out so that webpack and Vite see each file and copy it beside the bundle.
    return [
      new URL('./rtcall_bg.wasm', import.meta.url),
      new URL('./dsp-worklet.js', import.meta.url),
      new URL('./rtcall_dsp.wasm', import.meta.url),
    ];
  } catch {
    return named(new URL('.', runningScript ?? globalThis.document?.baseURI));
  }
}

/**
 * Says where the package's files are, for bundles that do not copy them next to themselves
 * (rtcall's own; ACS has no such call). `baseUrl`: the folder holding `rtcall_bg.wasm`,
 * `dsp-worklet.js` and `rtcall_dsp.wasm`; `wasm`: the main module itself, as a URL, a
 * `Response`, bytes or a compiled `WebAssembly.Module`. Must come before the first call that
 * loads the module.
 */
export function configure({ baseUrl, wasm: module } = {}) {
  if (loading) throw error(409, 41007, 'configure() must come before rtcall loads (the first createCallAgent or getDeviceManager)');
  settings = { baseUrl, wasm: module };
}

/** Loads and starts the WebAssembly module, once; resolves when the library is ready. */
export function load() {
  loading ??= (async () => {
    const [module, worklet, dsp] = files();
    await init({ module_or_path: settings.wasm ?? module });
    // The microphone DSP (noise suppression, levels) loads on first use.
    wasm.__rtcallSetAudioWorklet(worklet.href, dsp.href);
    loaded = true;
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}

function notLoaded(what) {
  return error(
    409,
    41007,
    `${what} needs rtcall loaded: await callClient.getDeviceManager() or createCallAgent() first (or rtcall's load())`,
  );
}

/**
 * An exported class that an app may construct only once the module is loaded; before that its
 * constructor throws a clear error. Objects the library returns are instances of it too.
 */
function loadedOnly(Class) {
  return new Proxy(Class, {
    construct(target, args, newTarget) {
      if (!loaded) throw notLoaded(`new ${target.name}()`);
      return Reflect.construct(target, args, newTarget);
    },
  });
}

/** A function of the module's that an app may call only once it is loaded. */
function loadedOnlyFunction(name) {
  return (...args) => {
    if (!loaded) throw notLoaded(`${name}()`);
    return wasm[name](...args);
  };
}

/**
 * `new CallClient(options?)`: works before the module is loaded. Its options are checked when
 * the client is made, at once if the module is there, else on the first call that loads it.
 */
export class CallClient {
  #options;
  #client;

  constructor(options) {
    this.#options = options;
    if (loaded) this.#real();
  }

  #real() {
    this.#client ??= new wasm.CallClient(this.#options);
    return this.#client;
  }

  /** `createCallAgent(credential, options?)` → `Promise<CallAgent>`. */
  async createCallAgent(credential, options) {
    await load();
    return this.#real().createCallAgent(credential, options);
  }

  /** `getDeviceManager()` → `Promise<DeviceManager>`. */
  async getDeviceManager() {
    await load();
    return this.#real().getDeviceManager();
  }

  /** `feature(Features.DebugInfo)`: before the module is loaded, one that loads it when asked. */
  feature(factory) {
    if (loaded) return this.#real().feature(factory);
    if (factory?.name !== 'DebugInfo') throw error(501, 41011, `the call client feature '${factory?.name}' is not supported`);
    return {
      name: 'DebugInfo',
      getEnvironmentInfo: async () => {
        await load();
        return this.#real().feature(factory).getEnvironmentInfo();
      },
    };
  }
}

/**
 * `new AzureCommunicationTokenCredential(token | {tokenRefresher, token?, refreshProactively?})`:
 * works before the module is loaded. A malformed token throws at once if the module is there,
 * else `getToken()` rejects.
 */
export class AzureCommunicationTokenCredential {
  #args;
  #credential;
  #disposed = false;

  constructor(tokenOrOptions) {
    this.#args = tokenOrOptions;
    if (loaded) this.#real();
  }

  #real() {
    this.#credential ??= new wasm.AzureCommunicationTokenCredential(this.#args);
    return this.#credential;
  }

  /** `getToken(options?)` → `Promise<{token, expiresOnTimestamp}>`. */
  async getToken(options) {
    await load();
    const credential = this.#real();
    if (this.#disposed) credential.dispose();
    return credential.getToken(options);
  }

  /** Stops refreshing; `getToken()` then fails. */
  dispose() {
    this.#disposed = true;
    this.#credential?.dispose();
  }
}

export const LocalVideoStream = loadedOnly(wasm.LocalVideoStream);
export const LocalAudioStream = loadedOnly(wasm.LocalAudioStream);
export const VideoStreamRenderer = loadedOnly(wasm.VideoStreamRenderer);

export const createIdentifierFromRawId = loadedOnlyFunction('createIdentifierFromRawId');
export const getIdentifierKind = loadedOnlyFunction('getIdentifierKind');
export const getIdentifierRawId = loadedOnlyFunction('getIdentifierRawId');
export const isCommunicationUserIdentifier = loadedOnlyFunction('isCommunicationUserIdentifier');
export const isMicrosoftTeamsAppIdentifier = loadedOnlyFunction('isMicrosoftTeamsAppIdentifier');
export const isMicrosoftTeamsUserIdentifier = loadedOnlyFunction('isMicrosoftTeamsUserIdentifier');
export const isPhoneNumberIdentifier = loadedOnlyFunction('isPhoneNumberIdentifier');
export const isUnknownIdentifier = loadedOnlyFunction('isUnknownIdentifier');

export {
  AudioEffectsFeature,
  Call,
  Lobby,
  CallAgent,
  DebugInfoFeature,
  DeviceManager,
  DominantSpeakersFeature,
  EchoTestFeature,
  IncomingCall,
  RemoteAudioStream,
  RemoteParticipant,
  RemoteVideoStream,
  UserFacingDiagnosticsFeature,
  VideoStreamRendererView,
  Volume,
} from './rtcall.js';
export { DominantSpeakersFeature as DominantSpeakersCallFeature } from './rtcall.js';
export { EchoTestFeature as EchoTestCallFeature } from './rtcall.js';

/**
 * An object handed out at once whose implementation is still loading (`maker`, a promise of
 * the function that makes it). Until it is made, reads give `shape.values`, calls of
 * `shape.waits` wait for it, calls of `shape.makes` return such objects in turn
 * (`makes[name](...args)` gives the shape, and may give `args` to call with), and calls of
 * `on`, `off` and `shape.later` are kept, then made on it as soon as it is (before any event
 * it fires reaches a listener). Afterwards everything is the implementation's.
 */
function later(maker, shape = {}) {
  let real;
  const kept = [];
  const ready = maker.then((make) => {
    const it = make();
    real = it;
    for (const [name, args] of kept.splice(0)) it[name](...args);
    return it;
  });
  ready.catch((e) => console.error('rtcall: a call feature failed to load', e));
  return new Proxy(
    {},
    {
      get(_, key) {
        if (real) {
          const value = real[key];
          return typeof value === 'function' ? value.bind(real) : value;
        }
        if (key === 'on' || key === 'off' || shape.later?.includes(key)) return (...args) => void kept.push([key, args]);
        if (shape.waits?.includes(key)) return (...args) => ready.then((it) => it[key](...args));
        const makes = shape.makes?.[key];
        if (makes) {
          return (...args) => {
            const inner = makes(...args);
            return later(
              ready.then((it) => () => it[key](...(inner.args ?? args))),
              inner,
            );
          };
        }
        return shape.values?.[key];
      },
    },
  );
}

/**
 * A call feature whose code loads when an app first asks for it: `call.feature(factory)` makes
 * it with the call's feature host, once per call. What the call tells its features while the
 * code loads (a transfer accepted, a reaction, the call ending) is kept and given to the feature
 * as it is made — but for what it reads as it is now (`latest(tag)`, `dataChannels`), which
 * has those already. The feature's events wait a microtask (`Emitter` in features/common.js),
 * so the app's listeners, put on it right after it is made, hear them.
 */
function onDemand(name, load, shape) {
  const values = { name, dispose() {}, ...shape.values };
  const create = (host) => {
    // The feature's one subscription: it keeps events until the feature is made, then passes
    // them on.
    const early = [];
    let listeners;
    const hear = (event) => (listeners ? tell(listeners, event) : early.push(event));
    host.on(hear);
    const make = (code) => () => {
      listeners = [];
      const read = new Set();
      const hearing = new Proxy(host, {
        get(target, key) {
          if (key === 'on') return (listener) => void listeners.push(listener);
          if (key === 'off') return (listener) => void (listeners = listeners.filter((l) => l !== listener));
          if (key === 'latest') return (tag) => (read.add(tag), target.latest(tag));
          if (key === 'dataChannels') read.add('dataChannel');
          const value = target[key];
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const made = code.create(hearing);
      for (const event of early.splice(0)) if (!read.has(Object.keys(event)[0])) tell(listeners, event);
      return made;
    };
    const failed = (e) => {
      host.off(hear);
      throw e;
    };
    return later(load().then(make, failed), { ...shape, values });
  };
  return Object.freeze({ name, create });
}

/** Gives a call's feature event to a feature's listeners; one that throws is logged. */
function tell(listeners, event) {
  for (const listener of listeners) {
    try {
      listener(event);
    } catch (e) {
      console.error('rtcall: a call feature failed on an event', e);
    }
  }
}

const none = () => [];
const collector = () => ({ later: ['dispose'] });

/** The features `call.feature()`, `callClient.feature()` and `localAudioStream.feature()` accept. */
export const Features = Object.freeze({
  AudioEffects: Object.freeze({ name: 'AudioEffects' }),
  DebugInfo: Object.freeze({ name: 'DebugInfo' }),
  DominantSpeakers: Object.freeze({ name: 'DominantSpeakers' }),
  EchoTest: Object.freeze({ name: 'EchoTest' }),
  UserFacingDiagnostics: Object.freeze({ name: 'UserFacingDiagnostics' }),
  RaiseHand: onDemand('RaiseHand', () => import('./features/raise-hand.js'), {
    waits: ['raiseHand', 'lowerHand', 'lowerHands', 'lowerAllHands'],
    values: { getRaisedHands: none },
  }),
  Reaction: onDemand('Reaction', () => import('./features/reaction.js'), { waits: ['sendReaction'] }),
  Spotlight: onDemand('Spotlight', () => import('./features/spotlight.js'), {
    waits: ['startSpotlight', 'stopSpotlight', 'stopAllSpotlight'],
    values: { getSpotlightedParticipants: none, maxParticipantsToSpotlight: 7 },
  }),
  Capabilities: onDemand('Capabilities', () => import('./features/capabilities.js'), { values: { capabilities: {} } }),
  MediaStats: onDemand('MediaStats', () => import('./features/media-stats.js'), { makes: { createCollector: collector } }),
  DataChannel: onDemand('DataChannel', () => import('./features/data-channel.js'), {
    makes: {
      createDataChannelSender(options = {}) {
        // The channel id is the app's at once: checked, or chosen here when it gave none.
        const { channelId: asked = 0 } = options;
        if (!Number.isInteger(asked) || asked < 0 || asked > 65535) throw error(400, 45303, `Invalid channel id ${asked}`);
        const channelId = asked || 1024 + Math.floor(Math.random() * (65536 - 1024));
        return {
          args: [{ ...options, channelId }],
          values: { channelId, maxMessageSize: 32 * 1024 },
          waits: ['sendMessage'],
          later: ['setParticipants', 'close'],
        };
      },
    },
  }),
  Transfer: onDemand('Transfer', () => import('./features/transfer.js'), {
    makes: { transfer: () => ({ values: { state: 'Transferring' } }) },
  }),
  OptimalVideoCount: onDemand('OptimalVideoCount', () => import('./features/optimal-video-count.js'), {
    values: { optimalVideoCount: 16, lastOvcChangeReason: 'unknown' },
  }),
  RealTimeText: onDemand('RealTimeText', () => import('./features/real-time-text.js'), { waits: ['sendRealTimeText'] }),
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
