/** RMCP+ sessions of one BMC: the RAKP handshake, a bounded table, idle expiry and replay checks. */
import { randomBytes } from 'node:crypto';
import {
  macEqual,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  sessionIntegrityKey,
  suiteFor,
  userKey,
  type CipherSuite,
  type RakpContext,
} from './crypto.js';
import { sessionKeys, type SessionKeys } from './packet.js';

/** IPMI privilege levels. */
export const Privilege = { CALLBACK: 1, USER: 2, OPERATOR: 3, ADMINISTRATOR: 4, OEM: 5 } as const;

/** RAKP / Open Session status codes. */
export const RakpStatus = {
  OK: 0x00,
  NO_RESOURCES: 0x01,
  INVALID_SESSION_ID: 0x02,
  INVALID_ROLE: 0x09,
  UNAUTHORIZED_NAME: 0x0d,
  INVALID_INTEGRITY_CHECK: 0x0f,
  NO_MATCHING_CIPHER_SUITE: 0x11,
  ILLEGAL_PARAMETER: 0x12,
} as const;

/** A BMC user. */
export interface BmcUser {
  username: string;
  password: string;
  /** Highest privilege the user may take (ADMINISTRATOR for tenks' node users). */
  maxPrivilege: number;
}

/** An RMCP+ session being set up or active. */
export interface Session {
  /** BMC-side (console-to-BMC) session ID. */
  sidc: number;
  /** Console session ID (BMC-to-console). */
  sidm: number;
  suite: CipherSuite;
  /** Highest privilege the console asked for in Open Session (0: highest matching). */
  requestedMax: number;
  rakp: RakpContext | null;
  keys: SessionKeys | null;
  /** Privilege ceiling (role from RAKP1) and the current level. */
  maxPrivilege: number;
  privilege: number;
  lastSeenMs: number;
  /** Highest inbound session sequence number, and a bitmap of the 32 below it. */
  highSeq: number;
  seenBits: number;
  outSeq: number;
  /**
   * Recent replies by request key (netFn/cmd/rqSeq), to answer retransmits without re-executing.
   * Entries live a few seconds only: the 6-bit rqSeq wraps in long sessions.
   */
  replies: Map<string, { message: Buffer; atMs: number }>;
  /** Requests being executed, so a retransmit that arrives meanwhile waits for the same answer. */
  inflight: Map<string, Promise<Buffer>>;
}

/** Limits of the session table. */
export interface SessionLimits {
  /** Most sessions (set up or active) per BMC. Default 32. */
  maxSessions: number;
  /** Idle time after which an active session is dropped (ms). Default 60 s. */
  idleMs: number;
  /** Time a session may take from Open Session to RAKP3 (ms). Default 10 s. */
  setupMs: number;
}

export const DEFAULT_LIMITS: SessionLimits = { maxSessions: 32, idleMs: 60_000, setupMs: 10_000 };

/** What an Open Session request asked for. */
export interface OpenSessionRequest {
  tag: number;
  requestedMax: number;
  sidm: number;
  auth: number;
  integrity: number;
  confidentiality: number;
}

/** Sessions of one BMC. */
export class SessionTable {
  private readonly sessions = new Map<number, Session>();
  /** A fixed GUID per BMC (reported in RAKP2). */
  readonly guid: Buffer;

  constructor(
    private readonly user: () => BmcUser,
    private readonly limits: SessionLimits = DEFAULT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    this.guid = randomBytes(16);
  }

  get size(): number {
    return this.sessions.size;
  }

  get(sidc: number): Session | undefined {
    return this.sessions.get(sidc);
  }

  /** Drops expired sessions; returns how many. */
  sweep(): number {
    const t = this.now();
    let n = 0;
    for (const [id, s] of this.sessions) {
      const limit = s.keys ? this.limits.idleMs : this.limits.setupMs;
      if (t - s.lastSeenMs > limit) {
        this.sessions.delete(id);
        n++;
      }
    }
    return n;
  }

  private newId(): number {
    for (;;) {
      const id = randomBytes(4).readUInt32LE(0);
      if (id !== 0 && !this.sessions.has(id)) return id;
    }
  }

  /** Handles Open Session: a pending session, or the status to refuse with. */
  open(r: OpenSessionRequest): { status: number; session: Session | null } {
    const suite = suiteFor(r.auth, r.integrity, r.confidentiality);
    if (!suite) return { status: RakpStatus.NO_MATCHING_CIPHER_SUITE, session: null };
    if (r.requestedMax > Privilege.ADMINISTRATOR) return { status: RakpStatus.INVALID_ROLE, session: null };
    this.sweep();
    if (this.sessions.size >= this.limits.maxSessions) {
      // Make room by dropping the session idle longest; refuse only when all are busy right now.
      let oldest: Session | null = null;
      for (const s of this.sessions.values()) if (!oldest || s.lastSeenMs < oldest.lastSeenMs) oldest = s;
      if (!oldest || this.now() - oldest.lastSeenMs < 1000) return { status: RakpStatus.NO_RESOURCES, session: null };
      this.sessions.delete(oldest.sidc);
    }
    const session: Session = {
      sidc: this.newId(),
      sidm: r.sidm,
      suite,
      requestedMax: r.requestedMax,
      rakp: null,
      keys: null,
      maxPrivilege: 0,
      privilege: 0,
      lastSeenMs: this.now(),
      highSeq: 0,
      seenBits: 0,
      outSeq: 0,
      replies: new Map(),
      inflight: new Map(),
    };
    this.sessions.set(session.sidc, session);
    return { status: RakpStatus.OK, session };
  }

  /** Handles RAKP1; returns the RAKP2 status and auth code. */
  rakp1(s: Session, rm: Buffer, rolem: number, username: Buffer): { status: number; authCode: Buffer; rc: Buffer } {
    s.lastSeenMs = this.now();
    const user = this.user();
    const rc = randomBytes(16);
    const role = rolem & 0x0f;
    if (username.length > 16 || !username.equals(Buffer.from(user.username, 'utf8'))) {
      this.sessions.delete(s.sidc);
      return { status: RakpStatus.UNAUTHORIZED_NAME, authCode: Buffer.alloc(0), rc };
    }
    const ceiling = Math.min(user.maxPrivilege, s.requestedMax === 0 ? Privilege.ADMINISTRATOR : s.requestedMax);
    if (role < Privilege.CALLBACK || role > ceiling) {
      this.sessions.delete(s.sidc);
      return { status: RakpStatus.INVALID_ROLE, authCode: Buffer.alloc(0), rc };
    }
    const sidm = Buffer.alloc(4);
    sidm.writeUInt32LE(s.sidm >>> 0);
    const sidc = Buffer.alloc(4);
    sidc.writeUInt32LE(s.sidc >>> 0);
    s.rakp = {
      suite: s.suite,
      sidm,
      sidc,
      rm: Buffer.from(rm),
      rc,
      guid: this.guid,
      rolem,
      username: Buffer.from(username),
    };
    s.maxPrivilege = role;
    return { status: RakpStatus.OK, authCode: rakp2AuthCode(s.rakp, userKey(user.password)), rc };
  }

  /** Handles RAKP3; returns the RAKP4 status and ICV, activating the session on success. */
  rakp3(s: Session, status: number, authCode: Buffer): { status: number; icv: Buffer } {
    const c = s.rakp;
    if (!c || s.keys) {
      this.sessions.delete(s.sidc);
      return { status: RakpStatus.INVALID_SESSION_ID, icv: Buffer.alloc(0) };
    }
    const kuid = userKey(this.user().password);
    if (status !== RakpStatus.OK || !macEqual(rakp3AuthCode(c, kuid), authCode)) {
      this.sessions.delete(s.sidc);
      return { status: RakpStatus.INVALID_INTEGRITY_CHECK, icv: Buffer.alloc(0) };
    }
    const sik = sessionIntegrityKey(c, kuid);
    s.keys = sessionKeys(s.suite, sik);
    // A session starts at USER level (or the role, when lower) until Set Session Privilege Level.
    s.privilege = Math.min(Privilege.USER, s.maxPrivilege);
    s.lastSeenMs = this.now();
    return { status: RakpStatus.OK, icv: rakp4Icv(c, sik) };
  }

  /**
   * Checks an inbound sequence number: `new` (accepted and recorded), `repeat` (seen: a retransmit
   * or a replay), or `stale` (too far behind).
   */
  checkSeq(s: Session, seq: number): 'new' | 'repeat' | 'stale' {
    if (seq === 0) return 'stale';
    if (seq > s.highSeq) {
      const shift = seq - s.highSeq;
      s.seenBits = shift >= 32 ? 0 : (s.seenBits << shift) >>> 0;
      s.seenBits = (s.seenBits | 1) >>> 0;
      s.highSeq = seq;
      return 'new';
    }
    const back = s.highSeq - seq;
    if (back >= 32) return 'stale';
    const bit = (1 << back) >>> 0;
    if ((s.seenBits & bit) !== 0) return 'repeat';
    s.seenBits = (s.seenBits | bit) >>> 0;
    return 'new';
  }

  close(sidc: number): boolean {
    return this.sessions.delete(sidc);
  }

  /** Forgets every session (the BMC is going away or its credentials changed). */
  clear(): void {
    this.sessions.clear();
  }
}
