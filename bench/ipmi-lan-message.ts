/**
 * IPMI LAN messages as the console (ipmitool) sends requests and reads responses: the BMC at
 * 0x20, the console at 0x81 (LUN 0), the request sequence in the top six bits, two checksums.
 * Shared by the load generator's sessions (bench/ipmi-client.ts) and the fuzz inputs.
 */
import { checksum } from '../agent/bmc/ipmi/packet.js';

const BMC_ADDR = 0x20;
const CONSOLE_ADDR = 0x81;

/** A LAN response message as the console reads it. */
export interface LanResponse {
  readonly netFn: number;
  readonly rqSeq: number;
  readonly cmd: number;
  /** Completion code. */
  readonly cc: number;
  readonly data: Buffer;
}

/** A LAN request from the console; `broken` spoils its header checksum (fuzz inputs). */
export function lanRequest(
  netFn: number,
  cmd: number,
  rqSeq: number,
  data: Buffer = Buffer.alloc(0),
  broken = false,
): Buffer {
  const head = Buffer.from([BMC_ADDR, (netFn & 0x3f) << 2]);
  const body = Buffer.concat([Buffer.from([CONSOLE_ADDR, (rqSeq & 0x3f) << 2, cmd & 0xff]), data]);
  const headSum = checksum(head);
  return Buffer.concat([head, Buffer.from([broken ? headSum ^ 0x01 : headSum]), body, Buffer.from([checksum(body)])]);
}

/** Parses a LAN response; null when short or a checksum is wrong. */
export function parseLanResponse(m: Buffer): LanResponse | null {
  if (m.length < 8) return null;
  if (checksum(m.subarray(0, 2)) !== m[2]) return null;
  if (checksum(m.subarray(3, m.length - 1)) !== m[m.length - 1]) return null;
  return {
    netFn: (m[1] ?? 0) >> 2,
    rqSeq: (m[4] ?? 0) >> 2,
    cmd: m[5] ?? 0,
    cc: m[6] ?? 0xff,
    data: m.subarray(7, m.length - 1),
  };
}
