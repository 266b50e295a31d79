import type { ChannelCredentials } from '@grpc/grpc-js';
import {
  CoordinatorServiceClient,
  type Agent,
  type ApplyResponse,
  type CancelOperationResponse,
  type Cluster,
  type DeleteClusterResponse,
  type GetAgentsResponse,
  type GetClustersResponse,
  type GetInfoResponse,
  type GetNodesResponse,
  type GetOperationResponse,
  type Operation,
  type Plan,
  type PlanResponse,
  type SetNodePowerResponse,
  type TeardownResponse,
} from '../../proto/gen/tenks/v1/coordinator.pb.js';
import type { NodeStatus, PowerAction } from '../../proto/gen/tenks/v1/types.pb.js';
import { TenksError } from '../errors.js';
import { unaryCall } from './client.js';

/** Per-call options. */
export interface CoordinatorCallOptions {
  /** Deadline from now; default the client's. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Promise-returning CoordinatorService client (tenksctl, tests): every call has a deadline, can be
 * cancelled, and rejects with the TenksError the coordinator sent. Responses that wrap one message
 * (`{ operation }`, `{ plan }`, `{ nodes }`) are unwrapped; a missing message is an INTERNAL error.
 */
export class CoordinatorApi {
  readonly raw: CoordinatorServiceClient;

  constructor(
    readonly address: string,
    creds: ChannelCredentials,
    channelOptions: Record<string, string | number> = {},
    private readonly defaultTimeoutMs = 120_000,
  ) {
    this.raw = new CoordinatorServiceClient(address, creds, channelOptions);
  }

  private opts(o: CoordinatorCallOptions | undefined): { timeoutMs: number; signal?: AbortSignal } {
    return { timeoutMs: o?.timeoutMs ?? this.defaultTimeoutMs, ...(o?.signal ? { signal: o.signal } : {}) };
  }

  private get peer(): string {
    return `coordinator ${this.address}`;
  }

  private need<T>(v: T | undefined, what: string): T {
    if (v === undefined) throw new TenksError('INTERNAL', `${this.peer} sent no ${what}`);
    return v;
  }

  /** Coordinator id, version, and where operation events are published. */
  getInfo(o?: CoordinatorCallOptions): Promise<GetInfoResponse> {
    return unaryCall<GetInfoResponse>(this.peer, (m, c, cb) => this.raw.getInfo({}, m, c, cb), this.opts(o));
  }

  /**
   * The actions an apply of `specYaml` would take. `source` names the spec in error messages;
   * `prune` as in {@link apply}.
   */
  async plan(specYaml: string, source: string, o?: CoordinatorCallOptions & { prune?: boolean }): Promise<Plan> {
    const prune = o?.prune ?? false;
    const r = await unaryCall<PlanResponse>(
      this.peer,
      (m, c, cb) => this.raw.plan({ specYaml, source, prune }, m, c, cb),
      this.opts(o),
    );
    return this.need(r.plan, 'plan');
  }

  /**
   * Starts bringing the spec's cluster to it; resolves with the operation as soon as it is started.
   * `prune` allows an apply that deletes most of an existing cluster's nodes.
   */
  async apply(specYaml: string, source: string, o?: CoordinatorCallOptions & { prune?: boolean }): Promise<Operation> {
    const prune = o?.prune ?? false;
    const r = await unaryCall<ApplyResponse>(
      this.peer,
      (m, c, cb) => this.raw.apply({ specYaml, source, prune }, m, c, cb),
      this.opts(o),
    );
    return this.need(r.operation, 'operation');
  }

  /** Starts removing one cluster; `force` also removes nodes Ironic reports in use. */
  async deleteCluster(cluster: string, force = false, o?: CoordinatorCallOptions): Promise<Operation> {
    const r = await unaryCall<DeleteClusterResponse>(
      this.peer,
      (m, c, cb) => this.raw.deleteCluster({ cluster, force }, m, c, cb),
      this.opts(o),
    );
    return this.need(r.operation, 'operation');
  }

  /** Starts removing every cluster and all host setup tenks made. */
  async teardown(force = false, o?: CoordinatorCallOptions): Promise<Operation> {
    const r = await unaryCall<TeardownResponse>(
      this.peer,
      (m, c, cb) => this.raw.teardown({ force }, m, c, cb),
      this.opts(o),
    );
    return this.need(r.operation, 'operation');
  }

  /** Every declared cluster; the secrets in their specs are redacted by the coordinator unless `includeSecrets`. */
  async getClusters(includeSecrets = false, o?: CoordinatorCallOptions): Promise<Cluster[]> {
    const r = await unaryCall<GetClustersResponse>(
      this.peer,
      (m, c, cb) => this.raw.getClusters({ includeSecrets }, m, c, cb),
      this.opts(o),
    );
    return r.clusters;
  }

  /** Nodes of one cluster (`''`: all), or only those named `name`; BMC passwords only with `includeSecrets`. */
  async getNodes(cluster = '', name = '', includeSecrets = false, o?: CoordinatorCallOptions): Promise<NodeStatus[]> {
    const r = await unaryCall<GetNodesResponse>(
      this.peer,
      (m, c, cb) => this.raw.getNodes({ cluster, name, includeSecrets }, m, c, cb),
      this.opts(o),
    );
    return r.nodes;
  }

  /** Every agent the coordinator knows, alive or not. */
  async getAgents(o?: CoordinatorCallOptions): Promise<Agent[]> {
    const r = await unaryCall<GetAgentsResponse>(
      this.peer,
      (m, c, cb) => this.raw.getAgents({}, m, c, cb),
      this.opts(o),
    );
    return r.agents;
  }

  /** One operation as the coordinator records it now. */
  async getOperation(id: string, o?: CoordinatorCallOptions): Promise<Operation> {
    const r = await unaryCall<GetOperationResponse>(
      this.peer,
      (m, c, cb) => this.raw.getOperation({ id }, m, c, cb),
      this.opts(o),
    );
    return this.need(r.operation, 'operation');
  }

  /** Asks the coordinator to cancel an operation; resolves with it (usually not ended yet). */
  async cancelOperation(id: string, o?: CoordinatorCallOptions): Promise<Operation> {
    const r = await unaryCall<CancelOperationResponse>(
      this.peer,
      (m, c, cb) => this.raw.cancelOperation({ id }, m, c, cb),
      this.opts(o),
    );
    return this.need(r.operation, 'operation');
  }

  /** Powers a node on, off, ... through its agent. */
  setNodePower(
    cluster: string,
    name: string,
    action: PowerAction,
    o?: CoordinatorCallOptions,
  ): Promise<SetNodePowerResponse> {
    return unaryCall<SetNodePowerResponse>(
      this.peer,
      (m, c, cb) => this.raw.setNodePower({ cluster, name, action }, m, c, cb),
      this.opts(o),
    );
  }

  close(): void {
    this.raw.close();
  }
}
