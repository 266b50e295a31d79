/** Redfish sessions (SessionService): tokens bound to the credentials that opened them, expiring when idle. */
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** A Redfish login. */
export interface RedfishSession {
  id: string;
  token: string;
  username: string;
  /** Kept so a session opens exactly what its credentials open, even after other nodes come and go. */
  password: string;
  lastUsedMs: number;
}

/** Constant-time string comparison. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The session table: bounded (oldest dropped first) and expiring sessions idle for `idleMs`. */
export class SessionStore {
  private readonly byId = new Map<string, RedfishSession>();
  private readonly byToken = new Map<string, RedfishSession>();

  constructor(
    readonly idleMs = 30 * 60_000,
    readonly maxSessions = 1024,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  open(username: string, password: string): RedfishSession {
    if (this.byId.size >= this.maxSessions) {
      let oldest: RedfishSession | null = null;
      for (const s of this.byId.values()) if (!oldest || s.lastUsedMs < oldest.lastUsedMs) oldest = s;
      if (oldest) this.close(oldest.id);
    }
    const s: RedfishSession = {
      id: randomBytes(8).toString('hex'),
      token: randomBytes(24).toString('base64url'),
      username,
      password,
      lastUsedMs: this.now(),
    };
    this.byId.set(s.id, s);
    this.byToken.set(s.token, s);
    return s;
  }

  /** The live session of a token (refreshing its idle timer), or null. */
  byTokenValue(token: string): RedfishSession | null {
    // A Map lookup on the token is not constant-time, but tokens are 192 random bits: guessing
    // one byte at a time through timing is not a practical attack on a lookup keyed by the whole value.
    const s = this.byToken.get(token);
    if (!s) return null;
    if (this.now() - s.lastUsedMs > this.idleMs) {
      this.close(s.id);
      return null;
    }
    s.lastUsedMs = this.now();
    return s;
  }

  get(id: string): RedfishSession | null {
    return this.byId.get(id) ?? null;
  }

  /** Sessions opened with `username`. */
  list(username: string): RedfishSession[] {
    return [...this.byId.values()].filter((s) => s.username === username);
  }

  close(id: string): boolean {
    const s = this.byId.get(id);
    if (!s) return false;
    this.byId.delete(id);
    this.byToken.delete(s.token);
    return true;
  }

  /** Ends every session of a user (its password changed or its node is gone). */
  closeUser(username: string): void {
    for (const s of this.list(username)) this.close(s.id);
  }

  clear(): void {
    this.byId.clear();
    this.byToken.clear();
  }
}
