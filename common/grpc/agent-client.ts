import type { WatchEventsResponse } from '../../proto/gen/tenks/v1/agent.pb.js';
import type {
  BmcInfo,
  DeleteNodeResult,
  EnsureNodeResult,
  HostInfo,
  NodeEvent,
  NodeRef,
  NodeSpec,
  NodeStatus,
  PowerAction,
  PowerResult,
  PowerState,
  SetupHostRequest,
  SetupHostResult,
  TeardownHostResult,
} from '../api/index.js';
import { onAbort } from '../semaphore.js';
import {
  bmcInfoFromPb,
  hostInfoFromPb,
  nodeEventFromPb,
  nodeSpecToPb,
  nodeStatusFromPb,
  physnetFromPb,
} from './agent-messages.js';
import { bridgeTypeToPb, powerActionToPb, powerStateName } from './enums.js';
import { fromWireError } from './errors.js';
import { AgentWire, type AgentCallOptions } from './agent-wire.js';
import { apiClient, present } from './service-client.js';

/**
 * Promise-returning AgentService client in tenks terms (tenksctl, the coordinator): every call has
 * a deadline, can be cancelled, and rejects with the TenksError the agent sent. A response that
 * lacks the message it exists for is an INTERNAL error.
 */
export class AgentApi extends apiClient(AgentWire) {
  /** What the host has: CPUs, memory, pool space, engine, physnets. */
  async hostInfo(o?: AgentCallOptions): Promise<HostInfo> {
    return hostInfoFromPb(present((await this.wire.hostInfo(o)).host, this.wire.peer, 'host info'));
  }

  /** Makes the node match `node` (`dryRun`: only says what it would change). */
  async ensureNode(node: NodeSpec, dryRun = false, o?: AgentCallOptions): Promise<EnsureNodeResult> {
    const r = await this.wire.ensureNode(nodeSpecToPb(node), dryRun, o);
    return {
      node: r.node ? nodeStatusFromPb(r.node) : null,
      changed: r.changed,
      changes: r.changes,
      pendingRestart: r.pendingRestart,
    };
  }

  /** Removes a node, its volumes and NVRAM. */
  async deleteNode(node: NodeRef, o?: AgentCallOptions): Promise<DeleteNodeResult> {
    const r = await this.wire.deleteNode(node, o);
    return { existed: r.existed, removed: r.removed };
  }

  /** One node; BMC passwords only with `includeSecrets`. */
  async getNode(node: NodeRef, includeSecrets = false, o?: AgentCallOptions): Promise<NodeStatus> {
    const r = await this.wire.getNode(node, includeSecrets, o);
    return nodeStatusFromPb(present(r.node, this.wire.peer, 'node'));
  }

  /** The nodes of one cluster (`''`: all); BMC passwords only with `includeSecrets`. */
  async listNodes(cluster = '', includeSecrets = false, o?: AgentCallOptions): Promise<NodeStatus[]> {
    return (await this.wire.listNodes(cluster, includeSecrets, o)).nodes.map(nodeStatusFromPb);
  }

  async setPower(node: NodeRef, action: PowerAction, o?: AgentCallOptions): Promise<PowerResult> {
    const r = await this.wire.setPower(node, powerActionToPb(action), o);
    return { powerState: powerStateName(r.powerState), changed: r.changed };
  }

  async powerState(node: NodeRef, o?: AgentCallOptions): Promise<PowerState> {
    return powerStateName((await this.wire.powerState(node, o)).powerState);
  }

  /** A node's BMC endpoints; passwords only with `includeSecrets`. */
  async bmcInfo(node: NodeRef, includeSecrets = false, o?: AgentCallOptions): Promise<BmcInfo> {
    const r = await this.wire.bmcInfo(node, includeSecrets, o);
    return bmcInfoFromPb(present(r.bmc, this.wire.peer, 'BMC info'));
  }

  /** Sets up the bridges and uplinks of a cluster's physnets; answers with every physnet of the host. */
  async setupHost(req: SetupHostRequest, o?: AgentCallOptions): Promise<SetupHostResult> {
    const r = await this.wire.setupHost({ ...req, bridgeType: bridgeTypeToPb(req.bridgeType) }, o);
    return { physnets: r.physnets.map(physnetFromPb), changed: r.changed, changes: r.changes };
  }

  /** Removes what SetupHost made for `cluster` (`''`: every cluster). */
  async teardownHost(cluster = '', o?: AgentCallOptions): Promise<TeardownHostResult> {
    const r = await this.wire.teardownHost(cluster, o);
    return { changed: r.changed, removed: r.removed };
  }

  /** Node events of `cluster` (`''`: all) until `signal` fires (the iteration then ends) or the stream fails. */
  async *watchEvents(cluster = '', signal?: AbortSignal): AsyncGenerator<NodeEvent, void, undefined> {
    const stream = this.wire.watchEvents(cluster);
    const off = onAbort(signal, () => {
      stream.cancel();
    });
    try {
      for await (const m of stream as AsyncIterable<WatchEventsResponse>) yield nodeEventFromPb(m);
    } catch (e) {
      if (signal?.aborted) return;
      throw fromWireError(e, this.wire.peer);
    } finally {
      off();
      stream.cancel();
    }
  }
}
