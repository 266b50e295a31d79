import {
  CoordinatorServiceClient,
  type Agent,
  type Cluster,
  type GetAgentsResponse,
  type GetClustersResponse,
  type GetInfoResponse,
  type GetNodesResponse,
  type Operation,
  type Plan,
  type PlanResponse,
  type SetNodePowerResponse,
} from '../../proto/gen/tenks/v1/coordinator.pb.js';
import type { NodeStatus, PowerAction } from '../../proto/gen/tenks/v1/types.pb.js';
import { present, serviceClient, type ServiceCallOptions } from './service-client.js';

/** Per-call options. */
export type CoordinatorCallOptions = ServiceCallOptions;

/**
 * The CoordinatorService message for message (tests and benches that speak the wire; everything
 * else uses {@link CoordinatorApi}, which maps the messages to tenks terms). Responses that wrap
 * one message (`{ operation }`, `{ plan }`, `{ nodes }`) are unwrapped; a missing message is an
 * INTERNAL error.
 */
export class CoordinatorWire extends serviceClient(CoordinatorServiceClient, 'coordinator') {
  private operation(r: { operation?: Operation | undefined }): Operation {
    return present(r.operation, this.peer, 'operation');
  }

  getInfo(o?: CoordinatorCallOptions): Promise<GetInfoResponse> {
    return this.call((m, c, cb) => this.raw.getInfo({}, m, c, cb), o);
  }

  async plan(specYaml: string, source: string, o?: CoordinatorCallOptions & { prune?: boolean }): Promise<Plan> {
    const prune = o?.prune ?? false;
    const r = await this.call<PlanResponse>((m, c, cb) => this.raw.plan({ specYaml, source, prune }, m, c, cb), o);
    return present(r.plan, this.peer, 'plan');
  }

  async apply(specYaml: string, source: string, o?: CoordinatorCallOptions & { prune?: boolean }): Promise<Operation> {
    const prune = o?.prune ?? false;
    return this.operation(await this.call((m, c, cb) => this.raw.apply({ specYaml, source, prune }, m, c, cb), o));
  }

  async deleteCluster(cluster: string, force = false, o?: CoordinatorCallOptions): Promise<Operation> {
    return this.operation(await this.call((m, c, cb) => this.raw.deleteCluster({ cluster, force }, m, c, cb), o));
  }

  async teardown(force = false, o?: CoordinatorCallOptions): Promise<Operation> {
    return this.operation(await this.call((m, c, cb) => this.raw.teardown({ force }, m, c, cb), o));
  }

  async getClusters(includeSecrets = false, o?: CoordinatorCallOptions): Promise<Cluster[]> {
    return (await this.call<GetClustersResponse>((m, c, cb) => this.raw.getClusters({ includeSecrets }, m, c, cb), o))
      .clusters;
  }

  async getNodes(cluster = '', name = '', includeSecrets = false, o?: CoordinatorCallOptions): Promise<NodeStatus[]> {
    return (
      await this.call<GetNodesResponse>((m, c, cb) => this.raw.getNodes({ cluster, name, includeSecrets }, m, c, cb), o)
    ).nodes;
  }

  async getAgents(o?: CoordinatorCallOptions): Promise<Agent[]> {
    return (await this.call<GetAgentsResponse>((m, c, cb) => this.raw.getAgents({}, m, c, cb), o)).agents;
  }

  async getOperation(id: string, o?: CoordinatorCallOptions): Promise<Operation> {
    return this.operation(await this.call((m, c, cb) => this.raw.getOperation({ id }, m, c, cb), o));
  }

  async cancelOperation(id: string, o?: CoordinatorCallOptions): Promise<Operation> {
    return this.operation(await this.call((m, c, cb) => this.raw.cancelOperation({ id }, m, c, cb), o));
  }

  setNodePower(
    cluster: string,
    name: string,
    action: PowerAction,
    o?: CoordinatorCallOptions,
  ): Promise<SetNodePowerResponse> {
    return this.call((m, c, cb) => this.raw.setNodePower({ cluster, name, action }, m, c, cb), o);
  }
}
