// Features.MediaStats: collectors that read the call's connection statistics (`getStats`)
// every second and report them with ACS's names — `sampleReported` each second, and every
// `aggregationInterval` × `dataPointsPerAggregation` seconds a `summaryReported` with the raw
// values and, for numbers, each aggregation point's count, sum, min and max — for audio, video
// and screen sharing, sent and received, and the transport.
import { Emitter, Feature, emit, error } from './common.js';

export function create(host) {
  return new MediaStatsCallFeature(host);
}

class MediaStatsCallFeature extends Feature {
  #host;
  #collectors = new Set();
  #disposed = false;

  constructor(host) {
    super();
    this.#host = host;
    // Collectors are let go when the call ends.
    host.on((event) => 'ended' in event && this.dispose());
  }

  get name() {
    return 'MediaStats';
  }

  /** `{aggregationInterval = 10, dataPointsPerAggregation = 6}` (seconds, points). */
  createCollector(options = {}) {
    if (this.#disposed) throw error(400, 45552, 'MediaStatsCallFeature has been disposed.');
    const interval = options.aggregationInterval ?? 10;
    const points = options.dataPointsPerAggregation ?? 6;
    if (!(interval >= 1)) throw error(400, 45550, 'Invalid aggregationInterval value range.');
    if (!(points >= 1)) throw error(400, 45551, 'invalid dataPointsPerAggregation value range.');
    const collector = new MediaStatsCollector(this.#host, Math.floor(interval), Math.floor(points), () =>
      this.#collectors.delete(collector),
    );
    this.#collectors.add(collector);
    return collector;
  }

  dispose() {
    this.#disposed = true;
    for (const collector of this.#collectors) collector.dispose();
  }
}

const GROUPS = ['audio.send', 'audio.receive', 'video.send', 'video.receive', 'screenShare.send', 'screenShare.receive', 'transports'];

class MediaStatsCollector extends Emitter {
  #host;
  #timer;
  #gone;
  #previous = new Map();
  #interval;
  #points;
  /** Seconds sampled in the current aggregation point, and points in the current summary. */
  #seconds = 0;
  #point = 0;
  /** `group/id` → `{group, id, fields: {name: {raw: [], count, sum, min, max}}}`. */
  #summary = new Map();

  constructor(host, interval, points, gone) {
    super();
    this.#host = host;
    this.#interval = interval;
    this.#points = points;
    this.#gone = gone;
    this.#timer = setInterval(() => this.#sample().catch(() => {}), 1000);
  }

  dispose() {
    clearInterval(this.#timer);
    this.#gone();
  }

  async #sample() {
    const pc = this.#host.peerConnection;
    if (!pc || pc.connectionState === 'closed') return;
    const report = await pc.getStats();
    const sample = readSample(report, this.#previous, this.#host.mediaLines);
    this[emit]('sampleReported', sample);
    this.#add(sample);
    if (++this.#seconds < this.#interval) return;
    this.#seconds = 0;
    if (++this.#point < this.#points) return;
    this[emit]('summaryReported', this.#summarize());
    this.#point = 0;
    this.#summary.clear();
  }

  #add(sample) {
    for (const group of GROUPS) {
      for (const entry of lookUp(sample, group)) {
        const key = `${group}/${entry.id}`;
        const kept = this.#summary.get(key) ?? { group, id: entry.id, fields: {} };
        this.#summary.set(key, kept);
        for (const [name, value] of Object.entries(entry)) {
          if (name === 'id' || name === 'altLayouts' || value === undefined) continue;
          const field = (kept.fields[name] ??= { raw: [], count: [], sum: [], min: [], max: [] });
          field.raw.push(value);
          if (typeof value !== 'number') continue;
          const p = this.#point;
          field.count[p] = (field.count[p] ?? 0) + 1;
          field.sum[p] = (field.sum[p] ?? 0) + value;
          field.min[p] = Math.min(field.min[p] ?? value, value);
          field.max[p] = Math.max(field.max[p] ?? value, value);
        }
      }
    }
  }

  #summarize() {
    const summary = emptyReport();
    const timestamp = new Date();
    for (const { group, id, fields } of this.#summary.values()) {
      const entry = { id };
      for (const [name, field] of Object.entries(fields)) {
        entry[name] = { raw: field.raw, timestamp };
        if (field.count.length) {
          const dense = (list) => Array.from({ length: this.#points }, (_, i) => list[i] ?? 0);
          entry[name].aggregation = { count: dense(field.count), sum: dense(field.sum), min: dense(field.min), max: dense(field.max) };
        }
      }
      lookUp(summary, group).push(entry);
    }
    return summary;
  }
}

function emptyReport() {
  return {
    audio: { send: [], receive: [] },
    video: { send: [], receive: [] },
    screenShare: { send: [], receive: [] },
    transports: [],
  };
}

function lookUp(report, group) {
  const [kind, direction] = group.split('.');
  return direction ? report[kind][direction] : report[kind];
}

/** One second's statistics, from a stats report and the previous second's counters. */
function readSample(report, previous, lines) {
  const sample = emptyReport();
  const stats = [...report.values()];
  const byId = new Map(stats.map((s) => [s.id, s]));
  const line = (mid) => lines.find((l) => l.mid === mid);
  const pair = selectedPair(stats, byId);
  const rttInMs = pair?.currentRoundTripTime === undefined ? undefined : pair.currentRoundTripTime * 1000;
  // What changed since the previous second, per counter.
  const rate = (s, name) => {
    const before = previous.get(s.id);
    if (!before || s[name] === undefined || before[name] === undefined) return undefined;
    const seconds = (s.timestamp - before.timestamp) / 1000;
    return seconds > 0 ? (s[name] - before[name]) / seconds : undefined;
  };
  const delta = (s, name) => {
    const before = previous.get(s.id);
    return before && s[name] !== undefined && before[name] !== undefined ? s[name] - before[name] : undefined;
  };
  const codec = (s) => byId.get(s.codecId)?.mimeType?.split('/')[1];
  const sentVideo = new Map();
  for (const s of stats) {
    if (s.type === 'outbound-rtp') {
      const remote = stats.find((r) => r.type === 'remote-inbound-rtp' && r.localId === s.id);
      const source = byId.get(s.mediaSourceId);
      const common = {
        id: s.id,
        codecName: codec(s),
        bitrate: bitsPerSecond(rate(s, 'bytesSent')),
        packets: s.packetsSent,
        packetsPerSecond: rate(s, 'packetsSent'),
        packetsLost: remote?.packetsLost,
        rttInMs: remote?.roundTripTime === undefined ? rttInMs : remote.roundTripTime * 1000,
        jitterInMs: remote?.jitter === undefined ? undefined : remote.jitter * 1000,
        transportId: s.transportId,
      };
      if (s.kind === 'audio') {
        sample.audio.send.push({ ...common, audioInputLevel: level(source?.audioLevel) });
        continue;
      }
      const video = {
        ...common,
        frameRateInput: source?.framesPerSecond,
        frameWidthInput: source?.width,
        frameHeightInput: source?.height,
        framesEncoded: s.framesEncoded,
        frameRateEncoded: rate(s, 'framesEncoded'),
        framesSent: s.framesSent,
        frameRateSent: s.framesPerSecond ?? rate(s, 'framesSent') ?? 0,
        frameWidthSent: s.frameWidth,
        frameHeightSent: s.frameHeight,
        keyFramesEncoded: s.keyFramesEncoded,
      };
      // Simulcast: the layers of one line are one stream, the largest first.
      const layers = sentVideo.get(s.mid) ?? [];
      layers.push(video);
      sentVideo.set(s.mid, layers);
    } else if (s.type === 'inbound-rtp') {
      const common = {
        id: s.id,
        codecName: codec(s),
        bitrate: bitsPerSecond(rate(s, 'bytesReceived')),
        packets: s.packetsReceived,
        packetsPerSecond: rate(s, 'packetsReceived'),
        packetsLost: s.packetsLost,
        packetsLostPerSecond: rate(s, 'packetsLost'),
        rttInMs,
        jitterInMs: s.jitter === undefined ? undefined : s.jitter * 1000,
        jitterBufferDelayInMs: perItem(delta(s, 'jitterBufferDelay'), delta(s, 'jitterBufferEmittedCount')),
        transportId: s.transportId,
      };
      if (s.kind === 'audio') {
        const concealed = delta(s, 'concealedSamples');
        const samples = delta(s, 'totalSamplesReceived');
        sample.audio.receive.push({
          ...common,
          audioOutputLevel: level(s.audioLevel),
          healedRatio: samples ? concealed / samples : undefined,
        });
        continue;
      }
      const carried = line(s.mid);
      const freezes = delta(s, 'freezeCount');
      const video = {
        ...common,
        streamId: carried?.streamId,
        frameRateDecoded: rate(s, 'framesDecoded') ?? 0,
        frameRateReceived: s.framesPerSecond ?? rate(s, 'framesReceived') ?? 0,
        frameWidthReceived: s.frameWidth,
        frameHeightReceived: s.frameHeight,
        longestFreezeDurationInMs: freezes ? (delta(s, 'totalFreezesDuration') / freezes) * 1000 : 0,
        totalFreezeDurationInMs: (s.totalFreezesDuration ?? 0) * 1000,
        framesReceived: s.framesReceived,
        framesDropped: s.framesDropped,
        framesDecoded: s.framesDecoded,
        keyFramesDecoded: s.keyFramesDecoded,
      };
      (carried?.source === 'screen' ? sample.screenShare : sample.video).receive.push(video);
    }
  }
  for (const [mid, layers] of sentVideo) {
    layers.sort((a, b) => (b.frameWidthSent ?? 0) - (a.frameWidthSent ?? 0));
    const [main, ...altLayouts] = layers;
    const entry = altLayouts.length ? { ...main, altLayouts } : main;
    (line(mid)?.source === 'screen' ? sample.screenShare : sample.video).send.push(entry);
  }
  if (pair) {
    sample.transports.push({
      id: pair.id,
      rttInMs,
      availableIncomingBitrate: pair.availableIncomingBitrate,
      availableOutgoingBitrate: pair.availableOutgoingBitrate,
    });
  }
  previous.clear();
  for (const s of stats) previous.set(s.id, s);
  return sample;
}

/** The transport's selected candidate pair. */
function selectedPair(stats, byId) {
  const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
  return transport ? byId.get(transport.selectedCandidatePairId) : stats.find((s) => s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded');
}

function bitsPerSecond(bytesPerSecond) {
  return bytesPerSecond === undefined ? undefined : Math.round(bytesPerSecond * 8);
}

/** An audio level (0–1) on ACS's scale (0–65536). */
function level(audioLevel) {
  return audioLevel === undefined ? undefined : Math.round(audioLevel * 65536);
}

function perItem(total, count) {
  return count ? (total / count) * 1000 : undefined;
}
