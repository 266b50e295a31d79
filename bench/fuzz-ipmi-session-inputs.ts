/**
 * The inputs of bench:fuzz's session lanes, inside a real RMCP+ session: well-formed commands and
 * mutations sealed with the session's keys (so they pass the integrity check and reach decryption,
 * the LAN message parser, the sequence window and the commands). Pure.
 */
import { PayloadType, type SessionKeys } from '../agent/bmc/ipmi/packet.js';
import { EDGE_U32, seal, type CipherMutation, type TrailerMutation } from './fuzz-ipmi-datagrams.js';
import type { Rng } from './fuzz-rng.js';
import { lanRequest } from './ipmi-lan-message.js';

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
