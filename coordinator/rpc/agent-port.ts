/** The AgentPort over gRPC: the registry's client per agent, bounded per agent, mapped at the edge. */
import { BridgeType, PowerAction } from '../../proto/gen/tenks/v1/types.pb.js';
import type { AgentRegistry } from '../agents/registry.js';
import type { AgentPort, NodeKey, PowerVerb } from '../agents/port.js';
import { bridgeTypeToPb, toAgentNodeSpec, toObservedNode } from './agent-mapping.js';
import { TenksError, type AgentApi, type AgentCallOptions } from '../../common/index.js';

const POWER: Record<PowerVerb, PowerAction> = {
  on: PowerAction.POWER_ACTION_ON,
  off: PowerAction.POWER_ACTION_OFF,
  soft_off: PowerAction.POWER_ACTION_SOFT_OFF,
  reset: PowerAction.POWER_ACTION_RESET,
  nmi: PowerAction.POWER_ACTION_NMI,
  cycle: PowerAction.POWER_ACTION_CYCLE,
};

const POWER_NAME: Record<number, string> = {
  1: 'on',
  2: 'off',
  3: 'paused',
  4: 'shutting_down',
  5: 'crashed',
  6: 'suspended',
};

/** Agent calls over gRPC. */
export class GrpcAgentPort implements AgentPort {
  constructor(
    private readonly registry: AgentRegistry,
    private readonly fence: string | null = null,
  ) {}

  withFence(fence: string): AgentPort {
    return new GrpcAgentPort(this.registry, fence);
  }

  whenBack(agent: string, signal: AbortSignal): Promise<void> {
    return this.registry.nextReturn(agent, signal);
  }

  private call<T>(agent: string, signal: AbortSignal | undefined, f: (api: AgentApi) => Promise<T>): Promise<T> {
    return this.registry.withAgent(agent, f, signal);
  }

  /** Options of one call: the caller's signal and this port's fencing token. */
  private opts(signal: AbortSignal | undefined): AgentCallOptions {
    return { ...(signal ? { signal } : {}), ...(this.fence !== null ? { fence: this.fence } : {}) };
  }

  async hostPhysnets(agent: string, signal?: AbortSignal) {
    const r = await this.call(agent, signal, (api) => api.hostInfo(this.opts(signal)));
    return (r.host?.physnets ?? []).map((p) => ({
      physnet: p.physnet,
      device: p.device,
      vlan: p.vlan,
      bridgeType:
        p.bridgeType === BridgeType.BRIDGE_TYPE_LINUXBRIDGE ? ('linuxbridge' as const) : ('openvswitch' as const),
      clusters: [...p.clusters],
    }));
  }

  async listNodes(agent: string, cluster: string, includeSecrets: boolean, signal?: AbortSignal) {
    const r = await this.call(agent, signal, (api) => api.listNodes(cluster, includeSecrets, this.opts(signal)));
    return r.nodes.map((n) => toObservedNode(agent, n));
  }

  async ensureNode(agent: string, request: Parameters<AgentPort['ensureNode']>[1], signal?: AbortSignal) {
    const r = await this.call(agent, signal, (api) =>
      api.ensureNode(toAgentNodeSpec(request), false, this.opts(signal)),
    );
    if (!r.node) throw new TenksError('INTERNAL', `agent ${agent} returned no node for ${request.node.name}`);
    return { node: toObservedNode(agent, r.node), changed: r.changed, changes: r.changes };
  }

  async deleteNode(agent: string, node: NodeKey, signal?: AbortSignal) {
    const r = await this.call(agent, signal, (api) => api.deleteNode(node, this.opts(signal)));
    return { existed: r.existed, removed: r.removed };
  }

  async setupHost(
    agent: string,
    cluster: string,
    bridgeType: Parameters<AgentPort['setupHost']>[2],
    physnets: { physnet: string; device: string; vlan: number }[],
    signal?: AbortSignal,
  ) {
    const r = await this.call(agent, signal, (api) =>
      api.setupHost({ cluster, bridgeType: bridgeTypeToPb(bridgeType), physnets }, this.opts(signal)),
    );
    return { changed: r.changed, changes: r.changes };
  }

  async teardownHost(agent: string, cluster: string, signal?: AbortSignal) {
    const r = await this.call(agent, signal, (api) => api.teardownHost(cluster, this.opts(signal)));
    return { changed: r.changed, removed: r.removed };
  }

  async setPower(agent: string, node: NodeKey, action: PowerVerb, signal?: AbortSignal) {
    const r = await this.call(agent, signal, (api) => api.setPower(node, POWER[action], this.opts(signal)));
    return { powerState: POWER_NAME[r.powerState] ?? 'unknown', changed: r.changed };
  }
}
