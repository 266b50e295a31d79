/**
 * The strict check of every datagram a BMC sends back to bench:fuzz: by the project's own parser
 * (agent/bmc/ipmi/packet.ts, which is direction-neutral) and by independent rules (RMCP header,
 * lengths, statuses, MACs, decryption, checksums, response netFn, completion code). Pure.
 */
import { checksum, openPayload, parseDatagram, PayloadType, type SessionKeys } from '../agent/bmc/ipmi/packet.js';

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
 * A handshake reply (`name`, payload `p`): a status the specification defines; a refusal is its
 * 8 bytes alone, an acceptance one of `lengths`.
 */
function handshakeVerdict(
  p: Buffer,
  name: string,
  kind: 'open-session' | 'rakp2' | 'rakp4',
  lengths: readonly number[],
): ReplyVerdict {
  const status = p[1] ?? 0xff;
  if (p.length < 8 || status > MAX_RAKP_STATUS) return bad(`${name} status`);
  if (status !== 0)
    return p.length === 8 ? { ok: true, kind: `${kind}-refused`, completionCode: null } : bad(`refused ${name} length`);
  return lengths.includes(p.length) ? { ok: true, kind, completionCode: null } : bad(`${name} of ${p.length} bytes`);
}

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
        const v = handshakeVerdict(p, 'Open Session Response', 'open-session', [36]);
        if (!v.ok || v.kind !== 'open-session') return v;
        if (p.readUInt32LE(8) === 0) return bad('Open Session Response with BMC session ID 0');
        if (p[12] !== 0 || p[20] !== 1 || p[28] !== 2 || p[15] !== 8 || p[23] !== 8 || p[31] !== 8)
          return bad('Open Session Response algorithm records');
        return v;
      }
      case PayloadType.RAKP2:
        return handshakeVerdict(p, 'RAKP2', 'rakp2', [60, 72]);
      case PayloadType.RAKP4:
        return handshakeVerdict(p, 'RAKP4', 'rakp4', [20, 24]);
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
