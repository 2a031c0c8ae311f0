// The in-call screen: gallery (local preview mirrored, a page of remote cameras with the
// dominant speaker first, a screen share large on the stage), the roster with states, mute and
// speaking, the controls, and the echo test's report; the meeting features (hands, reactions, spotlight, muting others, lobby, chat, call
// quality) are `Meeting`'s. One `CallView` per call; it hands the call back to the lobby when
// it ends.
import { DeepNoiseSuppressionEffect, DiagnosticQuality, Features, LocalVideoStream, VideoStreamRenderer } from 'rtcall';
import { Meeting } from './meeting.js';
import { $, act, el, initials, showStatus } from './ui.js';

/** A participant's name to show. */
const nameOf = (participant) =>
  participant.displayName || participant.identifier.phoneNumber || participant.identifier.communicationUserId || 'Someone';

/** Remote tiles on one page of the gallery: a phone's screen fits four, a desktop's nine. */
const pageSize = () => (matchMedia('(max-width: 640px)').matches ? 4 : 9);

/** A call's end reason, in words. */
export function endReasonText({ code, subCode }, leftByMe) {
  const known = {
    '0/0': leftByMe ? 'You left the call.' : 'The call ended: the other side hung up.',
    '0/4097': 'The call was ended for everyone.',
    '0/4521': 'The other side left abruptly.',
    '0/5000': 'You were removed from the call.',
    '0/5300': 'You were removed from the call.',
    '0/5003': 'Everyone declined the call.',
    '487/0': 'The caller cancelled.',
    '487/10003': 'The call was answered on another device.',
    '487/10004': 'Nobody answered.',
    '480/10037': 'Nobody is signed in with that id right now.',
    '603/0': 'The call was declined.',
    '404/10404': 'There is no user with that id.',
    '410/3100': 'The media connection failed.',
    '496/7': 'The connection to the service was lost.',
  };
  return `${known[`${code}/${subCode}`] ?? 'The call ended.'} (${code}/${subCode})`;
}

/** Why a participant left, in words (shown briefly in the roster). */
function leftText({ code, subCode }) {
  if (code === 0 && (subCode === 5000 || subCode === 5300)) return 'removed';
  if (code === 603) return 'declined';
  if (code === 487 && subCode === 10004) return 'no answer';
  if (code === 480 || code === 404) return 'unreachable';
  return 'left';
}

export class CallView {
  /**
   * `camera()` gives the selected camera's VideoDeviceInfo, `localVideo.stream` is the app's one
   * camera LocalVideoStream (made on first use), `echo` marks a device test call, `myId` is this
   * user's identity, `onEnd` is called with the end reason once the call is over.
   */
  constructor(call, { camera, localVideo, echo, myId, onEnd }) {
    this.call = call;
    this.selectedCamera = camera;
    this.localVideo = localVideo;
    this.onEnd = onEnd;
    this.leftByMe = false;
    this.renderers = new Map(); // stream -> VideoStreamRenderer
    this.people = new Map(); // participant -> { item, tile }
    this.page = 0; // of the gallery's remote tiles
    this.dominant = call.feature(Features.DominantSpeakers);
    this.listeners = [];
    $('gallery').replaceChildren();
    $('stage').replaceChildren();
    $('stage').hidden = true;
    $('roster').replaceChildren();
    $('echo-report').hidden = !echo;
    $('add-form').hidden = echo;
    $('end-for-all').hidden = echo;
    $('call-title').textContent = echo ? 'Testing your devices' : 'Call';
    this.localTile = this.tile('You', 'local');
    $('gallery').append(this.localTile.element);
    $('page-prev').onclick = () => this.turn(-1);
    $('page-next').onclick = () => this.turn(1);
    // The device test has no one to meet.
    $('raise-hand').hidden = echo;
    $('reactions').hidden = echo;
    $('meeting-panels').hidden = echo;
    if (!echo) {
      this.meeting = new Meeting(call, { on: (t, e, l) => this.on(t, e, l), myId, nameOf, relayout: () => this.layout() });
      this.meeting.self(this.localTile);
    }

    this.on(call, 'stateChanged', () => this.stateChanged());
    this.on(call, 'isMutedChanged', () => this.controls());
    this.on(call, 'isScreenSharingOnChanged', () => this.controls());
    this.on(call, 'isLocalVideoStartedChanged', () => this.controls());
    this.on(call, 'localVideoStreamsUpdated', ({ added, removed }) => {
      added.forEach((s) => this.showLocal(s));
      removed.forEach((s) => this.hideLocal(s));
    });
    this.on(call, 'remoteParticipantsUpdated', ({ added, removed }) => {
      added.forEach((p) => this.join(p));
      removed.forEach((p) => this.leave(p));
    });
    this.on(this.dominant, 'dominantSpeakersChanged', () => this.highlightDominant());
    if (echo) {
      const feature = call.feature(Features.EchoTest);
      this.on(feature, 'reportChanged', () => this.echoReport(feature.report));
    }
    call.remoteParticipants.forEach((p) => this.join(p));
    this.layout(); // no one else yet: no pages left over from the last call
    call.localVideoStreams.forEach((s) => this.showLocal(s));
    this.keypad();
    this.microphone();
    // A nudge when the muted microphone hears the user talk.
    $('muted-hint').hidden = true;
    const diagnostics = call.feature(Features.UserFacingDiagnostics);
    this.on(diagnostics.media, 'diagnosticChanged', ({ diagnostic, value }) => {
      if (diagnostic === 'speakingWhileMicrophoneIsMuted') $('muted-hint').hidden = !value;
    });
    // The network drops: the call stays, and says it is reconnecting (here, or someone's tile).
    $('reconnecting').hidden = true;
    const network = new Map();
    this.on(diagnostics.network, 'diagnosticChanged', ({ diagnostic, value }) => {
      network.set(diagnostic, value);
      const offline = network.get('noNetwork') === true;
      $('reconnecting').textContent = offline ? 'No network: reconnecting…' : 'Reconnecting…';
      $('reconnecting').hidden = !offline && network.get('networkReconnect') !== DiagnosticQuality.Bad;
    });
    this.on(diagnostics.remote, 'diagnosticChanged', ({ diagnostics: changed }) => {
      for (const { diagnostic, value, remoteParticipant } of changed) {
        const entry = diagnostic === 'networkReconnect' && this.people.get(remoteParticipant);
        if (!entry) continue;
        entry.tile.element.classList.toggle('reconnecting', value === DiagnosticQuality.Bad);
        entry.item.classList.toggle('reconnecting', value === DiagnosticQuality.Bad);
      }
    });
    this.stateChanged();
  }

  /** Telephone keys, shown while a phone is in the call: they go to it as DTMF, and keys a
   * phone presses are said in the status line. */
  keypad() {
    const keys = [
      ['1', 'Num1'], ['2', 'Num2'], ['3', 'Num3'], ['4', 'Num4'], ['5', 'Num5'], ['6', 'Num6'],
      ['7', 'Num7'], ['8', 'Num8'], ['9', 'Num9'], ['*', 'Star'], ['0', 'Num0'], ['#', 'Pound'],
    ];
    $('keypad').replaceChildren(
      ...keys.map(([label, tone]) => {
        const key = el('button', { type: 'button', class: 'quiet', 'aria-label': `Key ${label}` }, label);
        key.addEventListener('click', () => act('Cannot send the key', () => this.call.sendDtmf(tone)));
        return key;
      }),
    );
    const showKeypad = () => {
      $('keypad').hidden = !this.call.remoteParticipants.some((p) => p.identifier.kind === 'phoneNumber');
    };
    this.on(this.call, 'remoteParticipantsUpdated', showKeypad);
    showKeypad();
    this.on(this.call, 'dtmfReceived', ({ participant, tone }) => {
      const label = keys.find(([, t]) => t === tone)?.[0] ?? tone;
      showStatus(`${participant?.identifier.phoneNumber ?? 'The phone'} pressed ${label}.`);
    });
  }

  /** The microphone's level meter and the noise-suppression switch (rtcall's, in a worklet). */
  async microphone() {
    const [stream] = this.call.localAudioStreams;
    $('mic-level').value = 0;
    $('noise-suppression').checked = false;
    if (!stream) return;
    this.effects = stream.feature(Features.AudioEffects);
    this.on(this.effects, 'effectsStarted', () => ($('noise-suppression').checked = true));
    this.on(this.effects, 'effectsStopped', () => ($('noise-suppression').checked = false));
    $('noise-suppression-label').hidden = !(await this.effects.isSupported(new DeepNoiseSuppressionEffect()));
    await act('Cannot show the microphone level', async () => {
      const volume = await stream.getVolume();
      this.on(volume, 'levelChanged', () => ($('mic-level').value = volume.level));
    });
  }

  async toggleNoiseSuppression(on) {
    await act('Cannot change noise suppression', async () => {
      if (on) await this.effects?.startEffects({ noiseSuppression: new DeepNoiseSuppressionEffect() });
      else await this.effects?.stopEffects({ noiseSuppression: true });
    });
    $('noise-suppression').checked = this.effects?.activeEffects.noiseSuppression === 'DeepNoiseSuppression';
  }

  on(target, event, listener) {
    target.on(event, listener);
    this.listeners.push(() => target.off(event, listener));
  }

  // ---- tiles and views ----

  tile(name, kind) {
    const video = el('div', { class: 'video' });
    const label = el('span', { class: 'name' }, name);
    const avatar = el('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(name));
    const element = el('figure', { class: `tile ${kind}` }, avatar, video, el('figcaption', {}, label));
    return { element, video, label, avatar };
  }

  async render(stream, container, options) {
    if (this.renderers.has(stream)) return;
    const renderer = new VideoStreamRenderer(stream);
    this.renderers.set(stream, renderer);
    await act('Cannot show a video', async () => {
      const view = await renderer.createView(options);
      // The stream may have gone while the view was being made.
      if (this.renderers.get(stream) !== renderer) return view.dispose();
      container.replaceChildren(view.target);
      container.closest('.tile')?.classList.add('has-video');
    });
  }

  hide(stream) {
    const renderer = this.renderers.get(stream);
    if (!renderer) return;
    this.renderers.delete(stream);
    renderer.dispose();
    for (const tile of document.querySelectorAll('.tile.has-video')) {
      if (!tile.querySelector('video')) tile.classList.remove('has-video');
    }
    if (!$('stage').querySelector('video')) $('stage').hidden = true;
  }

  showLocal(stream) {
    if (stream.mediaStreamType === 'ScreenSharing') {
      const tile = this.tile('Your screen', 'local-screen');
      $('gallery').append(tile.element);
      this.localScreen = tile;
      this.render(stream, tile.video);
    } else {
      this.render(stream, this.localTile.video, { isMirrored: true });
    }
  }

  hideLocal(stream) {
    this.hide(stream);
    if (stream.mediaStreamType === 'ScreenSharing') {
      this.localScreen?.element.remove();
      this.localScreen = undefined;
    }
  }

  // ---- participants ----

  join(participant) {
    const name = () => nameOf(participant);
    const tile = this.tile(name(), 'remote');
    $('gallery').append(tile.element);
    const state = el('span', { class: 'badge' });
    const muted = el('span', { class: 'muted', title: 'Muted' }, 'muted');
    const speaking = el('span', { class: 'speaking', title: 'Speaking' }, 'speaking');
    const remove = el('button', { type: 'button', class: 'quiet small', 'aria-label': `Remove ${name()}` }, 'Remove');
    remove.addEventListener('click', () =>
      act(`Cannot remove ${name()}`, () => this.call.removeParticipant(participant.identifier)),
    );
    const label = el('span', { class: 'person' }, name());
    const item = el('li', {}, label, state, muted, speaking, remove);
    $('roster').append(item);
    const entry = { item, tile, state, muted, speaking, label, remove };
    this.people.set(participant, entry);
    const update = () => {
      entry.state.textContent = participant.state;
      entry.muted.hidden = !participant.isMuted;
      entry.speaking.hidden = !participant.isSpeaking;
      entry.label.textContent = name();
      tile.label.textContent = name();
      tile.avatar.textContent = initials(name());
      tile.element.classList.toggle('speaking', participant.isSpeaking);
      item.dataset.state = participant.state;
      entry.remove.setAttribute('aria-label', `Remove ${name()}`);
      entry.remove.hidden = participant.state === 'Disconnected' || $('add-form').hidden;
    };
    for (const event of ['stateChanged', 'isMutedChanged', 'isSpeakingChanged', 'displayNameChanged']) {
      this.on(participant, event, update);
    }
    const watch = (stream) => {
      const show = () => {
        if (!stream.isAvailable) return this.hide(stream);
        if (stream.mediaStreamType === 'ScreenSharing') {
          $('stage').hidden = false;
          const holder = el('div', { class: 'video' });
          $('stage').replaceChildren(holder, el('p', { class: 'stage-label' }, `${name()} is sharing`));
          this.render(stream, holder);
        } else {
          this.layout();
        }
      };
      this.on(stream, 'isAvailableChanged', show);
      show();
    };
    participant.videoStreams.forEach(watch);
    this.on(participant, 'videoStreamsUpdated', ({ added, removed }) => {
      added.forEach(watch);
      removed.forEach((s) => this.hide(s));
    });
    update();
    this.meeting?.person(participant, entry);
    this.layout();
  }

  leave(participant) {
    const entry = this.people.get(participant);
    if (!entry) return;
    this.people.delete(participant);
    this.meeting?.gone(participant);
    participant.videoStreams.forEach((s) => this.hide(s));
    entry.tile.element.remove();
    entry.state.textContent = participant.callEndReason ? leftText(participant.callEndReason) : 'left';
    entry.item.dataset.state = 'Disconnected';
    entry.remove.hidden = true;
    this.layout();
    // The roster says who left, and why, for a few seconds.
    setTimeout(() => entry.item.remove(), 5000);
  }

  highlightDominant() {
    for (const [participant, { item, tile }] of this.people) {
      const dominant = this.isDominant(participant);
      item.classList.toggle('dominant', dominant);
      tile.element.classList.toggle('dominant', dominant);
    }
    this.layout();
  }

  isDominant(participant) {
    const [first] = this.dominant.dominantSpeakers.speakersList;
    return first?.communicationUserId === participant.identifier.communicationUserId;
  }

  /**
   * Shows one page of remote tiles, the spotlighted and then the dominant speaker first, and
   * renders only their cameras: a tile off the page has no view, so its video is neither
   * received nor decoded.
   */
  layout() {
    const rank = (p) => (this.meeting?.spotlighted(p) ? 0 : this.isDominant(p) ? 1 : 2);
    const order = [...this.people.keys()].sort((a, b) => rank(a) - rank(b));
    const size = pageSize();
    const pages = Math.max(1, Math.ceil(order.length / size));
    this.page = Math.min(this.page, pages - 1);
    const shown = new Set(order.slice(this.page * size, (this.page + 1) * size));
    order.forEach((participant, i) => {
      const { tile } = this.people.get(participant);
      const visible = shown.has(participant);
      tile.element.hidden = !visible;
      tile.element.style.order = String(i + 1); // after the local tile
      for (const stream of participant.videoStreams) {
        if (stream.mediaStreamType !== 'Video') continue;
        if (visible && stream.isAvailable) this.render(stream, tile.video);
        else this.hide(stream);
      }
    });
    $('pager').hidden = pages === 1;
    $('page-more').textContent = `+${order.length - shown.size} more`;
    $('page-prev').disabled = this.page === 0;
    $('page-next').disabled = this.page === pages - 1;
  }

  turn(by) {
    this.page = Math.max(0, this.page + by);
    this.layout();
  }

  // ---- call state and controls ----

  stateChanged() {
    const state = this.call.state;
    $('call-state').textContent = state;
    this.controls();
    if (state === 'Disconnected') this.end();
  }

  controls() {
    const call = this.call;
    const live = call.state === 'Connected' || call.state === 'LocalHold' || call.state === 'RemoteHold';
    const set = (id, pressed, text) => {
      $(id).setAttribute('aria-pressed', String(pressed));
      $(id).textContent = text;
      $(id).disabled = !live;
    };
    set('mute', call.isMuted, call.isMuted ? 'Unmute' : 'Mute');
    set('camera', call.isLocalVideoStarted, call.isLocalVideoStarted ? 'Stop camera' : 'Start camera');
    set('share', call.isScreenSharingOn, call.isScreenSharingOn ? 'Stop sharing' : 'Share screen');
    set('hold', call.state === 'LocalHold', call.state === 'LocalHold' ? 'Resume' : 'Hold');
    $('share').hidden = !navigator.mediaDevices?.getDisplayMedia;
    this.localTile.element.classList.toggle('muted', call.isMuted);
  }

  async toggleMute() {
    await act('Cannot change mute', () => (this.call.isMuted ? this.call.unmute() : this.call.mute()));
  }

  async toggleCamera() {
    await act('Cannot change the camera', async () => {
      if (this.call.isLocalVideoStarted) {
        const stream = this.call.localVideoStreams.find((s) => s.mediaStreamType !== 'ScreenSharing');
        await this.call.stopVideo(stream);
      } else {
        const camera = this.selectedCamera();
        if (!camera) throw new Error('no camera found');
        this.localVideo.stream ??= new LocalVideoStream(camera);
        await this.call.startVideo(this.localVideo.stream);
      }
    });
  }

  async toggleShare() {
    await act('Cannot share the screen', async () => {
      if (this.call.isScreenSharingOn) {
        await this.call.stopScreenSharing();
      } else {
        await this.call.startScreenSharing();
      }
    });
  }

  async toggleHold() {
    await act('Cannot change hold', () => (this.call.state === 'LocalHold' ? this.call.resume() : this.call.hold()));
  }

  async hangUp(forEveryone) {
    this.leftByMe = true;
    await act('Cannot hang up', () => this.call.hangUp({ forEveryone }));
  }

  async add(id) {
    await act(`Cannot add ${id}`, async () => {
      const participant = this.call.addParticipant({ communicationUserId: id });
      const calling = `Calling ${participant.displayName || id}…`;
      showStatus(calling);
      // The status says "Calling" only while they ring; the roster takes over from there.
      const answered = () => {
        if (participant.state === 'Connected' || participant.state === 'Disconnected') {
          participant.off('stateChanged', answered);
          if ($('status').textContent === calling) showStatus('');
        }
      };
      this.on(participant, 'stateChanged', answered);
    });
  }

  echoReport(report) {
    if (!report) return;
    const yes = (ok, what) => `${what} ${ok ? 'works' : 'not detected'}`;
    const phases = { prompt: 'Listen for the tone…', recording: 'Recording: say something…', playback: 'Playing you back…' };
    const network = report.roundTripTimeMs !== undefined ? `, round trip ${Math.round(report.roundTripTimeMs)} ms` : '';
    $('echo-report').textContent = `${phases[report.phase] ?? ''} ${yes(report.audioReceived, 'Microphone')}; ${yes(
      report.videoReceived,
      'camera',
    )}${network}.`;
    $('echo-report').dataset.audio = String(report.audioReceived);
    $('echo-report').dataset.video = String(report.videoReceived);
  }

  end() {
    this.meeting?.end();
    for (const stop of this.listeners.splice(0)) stop();
    for (const stream of [...this.renderers.keys()]) this.hide(stream);
    this.onEnd(this.call.callEndReason, this.leftByMe);
  }
}
