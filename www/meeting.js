// What a meeting adds to a call, each through its ACS call feature: raised hands, reactions,
// spotlights, muting others, the lobby, a chat over the data channel, and a call-quality
// panel. Buttons follow the capabilities the service gives this participant. The call view
// makes one `Meeting` per call and tells it who is in the call (`person`).
import { Features } from 'rtcall';
import { $, act, el, showStatus } from './ui.js';

const REACTIONS = [
  ['like', '👍'],
  ['heart', '❤️'],
  ['laugh', '😂'],
  ['applause', '👏'],
  ['surprised', '😮'],
];
const CHAT_CHANNEL = 7;

const rawId = (identifier) =>
  identifier.rawId ?? identifier.communicationUserId ?? (identifier.phoneNumber && `4:${identifier.phoneNumber}`) ?? identifier.id;

export class Meeting {
  /** `on(target, event, listener)` subscribes for the call's life; `myId` is this user's raw id. */
  constructor(call, { on, myId, nameOf, relayout }) {
    this.call = call;
    this.on = on;
    this.relayout = relayout;
    this.myId = myId;
    this.nameOf = nameOf;
    /** Raw id → `{tile, item}` of the people in the call. */
    this.people = new Map();
    this.hands = call.feature(Features.RaiseHand);
    this.reactions = call.feature(Features.Reaction);
    this.spotlight = call.feature(Features.Spotlight);
    this.capabilities = call.feature(Features.Capabilities);
    this.controls();
    this.chat();
    this.lobby();
    this.quality();
    on(this.hands, 'raisedHandEvent', () => this.showHands());
    on(this.hands, 'loweredHandEvent', () => this.showHands());
    on(this.reactions, 'reaction', ({ identifier, reactionMessage }) => this.showReaction(rawId(identifier), reactionMessage.reactionType));
    on(this.spotlight, 'spotlightChanged', () => this.showSpotlight());
    on(this.capabilities, 'capabilitiesChanged', () => this.allow());
    on(call, 'roleChanged', () => ($('my-role').textContent = call.role === 'Unknown' ? '' : call.role));
    $('my-role').textContent = '';
  }

  may(capability) {
    return this.capabilities.capabilities[capability]?.isPresent === true;
  }

  /** Hand, reactions, mute everyone: the buttons of the call bar. */
  controls() {
    $('raise-hand').onclick = () =>
      act('Cannot raise your hand', () => (this.handUp() ? this.hands.lowerHand() : this.hands.raiseHand()));
    $('reactions').replaceChildren(
      ...REACTIONS.map(([type, emoji]) => {
        const button = el('button', { type: 'button', class: 'quiet', 'aria-label': `React: ${type}` }, emoji);
        button.addEventListener('click', () => act('Cannot react', () => this.reactions.sendReaction({ reactionType: type })));
        return button;
      }),
    );
    $('mute-all').onclick = () => act('Cannot mute everyone', () => this.call.muteAllRemoteParticipants());
    $('lower-hands').onclick = () => act('Cannot lower hands', () => this.hands.lowerAllHands());
    this.allow();
    this.showHands();
  }

  handUp() {
    return this.hands.getRaisedHands().some((h) => rawId(h.identifier) === this.myId);
  }

  /** Shows what this participant may do, as the service says. */
  allow() {
    $('mute-all').hidden = !this.may('muteOthers');
    $('lower-hands').hidden = !this.may('muteOthers');
    for (const { mute, spot } of this.people.values()) {
      mute.hidden = !this.may('muteOthers');
      spot.hidden = !this.may('spotlightParticipant');
    }
    $('lobby-panel').hidden = !this.may('manageLobby');
  }

  /** A person in the call: their tile and roster line get a hand, reactions, and buttons. */
  person(participant, { tile, item }) {
    const id = rawId(participant.identifier);
    const mute = el('button', { type: 'button', class: 'quiet small', 'aria-label': `Mute ${this.nameOf(participant)}` }, 'Mute');
    mute.addEventListener('click', () => act('Cannot mute', () => participant.mute()));
    const spot = el('button', { type: 'button', class: 'quiet small', 'aria-label': `Spotlight ${this.nameOf(participant)}` }, 'Spotlight');
    spot.addEventListener('click', () =>
      act('Cannot spotlight', () =>
        this.isSpotlighted(id) ? this.spotlight.stopSpotlight([participant.identifier]) : this.spotlight.startSpotlight([participant.identifier]),
      ),
    );
    item.append(mute, spot);
    this.people.set(id, { tile, item, mute, spot, participant });
    this.allow();
    this.showHands();
    this.showSpotlight();
  }

  gone(participant) {
    this.people.delete(rawId(participant.identifier));
  }

  /** The local tile counts as a person for hands, reactions and spotlights. */
  self(tile) {
    this.people.set(this.myId, { tile, item: undefined, mute: el('span'), spot: el('span') });
  }

  showHands() {
    const raised = new Map(this.hands.getRaisedHands().map((h) => [rawId(h.identifier), h.order]));
    for (const [id, { tile, item }] of this.people) {
      const order = raised.get(id);
      tile.element.classList.toggle('hand', order !== undefined);
      tile.element.dataset.hand = order ?? '';
      item?.classList.toggle('hand', order !== undefined);
    }
    const up = this.handUp();
    $('raise-hand').setAttribute('aria-pressed', String(up));
    $('raise-hand').textContent = up ? 'Lower hand' : 'Raise hand';
  }

  showReaction(id, type) {
    const emoji = REACTIONS.find(([t]) => t === type)?.[1] ?? type;
    const tile = this.people.get(id)?.tile;
    if (!tile) return;
    const bubble = el('span', { class: 'reaction', role: 'img', 'aria-label': type }, emoji);
    tile.element.append(bubble);
    setTimeout(() => bubble.remove(), 4000);
  }

  isSpotlighted(id) {
    return this.spotlight.getSpotlightedParticipants().some((s) => rawId(s.identifier) === id);
  }

  /** Whether a remote participant is in the spotlight (the gallery shows them first). */
  spotlighted(participant) {
    return this.isSpotlighted(rawId(participant.identifier));
  }

  showSpotlight() {
    for (const [id, { tile, spot }] of this.people) {
      const on = this.isSpotlighted(id);
      tile.element.classList.toggle('spotlight', on);
      spot.textContent = on ? 'Stop spotlight' : 'Spotlight';
    }
    this.relayout();
  }

  /** A chat over the call's data channel: text to everyone, in order. */
  chat() {
    const dataChannel = this.call.feature(Features.DataChannel);
    const sender = dataChannel.createDataChannelSender({ channelId: CHAT_CHANNEL });
    $('chat-log').replaceChildren();
    const say = (who, text, mine) => {
      $('chat-log').append(el('li', { class: mine ? 'mine' : '' }, el('b', {}, `${who}: `), text));
      $('chat-log').scrollTop = $('chat-log').scrollHeight;
    };
    this.on(dataChannel, 'dataChannelReceiverCreated', (receiver) => {
      if (receiver.channelId !== CHAT_CHANNEL) return;
      const from = this.people.get(rawId(receiver.senderParticipantIdentifier))?.participant;
      receiver.on('messageReady', () => {
        const message = receiver.readMessage();
        if (message) say(from ? this.nameOf(from) : 'Someone', new TextDecoder().decode(message.data), false);
      });
    });
    $('chat-form').onsubmit = (e) => {
      e.preventDefault();
      const text = $('chat-input').value.trim();
      if (!text) return;
      $('chat-input').value = '';
      act('Cannot send the message', async () => {
        await sender.sendMessage(new TextEncoder().encode(text));
        say('You', text, true);
      });
    };
  }

  /** Who waits in the lobby, with admit and turn away (shown to those who may). */
  lobby() {
    const lobby = this.call.lobby;
    const list = () => {
      $('lobby-list').replaceChildren(
        ...lobby.participants.map((p) => {
          const name = this.nameOf(p);
          const admit = el('button', { type: 'button', class: 'small', 'aria-label': `Admit ${name}` }, 'Admit');
          admit.addEventListener('click', () => act('Cannot admit', () => lobby.admit(p.identifier)));
          const reject = el('button', { type: 'button', class: 'quiet small', 'aria-label': `Turn ${name} away` }, 'Turn away');
          reject.addEventListener('click', () => act('Cannot turn away', () => lobby.reject(p.identifier)));
          return el('li', {}, el('span', { class: 'person' }, name), admit, reject);
        }),
      );
      const waiting = lobby.participants.length;
      $('admit-all').hidden = waiting === 0;
      $('lobby-empty').hidden = waiting > 0;
      if (waiting) showStatus(`${waiting} waiting in the lobby.`);
      else if ($('status').textContent.endsWith('waiting in the lobby.')) showStatus('');
    };
    this.on(lobby, 'lobbyParticipantsUpdated', list);
    $('admit-all').onclick = () => act('Cannot admit', () => lobby.admitAll());
    list();
  }

  /** The call-quality panel: this second's statistics of what is sent and received. */
  quality() {
    const collector = this.call.feature(Features.MediaStats).createCollector();
    this.on(collector, 'sampleReported', (sample) => {
      const kbps = (list) => Math.round(list.reduce((sum, s) => sum + (s.bitrate ?? 0), 0) / 1000);
      const [audioIn] = sample.audio.receive;
      const [videoOut] = sample.video.send;
      const videoIn = sample.video.receive.filter((v) => v.frameRateDecoded > 0);
      const rtt = sample.transports[0]?.rttInMs;
      const rows = {
        'Sending': `${kbps([...sample.audio.send, ...sample.video.send, ...sample.screenShare.send])} kb/s`,
        'Receiving': `${kbps([...sample.audio.receive, ...sample.video.receive, ...sample.screenShare.receive])} kb/s`,
        'Round trip': rtt === undefined ? '–' : `${Math.round(rtt)} ms`,
        'Audio jitter': audioIn?.jitterInMs === undefined ? '–' : `${Math.round(audioIn.jitterInMs)} ms`,
        'Audio lost': audioIn?.packetsLost === undefined ? '–' : `${audioIn.packetsLost} packets`,
        'My video': videoOut?.frameWidthSent ? `${videoOut.frameWidthSent}×${videoOut.frameHeightSent} at ${Math.round(videoOut.frameRateSent)} fps` : 'off',
        'Videos in': videoIn.length ? videoIn.map((v) => `${v.frameWidthReceived}×${v.frameHeightReceived} ${Math.round(v.frameRateDecoded)} fps`).join(', ') : 'none',
      };
      $('quality-list').replaceChildren(...Object.entries(rows).flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value)]));
    });
    this.stopQuality = () => collector.dispose();
  }

  end() {
    this.stopQuality?.();
  }
}
