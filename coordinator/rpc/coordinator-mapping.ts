/** The coordinator's records and views → CoordinatorService messages, and the messages' enums → its terms. */
import {
  Agent as AgentMsg,
  Cluster as ClusterMsg,
  NodeResult,
  Operation,
  Plan as PlanMsg,
  PlanAction,
} from '../../proto/gen/tenks/v1/coordinator.pb.js';
import * as pb from '../../proto/gen/tenks/v1/types.pb.js';
import {
  heartbeatArches,
  nodeStatusToPb,
  operationStateToPb,
  powerActionName,
  powerStateToPb,
  type AgentHeartbeat,
  type NodeStatus,
} from '../../common/index.js';
import type { ClusterView } from '../coordinator.js';
import type { AgentView } from '../agents/index.js';
import { actionTarget, type Plan } from '../planner/index.js';
import type { OperationRecord } from '../state/index.js';

/** Power enums, as common/grpc maps them for every side. */
export { powerActionName, powerStateToPb };

/** A nodes list as messages. */
export function nodesToPb(nodes: readonly NodeStatus[]): pb.NodeStatus[] {
  return nodes.map(nodeStatusToPb);
}

/** A plan as its message. */
export function planToPb(p: Plan): PlanMsg {
  return PlanMsg.create({
    cluster: p.cluster,
    actions: p.actions.map((a) =>
      PlanAction.create({
        kind: a.kind,
        node: a.kind === 'setup_host' || a.kind === 'teardown_host' ? '' : actionTarget(a),
        hypervisor: a.agent,
        changes: a.changes,
        nodeType: 'request' in a ? a.request.node.nodeType : '',
      }),
    ),
    warnings: p.warnings,
    unchanged: p.unchanged,
    nameSource: p.nameSource ?? '',
    pruneRequired: p.pruneRequired ?? '',
  });
}

/** An operation record as its message; `subject` is where its events go. */
export function operationToPb(op: OperationRecord, subject: string): Operation {
  return Operation.create({
    id: op.id,
    cluster: op.cluster,
    kind: op.kind,
    state: operationStateToPb(op.state),
    startedUnixMs: op.startedMs,
    finishedUnixMs: op.finishedMs,
    results: op.results.map((r) =>
      NodeResult.create({
        node: r.node,
        action: r.action,
        ok: r.ok,
        errorCode: r.code,
        errorMessage: r.message,
        hypervisor: r.hypervisor,
        changes: r.changes,
      }),
    ),
    eventsSubject: subject,
    errorCode: op.errorCode,
    errorMessage: op.errorMessage,
    warnings: op.warnings,
    owner: op.owner,
    actionsTotal: op.actionsTotal,
    actionsDone: op.actionsDone,
  });
}

/** A cluster as its message. */
export function clusterToPb(v: ClusterView): ClusterMsg {
  return ClusterMsg.create({
    name: v.record.name,
    nodeCount: v.nodeCount,
    specYaml: v.specYaml,
    operationId: v.record.operationId ?? '',
    updatedUnixMs: v.record.updatedMs,
    agents: v.agents,
    lastOperationId: v.record.lastOperationId ?? '',
    lastOperationState: operationStateToPb(v.record.lastOperationState ?? 'unspecified'),
  });
}

/** An agent as its message, its host from its last heartbeat. */
export function agentToPb(a: AgentView): AgentMsg {
  return AgentMsg.create({
    id: a.id,
    address: a.heartbeat.address,
    host: heartbeatToHostInfo(a.heartbeat),
    alive: a.alive,
    lastSeenUnixMs: a.seenMs,
    bmcPortsUsed: a.heartbeat.bmc.ipmiPortsUsed,
    redfishUrl: a.heartbeat.bmc.redfishUrl,
  });
}

/** A heartbeat as the HostInfo of an Agent message. */
function heartbeatToHostInfo(h: AgentHeartbeat): pb.HostInfo {
  return pb.HostInfo.create({
    hostname: h.hostname,
    agentId: h.id,
    agentVersion: h.agentVersion,
    libvirtUri: h.libvirtUri,
    engine: h.engine,
    cpus: h.cpus,
    memoryBytes: h.memoryBytes,
    freeMemoryBytes: h.freeMemoryBytes,
    pool: pb.PoolInfo.create({
      name: h.pool.name,
      type: h.pool.type,
      capacityBytes: h.pool.capacityBytes,
      availableBytes: h.pool.availableBytes,
    }),
    physnets: h.physnets.map((p) =>
      pb.PhysnetStatus.create({
        physnet: p.physnet,
        device: p.device,
        vlan: p.vlan,
        bridge: p.bridge,
        bridgeMac: p.bridgeMac,
      }),
    ),
    bmcPortRangeStart: h.bmc.ipmiPortStart,
    bmcPortRangeEnd: h.bmc.ipmiPortEnd,
    nodeCount: h.nodeCount,
    uefiAvailable: h.uefiAvailable,
    ...heartbeatArches(h),
  });
}
