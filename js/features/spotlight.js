// Features.Spotlight: spotlight participants (oneself, or others where the service allows),
// stop, stop all; the ordered list and its changes as `spotlightChanged` `{added, removed}`.
import { Feature, emit, identifierOf, rawIds, request } from './common.js';

export function create(host) {
  return new SpotlightCallFeature(host);
}

class SpotlightCallFeature extends Feature {
  #host;
  /** `{id, identifier, order}`, by order. */
  #list = [];
  #max = 7;

  constructor(host) {
    super();
    this.#host = host;
    host.on((event) => event.spotlights && this.#update(event.spotlights));
    const last = host.latest('spotlights');
    if (last) this.#update(last.spotlights);
  }

  get name() {
    return 'Spotlight';
  }

  get maxParticipantsToSpotlight() {
    return this.#max;
  }

  /** Spotlights these participants, or (none given) this one. */
  async startSpotlight(identifiers) {
    return request(this.#host, 'spotlight', { targets: identifiers ? rawIds(this.#host, identifiers) : [], on: true });
  }

  /** Takes these participants' spotlights down, or (none given) this one's. */
  async stopSpotlight(identifiers) {
    return request(this.#host, 'spotlight', { targets: identifiers ? rawIds(this.#host, identifiers) : [], on: false });
  }

  stopAllSpotlight() {
    return request(this.#host, 'stopAllSpotlight');
  }

  /** `[{identifier, order}]`, by order. */
  getSpotlightedParticipants() {
    return this.#list.map(({ identifier, order }) => ({ identifier, order }));
  }

  #update({ participants, max }) {
    this.#max = max;
    const before = new Map(this.#list.map((s) => [s.id, s]));
    const after = participants
      .map(({ participantId, order }) => ({ id: participantId, identifier: identifierOf(this.#host, participantId), order }))
      .filter((s) => s.identifier);
    const ids = new Set(after.map((s) => s.id));
    const removed = this.#list.filter((s) => !ids.has(s.id)).map(({ identifier, order }) => ({ identifier, order }));
    const added = after.filter((s) => !before.has(s.id)).map(({ identifier, order }) => ({ identifier, order }));
    this.#list = after;
    if (added.length || removed.length) this[emit]('spotlightChanged', { added, removed });
  }
}
