// ACS's call features between real pages through a real rtcall-server: raised hands,
// reactions and spotlights (with the calls the ACS docs' samples make), roles, capabilities,
// soft mute and the lobby (the service decides who may), data channels over the SFU, blind
// transfer, media statistics, real-time text and the optimal video count. Each feature's code
// loads when a page first asks for it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accept, connected, flowing, hearsSound, ring, suite, until } from './harness.mjs';

const ctx = suite();
const { user, closeAll } = ctx;

/** Pages joined to one new group call (the first one makes it; `lobby` gives it a lobby). */
async function group(names, { lobby = false } = {}) {
  const groupId = crypto.randomUUID();
  const pages = [];
  for (const name of names) {
    const p = await user(name);
    await p.page.evaluate(
      ({ groupId, lobby }) => {
        window.call = agent.join({ groupId, lobby });
        window.seen = [];
      },
      { groupId, lobby: lobby && pages.length === 0 },
    );
    pages.push(p);
  }
  return pages;
}

/** Whose raw id an identifier is, in the page. */
const rawId = (identifier) => rtcall.getIdentifierRawId(identifier);

test('raised hands, reactions and spotlights reach everyone, with the ACS samples code', async () => {
  const [alice, bob, carol] = await group(['Alice', 'Bob', 'Carol']);
  await connected(alice, bob, carol);
  for (const p of [alice, bob, carol]) {
    await p.page.evaluate(() => {
      const { Features } = rtcall;
      // As the ACS docs write it.
      window.raiseHandFeature = call.feature(Features.RaiseHand);
      raiseHandFeature.on('raisedHandEvent', (event) => seen.push(['raised', rtcall.getIdentifierRawId(event.identifier)]));
      raiseHandFeature.on('loweredHandEvent', (event) => seen.push(['lowered', rtcall.getIdentifierRawId(event.identifier)]));
      window.reaction = call.feature(Features.Reaction);
      reaction.on('reaction', (event) => seen.push(['reaction', rtcall.getIdentifierRawId(event.identifier), event.reactionMessage.reactionType]));
      window.spotLightFeature = call.feature(Features.Spotlight);
      spotLightFeature.on('spotlightChanged', (e) => seen.push(['spotlight', e.added.map((s) => rtcall.getIdentifierRawId(s.identifier)), e.removed.length]));
    });
  }
  const feature = await alice.page.evaluate(() => call.feature(rtcall.Features.RaiseHand) === raiseHandFeature);
  assert.ok(feature, 'one feature object per call');
  await bob.page.evaluate(() => raiseHandFeature.raiseHand());
  await carol.page.evaluate(() => raiseHandFeature.raiseHand());
  for (const p of [alice, bob, carol]) {
    await until(p, () => raiseHandFeature.getRaisedHands().length === 2);
    const order = await p.page.evaluate(() => raiseHandFeature.getRaisedHands().map((h) => [rtcall.getIdentifierRawId(h.identifier), h.order]));
    assert.deepEqual(order, [
      [bob.id, 1],
      [carol.id, 2],
    ]);
  }
  await until(alice, (id) => seen.some(([what, who]) => what === 'raised' && who === id), carol.id);
  // The organizer lowers everyone's hands.
  await alice.page.evaluate(() => raiseHandFeature.lowerAllHands());
  await until(carol, () => raiseHandFeature.getRaisedHands().length === 0);
  await until(carol, (id) => seen.some(([what, who]) => what === 'lowered' && who === id), bob.id);

  await bob.page.evaluate(() => reaction.sendReaction({ reactionType: 'like' }));
  for (const p of [alice, bob, carol]) {
    await until(p, (id) => seen.some(([what, who, type]) => what === 'reaction' && who === id && type === 'like'), bob.id);
  }
  const bad = await bob.page.evaluate(() => reaction.sendReaction({ reactionType: 'thumbsDown' }).catch((e) => [e.code, e.subCode]));
  assert.deepEqual(bad, [400, 41001]);

  await alice.page.evaluate((id) => spotLightFeature.startSpotlight([{ communicationUserId: id }]), bob.id);
  for (const p of [alice, bob, carol]) {
    await until(p, (id) => spotLightFeature.getSpotlightedParticipants().some((s) => rtcall.getIdentifierRawId(s.identifier) === id), bob.id);
  }
  assert.equal(await carol.page.evaluate(() => spotLightFeature.maxParticipantsToSpotlight), 7);
  await alice.page.evaluate(() => spotLightFeature.stopAllSpotlight());
  await until(carol, () => spotLightFeature.getSpotlightedParticipants().length === 0);
  assert.ok(await carol.page.evaluate((id) => seen.some(([w, added]) => w === 'spotlight' && added.includes(id)), bob.id));
  await closeAll();
});

test('what happens while a feature\'s code loads reaches the app once it has loaded', async () => {
  const [alice, bob] = await group(['Alice', 'Bob']);
  await connected(alice, bob);
  // Bob's reaction code is held on the way until Alice's reaction has reached his page.
  let release;
  const held = new Promise((resolve) => {
    bob.page.route('**/features/reaction.js', (route) => {
      release = () => route.continue();
      resolve();
    });
  });
  await bob.page.evaluate(() => {
    window.got = [];
    call.feature(rtcall.Features.Reaction).on('reaction', (e) => got.push(e.reactionMessage.reactionType));
  });
  await held;
  await alice.page.evaluate(async () => {
    await call.feature(rtcall.Features.Reaction).sendReaction({ reactionType: 'heart' });
    await call.mute();
  });
  // The service sends Bob the reaction before the mute, on one connection, in order.
  await until(bob, () => call.remoteParticipants[0]?.isMuted);
  assert.deepEqual(await bob.page.evaluate(() => got), []);
  release();
  await until(bob, () => got.length === 1);
  assert.deepEqual(await bob.page.evaluate(() => got), ['heart']);
  await closeAll();
});

test('the lobby, roles and soft mute: the service decides who may, and nothing changes when refused', async () => {
  const [alice, bob, carol] = await group(['Alice', 'Bob', 'Carol'], { lobby: true });
  await connected(alice);
  for (const p of [bob, carol]) await until(p, () => call.state === 'InLobby');
  await bob.page.evaluate(() => {
    window.changes = [];
    call.feature(rtcall.Features.Capabilities).on('capabilitiesChanged', ({ newValue }) => changes.push(newValue));
  });
  await alice.page.evaluate(() => {
    window.lobbyChanges = [];
    call.lobby.on('lobbyParticipantsUpdated', (e) => lobbyChanges.push([e.added.length, e.removed.length]));
  });
  await until(alice, () => call.lobby.participants.length === 2);
  assert.deepEqual(await alice.page.evaluate(() => [call.role, call.remoteParticipants.length]), ['Organizer', 0]);
  // Waiting, a participant sees no one.
  assert.equal(await bob.page.evaluate(() => call.remoteParticipants.length), 0);

  await alice.page.evaluate((id) => call.lobby.admit({ communicationUserId: id }), bob.id);
  await connected(bob);
  await until(alice, () => call.remoteParticipants.length === 1 && call.lobby.participants.length === 1);
  assert.equal(await bob.page.evaluate(() => call.role), 'Attendee');
  await alice.page.evaluate((id) => call.lobby.reject({ communicationUserId: id }), carol.id);
  await until(carol, () => call.state === 'Disconnected');
  assert.deepEqual(await carol.page.evaluate(() => call.callEndReason), { code: 0, subCode: 5320 });
  await until(alice, () => call.lobby.participants.length === 0);

  // What an attendee may do, as the service says it; what it may not is refused, typed. The
  // first capabilities came as an event too, to a listener added before the code loaded.
  await until(bob, () => call.feature(rtcall.Features.Capabilities).capabilities.muteOthers !== undefined);
  assert.ok(await bob.page.evaluate(() => changes.some((c) => c.muteOthers?.reason === 'RoleRestricted')));
  const capabilities = await bob.page.evaluate(() => call.feature(rtcall.Features.Capabilities).capabilities);
  assert.deepEqual(capabilities.muteOthers, { isPresent: false, reason: 'RoleRestricted' });
  assert.deepEqual(capabilities.unmuteMic, { isPresent: true, reason: 'Capable' });
  assert.deepEqual(capabilities.addTeamsUser, { isPresent: false, reason: 'FeatureNotSupported' });
  const refused = await bob.page.evaluate(async () => {
    const alice = call.remoteParticipants[0];
    return Promise.all([
      alice.mute().then(() => 'muted', (e) => [e.code, e.subCode]),
      call.muteAllRemoteParticipants().then(() => 'muted', (e) => [e.code, e.subCode]),
    ]);
  });
  assert.deepEqual(refused, [
    [403, 40304],
    [403, 40304],
  ]);
  assert.equal(await alice.page.evaluate(() => call.isMuted), false, 'nothing changed');

  // The organizer mutes the attendee: it is told, its microphone goes silent, everyone sees it.
  await hearsSound(alice);
  await bob.page.evaluate(() => {
    window.mutedByOthers = 0;
    call.on('mutedByOthers', () => mutedByOthers++);
  });
  await alice.page.evaluate(() => call.remoteParticipants[0].mute());
  await until(bob, () => mutedByOthers === 1 && call.isMuted);
  await until(alice, () => call.remoteParticipants[0].isMuted);
  await until(bob, () => {
    const sender = __pcs.at(-1).getSenders().find((s) => s.track?.kind === 'audio');
    return sender && !sender.track.enabled;
  });
  // It may unmute itself.
  await bob.page.evaluate(() => call.unmute());
  await until(alice, () => !call.remoteParticipants[0].isMuted);
  await closeAll();
});

test('data channel messages to everyone and to one, durable and lossy, with the ACS sample code', async () => {
  const [alice, bob, carol] = await group(['Alice', 'Bob', 'Carol']);
  await connected(alice, bob, carol);
  for (const p of [alice, bob, carol]) {
    await p.page.evaluate(() => {
      window.got = [];
      // As the ACS docs write it.
      const dataChannel = call.feature(rtcall.Features.DataChannel);
      dataChannel.on('dataChannelReceiverCreated', (receiver) => {
        const participantId = rtcall.getIdentifierRawId(receiver.senderParticipantIdentifier);
        receiver.on('messageReady', () => {
          const message = receiver.readMessage();
          got.push([receiver.channelId, participantId, new TextDecoder().decode(message.data), message.sequenceNumber]);
        });
      });
    });
  }
  // Messages reach those whose data channels are open (or opening once asked for): each says
  // hello in turn, a send waiting for its own channel, so the last is heard by all.
  for (const p of [alice, bob, carol]) {
    await p.page.evaluate((name) => call.feature(rtcall.Features.DataChannel).createDataChannelSender({ channelId: 7 }).sendMessage(new TextEncoder().encode(`${name} here`)), p.name);
  }
  for (const p of [alice, bob]) {
    await until(p, () => got.some(([channel, , text]) => channel === 7 && text === 'Carol here'));
  }
  const sent = await alice.page.evaluate(async () => {
    const dataChannel = call.feature(rtcall.Features.DataChannel);
    window.messageSender = dataChannel.createDataChannelSender({ channelId: 1000 });
    window.lossy = dataChannel.createDataChannelSender({ reliability: 'Lossy' });
    await messageSender.sendMessage(new TextEncoder().encode('to everyone'));
    return [messageSender.channelId, messageSender.maxMessageSize, lossy.channelId > 1023];
  });
  assert.deepEqual(sent, [1000, 32768, true]);
  for (const p of [bob, carol]) {
    await until(p, (id) => got.some(([channel, from, text]) => channel === 1000 && from === id && text === 'to everyone'), alice.id);
  }
  await alice.page.evaluate(async (id) => {
    messageSender.setParticipants([{ communicationUserId: id }]);
    await messageSender.sendMessage(new TextEncoder().encode('to Bob'));
    await messageSender.sendMessage(new TextEncoder().encode(JSON.stringify({ n: 2 })));
  }, bob.id);
  await until(bob, () => got.some(([, , text]) => text === '{"n":2}'));
  const bobGot = await bob.page.evaluate(() => got.filter(([channel]) => channel === 1000).map(([, , text, seq]) => [text, seq]));
  assert.deepEqual(
    bobGot.map(([text]) => text),
    ['to everyone', 'to Bob', '{"n":2}'],
    'in order',
  );
  assert.equal(bobGot[2][1] - bobGot[0][1], 2, 'numbered one after another');
  // Lossy messages arrive too on a clean network.
  await alice.page.evaluate(() => lossy.sendMessage(new TextEncoder().encode('maybe')));
  await until(carol, () => got.some(([, , text]) => text === 'maybe'));
  assert.ok(!(await carol.page.evaluate(() => got.some(([, , text]) => text === 'to Bob'))), 'not to Carol');
  // Too large, empty, not bytes, closed: typed errors.
  const errors = await alice.page.evaluate(async () => {
    const code = (p) => p.then(() => 'sent', (e) => [e.code, e.subCode]);
    const large = await code(messageSender.sendMessage(new Uint8Array(64 * 1024)));
    const empty = await code(messageSender.sendMessage(new Uint8Array(0)));
    const text = await code(messageSender.sendMessage('abc'));
    messageSender.close();
    const closed = await code(messageSender.sendMessage(new Uint8Array(1)));
    return { large, empty, text, closed };
  });
  assert.deepEqual(errors, { large: [400, 45309], empty: [400, 45308], text: [400, 45320], closed: [400, 45312] });
  await closeAll();
});

test('a blind transfer: the target rings, the transferor leaves, the caller talks to the target', async () => {
  const alice = await user('Alice');
  const bob = await user('Bob');
  const carol = await user('Carol');
  await ring(alice, [bob]);
  await accept(bob);
  await connected(alice, bob);
  await alice.page.evaluate(() => {
    window.first = call;
    window.transferred = [];
    call.feature(rtcall.Features.Transfer).on('transferAccepted', ({ targetCall }) => transferred.push(targetCall));
    agent.on('callsUpdated', ({ added }) => added.forEach((c) => (window.call = c)));
  });
  await bob.page.evaluate((id) => {
    window.transfer = call.feature(rtcall.Features.Transfer).transfer({ targetParticipant: { communicationUserId: id } });
    window.states = [transfer.state];
    transfer.on('stateChanged', () => states.push(transfer.state));
  }, carol.id);
  await until(carol, () => incoming.length > 0);
  const caller = await carol.page.evaluate(() => rtcall.getIdentifierRawId(incoming[0].callerInfo.identifier));
  assert.equal(caller, alice.id, 'the target is called by the one transferred');
  await accept(carol);
  await until(bob, () => transfer.state === 'Transferred' && call.state === 'Disconnected');
  assert.deepEqual(await bob.page.evaluate(() => call.callEndReason), { code: 0, subCode: 5310 });
  await until(alice, () => first.state === 'Disconnected' && call !== first && call.state === 'Connected');
  const accepted = await alice.page.evaluate(() => transferred.map((c) => [c === call, c === first, c.state]));
  assert.deepEqual(accepted, [[true, false, 'Connected']], 'transferAccepted with the new call');
  assert.deepEqual(await alice.page.evaluate(() => agent.calls.map((c) => c === call)), [true]);
  await connected(carol);
  await hearsSound(carol);
  await hearsSound(alice);
  await closeAll();
});

test('media statistics move when video starts and stops; real-time text and the optimal video count', async () => {
  const alice = await user('Alice');
  const bob = await user('Bob');
  await ring(alice, [bob]);
  await accept(bob);
  await connected(alice, bob);
  for (const p of [alice, bob]) {
    await p.page.evaluate(() => {
      window.samples = [];
      window.summaries = [];
      const collector = call.feature(rtcall.Features.MediaStats).createCollector({ aggregationInterval: 1, dataPointsPerAggregation: 2 });
      collector.on('sampleReported', (s) => samples.push(s));
      collector.on('summaryReported', (s) => summaries.push(s));
    });
  }
  const sent = () => {
    const last = samples.at(-1);
    return last?.video.send[0]?.bitrate ?? 0;
  };
  const decoded = () => samples.at(-1)?.video.receive[0]?.frameRateDecoded ?? 0;
  await alice.page.evaluate(async () => {
    const [device] = await devices.getCameras();
    window.camera = new rtcall.LocalVideoStream(device);
    await call.startVideo(camera);
  });
  await until(bob, () => call.remoteParticipants[0].videoStreams[0].isAvailable);
  await bob.page.evaluate(async () => {
    const view = await new rtcall.VideoStreamRenderer(call.remoteParticipants[0].videoStreams[0]).createView();
    document.body.appendChild(view.target);
  });
  await until(alice, (f) => eval(f)() > 50_000, `(${sent})`);
  await until(bob, (f) => eval(f)() > 1, `(${decoded})`);
  const audio = await alice.page.evaluate(() => samples.at(-1).audio.send[0]);
  assert.ok(audio.packetsPerSecond > 10 && audio.codecName.toLowerCase() === 'opus', JSON.stringify(audio));
  const received = await bob.page.evaluate(() => samples.at(-1).video.receive[0]);
  assert.equal(typeof received.streamId, 'number', 'the remote stream it is');
  await until(bob, () => summaries.length > 0);
  const summary = await bob.page.evaluate(() => summaries.at(-1).audio.receive[0].packets);
  assert.equal(summary.aggregation.count.length, 2, 'one aggregation a point');
  assert.ok(summary.raw.length >= 2);
  await alice.page.evaluate(() => call.stopVideo(camera));
  await until(alice, (f) => eval(f)() === 0, `(${sent})`);
  await until(bob, (f) => eval(f)() === 0, `(${decoded})`);

  // Real-time text: partial, then final, as typed.
  await bob.page.evaluate(() => {
    window.texts = [];
    call.feature(rtcall.Features.RealTimeText).on('realTimeTextReceived', (t) => texts.push([t.text, t.resultType, t.isLocal, t.sender.displayName]));
  });
  await alice.page.evaluate(async () => {
    const rtt = call.feature(rtcall.Features.RealTimeText);
    await rtt.sendRealTimeText('hel');
    await rtt.sendRealTimeText('hello', true);
  });
  await until(bob, () => texts.length === 2);
  assert.deepEqual(await bob.page.evaluate(() => texts), [
    ['hel', 'Partial', false, 'Alice'],
    ['hello', 'Final', false, 'Alice'],
  ]);
  const count = await alice.page.evaluate(() => call.feature(rtcall.Features.OptimalVideoCount).optimalVideoCount);
  assert.ok(count >= 1 && count <= 16, `${count}`);
  await flowing(alice, 'audio');
  await closeAll();
});
