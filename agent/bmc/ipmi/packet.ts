/**
 * RMCP / IPMI 1.5 / RMCP+ (IPMI 2.0) packet codec. Parsing never throws: anything malformed yields
 * a `drop` result with the reason, and the server counts it.
 */
import { additionalKey, decrypt, encrypt, hmac, macEqual, type CipherSuite } from './crypto.js';

/** RMCP+ payload types. */
export const PayloadType = {
  IPMI: 0x00,
  SOL: 0x01,
  OEM: 0x02,
  OPEN_SESSION_REQUEST: 0x10,
  OPEN_SESSION_RESPONSE: 0x11,
  RAKP1: 0x12,
  RAKP2: 0x13,
  RAKP3: 0x14,
  RAKP4: 0x15,
} as const;

/** A parsed inbound datagram. */
export type Inbound =
  | { kind: 'asf-ping'; tag: number }
  /** IPMI 1.5 framing; tenks only answers unauthenticated pre-session messages in it. */
  | { kind: 'v15'; authType: number; sessionId: number; seq: number; message: Buffer }
  | {
      kind: 'v20';
      payloadType: number;
      encrypted: boolean;
      authenticated: boolean;
      sessionId: number;
      seq: number;
      /** The payload as on the wire (still encrypted when `encrypted`). */
      payload: Buffer;
      /** Bytes covered by the integrity AuthCode (offset 4 through the next-header byte). */
      signed: Buffer;
      authCode: Buffer;
    }
  | { kind: 'drop'; reason: string };

const RMCP_IPMI = Buffer.from([0x06, 0x00, 0xff, 0x07]);

/** Parses a datagram; `icvLengthOf(sessionId)` gives the AuthCode length of an open session. */
export function parseDatagram(buf: Buffer, icvLengthOf: (sessionId: number) => number | null): Inbound {
  if (buf.length < 4 || buf[0] !== 0x06 || buf[2] !== 0xff) return { kind: 'drop', reason: 'not RMCP' };
  const cls = buf[3] ?? 0;
  if (cls === 0x06) {
    // ASF presence ping: IANA 4542, type 0x80.
    if (buf.length < 12 || buf.readUInt32BE(4) !== 4542 || buf[8] !== 0x80)
      return { kind: 'drop', reason: 'not an ASF ping' };
    return { kind: 'asf-ping', tag: buf[9] ?? 0 };
  }
  // Reasons are constant strings: they key the BMC's drop counters, which values must not grow.
  if (cls !== 0x07) return { kind: 'drop', reason: 'RMCP class neither IPMI nor ASF' };
  if (buf.length < 5) return { kind: 'drop', reason: 'truncated' };
  const authType = buf[4] ?? 0;
  if (authType !== 0x06) {
    if (authType !== 0) return { kind: 'drop', reason: 'IPMI 1.5 auth type other than none' };
    if (buf.length < 14) return { kind: 'drop', reason: 'truncated 1.5 header' };
    const len = buf[13] ?? 0;
    if (buf.length < 14 + len || len < 7) return { kind: 'drop', reason: 'truncated 1.5 message' };
    return {
      kind: 'v15',
      authType,
      seq: buf.readUInt32LE(5),
      sessionId: buf.readUInt32LE(9),
      message: buf.subarray(14, 14 + len),
    };
  }
  if (buf.length < 16) return { kind: 'drop', reason: 'truncated 2.0 header' };
  const pt = buf[5] ?? 0;
  const payloadType = pt & 0x3f;
  if (payloadType === PayloadType.OEM) return { kind: 'drop', reason: 'OEM payload' };
  const sessionId = buf.readUInt32LE(6);
  const seq = buf.readUInt32LE(10);
  const len = buf.readUInt16LE(14);
  if (buf.length < 16 + len) return { kind: 'drop', reason: 'truncated payload' };
  const payload = buf.subarray(16, 16 + len);
  const authenticated = (pt & 0x40) !== 0;
  let signed: Buffer = Buffer.alloc(0);
  let authCode: Buffer = Buffer.alloc(0);
  if (authenticated) {
    const icv = icvLengthOf(sessionId);
    if (icv === null) return { kind: 'drop', reason: 'authenticated packet for an unknown session' };
    const rest = buf.length - 16 - len - icv;
    // pad (0..3 bytes of 0xFF), pad length, next header 0x07
    if (rest < 2 || rest > 5) return { kind: 'drop', reason: 'bad integrity trailer' };
    const padLen = buf[16 + len + rest - 2] ?? 255;
    if (padLen !== rest - 2 || buf[16 + len + rest - 1] !== 0x07)
      return { kind: 'drop', reason: 'bad integrity trailer' };
    signed = buf.subarray(4, 16 + len + rest);
    authCode = buf.subarray(16 + len + rest);
  } else if (buf.length !== 16 + len) {
    return { kind: 'drop', reason: 'trailing bytes' };
  }
  return {
    kind: 'v20',
    payloadType,
    encrypted: (pt & 0x80) !== 0,
    authenticated,
    sessionId,
    seq,
    payload,
    signed,
    authCode,
  };
}

/** Two's complement checksum: the covered bytes plus it sum to 0 mod 256. */
export function checksum(bytes: Buffer): number {
  let s = 0;
  for (const b of bytes) s = (s + b) & 0xff;
  return (0x100 - s) & 0xff;
}

/** An IPMI LAN request message. */
export interface LanRequest {
  rsAddr: number;
  netFn: number;
  rsLun: number;
  rqAddr: number;
  rqSeq: number;
  rqLun: number;
  cmd: number;
  data: Buffer;
}

/** Parses an IPMI LAN request; null when short or a checksum is wrong. */
export function parseLanRequest(m: Buffer): LanRequest | null {
  if (m.length < 7) return null;
  if (checksum(m.subarray(0, 2)) !== m[2]) return null;
  if (checksum(m.subarray(3, m.length - 1)) !== m[m.length - 1]) return null;
  const b1 = m[1] ?? 0;
  const b4 = m[4] ?? 0;
  return {
    rsAddr: m[0] ?? 0,
    netFn: b1 >> 2,
    rsLun: b1 & 3,
    rqAddr: m[3] ?? 0,
    rqSeq: b4 >> 2,
    rqLun: b4 & 3,
    cmd: m[5] ?? 0,
    data: m.subarray(6, m.length - 1),
  };
}

/** The response message to `req` with completion code `cc` and `data`. */
export function buildLanResponse(req: LanRequest, cc: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.from([req.rqAddr, ((req.netFn + 1) << 2) | req.rqLun]);
  const body = Buffer.concat([Buffer.from([req.rsAddr, (req.rqSeq << 2) | req.rsLun, req.cmd, cc]), data]);
  return Buffer.concat([head, Buffer.from([checksum(head)]), body, Buffer.from([checksum(body)])]);
}

/** An IPMI 1.5 unauthenticated datagram (pre-session replies), padded as pyghmi/ipmitool expect. */
export function buildV15(message: Buffer): Buffer {
  const out = Buffer.concat([RMCP_IPMI, Buffer.from([0x00, 0, 0, 0, 0, 0, 0, 0, 0, message.length]), message]);
  // Legacy quirk: some stacks mis-handle these exact lengths; a trailing pad byte avoids them.
  return [56, 84, 112, 128, 156].includes(out.length) ? Buffer.concat([out, Buffer.from([0])]) : out;
}

/** Keys of an active session, for building and checking its packets. */
export interface SessionKeys {
  suite: CipherSuite;
  k1: Buffer;
  k2: Buffer;
}

/** Derives K1/K2 from the SIK. */
export function sessionKeys(suite: CipherSuite, sik: Buffer): SessionKeys {
  return { suite, k1: additionalKey(suite, sik, 1), k2: additionalKey(suite, sik, 2) };
}

/** An RMCP+ datagram; with `keys`, the payload is encrypted and an integrity trailer added. */
export function buildV20(
  payloadType: number,
  sessionId: number,
  seq: number,
  payload: Buffer,
  keys: SessionKeys | null,
  iv?: Buffer,
): Buffer {
  const body = keys ? encrypt(keys.k2, payload, iv) : payload;
  const head = Buffer.alloc(16);
  RMCP_IPMI.copy(head, 0);
  head[4] = 0x06;
  head[5] = payloadType | (keys ? 0xc0 : 0);
  head.writeUInt32LE(sessionId >>> 0, 6);
  head.writeUInt32LE(seq >>> 0, 10);
  head.writeUInt16LE(body.length, 14);
  if (!keys) return Buffer.concat([head, body]);
  const unpadded = 12 + body.length + 2; // offset 4 through next header
  const pad = (4 - (unpadded % 4)) % 4;
  const trailer = Buffer.concat([Buffer.alloc(pad, 0xff), Buffer.from([pad, 0x07])]);
  const signed = Buffer.concat([head.subarray(4), body, trailer]);
  const mac = hmac(keys.suite.hash, keys.k1, signed).subarray(0, keys.suite.icvLength);
  return Buffer.concat([head.subarray(0, 4), signed, mac]);
}

/** Checks the AuthCode and decrypts an authenticated, encrypted IPMI payload; null on any failure. */
export function openPayload(p: Extract<Inbound, { kind: 'v20' }>, keys: SessionKeys): Buffer | null {
  if (!p.authenticated) return null;
  const mac = hmac(keys.suite.hash, keys.k1, p.signed).subarray(0, keys.suite.icvLength);
  if (!macEqual(mac, p.authCode)) return null;
  return p.encrypted ? decrypt(keys.k2, p.payload) : p.payload;
}

/** The ASF presence pong for `tag`. */
export function buildAsfPong(tag: number): Buffer {
  return Buffer.from([
    0x06,
    0x00,
    0xff,
    0x06,
    0x00,
    0x00,
    0x11,
    0xbe,
    0x40,
    tag & 0xff,
    0x00,
    0x10,
    0x00,
    0x00,
    0x11,
    0xbe,
    0,
    0,
    0,
    0,
    0x81,
    0x00,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
}
