/**
 * The agent's announcements on NATS: its key in the `tenks-agents` KV bucket, rewritten every
 * interval with what the coordinator needs to schedule onto this host. Cheap facts (free memory,
 * BMC ports) are fresh in every heartbeat; costlier ones (node count, pool) every few.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import {
  BUCKETS,
  connectNats,
  encodeJson,
  toTenksError,
  type AgentHeartbeat,
  type Logger,
  type NatsSettings,
} from '../common/index.js';
import { AGENT_VERSION, type Agent } from './agent.js';

/** How many heartbeats may pass before the costly facts are read again. */
const SLOW_EVERY = 5;

/** Options of the heartbeat. */
export interface HeartbeatOptions {
  nats: NatsSettings;
  agentId: string;
  /** gRPC address the coordinator dials. */
  address: string;
  intervalMs: number;
  log: Logger;
}

/** Opens (or creates) the agents bucket: one value per agent, kept an hour after its last heartbeat. */
export async function agentsBucket(nc: NatsConnection, replicas: number): Promise<KV> {
  return new Kvm(nc).create(BUCKETS.agents, { history: 1, ttl: 3_600_000, replicas });
}

/** Publishes the agent's heartbeat until stopped. */
export class Heartbeat {
  /** This process's run, announced in every heartbeat. */
  private readonly instance = randomBytes(8).toString('hex');
  private timer: NodeJS.Timeout | null = null;
  private beats = 0;
  private slow: { nodeCount: number; pool: AgentHeartbeat['pool'] } | null = null;
  private sending: Promise<void> = Promise.resolve();
  private failing = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly agent: Agent,
    private readonly o: HeartbeatOptions,
  ) {}

  /**
   * Connects to NATS, trying again every few seconds while it is not up yet (until `signal`
   * aborts), then starts beating.
   */
  static async start(agent: Agent, o: HeartbeatOptions, signal: AbortSignal): Promise<Heartbeat> {
    let nc: NatsConnection | null = null;
    for (let attempt = 0; nc === null; attempt++) {
      signal.throwIfAborted();
      try {
        nc = await connectNats(o.nats, { name: `tenks-agent ${o.agentId}`, timeoutMs: 5_000, log: o.log });
      } catch (e) {
        if (attempt === 0) o.log.warn('NATS not reachable yet; heartbeats start once it is', { error: String(e) });
        // An abort ends the wait at once; the check at the top of the loop then throws its reason.
        await sleep(2_000, undefined, { signal, ref: false }).catch(() => undefined);
      }
    }
    if (signal.aborted) {
      await nc.close();
      signal.throwIfAborted();
    }
    try {
      const kv = await agentsBucket(nc, o.nats.replicas);
      const h = new Heartbeat(nc, kv, agent, o);
      await h.beat();
      h.timer = setInterval(() => {
        h.sending = h.sending
          .then(() => h.beat())
          .catch((e: unknown) => {
            o.log.warn('heartbeat failed', { error: String(e) });
          });
      }, o.intervalMs);
      h.timer.unref();
      return h;
    } catch (e) {
      await nc.close();
      throw toTenksError(e, 'UNAVAILABLE');
    }
  }

  /** The heartbeat as it would be sent now. */
  async snapshot(state: AgentHeartbeat['state'] = 'running'): Promise<AgentHeartbeat> {
    const a = this.agent;
    if (!this.slow || this.beats % SLOW_EVERY === 0) {
      const [nodeCount, pool] = await Promise.all([a.nodes.count(), a.storage.pool()]);
      this.slow = {
        nodeCount,
        pool: {
          name: pool.name,
          type: pool.type,
          capacityBytes: pool.capacityBytes,
          availableBytes: pool.availableBytes,
        },
      };
    }
    this.beats++;
    const facts = await a.hypervisor.facts();
    const bmc = a.bmc.portUsage();
    return {
      version: 1,
      id: this.o.agentId,
      address: this.o.address,
      hostname: facts.hostname,
      agentVersion: AGENT_VERSION,
      libvirtUri: facts.libvirtUri,
      engine: facts.engine,
      cpus: facts.cpus,
      memoryBytes: facts.memoryBytes,
      freeMemoryBytes: facts.freeMemoryBytes,
      uefiAvailable: facts.uefiAvailable,
      arches: facts.arches,
      uefiArches: facts.uefiArches,
      pool: this.slow.pool,
      physnets: a.network.list().map((p) => ({
        physnet: p.physnet,
        device: p.device,
        vlan: p.vlan,
        bridge: p.bridge,
        bridgeMac: p.bridgeMac,
        bridgeType: p.bridgeType,
        clusters: [...p.clusters],
      })),
      bmc: {
        address: a.config.bmc.advertiseAddress,
        ipmiPortStart: a.config.bmc.ipmiPortStart,
        ipmiPortEnd: a.config.bmc.ipmiPortEnd,
        ipmiPortsUsed: bmc.ipmiPortsUsed,
        redfishUrl: bmc.redfishUrl,
      },
      nodeCount: this.slow.nodeCount,
      instance: this.instance,
      state,
      timeMs: Date.now(),
      intervalMs: this.o.intervalMs,
    };
  }

  private async beat(state: AgentHeartbeat['state'] = 'running'): Promise<void> {
    try {
      await this.kv.put(this.o.agentId, encodeJson(await this.snapshot(state)));
      if (this.failing) this.o.log.info('heartbeats flowing again');
      this.failing = false;
    } catch (e) {
      // NATS away (restarting, partitioned): keep trying; the client reconnects by itself.
      if (!this.failing) this.o.log.warn('heartbeat not sent', { error: String(e) });
      this.failing = true;
    }
  }

  /** Sends a last `stopping` heartbeat and closes the NATS connection. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sending;
    await this.beat('stopping');
    await this.nc.drain().catch(() => undefined);
  }
}
