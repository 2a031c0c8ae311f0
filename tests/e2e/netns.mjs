// A network for end-to-end tests: a network namespace for one browser, joined to the host by a
// veth pair (the host end is where rtcall-server listens), and the faults a real network has,
// made with nftables inside the namespace: cuts, random loss, blocked UDP; a second link to move
// to. Made by the test and removed by it (needs root: CI runs as root).
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

let made = 0;

function ip(...args) {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Whether this machine lets the tests make namespaces (root and iproute2 and nft). */
export function canMakeNetworks() {
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

/**
 * A namespace with one link to the host. `hostIp` is the host's end (listen there), `clientIp`
 * the namespace's. `browserPath` runs Chromium inside the namespace.
 */
export function makeNetwork() {
  made += 1;
  const id = `${process.pid % 10000}${made}`;
  const ns = `rtc${id}`;
  const subnet = (n) => `10.${(process.pid % 200) + 20}.${(made * 2 + n) % 250}`;
  const links = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'rtcall-net-'));
  ip('netns', 'add', ns);
  const inNs = (...args) => ip('netns', 'exec', ns, ...args);
  const nft = (...args) => execFileSync('ip', ['netns', 'exec', ns, 'nft', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  inNs('ip', 'link', 'set', 'lo', 'up');

  /** Adds link `n` (0 or 1): a veth pair with a /24 of its own. */
  const addLink = (n) => {
    const host = `rv${id}h${n}`;
    const peer = `rv${id}c${n}`;
    const net = subnet(n);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', ns);
    ip('addr', 'add', `${net}.1/24`, 'dev', host);
    ip('link', 'set', host, 'up');
    inNs('ip', 'addr', 'add', `${net}.2/24`, 'dev', peer);
    inNs('ip', 'link', 'set', peer, 'up');
    links.push(host);
    return { host, peer, hostIp: `${net}.1`, clientIp: `${net}.2` };
  };
  const first = addLink(0);
  // Faults live in one table: a chain for what leaves the namespace, one for what arrives.
  nft('add', 'table', 'inet', 'fault');
  nft('add', 'chain', 'inet', 'fault', 'out', '{ type filter hook output priority 0; }');
  nft('add', 'chain', 'inet', 'fault', 'in', '{ type filter hook input priority 0; }');
  const browserPath = path.join(dir, 'chromium-in-namespace');
  writeFileSync(browserPath, `#!/bin/sh\nexec ip netns exec ${ns} ${process.env.CHROMIUM ?? '/usr/bin/chromium'} "$@"\n`);
  chmodSync(browserPath, 0o755);

  // Every rule spares loopback (the browser talks to itself there).
  const rules = (...rule) => {
    nft('add', 'rule', 'inet', 'fault', 'out', 'oifname', '!=', 'lo', ...rule);
    nft('add', 'rule', 'inet', 'fault', 'in', 'iifname', '!=', 'lo', ...rule);
  };
  return {
    ns,
    hostIp: first.hostIp,
    clientIp: first.clientIp,
    browserPath,
    /** Drops every packet to and from the host: a link that is up and carries nothing. */
    cut() {
      rules('drop');
    },
    /** Drops `percent` % of packets each way, at random. */
    loss(percent) {
      rules('numgen', 'random', 'mod', '100', '<', String(percent), 'drop');
    },
    /** Lets at most `kbps` into the namespace, dropping the rest (a narrow downlink). */
    limitDownlink(kbps) {
      const bytes = Math.round((kbps * 1000) / 8 / 1024);
      nft('add', 'rule', 'inet', 'fault', 'in', 'iifname', '!=', 'lo', 'limit', 'rate', 'over', `${bytes}`, 'kbytes/second', 'drop');
    },
    /** Drops UDP to and from the host (TCP still passes). */
    blockUdp() {
      rules('meta', 'l4proto', 'udp', 'drop');
    },
    /** Takes every fault away. */
    heal() {
      nft('flush', 'chain', 'inet', 'fault', 'out');
      nft('flush', 'chain', 'inet', 'fault', 'in');
    },
    /**
     * Moves the namespace to a second link: it gets a new address and a route to the host's
     * first address through it, and the first link goes down (as a phone leaving Wi-Fi).
     */
    switchLink() {
      const second = addLink(1);
      inNs('ip', 'link', 'set', `rv${id}c0`, 'down');
      // The host's first address (where the server is) is its own on every link.
      inNs('ip', 'route', 'add', `${first.hostIp}/32`, 'via', second.hostIp);
      return second;
    },
    close() {
      for (const link of links) {
        try {
          ip('link', 'del', link);
        } catch {
          // Gone with the namespace already.
        }
      }
      try {
        ip('netns', 'del', ns);
      } catch {
        // Already removed.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
