// Features.Reaction: send a reaction to everyone in the call; hear everyone's (this endpoint's
// own included) as `reaction` events.
import { Feature, emit, error, identifierOf, request } from './common.js';

const REACTIONS = ['like', 'heart', 'laugh', 'surprised', 'applause'];

export function create(host) {
  return new ReactionCallFeature(host);
}

class ReactionCallFeature extends Feature {
  #host;

  constructor(host) {
    super();
    this.#host = host;
    host.on(({ reaction }) => {
      const identifier = reaction && identifierOf(host, reaction.participantId);
      if (identifier) {
        this[emit]('reaction', { identifier, reactionMessage: { reactionType: reaction.reaction } });
      }
    });
  }

  get name() {
    return 'Reaction';
  }

  /** `{reactionType: 'like' | 'heart' | 'laugh' | 'surprised' | 'applause'}`. */
  async sendReaction(reactionMessage) {
    const reaction = reactionMessage?.reactionType;
    if (!REACTIONS.includes(reaction)) {
      throw error(400, 41001, `reactionType must be one of ${REACTIONS.join(', ')}`);
    }
    return request(this.#host, 'reaction', { reaction });
  }
}
