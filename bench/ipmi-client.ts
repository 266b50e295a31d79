/**
 * The console (ipmitool) side of one complete IPMI 2.0 / RMCP+ lanplus session, for the BMC
 * benchmark's load generator: the exchange `ipmitool -I lanplus -C <suite> ... power status` does,
 * with every reply checked (tags, session IDs, status codes, RAKP HMACs, integrity MACs, decryption,
 * message checksums, echoed rqSeq/cmd, completion codes).
 *
 * Packet framing and crypto come from the BMC engine (agent/bmc/ipmi/packet.ts, crypto.ts): they are
 * direction-neutral. The console's LAN messages and handshake messages are bench/ipmi-lan-message.ts
 * and bench/ipmi-handshake.ts.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import {
  macEqual,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  sessionIntegrityKey,
  SUITES,
  userKey,
  type RakpContext,
} from '../agent/bmc/ipmi/crypto.js';
import {
  buildV15,
  buildV20,
  openPayload,
  parseDatagram,
  PayloadType,
  sessionKeys,
  type SessionKeys,
} from '../agent/bmc/ipmi/packet.js';
import { handshakeReply, openSessionRequest, rakp1Request, rakp3Request, rakpContext } from './ipmi-handshake.js';
import { lanRequest, parseLanResponse, type LanResponse } from './ipmi-lan-message.js';

/** ipmitool's fixed console session ID (SIDm), `A4 A3 A2 A0` on the wire. */
const IPMITOOL_SIDM = 0xa0a2a3a4;

/** Why a session did not complete: the step, and what went wrong there. */
export class SessionFailure extends Error {
  /** Retransmits the session made before it failed. */
  retransmits = 0;
  constructor(
    readonly step: string,
    readonly reason: string,
  ) {
    super(`${step}: ${reason}`);
  }
}

/** Options of one session. */
export interface SessionOptions {
  host: string;
  port: number;
  username: string;
  password: string;
  suite: 3 | 17;
  /** Wait per try before a retransmit (ms); ipmitool waits about 1 s. */
  timeoutMs: number;
  /** Retransmits per request after the first try (ipmitool: 4). */
  retries: number;
  /**
   * `minimal`: set privilege, chassis status, close. `ipmitool`: also the probes ipmitool 1.8.19
   * makes before the command (Get HPM.x Capabilities, Get Device ID, PICMG and VSO properties).
   */
  flow: SessionFlow;
}

/** Which in-session requests a session makes (see {@link SessionOptions.flow}). */
export type SessionFlow = 'minimal' | 'ipmitool';

/** What a completed session saw. */
export interface SessionResult {
  power: 'on' | 'off';
  retransmits: number;
}

/**
 * One UDP socket connected to the BMC, used for a single session: a new source port per session,
 * as each ipmitool run has (pyghmi keys its sessions by the console's address and port).
 */
class Exchange {
  retransmits = 0;
  private waiter: ((buf: Buffer) => void) | null = null;
  private failed: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on('message', (buf) => {
      this.waiter?.(buf);
    });
    socket.on('error', (e) => {
      // ECONNREFUSED (ICMP port unreachable) and the like: fail the step in progress.
      this.failed = e;
      this.waiter?.(Buffer.alloc(0));
    });
  }

  static open(host: string, port: number): Promise<Exchange> {
    const socket = createSocket('udp4');
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => {
        socket.close();
        reject(new SessionFailure('socket', e.message));
      };
      socket.once('error', onError);
      socket.connect(port, host, () => {
        socket.off('error', onError);
        resolve(new Exchange(socket));
      });
    });
  }

  /**
   * Sends `packet` and resolves the first reply `accept` takes (it returns null to ignore a datagram,
   * e.g. a late answer to an earlier try), retransmitting the same bytes on each timeout.
   */
  request<T>(step: string, packet: Buffer, o: SessionOptions, accept: (buf: Buffer) => T | null): Promise<T> {
    if (this.failed) return Promise.reject(new SessionFailure(step, this.failed.message));
    return new Promise<T>((resolve, reject) => {
      let tries = 0;
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(timer);
        this.waiter = null;
      };
      const send = (): void => {
        tries++;
        this.socket.send(packet);
        timer = setTimeout(() => {
          if (tries > o.retries) {
            finish();
            reject(new SessionFailure(step, 'timeout'));
            return;
          }
          this.retransmits++;
          send();
        }, o.timeoutMs);
      };
      this.waiter = (buf) => {
        if (this.failed) {
          finish();
          reject(new SessionFailure(step, this.failed.message));
          return;
        }
        let value: T | null;
        try {
          value = accept(buf);
        } catch (e) {
          finish();
          reject(e instanceof SessionFailure ? e : new SessionFailure(step, String(e)));
          return;
        }
        if (value === null) return;
        finish();
        resolve(value);
      };
      send();
    });
  }

  close(): void {
    this.socket.close();
  }
}

function fail(step: string, reason: string): never {
  throw new SessionFailure(step, reason);
}

/** Fails `step` unless the handshake reply `r` has status 0 and echoes the console's session ID. */
function accepted(step: string, r: Buffer, sidm: Buffer): void {
  if (r[1] !== 0) fail(step, `status 0x${(r[1] ?? 0).toString(16)}`);
  if (!r.subarray(4, 8).equals(sidm)) fail(step, 'wrong console session ID');
}

/**
 * Runs one complete `power status` session: Get Channel Auth Capabilities (IPMI 1.5 framing), Open
 * Session, RAKP 1/2, RAKP 3/4, Set Session Privilege (ADMINISTRATOR), [ipmitool's probes,] Get
 * Chassis Status, Close Session. Throws {@link SessionFailure} on a timeout or on any reply that does
 * not check out.
 */
export async function powerStatusSession(o: SessionOptions): Promise<SessionResult> {
  const suite = SUITES[o.suite];
  const ex = await Exchange.open(o.host, o.port);
  try {
    let rqSeq = 0;
    // ipmitool's outbound session sequence counts pre-session packets too: with -C the first is 3.
    let outSeq = 3;
    const lan = (step: string, buf: Buffer, cmd: number, netFn: number, seq: number, anyCc = false): LanResponse => {
      const r = parseLanResponse(buf);
      if (!r) fail(step, 'bad message checksum');
      if (r.netFn !== netFn + 1 || r.cmd !== cmd || r.rqSeq !== seq) fail(step, 'reply does not match the request');
      if (r.cc !== 0 && !anyCc) fail(step, `completion code 0x${r.cc.toString(16)}`);
      return r;
    };

    // 1. Get Channel Authentication Capabilities, IPMI 1.5 framing, asking for IPMI 2.0 data.
    const capSeq = rqSeq++;
    const caps = await ex.request(
      'auth caps',
      buildV15(lanRequest(0x06, 0x38, capSeq, Buffer.from([0x8e, 0x04]))),
      o,
      (buf) => {
        const p = parseDatagram(buf, () => null);
        if (p.kind !== 'v15' || p.sessionId !== 0) return null;
        return lan('auth caps', p.message, 0x38, 0x06, capSeq);
      },
    );
    if (((caps.data[1] ?? 0) & 0x80) === 0 || ((caps.data[3] ?? 0) & 0x02) === 0)
      fail('auth caps', 'BMC does not offer IPMI 2.0');

    // 2. Open Session with the suite's algorithms, privilege 0 ("highest matching", as -L ADMINISTRATOR).
    const tag = randomBytes(1)[0] ?? 0;
    const sidmBytes = Buffer.alloc(4);
    sidmBytes.writeUInt32LE(IPMITOOL_SIDM);
    const openReq = openSessionRequest(tag, sidmBytes, suite);
    const sidc = await ex.request(
      'open session',
      buildV20(PayloadType.OPEN_SESSION_REQUEST, 0, 0, openReq, null),
      o,
      (buf) => {
        const r = handshakeReply(buf, PayloadType.OPEN_SESSION_RESPONSE, tag);
        if (!r || r.length < 8) return null;
        if (r[1] !== 0) fail('open session', `status 0x${(r[1] ?? 0).toString(16)}`);
        if (r.length < 36) fail('open session', 'short response');
        if (!r.subarray(4, 8).equals(sidmBytes)) fail('open session', 'wrong console session ID');
        if (r[16] !== suite.auth || r[24] !== suite.integrity || r[32] !== suite.confidentiality)
          fail('open session', `algorithms ${r[16]}/${r[24]}/${r[32]} are not the ones requested`);
        const id = r.readUInt32LE(8);
        if (id === 0) fail('open session', 'BMC session ID 0');
        return Buffer.from(r.subarray(8, 12));
      },
    );
    const sidcNum = sidc.readUInt32LE(0);

    // 3. RAKP1 -> RAKP2: check the BMC's key exchange auth code.
    const rm = randomBytes(16);
    const username = Buffer.from(o.username, 'utf8');
    const rakp1 = rakp1Request(tag, sidc, rm, username);
    const kuid = userKey(o.password);
    const ctx = await ex.request(
      'rakp2',
      buildV20(PayloadType.RAKP1, 0, 0, rakp1, null),
      o,
      (buf): RakpContext | null => {
        const r = handshakeReply(buf, PayloadType.RAKP2, tag);
        if (!r || r.length < 8) return null;
        accepted('rakp2', r, sidmBytes);
        const macLength = suite.hash === 'sha1' ? 20 : 32;
        if (r.length !== 40 + macLength) fail('rakp2', `length ${r.length}`);
        const c = rakpContext(suite, { sidm: sidmBytes, sidc }, rm, r, username);
        if (!macEqual(rakp2AuthCode(c, kuid), r.subarray(40))) fail('rakp2', 'key exchange auth code does not match');
        return c;
      },
    );

    // 4. RAKP3 -> RAKP4: prove the password, check the BMC's integrity check value.
    const rakp3 = rakp3Request(tag, 0, sidc, rakp3AuthCode(ctx, kuid));
    const sik = sessionIntegrityKey(ctx, kuid);
    await ex.request('rakp4', buildV20(PayloadType.RAKP3, 0, 0, rakp3, null), o, (buf) => {
      const r = handshakeReply(buf, PayloadType.RAKP4, tag);
      if (!r || r.length < 8) return null;
      accepted('rakp4', r, sidmBytes);
      if (!macEqual(rakp4Icv(ctx, sik), r.subarray(8))) fail('rakp4', 'integrity check value does not match');
      return true;
    });
    const keys: SessionKeys = sessionKeys(suite, sik);

    // 5-7. Authenticated, encrypted commands.
    /** An in-session request; `anyCc`: an error completion code is a fine answer (ipmitool's probes). */
    const command = (step: string, netFn: number, cmd: number, data: Buffer, anyCc = false): Promise<LanResponse> => {
      const seq = rqSeq++ & 0x3f;
      const packet = buildV20(PayloadType.IPMI, sidcNum, outSeq++, lanRequest(netFn, cmd, seq, data), keys);
      return ex.request(step, packet, o, (buf) => {
        const p = parseDatagram(buf, (sid) => (sid === IPMITOOL_SIDM ? suite.icvLength : null));
        if (p.kind !== 'v20' || p.payloadType !== PayloadType.IPMI || p.sessionId !== IPMITOOL_SIDM) return null;
        if (!p.authenticated || !p.encrypted) fail(step, 'reply not authenticated and encrypted');
        const message = openPayload(p, keys);
        if (!message) fail(step, 'integrity check or decryption failed');
        const r = parseLanResponse(message);
        // A reply to an earlier try of a previous request: ignore it.
        if (r && r.rqSeq !== seq) return null;
        return lan(step, message, cmd, netFn, seq, anyCc);
      });
    };
    const priv = await command('set privilege', 0x06, 0x3b, Buffer.from([0x04]));
    if (priv.data[0] !== 0x04) fail('set privilege', `privilege ${priv.data[0]} granted`);
    if (o.flow === 'ipmitool') {
      await command('hpm capabilities', 0x2c, 0x3e, Buffer.from([0x00, 0x02]), true);
      await command('device id', 0x06, 0x01, Buffer.alloc(0));
      await command('picmg properties', 0x2c, 0x00, Buffer.from([0x00]), true);
      await command('vso properties', 0x2c, 0x00, Buffer.from([0x03]), true);
    }
    const status = await command('chassis status', 0x00, 0x01, Buffer.alloc(0));
    if (status.data.length < 3) fail('chassis status', 'short reply');
    await command('close session', 0x06, 0x3c, sidc);
    return { power: ((status.data[0] ?? 0) & 0x01) !== 0 ? 'on' : 'off', retransmits: ex.retransmits };
  } catch (e) {
    const f = e instanceof SessionFailure ? e : new SessionFailure('session', String(e));
    f.retransmits = ex.retransmits;
    throw f;
  } finally {
    ex.close();
  }
}
