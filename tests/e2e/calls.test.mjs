// Calls between real browser pages through a real rtcall-server, using only the library's
// public API: media checked with getStats (packets arriving, frames decoded), states and end
// reasons as @azure/communication-calling reports them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accept, callBetween, callPage, connected, flowing, ring, startServer, suite, until } from './harness.mjs';

// A short ring so "no answer" ends in seconds.
const ctx = suite({ serverArgs: ['--ring-timeout', '3'] });
const { user, closeAll } = ctx;

test('a 1:1 call carries audio and video both ways', async () => {
  const alice = await user('Alice');
  const bob = await user('Bob');
  for (const p of [alice, bob]) {
    await p.page.evaluate(async () => {
      const [camera] = await devices.getCameras();
      window.camera = new rtcall.LocalVideoStream(camera);
    });
  }
  await alice.page.evaluate((id) => {
    window.call = agent.startCall([{ communicationUserId: id }], { videoOptions: { localVideoStreams: [camera] } });
    window.states = [call.state];
    call.on('stateChanged', () => states.push(call.state));
  }, bob.id);
  await until(bob, () => incoming.length > 0);
  const caller = await bob.page.evaluate(() => incoming[0].callerInfo);
  assert.equal(caller.identifier.communicationUserId, alice.id);
  assert.equal(caller.displayName, 'Alice');
  await bob.page.evaluate(async () => {
    window.call = await incoming[0].accept({ videoOptions: { localVideoStreams: [camera] } });
  });
  await connected(alice, bob);
  const states = await alice.page.evaluate(() => states);
  assert.deepEqual([states[0], states[1], states.at(-1)], ['None', 'Connecting', 'Connected']);
  assert.ok(states.includes('Ringing'), `${states}`);
  // Each side renders the other's camera and decodes its frames.
  for (const p of [alice, bob]) {
    await until(p, () => call.remoteParticipants[0]?.videoStreams[0]?.isAvailable);
    await p.page.evaluate(async () => {
      const remote = call.remoteParticipants[0];
      const view = await new rtcall.VideoStreamRenderer(remote.videoStreams[0]).createView();
      document.body.appendChild(view.target);
    });
  }
  for (const p of [alice, bob]) {
    await flowing(p, 'audio', 25);
    await flowing(p, 'frames', 10);
    // A second of the other's audio was played out, with no audio element of the app's.
    await flowing(p, 'samples', 48_000);
  }
  const remote = await alice.page.evaluate(() => {
    const r = call.remoteParticipants[0];
    return { state: r.state, name: r.displayName, kind: r.identifier.kind, types: r.videoStreams.map((s) => s.mediaStreamType) };
  });
  assert.deepEqual(remote, { state: 'Connected', name: 'Bob', kind: 'communicationUser', types: ['Video', 'ScreenSharing'] });
  await alice.page.evaluate(() => {
    window.listed = agent.calls.map((c) => c === call);
    window.removed = [];
    agent.on('callsUpdated', (e) => removed.push(...e.removed.map((c) => c === call)));
    return call.hangUp();
  });
  for (const p of [alice, bob]) {
    await until(p, () => call.state === 'Disconnected');
    const reason = await p.page.evaluate(() => call.callEndReason);
    assert.deepEqual(reason, { code: 0, subCode: 0 });
  }
  // The call leaves agent.calls, and callsUpdated names the app's own object.
  await until(alice, () => removed.length > 0);
  const listed = await alice.page.evaluate(() => ({ before: listed, removed, after: agent.calls.length }));
  assert.deepEqual(listed, { before: [true], removed: [true], after: 0 });
  await closeAll();
});

test('an answered call is Connecting at once, and calls that end log nothing', async () => {
  const alice = await user('Alice');
  const bob = await user('Bob');
  const warnings = [];
  for (const p of [alice, bob]) {
    p.page.on('console', (message) => message.type() === 'warning' && warnings.push(`${p.name}: ${message.text()}`));
  }
  await ring(alice, [bob]);
  const right = await bob.page.evaluate(async () => {
    window.call = await incoming[0].accept();
    return call.state;
  });
  assert.equal(right, 'Connecting', 'the state right after accept() resolves');
  await connected(alice, bob);
  // The caller hangs up, with views of the callee's streams in place.
  await bob.page.evaluate(() => call.remoteParticipants[0].videoStreams.forEach((s) => new rtcall.VideoStreamRenderer(s)));
  await alice.page.evaluate(() => call.hangUp());
  await until(bob, () => call.state === 'Disconnected');
  // A call hung up before its microphone opened.
  await alice.page.evaluate(async (id) => {
    window.call = agent.startCall([{ communicationUserId: id }]);
    await call.hangUp();
  }, bob.id);
  await until(alice, () => call.state === 'Disconnected');
  await until(bob, () => incoming.at(-1).callEndReason !== undefined);
  // Anything the pages would still log (a late refusal, a microphone opened too late) is in by now.
  await Promise.all([alice, bob].map((p) => p.page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 500)))));
  assert.deepEqual(warnings, []);
  await closeAll();
});

test('a panic inside the library is readable in the console, ends its call only, and the rest goes on', async () => {
  const alice = await user('Alice');
  const bob = await user('Bob');
  const groups = [crypto.randomUUID(), crypto.randomUUID()];
  for (const p of [alice, bob]) {
    await p.page.evaluate((groups) => {
      window.calls = groups.map((groupId) => agent.join({ groupId }));
    }, groups);
  }
  for (const p of [alice, bob]) {
    await until(p, () => calls.every((c) => c.state === 'Connected' && c.remoteParticipants.length === 1));
  }
  const thrown = await alice.page.evaluate(() => {
    try {
      calls[0].__panicForTest('forced for the test');
    } catch (e) {
      return e.constructor.name;
    }
  });
  assert.equal(thrown, 'RuntimeError', 'the caller sees the trap');
  await until(alice, () => calls[0].state === 'Disconnected');
  assert.deepEqual(await alice.page.evaluate(() => calls[0].callEndReason), { code: 500, subCode: 41014 });
  // The service has it as a hang-up: Bob sees Alice leave that call.
  await until(bob, () => calls[0].remoteParticipants.length === 0);
  // The message and where it happened, once: nothing else broke on the way.
  const panics = alice.problems.splice(0);
  assert.equal(panics.length, 1, `${panics}`);
  assert.match(panics[0], /forced for the test/);
  assert.match(panics[0], /panicked at src\/[\w/]+\.rs:\d+:\d+/);
  // The other call goes on: Bob's audio still reaches Alice, and Alice's mute reaches Bob.
  await flowing(alice, 'audio');
  await alice.page.evaluate(() => calls[1].mute());
  await until(bob, () => calls[1].remoteParticipants[0].isMuted);
  assert.equal(await alice.page.evaluate(() => agent.connectionState), 'Connected');
  await Promise.all([alice, bob].map((p) => p.page.evaluate(() => calls[1].hangUp())));
  await closeAll();
});

test('reject, cancel, no answer and an offline callee end with their ACS reasons', async () => {
  const alice = await user('Alice');
  const bob = await user('Bob');
  const endReason = async (p) => {
    await until(p, () => call.state === 'Disconnected');
    return p.page.evaluate(() => call.callEndReason);
  };
  // Bob declines.
  await ring(alice, [bob]);
  await bob.page.evaluate(() => incoming.at(-1).reject());
  assert.deepEqual(await endReason(alice), { code: 603, subCode: 0 });
  // Alice cancels while it rings.
  await ring(alice, [bob]);
  await alice.page.evaluate(() => call.hangUp());
  await until(bob, () => events.some(([e, r]) => e === 'incomingEnded' && r.code === 487 && r.subCode === 0));
  // Nobody answers (the server rings for 3 s here).
  await ring(alice, [bob]);
  assert.deepEqual(await endReason(alice), { code: 487, subCode: 10004 });
  await until(bob, () => events.some(([e, r]) => e === 'incomingEnded' && r.subCode === 10004));
  // Bob is gone.
  await bob.page.close();
  ctx.pages.splice(ctx.pages.indexOf(bob), 1);
  await alice.page.evaluate((id) => {
    window.call = agent.startCall([{ communicationUserId: id }]);
  }, bob.id);
  assert.deepEqual(await endReason(alice), { code: 480, subCode: 10037 });
  // Methods in the wrong state reject with a code, not a crash.
  const error = await alice.page.evaluate(async () => {
    try {
      await call.hold();
    } catch (e) {
      return { name: e.name, code: e.code, subCode: e.subCode };
    }
  });
  assert.deepEqual(error, { name: 'CommunicationServicesError', code: 409, subCode: 41007 });
  await closeAll();
});

test('two tabs of one identity ring together; answering on one stops the other', async () => {
  const alice = await user('Alice');
  const phone = await user('Bob');
  const laptop = await user('Bob', { id: phone.id, token: phone.token });
  await ring(alice, [phone]);
  await until(laptop, () => incoming.length > 0);
  await accept(laptop);
  await until(phone, () => events.some(([e, r]) => e === 'incomingEnded' && r.code === 487 && r.subCode === 10003));
  await connected(alice, laptop);
  await closeAll();
});

test('a group call of six, one joining after the start', async () => {
  const group = crypto.randomUUID();
  const people = [];
  for (const name of ['A', 'B', 'C', 'D', 'E']) people.push(await user(name));
  for (const p of people) {
    await p.page.evaluate((groupId) => {
      window.call = agent.join({ groupId });
    }, group);
  }
  await connected(...people);
  for (const p of people) await until(p, () => call.remoteParticipants.filter((r) => r.state === 'Connected').length === 4);
  const late = await user('F');
  await late.page.evaluate((groupId) => {
    window.call = agent.join({ groupId });
  }, group);
  await connected(late);
  await until(late, () => call.remoteParticipants.filter((r) => r.state === 'Connected').length === 5);
  for (const p of people) await until(p, () => call.remoteParticipants.length === 5);
  // The latecomer hears the others, and they hear it.
  await flowing(late, 'audio', 50);
  await flowing(people[0], 'audio', 50);
  await closeAll();
});

test('a 1:1 call promoted to a group by addParticipant, then one removed', async () => {
  const alice = await user('Alice');
  const bob = await user('Bob');
  const carol = await user('Carol');
  await callBetween(alice, bob);
  await flowing(alice, 'audio');
  const added = await alice.page.evaluate((id) => {
    const p = call.addParticipant({ communicationUserId: id });
    window.carol = p;
    return { state: p.state, same: call.remoteParticipants.includes(p) };
  }, carol.id);
  assert.equal(added.same, true, 'the returned participant is in remoteParticipants');
  await until(carol, () => incoming.length > 0);
  await accept(carol);
  await connected(carol);
  await until(carol, () => call.remoteParticipants.filter((r) => r.state === 'Connected').length === 2);
  await until(alice, () => carol.state === 'Connected' && call.remoteParticipants.length === 2);
  // Alice's media went on throughout, and Carol is heard.
  await flowing(alice, 'audio', 50);
  await flowing(carol, 'audio', 50);

  await alice.page.evaluate((id) => call.removeParticipant({ communicationUserId: id }), carol.id);
  await until(carol, () => call.state === 'Disconnected');
  assert.deepEqual(await carol.page.evaluate(() => call.callEndReason), { code: 0, subCode: 5300 });
  for (const p of [alice, bob]) {
    await until(p, () => call.remoteParticipants.length === 1);
  }
  assert.deepEqual(await alice.page.evaluate(() => ({ state: carol.state, reason: carol.callEndReason })), {
    state: 'Disconnected',
    reason: { code: 0, subCode: 5000 },
  });
  await closeAll();
});

test('mute and hold are seen remotely, and hold pauses media both ways', async () => {
  const alice = await user('Alice');
  const bob = await user('Bob');
  await callBetween(alice, bob);
  await bob.page.evaluate(() => {
    window.alice = call.remoteParticipants[0];
    window.muteEvents = 0;
    alice.on('isMutedChanged', () => muteEvents++);
  });
  await alice.page.evaluate(() => call.mute());
  assert.equal(await alice.page.evaluate(() => call.isMuted), true);
  await until(bob, () => alice.isMuted && muteEvents === 1);
  await alice.page.evaluate(() => call.unmute());
  await until(bob, () => !alice.isMuted && muteEvents === 2);

  await flowing(bob, 'audio');
  await alice.page.evaluate(() => call.hold());
  await until(alice, () => call.state === 'LocalHold');
  await until(bob, () => call.state === 'RemoteHold' && alice.state === 'Hold');
  // Nothing arrives either way while held: the count stands still over half a second.
  for (const p of [alice, bob]) {
    await until(p, async () => {
      const before = (await __inbound()).audio;
      await new Promise((r) => setTimeout(r, 500));
      return (await __inbound()).audio - before <= 2;
    });
  }
  await alice.page.evaluate(() => call.resume());
  await connected(alice, bob);
  await until(bob, () => alice.state === 'Connected');
  await flowing(bob, 'audio');
  await flowing(alice, 'audio');
  await closeAll();
});

test('switching camera and microphone mid-call replaces tracks without renegotiating', async () => {
  const alice = await user('Alice');
  const bob = await user('Bob');
  await alice.page.evaluate(async () => {
    window.cameras = await devices.getCameras();
    window.camera = new rtcall.LocalVideoStream(cameras[0]);
  });
  await ring(alice, [bob], {});
  await accept(bob);
  await connected(alice, bob);
  await alice.page.evaluate(() => call.startVideo(camera));
  await until(bob, () => call.remoteParticipants[0]?.videoStreams[0]?.isAvailable);
  await bob.page.evaluate(async () => {
    const view = await new rtcall.VideoStreamRenderer(call.remoteParticipants[0].videoStreams[0]).createView();
    document.body.appendChild(view.target);
  });
  await flowing(bob, 'frames', 10);
  const before = await alice.page.evaluate(() => {
    const sender = __pcs[0].getSenders().find((s) => s.track?.kind === 'video');
    window.offersBefore = __pcs[0].getTransceivers().length;
    return sender.track.label;
  });
  // Chromium's second fake camera sends Y16 (depth) frames, which WebRTC cannot encode; the
  // third sends MJPEG, like most real webcams.
  await alice.page.evaluate(() => camera.switchSource(cameras[2]));
  const after = await alice.page.evaluate(() => {
    const sender = __pcs[0].getSenders().find((s) => s.track?.kind === 'video');
    return { label: sender.track.label, transceivers: __pcs[0].getTransceivers().length, offersBefore };
  });
  assert.notEqual(after.label, before);
  assert.equal(after.transceivers, after.offersBefore, 'no new m-lines: no renegotiation');
  // Two seconds of frames: more than could still be in flight from the old camera.
  await flowing(bob, 'frames', 40);
  // The microphone, through the device manager.
  const microphones = await alice.page.evaluate(async () => {
    const mics = await devices.getMicrophones();
    const chosen = mics.find((m) => !m.isSystemDefault);
    const label = () => __pcs[0].getSenders().find((s) => s.track?.kind === 'audio').track.label;
    const before = label();
    await devices.selectMicrophone(chosen);
    return { before, after: label(), chosen: chosen.name, transceivers: __pcs[0].getTransceivers().length };
  });
  assert.equal(microphones.after, microphones.chosen);
  assert.notEqual(microphones.after, microphones.before);
  assert.equal(microphones.transceivers, after.offersBefore);
  await flowing(bob, 'audio', 25);
  await closeAll();
});

test('the dominant speaker follows the one page that makes sound', async () => {
  const group = crypto.randomUUID();
  const people = [];
  for (const name of ['A', 'B', 'C']) people.push(await user(name));
  for (const p of people) {
    await p.page.evaluate((groupId) => {
      window.call = agent.join({ groupId }, { audioOptions: { muted: true } });
      window.dominant = call.feature(rtcall.Features.DominantSpeakers);
    }, group);
  }
  await connected(...people);
  const speakerIs = (p, id) =>
    until(p, (id) => dominant.dominantSpeakers.speakersList[0]?.communicationUserId === id, id);
  // Chromium's fake microphone beeps: only the unmuted page makes sound.
  await people[1].page.evaluate(() => call.unmute());
  await speakerIs(people[0], people[1].id);
  await people[1].page.evaluate(() => call.mute());
  await people[2].page.evaluate(() => call.unmute());
  await speakerIs(people[0], people[2].id);
  await closeAll();
});

test('a call agent per identity, refused tokens, and losing the service', async () => {
  const alice = await user('Alice');
  // A second agent for the same identity in the same client is refused.
  const second = await alice.page.evaluate(async (token) => {
    try {
      await client.createCallAgent(new rtcall.AzureCommunicationTokenCredential(token));
    } catch (e) {
      return { code: e.code, subCode: e.subCode };
    }
  }, alice.token);
  assert.deepEqual(second, { code: 409, subCode: 41012 });
  // A forged token is refused by the service, with its reason.
  const forged = await alice.page.evaluate(async (token) => {
    const [header, payload] = token.split('.');
    try {
      await new rtcall.CallClient().createCallAgent(new rtcall.AzureCommunicationTokenCredential(`${header}.${payload}.AAAA`));
    } catch (e) {
      return { code: e.code, subCode: e.subCode };
    }
  }, alice.token);
  assert.deepEqual(forged, { code: 401, subCode: 40101 });
  // Disposing ends the agent's calls and signs out.
  await alice.page.evaluate(() => {
    window.call = agent.join({ groupId: crypto.randomUUID() });
    window.changes = [];
    agent.on('connectionStateChanged', (e) => changes.push(e));
  });
  await connected(alice);
  await alice.page.evaluate(() => agent.dispose());
  await until(alice, () => call.state === 'Disconnected' && agent.connectionState === 'Disconnected');
  assert.equal(await alice.page.evaluate(() => agent.calls.length), 0);
  // The identity may sign in again in this client.
  await alice.page.evaluate(async (token) => {
    window.agent = await client.createCallAgent(new rtcall.AzureCommunicationTokenCredential(token));
  }, alice.token);
  assert.equal(await alice.page.evaluate(() => agent.connectionState), 'Connected');
  await closeAll();
});

test('losing the service disconnects the agent with connectionIssue', async () => {
  const own = await startServer();
  const { page, problems } = await callPage(ctx.browser, own, 'Alice');
  await page.evaluate(() => {
    window.changes = [];
    agent.on('connectionStateChanged', (e) => changes.push(e));
  });
  await own.stop();
  await page.waitForFunction(() => changes.length > 0);
  const change = await page.evaluate(() => changes[0]);
  assert.deepEqual(change, { newValue: 'Disconnected', oldValue: 'Connected', reason: 'connectionIssue' });
  assert.deepEqual(problems.filter((p) => !p.includes('WebSocket')), []);
  await page.close();
});
