// Features.Transfer: blind transfer of a 1:1 call to a user or a phone number. `transfer()`
// returns a `Transfer` at once whose state follows the service (Transferring, then Transferred
// or Failed with why); the other side of a transferred call hears `transferAccepted` with its
// new call.
import { Emitter, Feature, emit, error, request } from './common.js';

export function create(host) {
  return new TransferCallFeature(host);
}

class TransferCallFeature extends Feature {
  #host;
  #current;

  constructor(host) {
    super();
    this.#host = host;
    host.on((event) => {
      if (event.transfer) this.#current?.settle(event.transfer.state, event.transfer.error);
      if (event.transferAccepted) this[emit]('transferAccepted', { targetCall: event.transferAccepted.targetCall });
    });
  }

  get name() {
    return 'Transfer';
  }

  /** `{targetParticipant}`: a user or a phone number. */
  transfer(target, _options) {
    if (!target?.targetParticipant) {
      throw error(501, 41011, 'rtcall transfers to a participant ({targetParticipant}); not to a call or voicemail');
    }
    const raw = this.#host.rawId(target.targetParticipant);
    const transfer = new Transfer();
    this.#current = transfer;
    request(this.#host, 'transfer', { target: raw }).catch((e) => transfer.settle('Failed', { code: e.code, subCode: e.subCode }));
    return transfer;
  }
}

class Transfer extends Emitter {
  state = 'Transferring';
  error = undefined;

  settle(state, why) {
    if (this.state === state || this.state === 'Transferred' || this.state === 'Failed') return;
    this.state = state;
    if (why) this.error = { code: why.code, subCode: why.subCode };
    this[emit]('stateChanged');
  }
}
