/**
 * The IPMI half of bench:fuzz: lanes of datagrams at live BMCs, every reply checked.
 *
 * A lane is one UDP socket connected to one BMC port. It sends its inputs in batches; after each
 * batch an ASF ping whose pong (the BMC answers in order) says the batch has been read, so at most
 * `window` batches are in flight and the kernel's socket buffers never overflow by design (a pong
 * that does not come back within 3 s is counted as a lost barrier). Raw lanes send
 * {@link rawInput}s; session lanes open a real RMCP+ session (Open Session, RAKP 1-4 with the node's
 * credentials; sometimes a spoiled handshake first) and then send {@link sessionInput}s sealed with
 * its keys, closing and reopening the session every few batches.
 *
 * Every datagram that comes back, on any lane, goes through {@link checkReply}.
 */
import { createSocket, type Socket } from 'node:dgram';
import { rakp3AuthCode, rakp4Icv, sessionIntegrityKey, SUITES, userKey } from '../agent/bmc/ipmi/crypto.js';
import { PayloadType, sessionKeys, type SessionKeys } from '../agent/bmc/ipmi/packet.js';
import { asfPing, seal, v20Plain } from './fuzz-ipmi-datagrams.js';
import { loadCaptures, rawInput } from './fuzz-ipmi-raw-inputs.js';
import { checkReply, type ReplyKind } from './fuzz-ipmi-replies.js';
import { sessionInput, type SessionState } from './fuzz-ipmi-session-inputs.js';
import { Rng } from './fuzz-rng.js';
import { note, type Tally as Examples } from './fuzz-tally.js';
import { handshakeReply, openSessionRequest, rakp1Request, rakp3Request, rakpContext } from './ipmi-handshake.js';
import { lanRequest } from './ipmi-lan-message.js';

/** Options of {@link fuzzIpmi}. */
export interface IpmiFuzzOptions {
  host: string;
  /** BMC ports of the raw lanes. */
  rawPorts: readonly number[];
  /** BMC ports of the session lanes (their node's credentials are `username`/`password`). */
  sessionPorts: readonly number[];
  username: string;
  password: string;
  /** Datagrams to send in all (pings not counted). */
  packets: number;
  seed: number;
  /** Datagrams per batch, batches in flight per lane. */
  batch: number;
  window: number;
  /** Batches per session before a session lane closes it and opens another. */
  batchesPerSession: number;
  say: (line: string) => void;
}

/** What the IPMI fuzz saw. */
export interface IpmiFuzzResult {
  packets: number;
  pings: number;
  replies: number;
  malformed: number;
  /** Malformed replies by problem: how many, and the first datagram in hex. */
  malformed_by_problem: Examples;
  reply_kinds: Partial<Record<ReplyKind, number>>;
  /** Replies inside a session by completion code (hex). */
  session_completion_codes: Record<string, number>;
  barriers_lost: number;
  handshakes: number;
  handshakes_failed: number;
  spoiled_handshakes: number;
  seconds: number;
  packets_per_s: number;
}

/** Shared counters of the lanes. */
class Tally {
  packets = 0;
  pings = 0;
  replies = 0;
  malformed = 0;
  readonly problems: Examples = {};
  readonly kinds: Partial<Record<ReplyKind, number>> = {};
  readonly codes: Record<string, number> = {};
  barriersLost = 0;
  handshakes = 0;
  handshakesFailed = 0;
  spoiled = 0;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const BARRIER_TIMEOUT_MS = 3000;
const HANDSHAKE_TIMEOUT_MS = 500;
const HANDSHAKE_TRIES = 4;

/** One UDP socket connected to one BMC. */
class Lane {
  private readonly pongs = new Map<number, () => void>();
  private nextTag = 0;
  private waiter: ((buf: Buffer) => void) | null = null;
  /** Datagrams this lane sent (pings not counted). */
  sent = 0;
  /** Keys of this lane's recent console sessions (late replies still verify). */
  readonly sessions = new Map<number, SessionKeys>();

  private constructor(
    private readonly socket: Socket,
    private readonly tally: Tally,
  ) {
    socket.on('message', (buf) => {
      this.onReply(buf);
    });
    // ICMP port unreachable and the like: the crash check at the end tells whether the BMC died.
    socket.on('error', () => undefined);
  }

  static open(host: string, port: number, tally: Tally): Promise<Lane> {
    const socket = createSocket('udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, host, () => {
        socket.off('error', reject);
        try {
          socket.setRecvBufferSize(4 << 20);
        } catch {
          // Capped by net.core.rmem_max: the window keeps replies few enough anyway.
        }
        resolve(new Lane(socket, tally));
      });
    });
  }

  private onReply(buf: Buffer): void {
    const t = this.tally;
    t.replies++;
    const v = checkReply(buf, (sid) => this.sessions.get(sid) ?? null);
    if (!v.ok) {
      t.malformed++;
      // Problems name a field and maybe a value: group by the words only.
      note(t.problems, v.problem.replace(/0x[0-9a-f]+|\d+/g, 'N'), buf.toString('hex'));
      return;
    }
    t.kinds[v.kind] = (t.kinds[v.kind] ?? 0) + 1;
    if (v.kind === 'session' && v.completionCode !== null) {
      const k = v.completionCode.toString(16).padStart(2, '0');
      t.codes[k] = (t.codes[k] ?? 0) + 1;
    }
    if (v.kind === 'pong') {
      this.pongs.get(buf[9] ?? -1)?.();
      return;
    }
    this.waiter?.(buf);
  }

  send(buf: Buffer): void {
    this.tally.packets++;
    this.sent++;
    this.socket.send(buf);
  }

  /** A ping; resolves true when its pong came back, false after the timeout. */
  barrier(): Promise<boolean> {
    const tag = this.nextTag;
    // Tags 0-127: the raw inputs' own pings use 128-255, so their pongs do not pass for barriers.
    this.nextTag = (this.nextTag + 1) & 0x7f;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pongs.delete(tag);
        this.tally.barriersLost++;
        resolve(false);
      }, BARRIER_TIMEOUT_MS);
      this.pongs.set(tag, () => {
        clearTimeout(timer);
        this.pongs.delete(tag);
        resolve(true);
      });
      this.tally.pings++;
      this.socket.send(asfPing(tag));
    });
  }

  /** Sends `packet` until `accept` takes a reply (null: not this one), or gives up (null). */
  async request<T>(packet: Buffer, accept: (buf: Buffer) => T | null): Promise<T | null> {
    for (let i = 0; i < HANDSHAKE_TRIES; i++) {
      this.send(packet);
      const got = await new Promise<T | null>((resolve) => {
        const timer = setTimeout(() => {
          this.waiter = null;
          resolve(null);
        }, HANDSHAKE_TIMEOUT_MS);
        this.waiter = (buf) => {
          const v = accept(buf);
          if (v === null) return;
          clearTimeout(timer);
          this.waiter = null;
          resolve(v);
        };
      });
      if (got !== null) return got;
    }
    return null;
  }

  /** Sends `count` inputs from `next` in batches with barriers, at most `window` batches in flight. */
  async pump(count: number, batch: number, window: number, next: () => Buffer[]): Promise<void> {
    const inflight: Promise<boolean>[] = [];
    let sent = 0;
    while (sent < count) {
      for (let i = 0; i < batch && sent < count;) {
        for (const d of next()) {
          this.send(d);
          sent++;
          i++;
        }
      }
      inflight.push(this.barrier());
      if (inflight.length >= window) await inflight.shift();
    }
    await Promise.all(inflight);
  }

  close(): void {
    this.socket.close();
  }
}

/** How a handshake is spoiled before the real one (or not). */
type Spoil = 'none' | 'user' | 'rakp3-code' | 'rakp3-status' | 'rakp1-session' | 'suite';

/**
 * One RMCP+ handshake as ipmitool makes it (`spoil` breaks one step on purpose, so the BMC's
 * refusals are exercised too). Resolves the session's state, or null when it did not complete.
 */
async function handshake(
  lane: Lane,
  rng: Rng,
  opts: IpmiFuzzOptions,
  spoil: Spoil,
): Promise<{ state: SessionState; sidm: number } | null> {
  const suite = SUITES[rng.pick([3, 17] as const)];
  const tag = rng.int(256);
  const sidm = rng.u32() || 1;
  const rm = rng.bytes(16);
  const sidmBytes = Buffer.alloc(4);
  sidmBytes.writeUInt32LE(sidm);
  const algorithms = spoil === 'suite' ? { ...suite, auth: 0 } : suite;
  const open = v20Plain(PayloadType.OPEN_SESSION_REQUEST, openSessionRequest(tag, sidmBytes, algorithms));
  const sidc = await lane.request(open, (buf) => {
    const p = handshakeReply(buf, PayloadType.OPEN_SESSION_RESPONSE, tag);
    if (!p) return null;
    return p[1] === 0 && p.length >= 12 ? Buffer.from(p.subarray(8, 12)) : Buffer.alloc(0);
  });
  if (!sidc || sidc.length === 0) return null;
  const username = Buffer.from(spoil === 'user' ? `${opts.username}x` : opts.username, 'utf8');
  const sessionId = spoil === 'rakp1-session' ? Buffer.from(rng.bytes(4)) : sidc;
  const rakp1 = rakp1Request(tag, sessionId, rm, username);
  const rakp2 = await lane.request(v20Plain(PayloadType.RAKP1, rakp1), (buf) => {
    const p = handshakeReply(buf, PayloadType.RAKP2, tag);
    if (!p) return null;
    return p[1] === 0 && p.length >= 40 ? Buffer.from(p) : Buffer.alloc(0);
  });
  if (!rakp2 || rakp2.length === 0) return null;
  const ctx = rakpContext(suite, { sidm: sidmBytes, sidc }, rm, rakp2, username);
  const kuid = userKey(opts.password);
  const code = rakp3AuthCode(ctx, kuid);
  if (spoil === 'rakp3-code') code[0] = (code[0] ?? 0) ^ 0xff;
  const rakp3 = rakp3Request(tag, spoil === 'rakp3-status' ? 0x0f : 0, sidc, code);
  if (spoil === 'rakp3-status') {
    // The console gives up: the BMC answers nothing and forgets the session.
    lane.send(v20Plain(PayloadType.RAKP3, rakp3));
    return null;
  }
  const sik = sessionIntegrityKey(ctx, kuid);
  const ok = await lane.request(v20Plain(PayloadType.RAKP3, rakp3), (buf) => {
    const p = handshakeReply(buf, PayloadType.RAKP4, tag);
    if (!p) return null;
    return p[1] === 0 && p.subarray(8).equals(rakp4Icv(ctx, sik));
  });
  if (!ok) return null;
  const keys = sessionKeys(suite, sik);
  return { sidm, state: { keys, sidc: sidc.readUInt32LE(0), seq: 1, rqSeq: 0, last: null } };
}

/** Keys for the inputs of a session that could not be opened: the inputs stay the same, the BMC drops them. */
const NO_SESSION_KEYS: SessionKeys = sessionKeys(SUITES[3], Buffer.alloc(20));

async function sessionLane(lane: Lane, count: number, rng: Rng, opts: IpmiFuzzOptions, tally: Tally): Promise<void> {
  let sent = 0;
  const perSession = opts.batch * opts.batchesPerSession;
  while (sent < count) {
    const spoil = rng.weighted<Spoil>([
      [80, 'none'],
      [4, 'user'],
      [4, 'rakp3-code'],
      [4, 'rakp3-status'],
      [4, 'rakp1-session'],
      [4, 'suite'],
    ]);
    if (spoil !== 'none') {
      tally.spoiled++;
      await handshake(lane, rng, opts, spoil);
    }
    tally.handshakes++;
    const before = lane.sent;
    let opened = await handshake(lane, rng, opts, 'none');
    if (!opened) {
      tally.handshakesFailed++;
      // The BMC may be refusing for a moment (its table full of half-open sessions): the inputs go
      // out anyway, sealed with keys it does not have, so the run's inputs stay the same.
      opened = { sidm: 0, state: { keys: NO_SESSION_KEYS, sidc: 0, seq: 1, rqSeq: 0, last: null } };
      await sleep(50);
    }
    const { sidm, state } = opened;
    if (sidm !== 0) {
      lane.sessions.set(sidm, state.keys);
      if (lane.sessions.size > 8) lane.sessions.delete(lane.sessions.keys().next().value as number);
    }
    const n = Math.min(perSession, count - sent);
    await lane.pump(n, opts.batch, opts.window, () => {
      const input = sessionInput(rng, state);
      return input.twice ? [input.packet, input.packet] : [input.packet];
    });
    // A well-formed Close Session, so the BMC's table does not fill with this lane's sessions.
    const close = Buffer.alloc(4);
    close.writeUInt32LE(state.sidc);
    lane.send(
      seal(lanRequest(0x06, 0x3c, state.rqSeq++, close), {
        keys: state.keys,
        sid: state.sidc,
        seq: state.seq++,
        iv: rng.bytes(16),
        junk: Buffer.alloc(16),
      }),
    );
    await lane.barrier();
    sent += lane.sent - before;
  }
}

async function rawLane(lane: Lane, count: number, rng: Rng, opts: IpmiFuzzOptions, captures: Buffer[]): Promise<void> {
  await lane.pump(count, opts.batch, opts.window, () => [rawInput(rng, captures)]);
}

/** Runs the IPMI fuzz; progress every 10 s through `opts.say`. */
export async function fuzzIpmi(opts: IpmiFuzzOptions): Promise<IpmiFuzzResult> {
  const captures = loadCaptures();
  const tally = new Tally();
  const lanes: { lane: Lane; kind: 'raw' | 'session'; index: number }[] = [];
  try {
    for (const [i, port] of opts.rawPorts.entries())
      lanes.push({ lane: await Lane.open(opts.host, port, tally), kind: 'raw', index: i });
    for (const [i, port] of opts.sessionPorts.entries())
      lanes.push({ lane: await Lane.open(opts.host, port, tally), kind: 'session', index: i });
    const per = Math.ceil(opts.packets / lanes.length);
    const t0 = performance.now();
    const progress = setInterval(() => {
      const s = (performance.now() - t0) / 1000;
      opts.say(
        `IPMI: ${tally.packets} datagrams in ${s.toFixed(0)} s (${Math.round(tally.packets / s)}/s), ${tally.replies} replies, ${tally.malformed} malformed, ${tally.handshakes - tally.handshakesFailed}/${tally.handshakes} sessions, ${tally.barriersLost} barriers lost`,
      );
    }, 10_000);
    try {
      await Promise.all(
        lanes.map(({ lane, kind, index }) =>
          kind === 'raw'
            ? rawLane(lane, per, new Rng(opts.seed, `ipmi-raw-${index}`), opts, captures)
            : sessionLane(lane, per, new Rng(opts.seed, `ipmi-session-${index}`), opts, tally),
        ),
      );
      // Late replies (commands the backend answered after the last barrier).
      await sleep(500);
    } finally {
      clearInterval(progress);
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      packets: tally.packets,
      pings: tally.pings,
      replies: tally.replies,
      malformed: tally.malformed,
      malformed_by_problem: tally.problems,
      reply_kinds: tally.kinds,
      session_completion_codes: tally.codes,
      barriers_lost: tally.barriersLost,
      handshakes: tally.handshakes,
      handshakes_failed: tally.handshakesFailed,
      spoiled_handshakes: tally.spoiled,
      seconds: Math.round(seconds * 10) / 10,
      packets_per_s: Math.round(tally.packets / seconds),
    };
  } finally {
    for (const { lane } of lanes) lane.close();
  }
}
