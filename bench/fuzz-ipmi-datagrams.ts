/**
 * The IPMI datagrams bench:fuzz sends, as bytes: RMCP framing without a session (IPMI 1.5, RMCP+
 * pre-session, ASF ping) and RMCP+ datagrams sealed with a session's keys, spoiled in the ways
 * {@link SealOptions} names while their MAC stays right, so they pass the integrity check. Pure.
 */
import { createCipheriv } from 'node:crypto';
import { hmac, type CipherSuite } from '../agent/bmc/ipmi/crypto.js';
import { PayloadType, type SessionKeys } from '../agent/bmc/ipmi/packet.js';

/** The RMCP header of an IPMI message: version 6, reserved, no ACK, class IPMI. */
export const RMCP_IPMI = [0x06, 0x00, 0xff, 0x07];
/** Values at the edges of a byte field, and of a 32-bit one. */
export const EDGE_BYTES = [0x00, 0x01, 0x06, 0x07, 0x10, 0x11, 0x12, 0x14, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xfe, 0xff];
export const EDGE_U32 = [0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** An ASF presence ping with `tag` (the lanes use pongs as barriers). */
export function asfPing(tag: number): Buffer {
  return Buffer.from([0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, tag & 0xff, 0x00, 0x00]);
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
