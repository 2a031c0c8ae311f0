// A seeded impairment relay for media, in the test harness: rtcall-server advertises the
// relay's address (`--media-public`), so every datagram between a browser and the SFU passes
// through it, delayed and dropped as the test asks, the same way on every run (the drops come
// from a seeded generator, not from the kernel).
import dgram from 'node:dgram';
import { once } from 'node:events';

/** A small seeded generator (mulberry32): the same seed, the same drops. */
function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A free UDP port on `host` (bound and let go). */
export async function freeUdpPort(host) {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, host);
  await once(socket, 'listening');
  const { port } = socket.address();
  socket.close();
  return port;
}

/**
 * Relays datagrams arriving on `host:port` to `target` (`{address, port}`), one upstream socket
 * per client so the SFU sees each client's own address, and the answers back. `impair({delayMs,
 * lossPercent})` changes what happens to them from now on, both ways.
 */
export async function startRelay({ host, port = 0, target, seed = 1 }) {
  const random = seeded(seed);
  let delayMs = 0;
  let lossPercent = 0;
  const counts = { relayed: 0, dropped: 0 };
  let stopped = false;
  const front = dgram.createSocket('udp4');
  const upstream = new Map(); // "address:port" of a client -> its socket to the SFU
  const pass = (send) => {
    if (lossPercent > 0 && random() * 100 < lossPercent) {
      counts.dropped += 1;
      return;
    }
    counts.relayed += 1;
    const sendUnlessStopped = () => stopped || send();
    if (delayMs > 0) setTimeout(sendUnlessStopped, delayMs);
    else sendUnlessStopped();
  };
  front.on('message', (message, client) => {
    const key = `${client.address}:${client.port}`;
    let socket = upstream.get(key);
    if (!socket) {
      socket = dgram.createSocket('udp4');
      socket.bind(0, host);
      socket.on('message', (answer) => pass(() => front.send(answer, client.port, client.address)));
      upstream.set(key, socket);
    }
    pass(() => socket.send(message, target.port, target.address));
  });
  front.bind(port, host);
  await once(front, 'listening');
  return {
    port: front.address().port,
    counts,
    impair(options) {
      delayMs = options.delayMs ?? 0;
      lossPercent = options.lossPercent ?? 0;
    },
    stop() {
      stopped = true;
      front.close();
      for (const socket of upstream.values()) socket.close();
    },
  };
}
