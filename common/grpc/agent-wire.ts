import type { ClientReadableStream } from '@grpc/grpc-js';
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
import type { Starter } from './client.js';
import { serviceClient, type ServiceCallOptions } from './service-client.js';

/** Per-call options. */
export interface AgentCallOptions extends ServiceCallOptions {
  /** Fencing token of the operation making the call (see common/fence.ts). */
  fence?: string;
}

/**
 * The AgentService message for message (tests and benches that speak the wire; everything else
 * uses {@link AgentApi}, which maps the messages to tenks terms).
 */
export class AgentWire extends serviceClient(AgentServiceClient, 'agent') {
  private send<Res>(start: Starter<Res>, o: AgentCallOptions | undefined): Promise<Res> {
    return this.call(start, o, o?.fence !== undefined ? { [FENCE_METADATA_KEY]: o.fence } : undefined);
  }

  hostInfo(o?: AgentCallOptions): Promise<GetHostInfoResponse> {
    return this.send((m, c, cb) => this.raw.getHostInfo({}, m, c, cb), o);
  }
  ensureNode(node: NodeSpec, dryRun = false, o?: AgentCallOptions): Promise<EnsureNodeResponse> {
    return this.send((m, c, cb) => this.raw.ensureNode({ node, dryRun }, m, c, cb), o);
  }
  deleteNode(node: NodeRef, o?: AgentCallOptions): Promise<DeleteNodeResponse> {
    return this.send((m, c, cb) => this.raw.deleteNode({ node }, m, c, cb), o);
  }
  getNode(node: NodeRef, includeSecrets = false, o?: AgentCallOptions): Promise<GetNodeResponse> {
    return this.send((m, c, cb) => this.raw.getNode({ node, includeSecrets }, m, c, cb), o);
  }
  listNodes(cluster = '', includeSecrets = false, o?: AgentCallOptions): Promise<ListNodesResponse> {
    return this.send((m, c, cb) => this.raw.listNodes({ cluster, includeSecrets }, m, c, cb), o);
  }
  setPower(node: NodeRef, action: PowerAction, o?: AgentCallOptions): Promise<SetPowerResponse> {
    return this.send((m, c, cb) => this.raw.setPower({ node, action }, m, c, cb), o);
  }
  powerState(node: NodeRef, o?: AgentCallOptions): Promise<GetPowerStateResponse> {
    return this.send((m, c, cb) => this.raw.getPowerState({ node }, m, c, cb), o);
  }
  bmcInfo(node: NodeRef, includeSecrets = false, o?: AgentCallOptions): Promise<GetBmcInfoResponse> {
    return this.send((m, c, cb) => this.raw.getBmcInfo({ node, includeSecrets }, m, c, cb), o);
  }
  setupHost(req: SetupHostRequest, o?: AgentCallOptions): Promise<SetupHostResponse> {
    return this.send((m, c, cb) => this.raw.setupHost(req, m, c, cb), o);
  }
  teardownHost(cluster = '', o?: AgentCallOptions): Promise<TeardownHostResponse> {
    return this.send((m, c, cb) => this.raw.teardownHost({ cluster }, m, c, cb), o);
  }
  /** Server stream of node events; cancel it to stop. */
  watchEvents(cluster = ''): ClientReadableStream<WatchEventsResponse> {
    return this.raw.watchEvents({ cluster });
  }
}
