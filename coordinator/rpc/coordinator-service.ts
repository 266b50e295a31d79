/** The CoordinatorService gRPC implementation: messages → coordinator calls → messages, nothing more. */
import {
  ApplyResponse,
  CancelOperationResponse,
  CoordinatorServiceService,
  DeleteClusterResponse,
  GetAgentsResponse,
  GetClustersResponse,
  GetInfoResponse,
  GetNodesResponse,
  GetOperationResponse,
  Operation,
  PlanResponse,
  SetNodePowerResponse,
  TeardownResponse,
  type CoordinatorServiceServer,
} from '../../proto/gen/tenks/v1/coordinator.pb.js';
import { TenksError, unary, type Logger } from '../../common/index.js';
import type { Coordinator } from '../coordinator.js';
import type { OperationRecord } from '../state/index.js';
import {
  agentToPb,
  clusterToPb,
  nodesToPb,
  operationToPb,
  planToPb,
  powerActionName,
  powerStateToPb,
} from './coordinator-mapping.js';

export { CoordinatorServiceService };

/** The service. */
export function coordinatorService(
  c: Coordinator,
  subject: (id: string) => string,
  log: Logger,
): CoordinatorServiceServer {
  const op = (o: OperationRecord): Operation => operationToPb(o, subject(o.id));
  return {
    getInfo: unary(log, 'GetInfo', () => Promise.resolve(GetInfoResponse.create(c.info()))),
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
      Promise.resolve(GetClustersResponse.create({ clusters: c.clusters(req.includeSecrets).map(clusterToPb) })),
    ),
    getNodes: unary(log, 'GetNodes', async (req, ctx) =>
      GetNodesResponse.create({ nodes: nodesToPb(await c.nodes(req, ctx.signal)) }),
    ),
    getAgents: unary(log, 'GetAgents', () =>
      Promise.resolve(GetAgentsResponse.create({ agents: c.agents().map(agentToPb) })),
    ),
    getOperation: unary(log, 'GetOperation', (req) =>
      Promise.resolve(GetOperationResponse.create({ operation: op(c.operation(req.id)) })),
    ),
    cancelOperation: unary(log, 'CancelOperation', async (req) =>
      CancelOperationResponse.create({ operation: op(await c.cancel(req.id)) }),
    ),
    setNodePower: unary(log, 'SetNodePower', async (req, ctx) => {
      const action = powerActionName(req.action);
      if (action === null)
        throw new TenksError('INVALID_SPEC', `unknown power action ${String(req.action)}`, { field: 'action' });
      const r = await c.setNodePower(req.cluster, req.name, action, ctx.signal);
      return SetNodePowerResponse.create({ powerState: powerStateToPb(r.powerState), changed: r.changed });
    }),
  };
}
