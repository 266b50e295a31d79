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
  Semaphore,
  TenksError,
  type AgentHeartbeat,
  type Logger,
  type TlsFiles,
} from '../../common/index.js';
import { Kvm } from '@nats-io/kv';
import { followBucket, type BucketFollower } from '../state/kv-watch.js';

/** Options of the registry. */
export interface RegistryOptions {
  /** Dead after this long without a heartbeat. */
  timeoutMs: number;
  /** mTLS identity towards agents, or null for plaintext (loopback agents only). */
  tls: TlsFiles | null;
  callTimeoutMs: number;
  /** Calls in flight to one agent at once. */
  concurrency: number;
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
      readyFallback: { ms: 5_000, warn: false },
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
      return;
    }
    if (cur.heartbeat.address !== hb.address) {
      cur.client?.close();
      cur.client = null;
    }
    const wasAlive = this.isAlive(cur);
    cur.heartbeat = hb;
    cur.seenMs = seenMs;
    if (!wasAlive && this.isAlive(cur)) this.o.log.info('agent alive again', { agent: hb.id });
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

  /** Runs `task` within the agent's concurrency limit. */
  async withAgent<T>(id: string, task: (api: AgentApi) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const api = await this.client(id);
    const e = this.agents.get(id);
    if (!e) throw new TenksError('UNAVAILABLE', `agent '${id}' went away`);
    return e.limit.run(() => task(api), signal);
  }

  close(): void {
    this.follower?.stop();
    for (const e of this.agents.values()) e.client?.close();
  }
}
