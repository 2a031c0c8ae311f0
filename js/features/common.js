// What the call features that load on demand share: ACS-style events and errors, and naming
// participants. Each feature gets its call's host (the core's one contract with them, see
// src/api/feature_host.rs) and nothing else of the core.

/** How a feature's object fires an event: a key apps do not see. */
export const emit = Symbol('emit');

/**
 * Listeners by event, as the ACS SDK calls them: `on(event, fn)` / `off(event, fn)`; events are
 * delivered after the current task (microtask), in order, and a listener that throws is logged
 * without stopping the others. Objects with events extend it and fire with `this[emit](…)`.
 */
export class Emitter {
  #listeners = new Map();

  on(event, listener) {
    if (typeof listener !== 'function') throw error(400, 45320, `on('${event}') needs a function`);
    const list = this.#listeners.get(event) ?? [];
    if (!list.includes(listener)) list.push(listener);
    this.#listeners.set(event, list);
  }

  off(event, listener) {
    const list = this.#listeners.get(event);
    if (list) this.#listeners.set(event, list.filter((l) => l !== listener));
  }

  [emit](event, payload) {
    // The listeners are those there when the event is delivered: a feature's events from its
    // first moments reach the listeners an app added before its code had loaded.
    queueMicrotask(() => {
      for (const listener of this.#listeners.get(event) ?? []) {
        try {
          listener(payload);
        } catch (e) {
          console.error(`rtcall: a '${event}' listener threw`, e);
        }
      }
    });
  }
}

/** A call feature: events, and nothing to let go unless it says so. */
export class Feature extends Emitter {
  dispose() {}
}

/** A `CommunicationServicesError`. */
export function error(code, subCode, message) {
  return Object.assign(new Error(message), { name: 'CommunicationServicesError', code, subCode });
}

/** A feature request to the service (see `FeatureRequest` in crates/protocol/src/features.rs). */
export function request(host, name, body) {
  return host.request(JSON.stringify(body === undefined ? name : { [name]: body }));
}

/** Raw ids of the identifiers an app passes (a typed error for anything else). */
export function rawIds(host, identifiers) {
  if (!Array.isArray(identifiers)) throw error(400, 41001, 'expected an array of identifiers');
  return identifiers.map((identifier) => host.rawId(identifier));
}

/** The identifier of participant `id` (this endpoint's too), if it is known. */
export function identifierOf(host, id) {
  return host.participant(id)?.identifier;
}
