// Features.OptimalVideoCount: how many remote videos to show at once, from what the connection
// carries (the browser's estimate of incoming bandwidth, about 250 kb/s a tile) and what the
// device is (16 on a desktop, 4 on a phone, 9 on a two-core machine). It changes at most every
// ten seconds, as ACS's does.
import { Feature, emit } from './common.js';

const PER_VIDEO_BPS = 250_000;
const CHECK_MS = 2_000;
const COOLDOWN_MS = 10_000;

export function create(host) {
  return new OptimalVideoCountCallFeature(host);
}

function deviceLimit() {
  const phone = navigator.userAgentData?.mobile ?? /Mobi|Android|iPhone/.test(navigator.userAgent);
  if (phone) return 4;
  return (navigator.hardwareConcurrency ?? 4) <= 2 ? 9 : 16;
}

class OptimalVideoCountCallFeature extends Feature {
  #host;
  #count = deviceLimit();
  #reason = deviceLimit() < 16 ? 'performance' : 'unknown';
  #changedAt = 0;
  #timer;

  constructor(host) {
    super();
    this.#host = host;
    this.#timer = setInterval(() => this.#check().catch(() => {}), CHECK_MS);
    host.on((event) => 'ended' in event && this.dispose());
  }

  get name() {
    return 'OptimalVideoCount';
  }

  get optimalVideoCount() {
    return this.#count;
  }

  /** Why it last changed: `bandwidth`, `performance`, `externalLimit` or `unknown`. */
  get lastOvcChangeReason() {
    return this.#reason;
  }

  dispose() {
    clearInterval(this.#timer);
  }

  async #check() {
    const pc = this.#host.peerConnection;
    if (!pc || pc.connectionState !== 'connected') return;
    let incoming;
    for (const s of (await pc.getStats()).values()) {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') incoming = s.availableIncomingBitrate;
    }
    const limit = deviceLimit();
    const byBandwidth = incoming === undefined ? limit : Math.max(1, Math.floor(incoming / PER_VIDEO_BPS));
    const count = Math.min(limit, byBandwidth);
    const now = Date.now();
    if (count === this.#count || now - this.#changedAt < COOLDOWN_MS) return;
    this.#count = count;
    this.#reason = byBandwidth < limit ? 'bandwidth' : 'performance';
    this.#changedAt = now;
    this[emit]('optimalVideoCountChanged');
  }
}
