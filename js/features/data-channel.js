// Features.DataChannel: app messages to some or all participants over the service's SCTP data
// channels (rtcall-server's SFU routes them; see `DataMessage` in
// crates/protocol/src/features.rs for the framing). Asking for the feature asks the service to
// open this endpoint's two channels, durable (reliable, ordered) and lossy (neither). Senders
// send on an app channel id; each (sender, channel id) heard becomes a receiver, announced by
// `dataChannelReceiverCreated`, whose messages are read with `readMessage()` on `messageReady`.
import { Emitter, Feature, emit, error, identifierOf, request } from './common.js';

const MAX_MESSAGE_SIZE = 32 * 1024;
const MAX_PARTICIPANTS = 64;
const DURABLE = 'rtcall-durable';
const LOSSY = 'rtcall-lossy';
/** A receiver that hears nothing for this long closes (ACS's two minutes). */
const RECEIVER_IDLE_MS = 120_000;

export function create(host) {
  return new DataChannelCallFeature(host);
}

class DataChannelCallFeature extends Feature {
  #host;
  /** The service's channels by label, and who waits for them to open. */
  #channels = new Map();
  #waiting = [];
  #senders = new Map();
  #receivers = new Map();

  constructor(host) {
    super();
    this.#host = host;
    host.on((event) => {
      if (event.dataChannel) this.#adopt(event.dataChannel);
      if ('ended' in event) this.#end();
    });
    for (const channel of host.dataChannels) this.#adopt(channel);
    request(host, 'openDataChannel').catch((e) => console.warn('rtcall: no data channels:', e.message));
  }

  get name() {
    return 'DataChannel';
  }

  /**
   * `{channelId?, reliability?: 'Durable' | 'Lossy', priority?: 'High' | 'Normal',
   * bitrateInKbps?, participants?}`: a sender on that channel id (a new one closes the
   * channel's earlier sender).
   */
  createDataChannelSender(options = {}) {
    const { channelId = 0, reliability = 'Durable', priority = 'Normal', bitrateInKbps = 32, participants = [] } = options;
    if (!Number.isInteger(channelId) || channelId < 0 || channelId > 65535) throw error(400, 45303, `Invalid channel id ${channelId}`);
    if (!['Durable', 'Lossy'].includes(reliability) || !['High', 'Normal'].includes(priority)) throw error(400, 45321, 'Wrong value specified.');
    if (!(bitrateInKbps > 0)) throw error(400, 45304, 'Invalid bitrateInKbps');
    const id = channelId || 1024 + Math.floor(Math.random() * (65536 - 1024));
    this.#senders.get(id)?.close();
    const sender = new DataChannelSender(this, id, reliability === 'Durable' ? DURABLE : LOSSY, participants);
    this.#senders.set(id, sender);
    return sender;
  }

  dispose() {
    this.#end();
  }

  /** Participant ids of identifiers (each endpoint of each), for a message's header. */
  recipients(identifiers) {
    if (!Array.isArray(identifiers)) throw error(400, 45320, 'Wrong argument type specified.');
    if (identifiers.length > MAX_PARTICIPANTS) throw error(400, 45306, 'Too many participants');
    return identifiers.flatMap((identifier) => this.#host.participantIds(identifier));
  }

  /** The open channel of a label, once it is. */
  async channel(label) {
    const open = this.#channels.get(label);
    if (open?.readyState === 'open') return open;
    return new Promise((resolve) => this.#waiting.push({ label, resolve }));
  }

  forget(sender) {
    if (this.#senders.get(sender.channelId) === sender) this.#senders.delete(sender.channelId);
  }

  #adopt(channel) {
    if (channel.label !== DURABLE && channel.label !== LOSSY) return;
    channel.binaryType = 'arraybuffer';
    this.#channels.set(channel.label, channel);
    const opened = () => {
      const ready = this.#waiting.filter((w) => w.label === channel.label);
      this.#waiting = this.#waiting.filter((w) => w.label !== channel.label);
      for (const w of ready) w.resolve(channel);
    };
    if (channel.readyState === 'open') opened();
    else channel.addEventListener('open', opened);
    channel.addEventListener('message', ({ data }) => data instanceof ArrayBuffer && this.#receive(new Uint8Array(data)));
  }

  #receive(bytes) {
    if (bytes.length < 12 || bytes[0] !== 1) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const channelId = view.getUint16(2);
    const sequenceNumber = view.getUint32(4);
    const from = view.getUint32(8);
    const key = `${from}/${channelId}`;
    let receiver = this.#receivers.get(key);
    if (!receiver) {
      const identifier = identifierOf(this.#host, from);
      if (!identifier) return;
      receiver = new DataChannelReceiver(channelId, identifier, () => this.#receivers.delete(key));
      this.#receivers.set(key, receiver);
      this[emit]('dataChannelReceiverCreated', receiver);
    }
    receiver.deliver({ sequenceNumber, data: bytes.slice(12) });
  }

  #end() {
    for (const sender of [...this.#senders.values()]) sender.close();
    for (const receiver of [...this.#receivers.values()]) receiver.close();
  }
}

class DataChannelSender {
  #feature;
  #label;
  #recipients;
  #sequence = Math.floor(Math.random() * 2 ** 32);
  #closed = false;

  constructor(feature, channelId, label, participants) {
    this.#feature = feature;
    this.channelId = channelId;
    this.#label = label;
    this.#recipients = feature.recipients(participants);
  }

  get maxMessageSize() {
    return MAX_MESSAGE_SIZE;
  }

  /** Who gets the messages (at most 64; none: everyone in the call). */
  setParticipants(participants) {
    this.#recipients = this.#feature.recipients(participants);
  }

  async sendMessage(data) {
    if (this.#closed) throw error(400, 45312, 'The sender has been closed');
    if (!(data instanceof Uint8Array)) throw error(400, 45320, 'Wrong argument type specified.');
    if (data.length === 0) throw error(400, 45308, 'Message data is empty');
    if (data.length > MAX_MESSAGE_SIZE) throw error(400, 45309, 'The size of message data is too large');
    const recipients = this.#recipients;
    const message = new Uint8Array(9 + recipients.length * 4 + data.length);
    const view = new DataView(message.buffer);
    message[0] = 1;
    view.setUint16(2, this.channelId);
    view.setUint32(4, this.#sequence);
    this.#sequence = (this.#sequence + 1) >>> 0;
    message[8] = recipients.length;
    recipients.forEach((id, i) => view.setUint32(9 + i * 4, id));
    message.set(data, 9 + recipients.length * 4);
    const channel = await this.#feature.channel(this.#label);
    if (this.#closed) throw error(400, 45312, 'The sender has been closed');
    channel.send(message);
  }

  close() {
    this.#closed = true;
    this.#feature.forget(this);
  }
}

class DataChannelReceiver extends Emitter {
  #messages = [];
  #idle;
  #gone;

  constructor(channelId, identifier, gone) {
    super();
    this.channelId = channelId;
    this.senderParticipantIdentifier = identifier;
    this.#gone = gone;
    this.#idle = setTimeout(() => this.close(), RECEIVER_IDLE_MS);
  }

  /** The next message, oldest first: `{sequenceNumber, data}`. */
  readMessage() {
    return this.#messages.shift();
  }

  deliver(message) {
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.close(), RECEIVER_IDLE_MS);
    this.#messages.push(message);
    // After the current task: a receiver just announced gets its listeners first.
    queueMicrotask(() => this[emit]('messageReady'));
  }

  close() {
    clearTimeout(this.#idle);
    this.#gone();
    this[emit]('close');
  }
}
