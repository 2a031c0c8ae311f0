// Features.RaiseHand: raise and lower hands, lower others' (the service checks who may), and
// the ordered list, with an event for each hand that goes up or down. The service sends the
// whole list whenever it changes (and on joining); events are the differences.
import { Feature, emit, identifierOf, rawIds, request } from './common.js';

export function create(host) {
  return new RaiseHandCallFeature(host);
}

class RaiseHandCallFeature extends Feature {
  #host;
  /** Raised hands, in order: `{id, identifier, order}`. */
  #hands = [];

  constructor(host) {
    super();
    this.#host = host;
    host.on((event) => event.raisedHands && this.#update(event.raisedHands.hands));
    const last = host.latest('raisedHands');
    if (last) this.#update(last.raisedHands.hands);
  }

  get name() {
    return 'RaiseHand';
  }

  raiseHand() {
    return request(this.#host, 'raiseHand', { raised: true });
  }

  lowerHand() {
    return request(this.#host, 'raiseHand', { raised: false });
  }

  async lowerHands(identifiers) {
    return request(this.#host, 'lowerHands', { targets: rawIds(this.#host, identifiers) });
  }

  lowerAllHands() {
    return request(this.#host, 'lowerHands', {});
  }

  /** `[{identifier, order}]`, by order. */
  getRaisedHands() {
    return this.#hands.map(({ identifier, order }) => ({ identifier, order }));
  }

  #update(list) {
    const before = new Set(this.#hands.map((h) => h.id));
    const after = new Set(list.map((h) => h.participantId));
    const lowered = this.#hands.filter((h) => !after.has(h.id));
    this.#hands = list
      .map(({ participantId, order }) => ({ id: participantId, identifier: identifierOf(this.#host, participantId), order }))
      .filter((h) => h.identifier);
    for (const hand of lowered) this[emit]('loweredHandEvent', { identifier: hand.identifier });
    for (const hand of this.#hands) {
      if (!before.has(hand.id)) this[emit]('raisedHandEvent', { identifier: hand.identifier });
    }
  }
}
