// Features.Capabilities: what this participant may do in the call, as the service decides it
// (from its role and the kind of call), with ACS's names and reasons; `capabilitiesChanged`
// gives what changed, old and new.
import { Feature, emit } from './common.js';

export function create(host) {
  return new CapabilitiesFeature(host);
}

class CapabilitiesFeature extends Feature {
  #capabilities = {};

  constructor(host) {
    super();
    host.on((event) => event.capabilities && this.#update(event.capabilities.capabilities));
    const last = host.latest('capabilities');
    if (last) this.#update(last.capabilities.capabilities);
  }

  get name() {
    return 'Capabilities';
  }

  /** `{[name]: {isPresent, reason}}`. */
  get capabilities() {
    return this.#capabilities;
  }

  #update(reasons) {
    const oldValue = {};
    const newValue = {};
    const next = {};
    for (const [name, reason] of Object.entries(reasons)) {
      next[name] = { isPresent: reason === 'Capable', reason };
      const before = this.#capabilities[name];
      if (before?.reason !== reason) {
        if (before) oldValue[name] = before;
        newValue[name] = next[name];
      }
    }
    this.#capabilities = next;
    // What capabilities follow from is the role, or the kind of call (ACS's reasons).
    if (Object.keys(newValue).length) this[emit]('capabilitiesChanged', { oldValue, newValue, reason: 'RoleChanged' });
  }
}
