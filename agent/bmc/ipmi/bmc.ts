/** One node's IPMI BMC: datagram in, datagram out (or nothing). Transport-free, so it is unit-testable. */
import type { BmcBackend, BmcPowerAction } from '../backend.js';
import type { BootDevice } from '../../compute/index.js';
import { fruData } from './fru.js';
import {
  buildAsfPong,
  buildLanResponse,
  buildV15,
  buildV20,
  openPayload,
  parseDatagram,
  parseLanRequest,
  PayloadType,
  type LanRequest,
} from './packet.js';
import { Privilege, RakpStatus, SessionTable, type BmcUser, type Session, type SessionLimits } from './session.js';

/** Completion codes. */
export const Cc = {
  OK: 0x00,
  NODE_BUSY: 0xc0,
  INVALID_COMMAND: 0xc1,
  BAD_LENGTH: 0xc7,
  OUT_OF_RANGE: 0xc9,
  NOT_PRESENT: 0xcb,
  INVALID_DATA: 0xcc,
  INSUFFICIENT_PRIVILEGE: 0xd4,
  UNSUPPORTED_PARAMETER: 0x80,
  SET_IN_PROGRESS: 0x81,
  UNSPECIFIED: 0xff,
} as const;

/** Counters a BMC keeps (dropped packets by reason, commands run). */
export interface IpmiStats {
  received: number;
  dropped: Record<string, number>;
  commands: number;
  retransmits: number;
}

/** How long a reply is kept to answer a retransmit of its request (ipmitool retries within ~5 s). */
const RETRANSMIT_WINDOW_MS = 5_000;

const NETFN_CHASSIS = 0x00;
const NETFN_APP = 0x06;
const NETFN_STORAGE = 0x0a;

/** Cipher suite records for Get Channel Cipher Suites: 3 and 17. */
const SUITE_RECORDS = Buffer.from([0xc0, 0x03, 0x01, 0x41, 0x81, 0xc0, 0x11, 0x03, 0x44, 0x81]);

const DEVICE_OF_SELECTOR: Partial<Record<number, BootDevice>> = { 0x1: 'network', 0x2: 'disk', 0x5: 'cdrom' };
const SELECTOR_OF_DEVICE: Record<BootDevice, number> = { network: 0x1, disk: 0x2, cdrom: 0x5 };

/** An emulated IPMI 2.0 BMC for one node. */
export class IpmiBmc {
  readonly sessions: SessionTable;
  readonly stats: IpmiStats = { received: 0, dropped: {}, commands: 0, retransmits: 0 };
  /** Boot options "set in progress" state (parameter 0). */
  private setInProgress = 0;

  constructor(
    readonly uuid: string,
    private user: BmcUser,
    private readonly backend: BmcBackend,
    limits?: SessionLimits,
  ) {
    this.sessions = new SessionTable(() => this.user, limits);
  }

  /** Replaces the credentials; open sessions end. */
  setUser(user: BmcUser): void {
    if (user.username === this.user.username && user.password === this.user.password) return;
    this.user = user;
    this.sessions.clear();
  }

  private drop(reason: string): null {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
    return null;
  }

  /** Handles one datagram; resolves the reply, or null to send nothing. Never throws. */
  async handle(buf: Buffer): Promise<Buffer | null> {
    this.stats.received++;
    try {
      return await this.dispatch(buf);
    } catch {
      return this.drop('internal error');
    }
  }

  private async dispatch(buf: Buffer): Promise<Buffer | null> {
    const p = parseDatagram(buf, (sid) => this.sessions.get(sid)?.suite.icvLength ?? null);
    switch (p.kind) {
      case 'drop':
        return this.drop(p.reason);
      case 'asf-ping':
        return buildAsfPong(p.tag);
      case 'v15': {
        if (p.sessionId !== 0) return this.drop('IPMI 1.5 session');
        const req = parseLanRequest(p.message);
        if (!req) return this.drop('bad message checksum');
        const res = this.preSession(req);
        return res ? buildV15(res) : this.drop('not a pre-session command');
      }
      case 'v20':
        break;
    }
    if (p.sessionId === 0) {
      if (p.authenticated || p.encrypted) return this.drop('authenticated packet without a session');
      switch (p.payloadType) {
        case PayloadType.IPMI: {
          const req = parseLanRequest(p.payload);
          if (!req) return this.drop('bad message checksum');
          const res = this.preSession(req);
          return res ? buildV20(PayloadType.IPMI, 0, 0, res, null) : this.drop('not a pre-session command');
        }
        case PayloadType.OPEN_SESSION_REQUEST:
          return this.openSession(p.payload);
        case PayloadType.RAKP1:
          return this.rakp1(p.payload);
        case PayloadType.RAKP3:
          return this.rakp3(p.payload);
        default:
          return this.drop('payload type not allowed outside a session');
      }
    }
    const s = this.sessions.get(p.sessionId);
    if (!s?.keys) return this.drop('unknown session');
    if (p.payloadType !== PayloadType.IPMI) return this.drop('payload type other than IPMI in a session');
    const message = openPayload(p, s.keys);
    if (!message) return this.drop('integrity check failed');
    if (!p.encrypted) return this.drop('unencrypted message in an encrypted session');
    const req = parseLanRequest(message);
    if (!req) return this.drop('bad message checksum');
    // An odd netFn is a response's: answering it would send a "response" carrying a request netFn.
    if (req.netFn % 2 === 1) return this.drop('response netFn in a request');
    const seen = this.sessions.checkSeq(s, p.seq);
    const key = `${req.netFn}/${req.cmd}/${req.rqSeq}`;
    if (seen !== 'new') {
      // A retransmit (or a replay) is answered from the cache, never executed again.
      const cached = s.replies.get(key);
      if (seen === 'repeat' && cached && Date.now() - cached.atMs < RETRANSMIT_WINDOW_MS) {
        this.stats.retransmits++;
        return this.seal(s, cached.message);
      }
      return this.drop(seen === 'stale' ? 'stale sequence number' : 'replayed packet');
    }
    s.lastSeenMs = Date.now();
    let res: Buffer;
    const cached = s.replies.get(key);
    const running = s.inflight.get(key);
    if (running) {
      // A retransmit of a command still running (a power cycle takes longer than ipmitool waits).
      this.stats.retransmits++;
      res = await running;
    } else if (cached && Date.now() - cached.atMs < RETRANSMIT_WINDOW_MS) {
      // A retransmit rebuilt with a new session sequence number but the same rqSeq.
      this.stats.retransmits++;
      res = cached.message;
    } else {
      this.stats.commands++;
      const p = this.command(s, req);
      s.inflight.set(key, p);
      try {
        res = await p;
      } finally {
        s.inflight.delete(key);
      }
      s.replies.delete(key);
      s.replies.set(key, { message: res, atMs: Date.now() });
      if (s.replies.size > 16) s.replies.delete(s.replies.keys().next().value as string);
    }
    const out = this.seal(s, res);
    if (req.netFn === NETFN_APP && req.cmd === 0x3c && res[6] === Cc.OK) this.sessions.close(s.sidc);
    return out;
  }

  private seal(s: Session, message: Buffer): Buffer {
    s.outSeq = (s.outSeq + 1) >>> 0 || 1;
    return buildV20(PayloadType.IPMI, s.sidm, s.outSeq, message, s.keys);
  }

  private preSession(req: LanRequest): Buffer | null {
    if (req.netFn !== NETFN_APP) return null;
    if (req.cmd === 0x38) {
      // Get Channel Authentication Capabilities: IPMI 2.0 only, non-null user names.
      return buildLanResponse(req, Cc.OK, Buffer.from([0x01, 0x80, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00]));
    }
    if (req.cmd === 0x54) {
      // Get Channel Cipher Suites: records for suites 3 and 17, 16 bytes per list index.
      const index = (req.data[2] ?? 0) & 0x3f;
      if ((req.data[1] ?? 0) !== 0x00) return buildLanResponse(req, Cc.INVALID_DATA);
      return buildLanResponse(
        req,
        Cc.OK,
        Buffer.concat([Buffer.from([0x01]), SUITE_RECORDS.subarray(index * 16, index * 16 + 16)]),
      );
    }
    return null;
  }

  private openSession(payload: Buffer): Buffer | null {
    if (payload.length < 32) return this.drop('short Open Session request');
    const sidmBytes = payload.subarray(4, 8);
    const sidm = sidmBytes.readUInt32LE(0);
    const refuse = (status: number): Buffer =>
      buildV20(
        PayloadType.OPEN_SESSION_RESPONSE,
        0,
        0,
        Buffer.concat([Buffer.from([payload[0] ?? 0, status, 0, 0]), sidmBytes]),
        null,
      );
    // Authentication, integrity and confidentiality records: payload types 0, 1, 2, each 8 bytes long.
    for (const type of [0, 1, 2])
      if (payload[8 + 8 * type] !== type || payload[11 + 8 * type] !== 8) return refuse(RakpStatus.ILLEGAL_PARAMETER);
    const r = this.sessions.open({
      tag: payload[0] ?? 0,
      requestedMax: (payload[1] ?? 0) & 0x0f,
      sidm,
      auth: (payload[12] ?? 0) & 0x3f,
      integrity: (payload[20] ?? 0) & 0x3f,
      confidentiality: (payload[28] ?? 0) & 0x3f,
    });
    if (!r.session) return refuse(r.status);
    const sidc = Buffer.alloc(4);
    sidc.writeUInt32LE(r.session.sidc >>> 0);
    const granted = r.session.requestedMax === 0 ? Privilege.ADMINISTRATOR : r.session.requestedMax;
    const { suite } = r.session;
    const body = Buffer.concat([
      Buffer.from([payload[0] ?? 0, RakpStatus.OK, granted, 0]),
      sidmBytes,
      sidc,
      Buffer.from([0x00, 0, 0, 0x08, suite.auth, 0, 0, 0]),
      Buffer.from([0x01, 0, 0, 0x08, suite.integrity, 0, 0, 0]),
      Buffer.from([0x02, 0, 0, 0x08, suite.confidentiality, 0, 0, 0]),
    ]);
    return buildV20(PayloadType.OPEN_SESSION_RESPONSE, 0, 0, body, null);
  }

  private rakp1(payload: Buffer): Buffer | null {
    if (payload.length < 28) return this.drop('short RAKP1');
    const tag = payload[0] ?? 0;
    const sidc = payload.readUInt32LE(4);
    const s = this.sessions.get(sidc);
    const ulen = payload[27] ?? 0;
    if (payload.length < 28 + ulen) return this.drop('short RAKP1');
    const reply = (status: number, sidm: Buffer, rest: Buffer): Buffer =>
      buildV20(PayloadType.RAKP2, 0, 0, Buffer.concat([Buffer.from([tag, status, 0, 0]), sidm, rest]), null);
    if (!s || s.keys) return reply(RakpStatus.INVALID_SESSION_ID, Buffer.alloc(4), Buffer.alloc(0));
    const sidm = Buffer.alloc(4);
    sidm.writeUInt32LE(s.sidm >>> 0);
    const r = this.sessions.rakp1(s, payload.subarray(8, 24), payload[24] ?? 0, payload.subarray(28, 28 + ulen));
    if (r.status !== RakpStatus.OK) return reply(r.status, sidm, Buffer.alloc(0));
    return reply(RakpStatus.OK, sidm, Buffer.concat([r.rc, this.sessions.guid, r.authCode]));
  }

  private rakp3(payload: Buffer): Buffer | null {
    if (payload.length < 8) return this.drop('short RAKP3');
    const tag = payload[0] ?? 0;
    const s = this.sessions.get(payload.readUInt32LE(4));
    if (!s) return this.drop('RAKP3 for an unknown session');
    const sidm = Buffer.alloc(4);
    sidm.writeUInt32LE(s.sidm >>> 0);
    const r = this.sessions.rakp3(s, payload[1] ?? 0xff, payload.subarray(8));
    // The console aborted (non-zero status): nothing to answer.
    if ((payload[1] ?? 0) !== 0) return null;
    return buildV20(PayloadType.RAKP4, 0, 0, Buffer.concat([Buffer.from([tag, r.status, 0, 0]), sidm, r.icv]), null);
  }

  private async command(s: Session, req: LanRequest): Promise<Buffer> {
    const need = (level: number): boolean => s.privilege >= level;
    if (req.netFn === NETFN_APP) {
      switch (req.cmd) {
        case 0x01: // Get Device ID; additional device support 0x08: a FRU inventory device (fru.ts)
          return buildLanResponse(req, Cc.OK, Buffer.from([0x00, 0x00, 0x01, 0x00, 0x02, 0x08, 0, 0, 0, 0, 0]));
        case 0x38:
        case 0x54:
          return this.preSession(req) ?? buildLanResponse(req, Cc.INVALID_COMMAND);
        case 0x3b: {
          // Set Session Privilege Level
          if (req.data.length < 1) return buildLanResponse(req, Cc.BAD_LENGTH);
          const level = (req.data[0] ?? 0) & 0x0f;
          if (level === 0) return buildLanResponse(req, Cc.OK, Buffer.from([s.privilege]));
          if (level < Privilege.USER || level > Privilege.ADMINISTRATOR) return buildLanResponse(req, Cc.INVALID_DATA);
          if (level > s.maxPrivilege) return buildLanResponse(req, 0x81);
          s.privilege = level;
          return buildLanResponse(req, Cc.OK, Buffer.from([level]));
        }
        case 0x3c: {
          // Close Session
          if (req.data.length < 4) return buildLanResponse(req, Cc.BAD_LENGTH);
          const id = req.data.readUInt32LE(0);
          if (id !== s.sidc && !this.sessions.get(id)) return buildLanResponse(req, 0x87);
          if (id !== s.sidc) {
            if (!need(Privilege.ADMINISTRATOR)) return buildLanResponse(req, Cc.INSUFFICIENT_PRIVILEGE);
            this.sessions.close(id);
          }
          return buildLanResponse(req, Cc.OK);
        }
        default:
          return buildLanResponse(req, Cc.INVALID_COMMAND);
      }
    }
    if (req.netFn === NETFN_CHASSIS) {
      switch (req.cmd) {
        case 0x01: {
          if (!need(Privilege.USER)) return buildLanResponse(req, Cc.INSUFFICIENT_PRIVILEGE);
          const on = await this.backend.powerState(this.uuid).catch(() => null);
          if (on === null) return buildLanResponse(req, Cc.NODE_BUSY);
          return buildLanResponse(req, Cc.OK, Buffer.from([on === 'on' ? 0x01 : 0x00, 0x00, 0x00]));
        }
        case 0x02: {
          if (!need(Privilege.OPERATOR)) return buildLanResponse(req, Cc.INSUFFICIENT_PRIVILEGE);
          if (req.data.length < 1) return buildLanResponse(req, Cc.BAD_LENGTH);
          const actions: Partial<Record<number, BmcPowerAction>> = {
            0: 'off',
            1: 'on',
            2: 'cycle',
            3: 'reset',
            4: 'nmi',
            5: 'soft_off',
          };
          const action = actions[(req.data[0] ?? 0xff) & 0x0f];
          if (!action) return buildLanResponse(req, Cc.INVALID_DATA);
          try {
            await this.backend.power(this.uuid, action);
            return buildLanResponse(req, Cc.OK);
          } catch {
            return buildLanResponse(req, Cc.NODE_BUSY);
          }
        }
        case 0x08:
          if (!need(Privilege.OPERATOR)) return buildLanResponse(req, Cc.INSUFFICIENT_PRIVILEGE);
          return this.setBootOptions(req);
        case 0x09:
          if (!need(Privilege.USER)) return buildLanResponse(req, Cc.INSUFFICIENT_PRIVILEGE);
          return this.getBootOptions(req);
        default:
          return buildLanResponse(req, Cc.INVALID_COMMAND);
      }
    }
    if (req.netFn === NETFN_STORAGE && (req.cmd === 0x10 || req.cmd === 0x11)) {
      if (!need(Privilege.USER)) return buildLanResponse(req, Cc.INSUFFICIENT_PRIVILEGE);
      return this.readFru(req);
    }
    return buildLanResponse(req, Cc.INVALID_COMMAND);
  }

  /** Get FRU Inventory Area Info (0x10) and Read FRU Data (0x11) of FRU device 0, the only one. */
  private async readFru(req: LanRequest): Promise<Buffer> {
    if (req.data.length < (req.cmd === 0x10 ? 1 : 4)) return buildLanResponse(req, Cc.BAD_LENGTH);
    if (req.data[0] !== 0) return buildLanResponse(req, Cc.NOT_PRESENT);
    const inv = await this.backend.inventory(this.uuid).catch(() => null);
    if (!inv) return buildLanResponse(req, Cc.NODE_BUSY);
    const fru = fruData({ name: inv.name, uuid: this.uuid, arch: inv.arch });
    // Size in bytes, little-endian; access by bytes (not words).
    if (req.cmd === 0x10) return buildLanResponse(req, Cc.OK, Buffer.from([fru.length & 0xff, fru.length >> 8, 0x00]));
    const offset = req.data.readUInt16LE(1);
    const count = req.data[3] ?? 0;
    if (offset >= fru.length) return buildLanResponse(req, Cc.OUT_OF_RANGE);
    const chunk = fru.subarray(offset, offset + count);
    return buildLanResponse(req, Cc.OK, Buffer.concat([Buffer.from([chunk.length]), chunk]));
  }

  private async setBootOptions(req: LanRequest): Promise<Buffer> {
    if (req.data.length < 1) return buildLanResponse(req, Cc.BAD_LENGTH);
    const param = (req.data[0] ?? 0) & 0x7f;
    switch (param) {
      case 0: {
        // Set In Progress: 0 complete, 1 in progress, 2 commit write.
        const v = (req.data[1] ?? 0) & 0x03;
        if (req.data.length < 2) return buildLanResponse(req, Cc.BAD_LENGTH);
        if (v === 1 && this.setInProgress === 1) return buildLanResponse(req, Cc.SET_IN_PROGRESS);
        if (v === 3) return buildLanResponse(req, Cc.INVALID_DATA);
        this.setInProgress = v === 2 ? this.setInProgress : v;
        return buildLanResponse(req, Cc.OK);
      }
      case 3: // boot info acknowledge
      case 4: // boot flag valid bit clearing
        return buildLanResponse(req, Cc.OK);
      case 5: {
        if (req.data.length < 6) return buildLanResponse(req, Cc.BAD_LENGTH);
        const flags = req.data[1] ?? 0;
        if ((flags & 0x80) === 0) return buildLanResponse(req, Cc.OK);
        const selector = ((req.data[2] ?? 0) >> 2) & 0x0f;
        const device = DEVICE_OF_SELECTOR[selector];
        // No override, BIOS setup, safe mode, floppy: acknowledged, nothing to change on a VM.
        if (!device) return buildLanResponse(req, Cc.OK);
        try {
          await this.backend.setBootDevice(this.uuid, device, (flags & 0x40) !== 0);
          return buildLanResponse(req, Cc.OK);
        } catch {
          return buildLanResponse(req, Cc.NODE_BUSY);
        }
      }
      default:
        return buildLanResponse(req, Cc.UNSUPPORTED_PARAMETER);
    }
  }

  private async getBootOptions(req: LanRequest): Promise<Buffer> {
    const param = (req.data[0] ?? 0) & 0x7f;
    if (param !== 5) return buildLanResponse(req, Cc.UNSUPPORTED_PARAMETER);
    const b = await this.backend.bootDevice(this.uuid).catch(() => null);
    if (!b) return buildLanResponse(req, Cc.NODE_BUSY);
    const flags = 0x80 | (b.persistent ? 0x40 : 0) | (b.uefi ? 0x20 : 0);
    return buildLanResponse(req, Cc.OK, Buffer.from([0x01, 0x05, flags, SELECTOR_OF_DEVICE[b.device] << 2, 0, 0, 0]));
  }
}
