/**
 * The console's side of the RMCP+ handshake (Open Session, RAKP 1-4), message by message, as
 * ipmitool builds them: for the load generator's sessions (bench/ipmi-client.ts) and the fuzz's
 * session lanes (bench/fuzz-ipmi.ts), which also spoil some on purpose.
 */
import type { CipherSuite, RakpContext } from '../agent/bmc/ipmi/crypto.js';
import { parseDatagram } from '../agent/bmc/ipmi/packet.js';

/** ipmitool's RAKP1 role with `-L ADMINISTRATOR`: ADMIN (4) | name-only lookup (0x10). */
const ROLE_ADMIN_NAME_ONLY = 0x14;

/** The algorithms an Open Session request asks for. */
export type Algorithms = Pick<CipherSuite, 'auth' | 'integrity' | 'confidentiality'>;

/** Open Session request: message tag, privilege 0 ("highest matching"), the console's session ID, one record per algorithm. */
export function openSessionRequest(tag: number, sidm: Buffer, algorithms: Algorithms): Buffer {
  return Buffer.concat([
    Buffer.from([tag, 0x00, 0, 0]),
    sidm,
    Buffer.from([
      ...[0x00, 0, 0, 0x08, algorithms.auth, 0, 0, 0],
      ...[0x01, 0, 0, 0x08, algorithms.integrity, 0, 0, 0],
      ...[0x02, 0, 0, 0x08, algorithms.confidentiality, 0, 0, 0],
    ]),
  ]);
}

/** RAKP message 1: the BMC's session ID, the console's random number, the role (ADMINISTRATOR, by name) and the user name. */
export function rakp1Request(tag: number, sidc: Buffer, rm: Buffer, username: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([tag, 0, 0, 0]),
    sidc,
    rm,
    Buffer.from([ROLE_ADMIN_NAME_ONLY, 0, 0, username.length]),
    username,
  ]);
}

/** What both sides' RAKP codes are computed from, once RAKP message 2 (`rakp2`, its payload) is in. */
export function rakpContext(
  suite: CipherSuite,
  ids: { sidm: Buffer; sidc: Buffer },
  rm: Buffer,
  rakp2: Buffer,
  username: Buffer,
): RakpContext {
  return {
    suite,
    sidm: ids.sidm,
    sidc: ids.sidc,
    rm,
    rc: Buffer.from(rakp2.subarray(8, 24)),
    guid: Buffer.from(rakp2.subarray(24, 40)),
    rolem: ROLE_ADMIN_NAME_ONLY,
    username,
  };
}

/** RAKP message 3: a status (0 unless the console gives up) and the key exchange auth code. */
export function rakp3Request(tag: number, status: number, sidc: Buffer, authCode: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag, status, 0, 0]), sidc, authCode]);
}

/** The payload of `buf` when it is an unauthenticated reply of `payloadType` to the message tagged `tag`; else null. */
export function handshakeReply(buf: Buffer, payloadType: number, tag: number): Buffer | null {
  const p = parseDatagram(buf, () => null);
  if (p.kind !== 'v20' || p.authenticated || p.payloadType !== payloadType) return null;
  return p.payload[0] === tag ? p.payload : null;
}
