/**
 * The agents the coordinator knows: their heartbeats (the `tenks-agents` KV bucket, watched),
 * whether they are alive, and one gRPC client plus one concurrency limit per agent.
 */
import type { KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  AgentApi,
  asHeartbeat,
  BUCKETS,
  channelOptions,
  decodeJson,
  dialCredentials,
  onAbort,
  Semaphore,
  TenksError,
  type AgentHeartbeat,
  type Logger,
  type TlsFiles,
} from '../../common/index.js';
import { Kvm } from '@nats-io/kv';
import { followBucket, type BucketFollower } from '../state/index.js';

/** Options of the registry. */
export interface RegistryOptions {
  /** Dead after this long without a heartbeat. */
  timeoutMs: number;
  /** mTLS identity towards agents, or null for plaintext (loopback agents only). */
  tls: TlsFiles | null;
  callTimeoutMs: number;
  /** Calls in flight to one agent at once. */
  concurrency: number;
  /**
   * How long a call to an agent that is not alive waits for its next heartbeat before it fails
   * UNAVAILABLE: an agent restarting (a crash, an upgrade) is back within seconds.
   */
  waitMs: number;
  replicas: number;
  log: Logger;
}

/** An agent as the coordinator sees it. */
export interface AgentView {
  id: string;
  heartbeat: AgentHeartbeat;
  /** When its last heartbeat arrived (coordinator clock). */
  seenMs: number;
  alive: boolean;
}

interface Entry {
  heartbeat: AgentHeartbeat;
  seenMs: number;
  client: AgentApi | null;
  limit: Semaphore;
}

/** Known agents, kept current by their heartbeats. */
export class AgentRegistry {
  private readonly agents = new Map<string, Entry>();
  private follower: BucketFollower | null = null;
  /** Callers waiting for a heartbeat of an agent, by agent id. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Callers waiting for an agent to restart or come alive again, by agent id. */
  private readonly returns = new Map<string, Set<() => void>>();

  private constructor(private readonly o: RegistryOptions) {}

  /** Loads the heartbeats in the bucket, then follows new ones. */
  static async start(nc: NatsConnection, o: RegistryOptions): Promise<AgentRegistry> {
    const kv = await new Kvm(nc).create(BUCKETS.agents, { history: 1, ttl: 3_600_000, replicas: o.replicas });
    const r = new AgentRegistry(o);
    r.follower = followBucket(kv, {
      apply: (e) => {
        r.apply(e);
      },
      what: 'agent heartbeat watch',
      log: o.log,
      stallMs: 5_000,
    });
    await r.follower.ready;
    return r;
  }

  private apply(e: KvWatchEntry): void {
    if (e.operation !== 'PUT') {
      const gone = this.agents.get(e.key);
      gone?.client?.close();
      this.agents.delete(e.key);
      return;
    }
    const hb = asHeartbeat(decodeJson(e.value));
    if (!hb) {
      this.o.log.warn('ignoring an unreadable heartbeat', { agent: e.key });
      return;
    }
    // Values present before the watch started were sent when the server says; later ones now.
    const seenMs = e.isUpdate ? Date.now() : e.created.getTime();
    const cur = this.agents.get(hb.id);
    if (!cur) {
      this.agents.set(hb.id, { heartbeat: hb, seenMs, client: null, limit: new Semaphore(this.o.concurrency) });
      this.o.log.info('agent seen', { agent: hb.id, address: hb.address });
      this.wake(hb.id);
      return;
    }
    const wasAlive = this.isAlive(cur);
    const restarted = hb.instance !== cur.heartbeat.instance;
    cur.heartbeat = hb;
    cur.seenMs = seenMs;
    const revived = !wasAlive && this.isAlive(cur);
    // A channel to the agent's previous run may sit in reconnect backoff or hold a dead
    // connection: a fresh one connects at once.
    if (cur.client && (cur.client.address !== hb.address || restarted || revived)) {
      cur.client.close();
      cur.client = null;
    }
    if (restarted) this.o.log.info('agent restarted', { agent: hb.id });
    else if (revived) this.o.log.info('agent alive again', { agent: hb.id });
    if (restarted || revived) {
      const r = this.returns.get(hb.id);
      this.returns.delete(hb.id);
      for (const f of r ?? []) f();
    }
    this.wake(hb.id);
  }

  /** Resolves at the agent's next restart or revival (see AgentPort.whenBack); never once `signal` aborted. */
  nextReturn(id: string, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted) return;
      let set = this.returns.get(id);
      if (!set) this.returns.set(id, (set = new Set()));
      const done = (): void => {
        off();
        resolve();
      };
      const off = onAbort(signal, () => {
        set.delete(done);
      });
      set.add(done);
    });
  }

  private wake(id: string): void {
    const w = this.waiters.get(id);
    if (!w) return;
    this.waiters.delete(id);
    for (const f of w) f();
  }

  /**
   * Resolves once agent `id` is alive (at once when it is), or when `timeoutMs` passed or
   * `signal` aborted; says whether it is alive then.
   */
  async waitAlive(id: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!this.alive(id)) {
      const left = end - Date.now();
      if (left <= 0 || signal?.aborted === true) return false;
      await new Promise<void>((resolve) => {
        let set = this.waiters.get(id);
        if (!set) this.waiters.set(id, (set = new Set()));
        const done = (): void => {
          clearTimeout(timer);
          off();
          set.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        const off = onAbort(signal, done);
        set.add(done);
      });
    }
    return true;
  }

  private isAlive(e: Entry): boolean {
    return e.heartbeat.state === 'running' && Date.now() - e.seenMs <= this.o.timeoutMs;
  }

  /** Every known agent, by id. */
  list(): AgentView[] {
    return [...this.agents.entries()]
      .map(([id, e]) => ({ id, heartbeat: e.heartbeat, seenMs: e.seenMs, alive: this.isAlive(e) }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get(id: string): AgentView | undefined {
    const e = this.agents.get(id);
    return e ? { id, heartbeat: e.heartbeat, seenMs: e.seenMs, alive: this.isAlive(e) } : undefined;
  }

  alive(id: string): boolean {
    const e = this.agents.get(id);
    return e !== undefined && this.isAlive(e);
  }

  /** The agent's gRPC client (made on first use). UNAVAILABLE for unknown or dead agents. */
  async client(id: string): Promise<AgentApi> {
    const e = this.agents.get(id);
    if (!e) throw new TenksError('UNAVAILABLE', `agent '${id}' is not known (no heartbeat seen)`);
    if (!this.isAlive(e))
      throw new TenksError(
        'UNAVAILABLE',
        `agent '${id}' is not alive (last heartbeat ${Math.round((Date.now() - e.seenMs) / 1000)} s ago)`,
        {
          hint: `is tenks-agent running on ${e.heartbeat.hostname} and connected to NATS?`,
        },
      );
    if (!e.client) {
      const dial = { address: e.heartbeat.address, tls: this.o.tls };
      e.client = new AgentApi(
        e.heartbeat.address,
        await dialCredentials(dial),
        channelOptions(dial),
        this.o.callTimeoutMs,
      );
    }
    return e.client;
  }

  /**
   * Waits (in parallel, each up to the registry's `waitMs`) for those of `ids` that are known but
   * not alive, e.g. the agents holding a cluster's nodes, before planning around them.
   */
  async awaitKnown(ids: Iterable<string>, signal?: AbortSignal): Promise<void> {
    const waiting = [...new Set(ids)].filter((id) => this.agents.has(id) && !this.alive(id));
    await Promise.all(waiting.map((id) => this.waitAlive(id, this.o.waitMs, signal)));
  }

  /** Waits (up to the registry's `waitMs`) until any of `ids` is alive. */
  async awaitAny(ids: readonly string[], signal?: AbortSignal): Promise<void> {
    if (ids.length === 0 || ids.some((id) => this.alive(id))) return;
    const stop = new AbortController();
    const both = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    await Promise.race(ids.map((id) => this.waitAlive(id, this.o.waitMs, both)));
    stop.abort();
  }

  /**
   * Runs `task` within the agent's concurrency limit. An agent that is not alive is waited for (up
   * to the registry's `waitMs`), so a call made while it restarts goes through once it is back.
   */
  async withAgent<T>(id: string, task: (api: AgentApi) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (!this.alive(id) && this.agents.has(id)) await this.waitAlive(id, this.o.waitMs, signal);
    const api = await this.client(id);
    const e = this.agents.get(id);
    if (!e) throw new TenksError('UNAVAILABLE', `agent '${id}' went away`);
    return e.limit.run(() => task(api), signal);
  }

  close(): void {
    this.follower?.stop();
    for (const id of [...this.waiters.keys()]) this.wake(id);
    for (const e of this.agents.values()) e.client?.close();
  }
}
