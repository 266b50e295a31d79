import type { ChannelCredentials, ClientReadableStream } from '@grpc/grpc-js';
import {
  AgentServiceClient,
  type DeleteNodeResponse,
  type EnsureNodeResponse,
  type GetBmcInfoResponse,
  type GetHostInfoResponse,
  type GetNodeResponse,
  type GetPowerStateResponse,
  type ListNodesResponse,
  type SetPowerResponse,
  type SetupHostRequest,
  type SetupHostResponse,
  type TeardownHostResponse,
  type WatchEventsResponse,
} from '../../proto/gen/tenks/v1/agent.pb.js';
import type { NodeRef, NodeSpec, PowerAction } from '../../proto/gen/tenks/v1/types.pb.js';
import { FENCE_METADATA_KEY } from '../fence.js';
import { unaryCall, type UnaryOptions } from './client.js';

/** Per-call options. */
export interface AgentCallOptions {
  /** Deadline from now; default the client's. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Fencing token of the operation making the call (see common/fence.ts). */
  fence?: string;
}

/**
 * Promise-returning AgentService client (tenksctl, the coordinator, tests): every call has a
 * deadline, can be cancelled, and rejects with the TenksError the agent sent.
 */
export class AgentApi {
  readonly raw: AgentServiceClient;

  constructor(
    readonly address: string,
    creds: ChannelCredentials,
    channelOptions: Record<string, string | number> = {},
    private readonly defaultTimeoutMs = 120_000,
  ) {
    this.raw = new AgentServiceClient(address, creds, channelOptions);
  }

  private opts(o: AgentCallOptions | undefined): UnaryOptions {
    return {
      timeoutMs: o?.timeoutMs ?? this.defaultTimeoutMs,
      ...(o?.signal ? { signal: o.signal } : {}),
      ...(o?.fence !== undefined ? { headers: { [FENCE_METADATA_KEY]: o.fence } } : {}),
    };
  }

  private get peer(): string {
    return `agent ${this.address}`;
  }

  hostInfo(o?: AgentCallOptions): Promise<GetHostInfoResponse> {
    return unaryCall<GetHostInfoResponse>(this.peer, (m, c, cb) => this.raw.getHostInfo({}, m, c, cb), this.opts(o));
  }
  ensureNode(node: NodeSpec, dryRun = false, o?: AgentCallOptions): Promise<EnsureNodeResponse> {
    return unaryCall<EnsureNodeResponse>(
      this.peer,
      (m, c, cb) => this.raw.ensureNode({ node, dryRun }, m, c, cb),
      this.opts(o),
    );
  }
  deleteNode(node: NodeRef, o?: AgentCallOptions): Promise<DeleteNodeResponse> {
    return unaryCall<DeleteNodeResponse>(
      this.peer,
      (m, c, cb) => this.raw.deleteNode({ node }, m, c, cb),
      this.opts(o),
    );
  }
  getNode(node: NodeRef, includeSecrets = false, o?: AgentCallOptions): Promise<GetNodeResponse> {
    return unaryCall<GetNodeResponse>(
      this.peer,
      (m, c, cb) => this.raw.getNode({ node, includeSecrets }, m, c, cb),
      this.opts(o),
    );
  }
  listNodes(cluster = '', includeSecrets = false, o?: AgentCallOptions): Promise<ListNodesResponse> {
    return unaryCall<ListNodesResponse>(
      this.peer,
      (m, c, cb) => this.raw.listNodes({ cluster, includeSecrets }, m, c, cb),
      this.opts(o),
    );
  }
  setPower(node: NodeRef, action: PowerAction, o?: AgentCallOptions): Promise<SetPowerResponse> {
    return unaryCall<SetPowerResponse>(
      this.peer,
      (m, c, cb) => this.raw.setPower({ node, action }, m, c, cb),
      this.opts(o),
    );
  }
  powerState(node: NodeRef, o?: AgentCallOptions): Promise<GetPowerStateResponse> {
    return unaryCall<GetPowerStateResponse>(
      this.peer,
      (m, c, cb) => this.raw.getPowerState({ node }, m, c, cb),
      this.opts(o),
    );
  }
  bmcInfo(node: NodeRef, includeSecrets = false, o?: AgentCallOptions): Promise<GetBmcInfoResponse> {
    return unaryCall<GetBmcInfoResponse>(
      this.peer,
      (m, c, cb) => this.raw.getBmcInfo({ node, includeSecrets }, m, c, cb),
      this.opts(o),
    );
  }
  setupHost(req: SetupHostRequest, o?: AgentCallOptions): Promise<SetupHostResponse> {
    return unaryCall<SetupHostResponse>(this.peer, (m, c, cb) => this.raw.setupHost(req, m, c, cb), this.opts(o));
  }
  teardownHost(cluster = '', o?: AgentCallOptions): Promise<TeardownHostResponse> {
    return unaryCall<TeardownHostResponse>(
      this.peer,
      (m, c, cb) => this.raw.teardownHost({ cluster }, m, c, cb),
      this.opts(o),
    );
  }
  /** Server stream of node events; cancel it to stop. */
  watchEvents(cluster = ''): ClientReadableStream<WatchEventsResponse> {
    return this.raw.watchEvents({ cluster });
  }
  close(): void {
    this.raw.close();
  }
}
