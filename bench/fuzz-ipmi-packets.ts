/**
 * IPMI fuzz inputs and the strict check of every reply, for bench/fuzz-ipmi.ts. Pure: no sockets.
 *
 * Inputs come from the ipmitool captures in the shared reference (`C>B` lines): bit flips, fields
 * set to edge values (RMCP header, auth type, payload type, session ID, sequence number, payload
 * length lying), truncations, extensions, splices, random bytes, and well-formed pre-session
 * requests with random commands and data. Inside a real session (see {@link SessionInput}) the
 * mutations are sealed with the session's keys, so they pass the integrity check and reach
 * decryption, the LAN message parser, the sequence window and the commands.
 *
 * Replies are checked twice: by the project's own parser (agent/bmc/ipmi/packet.ts, which is
 * direction-neutral) and by the independent rules in {@link replyProblem}.
 */
import { createCipheriv } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hmac, type CipherSuite } from '../agent/bmc/ipmi/crypto.js';
import { checksum, openPayload, parseDatagram, PayloadType, type SessionKeys } from '../agent/bmc/ipmi/packet.js';
import type { Rng } from './fuzz-rng.js';
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

const RMCP_IPMI = [0x06, 0x00, 0xff, 0x07];
const BMC_ADDR = 0x20;
const CONSOLE_ADDR = 0x81;
const EDGE_BYTES = [0x00, 0x01, 0x06, 0x07, 0x10, 0x11, 0x12, 0x14, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xfe, 0xff];
const EDGE_U32 = [0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** An ASF presence ping with `tag` (the lanes use pongs as barriers). */
export function asfPing(tag: number): Buffer {
  return Buffer.from([0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, tag & 0xff, 0x00, 0x00]);
}

/** A LAN request message; `broken` spoils one of its checksums. */
export function lanRequest(netFn: number, cmd: number, rqSeq: number, data: Buffer, broken = false): Buffer {
  const head = Buffer.from([BMC_ADDR, (netFn & 0x3f) << 2]);
  const body = Buffer.concat([Buffer.from([CONSOLE_ADDR, (rqSeq & 0x3f) << 2, cmd & 0xff]), data]);
  const c1 = checksum(head);
  const c2 = checksum(body);
  return Buffer.concat([head, Buffer.from([broken ? c1 ^ 0x01 : c1]), body, Buffer.from([c2])]);
}

/** An IPMI 1.5 unauthenticated datagram around `message` (`len` lies when given). */
export function v15(message: Buffer, len = message.length): Buffer {
  return Buffer.concat([Buffer.from([...RMCP_IPMI, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, len & 0xff]), message]);
}

/** An RMCP+ datagram without a session (pre-session payloads). */
export function v20Plain(payloadType: number, payload: Buffer, sid = 0, seq = 0, len = payload.length): Buffer {
  const head = Buffer.alloc(16);
  Buffer.from(RMCP_IPMI).copy(head, 0);
  head[4] = 0x06;
  head[5] = payloadType & 0xff;
  head.writeUInt32LE(sid >>> 0, 6);
  head.writeUInt32LE(seq >>> 0, 10);
  head.writeUInt16LE(len & 0xffff, 14);
  return Buffer.concat([head, payload]);
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

// ------------------------------------------------------------------ inside a session

/** How a sealed packet is spoiled (the MAC stays right unless the trailer mutation says otherwise). */
export type CipherMutation = 'none' | 'pad-bytes' | 'pad-length' | 'ragged' | 'iv-only' | 'empty' | 'clear';
export type TrailerMutation =
  'none' | 'pad-bytes' | 'pad-length' | 'next-header' | 'mac-short' | 'mac-long' | 'bad-mac';

/** Options of {@link seal}. */
export interface SealOptions {
  keys: SessionKeys;
  sid: number;
  seq: number;
  payloadType?: number;
  cipher?: CipherMutation;
  trailer?: TrailerMutation;
  /** IV bytes (from the seeded generator, so the plaintext of every input is reproducible). */
  iv: Buffer;
  /** Pad bytes and junk for the mutations. */
  junk: Buffer;
}

/** AES-CBC-128 of `message`, with the confidentiality trailer (and its mutations). */
function encryptWith(k2: Buffer, message: Buffer, opts: SealOptions): Buffer {
  const mutation = opts.cipher ?? 'none';
  if (mutation === 'clear') return message;
  if (mutation === 'empty') return Buffer.alloc(0);
  if (mutation === 'iv-only') return Buffer.from(opts.iv);
  const n = (16 - ((message.length + 1) % 16)) % 16;
  const pad = Buffer.alloc(n + 1);
  for (let i = 0; i < n; i++) pad[i] = mutation === 'pad-bytes' ? (opts.junk[i] ?? 0x55) : i + 1;
  pad[n] = mutation === 'pad-length' ? 16 + ((opts.junk[0] ?? 0) % 240) : n;
  const c = createCipheriv('aes-128-cbc', k2.subarray(0, 16), opts.iv).setAutoPadding(false);
  const body = Buffer.concat([opts.iv, c.update(Buffer.concat([message, pad])), c.final()]);
  return mutation === 'ragged' ? Buffer.concat([body, opts.junk.subarray(0, 1 + ((opts.junk[1] ?? 0) % 15))]) : body;
}

/** An authenticated RMCP+ datagram of this session, spoiled as `o` says, with a MAC over what is sent. */
export function seal(message: Buffer, opts: SealOptions): Buffer {
  const suite: CipherSuite = opts.keys.suite;
  const body = encryptWith(opts.keys.k2, message, opts);
  const encrypted = opts.cipher !== 'clear';
  const head = Buffer.alloc(16);
  Buffer.from(RMCP_IPMI).copy(head, 0);
  head[4] = 0x06;
  head[5] = (opts.payloadType ?? PayloadType.IPMI) | 0x40 | (encrypted ? 0x80 : 0);
  head.writeUInt32LE(opts.sid >>> 0, 6);
  head.writeUInt32LE(opts.seq >>> 0, 10);
  head.writeUInt16LE(body.length & 0xffff, 14);
  const t = opts.trailer ?? 'none';
  const unpadded = 12 + body.length + 2;
  const padLen = (4 - (unpadded % 4)) % 4;
  const pad = Buffer.alloc(padLen, t === 'pad-bytes' ? 0x00 : 0xff);
  const trailer = Buffer.concat([
    pad,
    Buffer.from([
      t === 'pad-length' ? padLen + 1 + ((opts.junk[2] ?? 0) % 200) : padLen,
      t === 'next-header' ? 0x06 : 0x07,
    ]),
  ]);
  const signed = Buffer.concat([head.subarray(4), body, trailer]);
  let mac = hmac(suite.hash, opts.keys.k1, signed).subarray(0, suite.icvLength);
  if (t === 'mac-short') mac = mac.subarray(0, mac.length - 1);
  if (t === 'mac-long') mac = Buffer.concat([mac, opts.junk.subarray(0, 1)]);
  if (t === 'bad-mac') {
    mac = Buffer.from(mac);
    mac[0] = (mac[0] ?? 0) ^ 0x01;
  }
  return Buffer.concat([head.subarray(0, 4), signed, mac]);
}

/** What a session lane sends next inside its session. */
export interface SessionInput {
  packet: Buffer;
  /** Sent twice (a retransmit the BMC must answer from its reply cache). */
  twice: boolean;
}

/** The state a session lane keeps to make its inputs. */
export interface SessionState {
  keys: SessionKeys;
  /** The BMC's session ID (what the console sends). */
  sidc: number;
  /** Next outbound session sequence number. */
  seq: number;
  rqSeq: number;
  /** The last well-formed packet sent, for replays. */
  last: Buffer | null;
}

/** A command the BMC knows (or not), with plausible and edge data. */
function sessionCommand(rng: Rng, sidc: number): { netFn: number; cmd: number; data: Buffer } {
  return rng.weighted<() => { netFn: number; cmd: number; data: Buffer }>([
    [6, () => ({ netFn: 0x00, cmd: 0x01, data: Buffer.alloc(0) })],
    [3, () => ({ netFn: 0x06, cmd: 0x01, data: Buffer.alloc(0) })],
    [5, () => ({ netFn: 0x06, cmd: 0x3b, data: Buffer.from([rng.pick([0, 1, 2, 3, 4, 5, 15, rng.int(256)])]) })],
    [4, () => ({ netFn: 0x00, cmd: 0x09, data: Buffer.from([rng.pick([5, 0, 1, 4, rng.int(128)]), 0, 0]) })],
    [
      4,
      () => ({
        netFn: 0x00,
        cmd: 0x08,
        data: Buffer.from([
          rng.pick([0, 3, 4, 5, 5, 5, rng.int(128)]),
          rng.pick([0x80, 0xc0, 0xa0, 0xe0, 0x00, 0x01, 0x02, rng.int(256)]),
          rng.pick([0x04, 0x08, 0x14, 0x00, 0x3c, rng.int(256)]),
          0,
          0,
          0,
        ]).subarray(0, rng.chance(0.8) ? 6 : rng.int(6)),
      }),
    ],
    // Chassis control: power status changes on the test driver are cheap; "cycle" and "reset" too.
    [1, () => ({ netFn: 0x00, cmd: 0x02, data: Buffer.from([rng.pick([0, 1, 2, 3, 4, 5, 6, 0x0f, rng.int(256)])]) })],
    [2, () => ({ netFn: 0x06, cmd: 0x38, data: Buffer.from([0x8e, rng.pick([4, 0, 5, rng.int(256)])]) })],
    [
      2,
      () => ({
        netFn: 0x06,
        cmd: 0x54,
        data: Buffer.from([0x0e, rng.pick([0, 1]), rng.pick([0x80, 0x81, 0xbf, rng.int(256)])]),
      }),
    ],
    [
      2,
      () => ({
        netFn: 0x06,
        cmd: 0x3c,
        data: (() => {
          const b = Buffer.alloc(4);
          // Not this lane's session: closing it would end the lane's session mid-batch.
          b.writeUInt32LE(rng.chance(0.5) ? (sidc ^ 0x5a5a5a5a) >>> 0 : rng.pick(EDGE_U32));
          return rng.chance(0.8) ? b : b.subarray(0, rng.int(4));
        })(),
      }),
    ],
    [4, () => ({ netFn: rng.int(64), cmd: rng.int(256), data: rng.bytes(rng.int(20)) })],
  ])();
}

/**
 * The next input inside a session: well-formed commands, spoiled LAN messages, spoiled encryption
 * or integrity trailers (with a valid MAC, so the BMC gets past the integrity check), other session
 * IDs and payload types, sequence numbers replayed, stale or far ahead, bit flips and retransmits.
 */
export function sessionInput(rng: Rng, s: SessionState): SessionInput {
  const { netFn, cmd, data } = sessionCommand(rng, s.sidc);
  const rqSeq = s.rqSeq++ & 0x3f;
  let message = lanRequest(netFn, cmd, rqSeq, data);
  const iv = rng.bytes(16);
  const junk = rng.bytes(16);
  const kind = rng.weighted<string>([
    [30, 'valid'],
    [10, 'message'],
    [10, 'cipher'],
    [8, 'trailer'],
    [5, 'session-id'],
    [4, 'payload-type'],
    [8, 'sequence'],
    [6, 'flip'],
    [4, 'retransmit'],
  ]);
  const base = { keys: s.keys, sid: s.sidc, iv, junk };
  const next = (): number => {
    const seq = s.seq;
    s.seq = (s.seq + 1) >>> 0 || 1;
    return seq;
  };
  switch (kind) {
    case 'message': {
      message = rng.weighted<() => Buffer>([
        [3, () => lanRequest(netFn, cmd, rqSeq, data, true)],
        [3, () => message.subarray(0, rng.int(message.length))],
        [2, () => Buffer.concat([message, rng.bytes(rng.range(1, 40))])],
        [2, () => rng.bytes(rng.int(40))],
        [1, () => Buffer.concat([message.subarray(0, 6), rng.bytes(rng.range(200, 1000)), Buffer.from([0])])],
      ])();
      return { packet: seal(message, { ...base, seq: next() }), twice: false };
    }
    case 'cipher':
      return {
        packet: seal(message, {
          ...base,
          seq: next(),
          cipher: rng.pick<CipherMutation>(['pad-bytes', 'pad-length', 'ragged', 'iv-only', 'empty', 'clear']),
        }),
        twice: false,
      };
    case 'trailer':
      return {
        packet: seal(message, {
          ...base,
          seq: next(),
          trailer: rng.pick<TrailerMutation>([
            'pad-bytes',
            'pad-length',
            'next-header',
            'mac-short',
            'mac-long',
            'bad-mac',
          ]),
        }),
        twice: false,
      };
    case 'session-id':
      return {
        packet: seal(message, { ...base, sid: rng.pick([0, ...EDGE_U32, rng.u32(), (s.sidc + 1) >>> 0]), seq: next() }),
        twice: false,
      };
    case 'payload-type':
      return {
        packet: seal(message, {
          ...base,
          seq: next(),
          payloadType: rng.pick([PayloadType.SOL, PayloadType.OEM, 0x10, 0x12, 0x14, 0x3f, rng.int(64)]),
        }),
        twice: false,
      };
    case 'sequence': {
      const high = (s.seq - 1) >>> 0;
      const seq = rng.weighted<number>([
        [3, 0],
        [3, high],
        [3, Math.max(1, high - rng.range(1, 31))],
        [3, Math.max(1, high - rng.range(32, 5000))],
        // Far ahead: later packets must continue from there, as a console that skipped would.
        [2, (high + rng.range(2, 20_000)) >>> 0],
      ]);
      if (seq > high) s.seq = (seq + 1) >>> 0 || 1;
      return { packet: seal(message, { ...base, seq }), twice: false };
    }
    case 'flip': {
      const p = seal(message, { ...base, seq: next() });
      for (let i = rng.range(1, 4); i > 0; i--) {
        const at = rng.int(p.length);
        p[at] = (p[at] ?? 0) ^ (1 << rng.int(8));
      }
      return { packet: p, twice: false };
    }
    case 'retransmit': {
      if (s.last) return { packet: s.last, twice: false };
      const p = seal(message, { ...base, seq: next() });
      s.last = p;
      return { packet: p, twice: true };
    }
    default: {
      const p = seal(message, { ...base, seq: next() });
      s.last = p;
      return { packet: p, twice: rng.chance(0.05) };
    }
  }
}

// ------------------------------------------------------------------ reply checks

/** RAKP / Open Session status codes the specification defines (0x00-0x12). */
const MAX_RAKP_STATUS = 0x12;

/** A completion code the specification defines: 00, 80-BE (command-specific), C0-D6, FF. */
export function validCompletionCode(cc: number): boolean {
  return cc === 0x00 || (cc >= 0x80 && cc <= 0xbe) || (cc >= 0xc0 && cc <= 0xd6) || cc === 0xff;
}

/** Why a LAN response message is malformed, or null. */
export function lanResponseProblem(m: Buffer): string | null {
  if (m.length < 8) return `LAN response of ${m.length} bytes`;
  if (checksum(m.subarray(0, 2)) !== m[2]) return 'LAN response header checksum';
  if (checksum(m.subarray(3, m.length - 1)) !== m[m.length - 1]) return 'LAN response body checksum';
  const netFn = (m[1] ?? 0) >> 2;
  if (netFn % 2 !== 1) return `LAN response with request netFn 0x${netFn.toString(16)}`;
  const cc = m[6] ?? 0;
  if (!validCompletionCode(cc)) return `completion code 0x${cc.toString(16)}`;
  return null;
}

/** What a well-formed reply was, for the figures. */
export type ReplyKind =
  | 'pong'
  | 'v15'
  | 'pre-session'
  | 'open-session'
  | 'open-session-refused'
  | 'rakp2'
  | 'rakp2-refused'
  | 'rakp4'
  | 'rakp4-refused'
  | 'session';

/** A reply's verdict: its kind, or why it is malformed. */
export type ReplyVerdict =
  { ok: true; kind: ReplyKind; completionCode: number | null } | { ok: false; problem: string };

const bad = (problem: string): ReplyVerdict => ({ ok: false, problem });

/**
 * Checks one datagram from the BMC. `keysOf(sid)` gives the keys of the console session `sid`
 * (the lane's own sessions); an authenticated reply to any other session is malformed.
 */
export function checkReply(buf: Buffer, keysOf: (sid: number) => SessionKeys | null): ReplyVerdict {
  if (buf.length < 4 || buf[0] !== 0x06 || buf[1] !== 0x00 || buf[2] !== 0xff) return bad('RMCP header');
  if (buf[3] === 0x06) {
    const ok =
      buf.length === 28 &&
      buf.readUInt32BE(4) === 4542 &&
      buf[8] === 0x40 &&
      buf[10] === 0x00 &&
      buf[11] === 0x10 &&
      buf.readUInt32BE(12) === 4542 &&
      buf[20] === 0x81;
    return ok ? { ok: true, kind: 'pong', completionCode: null } : bad('ASF pong');
  }
  if (buf[3] !== 0x07) return bad(`RMCP class 0x${(buf[3] ?? 0).toString(16)}`);
  const own = parseDatagram(buf, (sid) => keysOf(sid)?.suite.icvLength ?? null);
  if (own.kind === 'drop') return bad(`the project's parser drops it: ${own.reason}`);
  if (own.kind === 'asf-ping') return bad('a ping from the BMC');
  if (own.kind === 'v15') {
    if (own.sessionId !== 0 || own.seq !== 0) return bad('IPMI 1.5 reply with a session');
    const end = 14 + own.message.length;
    // The BMC pads these lengths by one zero byte (a legacy quirk ipmitool and pyghmi expect).
    const padded = [56, 84, 112, 128, 156].includes(end) && buf.length === end + 1 && buf[end] === 0;
    if (buf.length !== end && !padded) return bad('IPMI 1.5 reply length');
    const p = lanResponseProblem(own.message);
    return p ? bad(p) : { ok: true, kind: 'v15', completionCode: own.message[6] ?? null };
  }
  const p = own.payload;
  if (!own.authenticated) {
    if (own.encrypted) return bad('encrypted without authentication');
    if (own.sessionId !== 0 || own.seq !== 0) return bad('pre-session reply with a session ID or sequence number');
    switch (own.payloadType) {
      case PayloadType.IPMI: {
        const problem = lanResponseProblem(p);
        return problem ? bad(problem) : { ok: true, kind: 'pre-session', completionCode: p[6] ?? null };
      }
      case PayloadType.OPEN_SESSION_RESPONSE: {
        const status = p[1] ?? 0xff;
        if (p.length < 8 || status > MAX_RAKP_STATUS) return bad('Open Session Response status');
        if (status !== 0)
          return p.length === 8
            ? { ok: true, kind: 'open-session-refused', completionCode: null }
            : bad('refused Open Session Response length');
        if (p.length !== 36) return bad(`Open Session Response of ${p.length} bytes`);
        if (p.readUInt32LE(8) === 0) return bad('Open Session Response with BMC session ID 0');
        if (p[12] !== 0 || p[20] !== 1 || p[28] !== 2 || p[15] !== 8 || p[23] !== 8 || p[31] !== 8)
          return bad('Open Session Response algorithm records');
        return { ok: true, kind: 'open-session', completionCode: null };
      }
      case PayloadType.RAKP2: {
        const status = p[1] ?? 0xff;
        if (p.length < 8 || status > MAX_RAKP_STATUS) return bad('RAKP2 status');
        if (status !== 0)
          return p.length === 8
            ? { ok: true, kind: 'rakp2-refused', completionCode: null }
            : bad('refused RAKP2 length');
        return p.length === 60 || p.length === 72
          ? { ok: true, kind: 'rakp2', completionCode: null }
          : bad(`RAKP2 of ${p.length} bytes`);
      }
      case PayloadType.RAKP4: {
        const status = p[1] ?? 0xff;
        if (p.length < 8 || status > MAX_RAKP_STATUS) return bad('RAKP4 status');
        if (status !== 0)
          return p.length === 8
            ? { ok: true, kind: 'rakp4-refused', completionCode: null }
            : bad('refused RAKP4 length');
        return p.length === 20 || p.length === 24
          ? { ok: true, kind: 'rakp4', completionCode: null }
          : bad(`RAKP4 of ${p.length} bytes`);
      }
      default:
        return bad(`pre-session payload type 0x${own.payloadType.toString(16)}`);
    }
  }
  if (!own.encrypted) return bad('session reply not encrypted');
  if (own.payloadType !== PayloadType.IPMI) return bad(`session reply payload type 0x${own.payloadType.toString(16)}`);
  const keys = keysOf(own.sessionId);
  if (!keys) return bad('authenticated reply to a session the console does not have');
  const message = openPayload(own, keys);
  if (!message) return bad('session reply fails its integrity check or decryption');
  const problem = lanResponseProblem(message);
  return problem ? bad(problem) : { ok: true, kind: 'session', completionCode: message[6] ?? null };
}
