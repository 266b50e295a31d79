import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentConfig } from './config.js';
import type { CheckedAgentConfig } from './config-check.js';
import { BmcManager } from './bmc/index.js';
import { IpLinks, NetworkPlane, Ovs } from './network/index.js';
import { NodeChanges } from './node-changes.js';
import type { Logger } from '../common/index.js';
import {
  HostPathPolicy,
  LibvirtHypervisor,
  LibvirtStorage,
  NodeManager,
  POWER_AFTER_EVENT,
  type DomainEvent,
  type HostFacts,
  type Hypervisor,
  type PoolInfo,
  type PowerState,
  type Storage,
} from './compute/index.js';

/** Pause before the libvirt event watch starts again after it ended. */
const WATCH_RETRY_MS = 1_000;

/** The agent's version, reported in host info. */
export const AGENT_VERSION = '0.1.0';

/** A node event with the node's cluster. */
export interface NodeEvent {
  type: DomainEvent['type'];
  cluster: string;
  name: string;
  uuid: string;
  powerState: PowerState;
  timeMs: number;
}

/** Everything one agent owns on its host, wired together. */
export class Agent {
  /** name → cluster of tenks nodes seen, so events of undefined domains still carry their cluster. */
  private readonly clusterOf = new Map<string, string>();
  /** Aborted when the agent starts draining, so long-lived streams end instead of holding it up. */
  private readonly draining = new AbortController();
  /** Node and BMC changed together, one change per node at a time. */
  readonly changes: NodeChanges;

  constructor(
    readonly config: AgentConfig,
    readonly hypervisor: Hypervisor,
    readonly storage: Storage,
    readonly nodes: NodeManager,
    readonly network: NetworkPlane,
    readonly bmc: BmcManager,
    readonly facts: HostFacts,
    private readonly log: Logger,
  ) {
    this.changes = new NodeChanges(nodes, bmc);
  }

  /**
   * Connects to libvirt, ensures the pool and the log directory, sets up the network plane and the
   * BMCs. `checked` is what {@link checkAgentConfig} read of `config` before anything changed.
   */
  static async create(config: AgentConfig, checked: CheckedAgentConfig, log: Logger): Promise<Agent> {
    const hv = await LibvirtHypervisor.connect({
      uri: config.libvirtUri,
      concurrency: config.libvirtConcurrency,
      engine: config.engine,
      ...(config.testCapacity ? { reportedCapacity: config.testCapacity } : {}),
      log,
    });
    try {
      const storage = new LibvirtStorage(hv.connection, {
        ...config.storage,
        reportedCapacityBytes: config.testCapacity?.poolCapacityBytes ?? null,
        log,
      });
      await storage.ensurePool();
      const facts = await hv.facts();
      if (hv.capabilities.domainType !== 'test') await mkdir(join(config.logDirectory, 'libvirt'), { recursive: true });
      const ovs = new Ovs();
      const network = await NetworkPlane.create({
        hostname: facts.hostname,
        owner: config.agentId,
        ownsUnmarked: config.ownsUnmarked,
        links: new IpLinks(),
        ovs: (await ovs.available()) ? ovs : null,
        log,
      });
      log.info('network plane ready', {
        ovs: network.ovsAvailable,
        datapath: network.ovsDatapath,
        physnets: network.list().length,
      });
      const nodes = new NodeManager({
        owner: config.agentId,
        ownsUnmarked: config.ownsUnmarked,
        hypervisor: hv,
        storage,
        facts,
        logDirectory: config.logDirectory,
        log,
        wiring: network,
        hostPaths: new HostPathPolicy({
          imageDirs: config.allowedImageDirs,
          poolDir: config.storage.poolType === 'dir' ? config.storage.poolPath : null,
        }),
      });
      const bmc = await BmcManager.create({
        ...config.bmc,
        redfishTls: checked.redfishTls,
        store: checked.bmcStore,
        firmware: { uefiArches: facts.uefiArches, secureBootArches: facts.secureBootArches },
        stateDir: config.stateDir,
        libvirtUri: config.libvirtUri,
        nodes,
        log,
      });
      const agent = new Agent(config, hv, storage, nodes, network, bmc, facts, log);
      void agent.watchDomains();
      return agent;
    } catch (e) {
      await hv.close();
      throw e;
    }
  }

  /** Host facts with fresh free memory and pool figures. */
  async hostInfo(): Promise<{ facts: HostFacts; pool: PoolInfo; nodeCount: number }> {
    const [facts, pool, nodeCount] = await Promise.all([
      this.hypervisor.facts(),
      this.storage.pool(),
      this.nodes.count(),
    ]);
    return { facts, pool, nodeCount };
  }

  /** Node events (of one cluster when given) until `signal` aborts. */
  async *events(cluster: string, signal: AbortSignal): AsyncGenerator<NodeEvent> {
    for await (const e of this.hypervisor.events(AbortSignal.any([signal, this.draining.signal]))) {
      let owner = this.clusterOf.get(e.name);
      if (owner === undefined && e.type !== 'undefined') {
        const d = await this.hypervisor.getDomain(e.name).catch(() => null);
        // Another agent's domains on the same libvirt URI are not this agent's nodes.
        owner = d?.metadata && this.nodes.ours(d.metadata) ? d.metadata.cluster : undefined;
        if (owner !== undefined) this.clusterOf.set(e.name, owner);
      }
      if (owner === undefined) continue;
      if (e.type === 'undefined') this.clusterOf.delete(e.name);
      if (cluster !== '' && owner !== cluster) continue;
      yield {
        type: e.type,
        cluster: owner,
        name: e.name,
        uuid: e.uuid,
        powerState: POWER_AFTER_EVENT[e.type] ?? 'unknown',
        timeMs: e.timeMs,
      };
    }
  }

  /**
   * Follows libvirt's lifecycle events until the agent drains: they keep the BMCs' view of power
   * fresh, and a node started with a one-time boot device gets its definition put back to the
   * persistent device, so the override really applies once. A watch that ends (libvirt's
   * connection hiccuped) starts again.
   */
  private async watchDomains(): Promise<void> {
    const { signal } = this.draining;
    for (;;) {
      let failure: { error: unknown } | null = null;
      try {
        for await (const e of this.hypervisor.events(signal)) {
          this.bmc.onDomainEvent(e);
          if (e.type !== 'started') continue;
          await this.nodes.completeOneTimeBoot(e.name).catch((err: unknown) => {
            this.log.warn('could not reset a one-time boot device', { node: e.name, error: String(err) });
          });
        }
      } catch (error) {
        failure = { error };
      }
      if (signal.aborted) return;
      if (failure) {
        this.log.error('event watch failed; following again', {
          afterMs: WATCH_RETRY_MS,
          error: String(failure.error),
        });
      } else this.log.warn('event watch ended; following again', { afterMs: WATCH_RETRY_MS });
      await sleep(WATCH_RETRY_MS, undefined, { signal, ref: false }).catch(() => undefined);
    }
  }

  /** Ends event streams; called when the daemon starts draining. */
  beginShutdown(): void {
    this.draining.abort();
  }

  async close(): Promise<void> {
    this.draining.abort();
    await this.bmc.close();
    await this.hypervisor.close();
    this.log.info('agent closed');
  }
}
