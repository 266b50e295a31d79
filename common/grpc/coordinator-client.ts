import type {
  AgentInfo,
  Cluster,
  CoordinatorInfo,
  NodeStatus,
  Operation,
  Plan,
  PowerAction,
  PowerResult,
} from '../api/index.js';
import { nodeStatusFromPb } from './agent-messages.js';
import { agentInfoFromPb, clusterFromPb, operationFromPb, planFromPb } from './coordinator-messages.js';
import { CoordinatorWire, type CoordinatorCallOptions } from './coordinator-wire.js';
import { powerActionToPb, powerStateName } from './enums.js';
import { apiClient } from './service-client.js';

/**
 * Promise-returning CoordinatorService client in tenks terms (tenksctl): every call has a deadline,
 * can be cancelled, and rejects with the TenksError the coordinator sent. A response that lacks the
 * message it exists for is an INTERNAL error.
 */
export class CoordinatorApi extends apiClient(CoordinatorWire) {
  /** Coordinator id, version, and where operation events are published. */
  async getInfo(o?: CoordinatorCallOptions): Promise<CoordinatorInfo> {
    const r = await this.wire.getInfo(o);
    return {
      coordinatorId: r.coordinatorId,
      version: r.version,
      natsUrls: r.natsUrls,
      eventsSubjectPrefix: r.eventsSubjectPrefix,
    };
  }

  /**
   * The actions an apply of `specYaml` would take. `source` names the spec in error messages;
   * `prune` as in {@link apply}.
   */
  async plan(specYaml: string, source: string, o?: CoordinatorCallOptions & { prune?: boolean }): Promise<Plan> {
    return planFromPb(await this.wire.plan(specYaml, source, o));
  }

  /**
   * Starts bringing the spec's cluster to it; resolves with the operation as soon as it is started.
   * `prune` allows an apply that deletes most of an existing cluster's nodes.
   */
  async apply(specYaml: string, source: string, o?: CoordinatorCallOptions & { prune?: boolean }): Promise<Operation> {
    return operationFromPb(await this.wire.apply(specYaml, source, o));
  }

  /** Starts removing one cluster; `force` also removes nodes Ironic reports in use. */
  async deleteCluster(cluster: string, force = false, o?: CoordinatorCallOptions): Promise<Operation> {
    return operationFromPb(await this.wire.deleteCluster(cluster, force, o));
  }

  /** Starts removing every cluster and all host setup tenks made. */
  async teardown(force = false, o?: CoordinatorCallOptions): Promise<Operation> {
    return operationFromPb(await this.wire.teardown(force, o));
  }

  /** Every declared cluster; the secrets in their specs are redacted by the coordinator unless `includeSecrets`. */
  async getClusters(includeSecrets = false, o?: CoordinatorCallOptions): Promise<Cluster[]> {
    return (await this.wire.getClusters(includeSecrets, o)).map(clusterFromPb);
  }

  /** Nodes of one cluster (`''`: all), or only those named `name`; BMC passwords only with `includeSecrets`. */
  async getNodes(cluster = '', name = '', includeSecrets = false, o?: CoordinatorCallOptions): Promise<NodeStatus[]> {
    return (await this.wire.getNodes(cluster, name, includeSecrets, o)).map(nodeStatusFromPb);
  }

  /** Every agent the coordinator knows, alive or not. */
  async getAgents(o?: CoordinatorCallOptions): Promise<AgentInfo[]> {
    return (await this.wire.getAgents(o)).map(agentInfoFromPb);
  }

  /** One operation as the coordinator records it now. */
  async getOperation(id: string, o?: CoordinatorCallOptions): Promise<Operation> {
    return operationFromPb(await this.wire.getOperation(id, o));
  }

  /** Asks the coordinator to cancel an operation; resolves with it (usually not ended yet). */
  async cancelOperation(id: string, o?: CoordinatorCallOptions): Promise<Operation> {
    return operationFromPb(await this.wire.cancelOperation(id, o));
  }

  /** Powers a node on, off, ... through its agent. */
  async setNodePower(
    cluster: string,
    name: string,
    action: PowerAction,
    o?: CoordinatorCallOptions,
  ): Promise<PowerResult> {
    const r = await this.wire.setNodePower(cluster, name, powerActionToPb(action), o);
    return { powerState: powerStateName(r.powerState), changed: r.changed };
  }
}
