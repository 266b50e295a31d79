/**
 * The inputs of bench:fuzz's raw IPMI lanes (no session), from the ipmitool captures in the shared
 * reference (`C>B` lines): bit flips, fields set to edge values (RMCP header, auth type, payload
 * type, session ID, sequence number, payload length lying), truncations, extensions, splices,
 * random bytes, and well-formed pre-session requests and handshake payloads with random content.
 * Pure, but for reading the captures.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PayloadType } from '../agent/bmc/ipmi/packet.js';
import { asfPing, EDGE_BYTES, EDGE_U32, RMCP_IPMI, v15, v20Plain } from './fuzz-ipmi-datagrams.js';
import type { Rng } from './fuzz-rng.js';
import { lanRequest } from './ipmi-lan-message.js';
import { sharedMissing, sharedPath } from './shared-dir.js';

/** Where the ipmitool captures are (read-only): the shared directory's reference/ipmi-captures. */
export const CAPTURE_DIR = sharedPath('reference', 'ipmi-captures');

/** The console-to-BMC datagrams of every capture file, in order. */
export function loadCaptures(dir = CAPTURE_DIR): Buffer[] {
  if (dir === null) throw new Error(sharedMissing('reference', 'ipmi-captures'));
  const out: Buffer[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.txt')) continue;
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const m = /^C>B\s+([0-9a-f ]+)$/i.exec(line.trim());
      if (m?.[1] !== undefined) out.push(Buffer.from(m[1].replace(/\s+/g, ''), 'hex'));
    }
  }
  if (out.length === 0) throw new Error(`no C>B packets in ${dir}`);
  return out;
}

/** A random pre-session LAN request: mostly the commands the BMC answers there, with random data. */
function preSessionMessage(rng: Rng): Buffer {
  const [netFn, cmd] = rng.weighted<[number, number]>([
    [4, [0x06, 0x38]],
    [4, [0x06, 0x54]],
    [2, [0x06, rng.int(256)]],
    [1, [rng.int(64), rng.int(256)]],
  ]);
  const data = rng.chance(0.5)
    ? Buffer.from([rng.pick(EDGE_BYTES), rng.int(256), rng.int(256)])
    : rng.bytes(rng.int(24));
  return lanRequest(netFn, cmd, rng.int(64), data, rng.chance(0.1));
}

/** A random Open Session request (algorithm records, privilege, tag and length all varied). */
function openSessionPayload(rng: Rng): Buffer {
  const auth = rng.pick([0, 1, 2, 3, rng.int(256)]);
  const integ = rng.pick([0, 1, 2, 3, 4, rng.int(256)]);
  const conf = rng.pick([0, 1, 2, 3, rng.int(256)]);
  const rec = (type: number, alg: number): number[] => [
    rng.chance(0.9) ? type : rng.int(256),
    0,
    0,
    rng.chance(0.9) ? 0x08 : rng.int(256),
    alg,
    0,
    0,
    0,
  ];
  const p = Buffer.from([
    rng.int(256),
    rng.pick([0, 1, 2, 3, 4, 5, 15, rng.int(256)]),
    0,
    0,
    ...rng.bytes(4),
    ...rec(0, auth),
    ...rec(1, integ),
    ...rec(2, conf),
  ]);
  return rng.chance(0.2) ? p.subarray(0, rng.int(p.length)) : p;
}

/** A random RAKP1 (session ID unknown or random, user name length lying, odd roles). */
function rakp1Payload(rng: Rng, sidc: number): Buffer {
  const name = Buffer.from(rng.pick(['admin', '', 'root', 'x'.repeat(rng.range(15, 40)), '\u00e9\u00e9']), 'utf8');
  const p = Buffer.alloc(28);
  p[0] = rng.int(256);
  p.writeUInt32LE(sidc >>> 0, 4);
  rng.bytes(16).copy(p, 8);
  p[24] = rng.pick([0x14, 0x04, 0x00, 0x1f, rng.int(256)]);
  p[27] = rng.chance(0.7) ? name.length : rng.int(256);
  return Buffer.concat([p, name]);
}

/** Mutates one captured packet (bit flips, edge values in fields, lying lengths, cuts, splices). */
function mutateCaptured(rng: Rng, captures: readonly Buffer[]): Buffer {
  const base = Buffer.from(rng.pick(captures));
  const kind = rng.weighted<string>([
    [5, 'flip'],
    [4, 'field'],
    [3, 'length'],
    [2, 'truncate'],
    [1, 'extend'],
    [1, 'splice'],
  ]);
  switch (kind) {
    case 'flip': {
      for (let i = rng.range(1, 8); i > 0; i--) {
        const at = rng.int(base.length);
        base[at] = (base[at] ?? 0) ^ (1 << rng.int(8));
      }
      return base;
    }
    case 'field': {
      const at = rng.pick([0, 1, 2, 3, 4, 5, 6, 10, 13, 14, 15, 16, 17, 20, 21]);
      if (at >= base.length) return base;
      if ((at === 6 || at === 10) && base.length >= at + 4 && base[4] === 0x06)
        base.writeUInt32LE(rng.pick([...EDGE_U32, rng.u32()]) >>> 0, at);
      else base[at] = rng.pick(EDGE_BYTES);
      return base;
    }
    case 'length': {
      if (base[4] === 0x06 && base.length >= 16) {
        const len = base.readUInt16LE(14);
        base.writeUInt16LE(
          rng.pick([0, 1, 0xffff, len + rng.range(1, 16), Math.max(0, len - rng.range(1, 16)), rng.int(0x10000)]) &
            0xffff,
          14,
        );
      } else if (base.length >= 14) base[13] = rng.pick([0, 6, 7, 0xff, rng.int(256)]);
      return base;
    }
    case 'truncate':
      return base.subarray(0, rng.int(base.length));
    case 'extend':
      return Buffer.concat([base, rng.bytes(rng.range(1, 64))]);
    default: {
      const other = rng.pick(captures);
      const cut = rng.range(4, Math.min(base.length, 24));
      return Buffer.concat([base.subarray(0, cut), other.subarray(Math.min(cut, other.length))]);
    }
  }
}

/**
 * One datagram for a lane without a session: mutated captures, well-formed pre-session requests and
 * handshake payloads with random content, random bytes (with and without an RMCP header).
 */
export function rawInput(rng: Rng, captures: readonly Buffer[]): Buffer {
  const kind = rng.weighted<string>([
    [40, 'captured'],
    [12, 'pre-session'],
    [10, 'open-session'],
    [8, 'rakp1'],
    [4, 'rakp3'],
    [6, 'random'],
    [8, 'rmcp-random'],
    [3, 'asf'],
    [3, 'empty-ish'],
    [6, 'session-unknown'],
  ]);
  switch (kind) {
    case 'captured':
      return mutateCaptured(rng, captures);
    case 'pre-session': {
      const m = preSessionMessage(rng);
      return rng.chance(0.5) ? v15(m, rng.chance(0.9) ? m.length : rng.int(256)) : v20Plain(PayloadType.IPMI, m);
    }
    case 'open-session':
      return v20Plain(PayloadType.OPEN_SESSION_REQUEST, openSessionPayload(rng));
    case 'rakp1':
      return v20Plain(PayloadType.RAKP1, rakp1Payload(rng, rng.chance(0.5) ? rng.u32() : 0xa9e34456));
    case 'rakp3': {
      const p = Buffer.concat([
        Buffer.from([rng.int(256), rng.pick([0, 0, 1, 0x0f, rng.int(256)]), 0, 0]),
        rng.bytes(4),
      ]);
      return v20Plain(PayloadType.RAKP3, Buffer.concat([p, rng.bytes(rng.pick([0, 12, 16, 20, 32, rng.int(64)]))]));
    }
    case 'random':
      return rng.bytes(rng.int(300));
    case 'rmcp-random':
      return Buffer.concat([
        Buffer.from(RMCP_IPMI),
        Buffer.from([rng.pick([0x00, 0x06, rng.int(256)])]),
        rng.bytes(rng.int(120)),
      ]);
    case 'asf': {
      // Tags 128-255: the lanes' barrier pings use 0-127.
      const p = asfPing(128 + rng.int(128));
      if (rng.chance(0.7)) p[rng.int(p.length)] = rng.int(256);
      return rng.chance(0.3) ? p.subarray(0, rng.int(p.length)) : p;
    }
    case 'empty-ish':
      return rng.bytes(rng.int(6));
    default: {
      // An authenticated packet for a session the BMC does not have.
      const pt = rng.pick([0xc0, 0x40, 0x80, 0xc1, 0xc2, 0xd0]);
      const body = rng.bytes(rng.pick([0, 16, 32, 48, rng.int(80)]));
      const d = v20Plain(pt, body, rng.u32(), rng.u32());
      return Buffer.concat([d, Buffer.from([0xff, 0xff, 0x02, 0x07]), rng.bytes(rng.pick([12, 16, 20]))]);
    }
  }
}
