/** The AgentPort over gRPC: the registry's client per agent, bounded per agent, mapped at the edge. */
import type { AgentPort, AgentRegistry, NodeKey, PowerVerb } from '../agents/index.js';
import { toAgentNodeSpec, toObservedNode } from './agent-mapping.js';
import { TenksError, type AgentApi, type AgentCallOptions, type NodeStatus } from '../../common/index.js';

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
    const host = await this.call(agent, signal, (api) => api.hostInfo(this.opts(signal)));
    return host.physnets.map((p) => ({
      physnet: p.physnet,
      device: p.device,
      vlan: p.vlan,
      bridgeType: p.bridgeType,
      clusters: p.clusters,
    }));
  }

  nodeStatuses(agent: string, cluster: string, includeSecrets: boolean, signal?: AbortSignal): Promise<NodeStatus[]> {
    return this.call(agent, signal, (api) => api.listNodes(cluster, includeSecrets, this.opts(signal)));
  }

  async listNodes(agent: string, cluster: string, includeSecrets: boolean, signal?: AbortSignal) {
    return (await this.nodeStatuses(agent, cluster, includeSecrets, signal)).map((n) => toObservedNode(agent, n));
  }

  async ensureNode(agent: string, request: Parameters<AgentPort['ensureNode']>[1], signal?: AbortSignal) {
    const r = await this.call(agent, signal, (api) =>
      api.ensureNode(toAgentNodeSpec(request), false, this.opts(signal)),
    );
    if (!r.node) throw new TenksError('INTERNAL', `agent ${agent} returned no node for ${request.node.name}`);
    return { node: toObservedNode(agent, r.node), changed: r.changed, changes: r.changes };
  }

  async deleteNode(agent: string, node: NodeKey, signal?: AbortSignal) {
    return this.call(agent, signal, (api) => api.deleteNode(node, this.opts(signal)));
  }

  async setupHost(
    agent: string,
    cluster: string,
    bridgeType: Parameters<AgentPort['setupHost']>[2],
    physnets: { physnet: string; device: string; vlan: number }[],
    signal?: AbortSignal,
  ) {
    const r = await this.call(agent, signal, (api) =>
      api.setupHost({ cluster, bridgeType, physnets }, this.opts(signal)),
    );
    return { changed: r.changed, changes: r.changes };
  }

  async teardownHost(agent: string, cluster: string, signal?: AbortSignal) {
    return this.call(agent, signal, (api) => api.teardownHost(cluster, this.opts(signal)));
  }

  async setPower(agent: string, node: NodeKey, action: PowerVerb, signal?: AbortSignal) {
    return this.call(agent, signal, (api) => api.setPower(node, action, this.opts(signal)));
  }
}
