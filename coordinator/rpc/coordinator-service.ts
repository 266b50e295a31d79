/** The CoordinatorService gRPC implementation: messages → coordinator calls → messages. */
import {
  Agent as AgentMsg,
  ApplyResponse,
  CancelOperationResponse,
  Cluster,
  CoordinatorServiceService,
  DeleteClusterResponse,
  GetAgentsResponse,
  GetClustersResponse,
  GetInfoResponse,
  GetNodesResponse,
  GetOperationResponse,
  NodeResult,
  Operation,
  OperationState,
  Plan as PlanMsg,
  PlanAction,
  PlanResponse,
  SetNodePowerResponse,
  TeardownResponse,
  type CoordinatorServiceServer,
} from '../../proto/gen/tenks/v1/coordinator.pb.js';
import { BootDevice, BootMode, PowerAction, PowerState, type NodeStatus } from '../../proto/gen/tenks/v1/types.pb.js';
import { TenksError, toTenksError, unary, type Logger } from '../../common/index.js';
import type { PowerVerb } from '../agents/port.js';
import type { Coordinator } from '../coordinator.js';
import { actionTarget, type Plan } from '../planner/index.js';
import type { OperationRecord, OperationStateName } from '../state/records.js';
import { heartbeatToHostInfo } from './agent-mapping.js';

export { CoordinatorServiceService };

const STATE: Record<OperationStateName, OperationState> = {
  pending: OperationState.OPERATION_STATE_PENDING,
  running: OperationState.OPERATION_STATE_RUNNING,
  succeeded: OperationState.OPERATION_STATE_SUCCEEDED,
  failed: OperationState.OPERATION_STATE_FAILED,
  cancelled: OperationState.OPERATION_STATE_CANCELLED,
};

const POWER: Partial<Record<PowerAction, PowerVerb>> = {
  [PowerAction.POWER_ACTION_ON]: 'on',
  [PowerAction.POWER_ACTION_OFF]: 'off',
  [PowerAction.POWER_ACTION_SOFT_OFF]: 'soft_off',
  [PowerAction.POWER_ACTION_RESET]: 'reset',
  [PowerAction.POWER_ACTION_NMI]: 'nmi',
  [PowerAction.POWER_ACTION_CYCLE]: 'cycle',
};

const POWER_STATE: Record<string, PowerState> = {
  on: PowerState.POWER_STATE_ON,
  off: PowerState.POWER_STATE_OFF,
  paused: PowerState.POWER_STATE_PAUSED,
  shutting_down: PowerState.POWER_STATE_SHUTTING_DOWN,
  crashed: PowerState.POWER_STATE_CRASHED,
  suspended: PowerState.POWER_STATE_SUSPENDED,
};

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

/** An operation record as its message. */
export function operationToPb(op: OperationRecord, subject: string): Operation {
  return Operation.create({
    id: op.id,
    cluster: op.cluster,
    kind: op.kind,
    state: STATE[op.state],
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

/** The service. */
export function coordinatorService(
  c: Coordinator,
  subject: (id: string) => string,
  log: Logger,
): CoordinatorServiceServer {
  const op = (o: OperationRecord): Operation => operationToPb(o, subject(o.id));
  const registry = c.parts.registry;
  return {
    getInfo: unary(log, 'GetInfo', () => {
      const i = c.info();
      return Promise.resolve(
        GetInfoResponse.create({
          coordinatorId: i.coordinatorId,
          version: i.version,
          natsUrls: i.natsUrls,
          eventsSubjectPrefix: i.eventsSubjectPrefix,
        }),
      );
    }),
    plan: unary(log, 'Plan', async (req, ctx) =>
      PlanResponse.create({ plan: planToPb(await c.plan(req.specYaml, req.source, ctx.signal, { prune: req.prune })) }),
    ),
    apply: unary(log, 'Apply', async (req) =>
      ApplyResponse.create({ operation: op(await c.apply(req.specYaml, req.source, { prune: req.prune })) }),
    ),
    deleteCluster: unary(log, 'DeleteCluster', async (req) =>
      DeleteClusterResponse.create({ operation: op(await c.deleteCluster(req.cluster, req.force)) }),
    ),
    teardown: unary(log, 'Teardown', async (req) =>
      TeardownResponse.create({ operation: op(await c.teardown(req.force)) }),
    ),
    getClusters: unary(log, 'GetClusters', (req) =>
      Promise.resolve(
        GetClustersResponse.create({
          clusters: c.clusters(req.includeSecrets).map((v) =>
            Cluster.create({
              name: v.record.name,
              nodeCount: v.nodeCount,
              specYaml: v.specYaml,
              operationId: v.record.operationId ?? '',
              updatedUnixMs: v.record.updatedMs,
              agents: v.agents,
              lastOperationId: v.record.lastOperationId ?? '',
              lastOperationState: v.record.lastOperationState
                ? STATE[v.record.lastOperationState]
                : OperationState.OPERATION_STATE_UNSPECIFIED,
            }),
          ),
        }),
      ),
    ),
    getNodes: unary(log, 'GetNodes', async (req, ctx) => {
      const store = c.parts.store;
      const nodes: NodeStatus[] = [];
      const answered = new Set<string>();
      await Promise.all(
        registry
          .list()
          .filter((a) => a.alive)
          .map(async (a) => {
            try {
              const r = await registry.withAgent(
                a.id,
                (api) => api.listNodes(req.cluster, req.includeSecrets, { signal: ctx.signal }),
                ctx.signal,
              );
              answered.add(a.id);
              for (const n of r.nodes)
                if (n.cluster !== '' && (req.name === '' || n.name === req.name))
                  nodes.push({ ...n, hypervisor: a.id });
            } catch (e) {
              log.warn('agent did not answer ListNodes', { agent: a.id, error: toTenksError(e).message });
            }
          }),
      );
      // Nodes on agents that did not answer: what the placements say, power unknown.
      for (const p of store.allPlacements()) {
        if (
          answered.has(p.agent) ||
          (req.cluster !== '' && p.cluster !== req.cluster) ||
          (req.name !== '' && p.node !== req.name)
        )
          continue;
        nodes.push({
          cluster: p.cluster,
          name: p.node,
          uuid: p.uuid,
          nodeType: p.nodeType,
          hypervisor: p.agent,
          powerState: PowerState.POWER_STATE_UNSPECIFIED,
          memoryMb: p.memoryMb,
          vcpus: p.vcpus,
          bootMode: BootMode.BOOT_MODE_UNSPECIFIED,
          machine: '',
          volumes: [],
          nics: p.macs.map((mac) => ({ physnet: '', mac, bridge: '', bridgeMac: '', switchPort: '' })),
          bmc: undefined,
          specHash: '',
          consoleLogPath: '',
          engine: '',
          // Unknown: placements do not keep it.
          arch: '',
          bootDevice: BootDevice.BOOT_DEVICE_UNSPECIFIED,
          labels: {},
        });
      }
      if (req.name !== '' && nodes.length === 0)
        throw new TenksError(
          'NOT_FOUND',
          `no node '${req.name}'${req.cluster !== '' ? ` in cluster '${req.cluster}'` : ''}`,
        );
      nodes.sort((a, b) => (a.cluster + a.name < b.cluster + b.name ? -1 : 1));
      return GetNodesResponse.create({ nodes });
    }),
    getAgents: unary(log, 'GetAgents', () =>
      Promise.resolve(
        GetAgentsResponse.create({
          agents: c.agents().map((a) =>
            AgentMsg.create({
              id: a.id,
              address: a.heartbeat.address,
              host: heartbeatToHostInfo(a.heartbeat),
              alive: a.alive,
              lastSeenUnixMs: a.seenMs,
              bmcPortsUsed: a.heartbeat.bmc.ipmiPortsUsed,
              redfishUrl: a.heartbeat.bmc.redfishUrl,
            }),
          ),
        }),
      ),
    ),
    getOperation: unary(log, 'GetOperation', (req) =>
      Promise.resolve(GetOperationResponse.create({ operation: op(c.operation(req.id)) })),
    ),
    cancelOperation: unary(log, 'CancelOperation', async (req) =>
      CancelOperationResponse.create({ operation: op(await c.cancel(req.id)) }),
    ),
    setNodePower: unary(log, 'SetNodePower', async (req, ctx) => {
      const verb = POWER[req.action];
      if (verb === undefined)
        throw new TenksError('INVALID_SPEC', `unknown power action ${String(req.action)}`, { field: 'action' });
      const where = c.agentOf(req.cluster, req.name);
      const r = await c.parts.port.setPower(
        where.agent,
        { cluster: where.cluster, name: req.name, uuid: where.uuid },
        verb,
        ctx.signal,
      );
      return SetNodePowerResponse.create({
        powerState: POWER_STATE[r.powerState] ?? PowerState.POWER_STATE_UNSPECIFIED,
        changed: r.changed,
      });
    }),
  };
}
