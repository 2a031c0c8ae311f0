// Features.RealTimeText: text sent as it is typed. Each message has a sequence id; partial
// versions of it follow until it is finalized, and the next message takes the next id. Every
// participant's (this one's included, `isLocal`) arrives as `realTimeTextReceived`.
import { Feature, emit, error, request } from './common.js';

const MAX_CHARS = 2000;

export function create(host) {
  return new RealTimeTextFeature(host);
}

class RealTimeTextFeature extends Feature {
  #host;
  #sequenceId = 0;
  /** When each participant's message (`participant/sequence`) was first received. */
  #first = new Map();

  constructor(host) {
    super();
    this.#host = host;
    host.on(({ realTimeText: t }) => t && this.#received(t.participantId, t.sequenceId, t.text, t.finalized, false));
  }

  get name() {
    return 'RealTimeText';
  }

  /** Sends the text of the current message; `finalized` ends it. */
  async sendRealTimeText(text, finalized = false) {
    if (typeof text !== 'string') throw error(400, 41001, 'sendRealTimeText takes a string');
    if ([...text].length > MAX_CHARS) throw error(400, 40005, `real-time text takes at most ${MAX_CHARS} characters a message`);
    const sequenceId = this.#sequenceId;
    if (finalized) this.#sequenceId++;
    await request(this.#host, 'realTimeText', { sequenceId, text, finalized: Boolean(finalized) });
    const me = this.#host.me;
    if (me !== undefined) this.#received(me, sequenceId, text, finalized, true);
  }

  #received(participantId, sequenceId, text, finalized, isLocal) {
    const who = this.#host.participant(participantId);
    if (!who) return;
    const key = `${participantId}/${sequenceId}`;
    const now = new Date();
    const receivedTimestamp = this.#first.get(key) ?? now;
    if (finalized) this.#first.delete(key);
    else this.#first.set(key, receivedTimestamp);
    this[emit]('realTimeTextReceived', {
      sequenceId,
      sender: { identifier: who.identifier, displayName: who.displayName },
      text,
      resultType: finalized ? 'Final' : 'Partial',
      receivedTimestamp,
      updatedTimestamp: now,
      isLocal,
    });
  }
}
