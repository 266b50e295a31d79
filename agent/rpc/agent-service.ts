import {
  AgentServiceService,
  DeleteNodeResponse,
  EnsureNodeResponse,
  GetBmcInfoResponse,
  GetHostInfoResponse,
  GetNodeResponse,
  GetPowerStateResponse,
  ListNodesResponse,
  SetPowerResponse,
  SetupHostResponse,
  TeardownHostResponse,
  WatchEventsResponse,
  type AgentServiceServer,
} from '../../proto/gen/tenks/v1/agent.pb.js';
import { AGENT_VERSION, type Agent } from '../agent.js';
import { NAME_PATTERN } from '../compute/index.js';
import {
  bmcToPb,
  bridgeTypeFromPb,
  eventTypeToPb,
  hostInfoToPb,
  nodeStatusToPb,
  physnetToPb,
  powerActionFromPb,
  powerStateToPb,
  toNodeRef,
  toRawNodeSpec,
} from './mapping.js';
import { FENCE_METADATA_KEY, TenksError, serverStream, unary, type Logger } from '../../common/index.js';
import { Fences } from '../fences.js';

export { AgentServiceService };

/** The AgentService gRPC implementation: maps messages to domain calls and back, nothing more. */
export function agentService(agent: Agent, log: Logger): AgentServiceServer {
  const fences = new Fences(log);
  return {
    getHostInfo: unary(log, 'GetHostInfo', async () => {
      const { facts, pool, nodeCount } = await agent.hostInfo();
      return GetHostInfoResponse.create({
        host: hostInfoToPb(facts, {
          agentId: agent.config.agentId,
          agentVersion: AGENT_VERSION,
          pool,
          nodeCount,
          physnets: agent.network.list(),
        }),
      });
    }),
    ensureNode: unary(log, 'EnsureNode', async (req, ctx) => {
      fences.admit(req.node?.cluster ?? '', ctx.header(FENCE_METADATA_KEY));
      const b = req.node?.bmc;
      const r = await agent.changes.ensure(
        toRawNodeSpec(req.node),
        {
          ipmiEnabled: b?.ipmiEnabled ?? false,
          redfishEnabled: b?.redfishEnabled ?? false,
          username: b?.username ?? '',
          password: b?.password ?? '',
          ipmiPort: b?.ipmiPort ?? 0,
        },
        { signal: ctx.signal, dryRun: req.dryRun },
      );
      return EnsureNodeResponse.create({
        node: nodeStatusToPb(r.node, agent.bmc.info(r.node.uuid, false)),
        changed: r.changed,
        changes: r.changes,
        pendingRestart: r.pendingRestart,
      });
    }),
    deleteNode: unary(log, 'DeleteNode', async (req, ctx) => {
      fences.admit(req.node?.cluster ?? '', ctx.header(FENCE_METADATA_KEY));
      const r = await agent.changes.delete(toNodeRef(req.node), { signal: ctx.signal });
      return DeleteNodeResponse.create({ existed: r.existed, removed: r.removed });
    }),
    getNode: unary(log, 'GetNode', async (req, ctx) => {
      const n = await agent.nodes.get(toNodeRef(req.node), { signal: ctx.signal });
      return GetNodeResponse.create({ node: nodeStatusToPb(n, agent.bmc.info(n.uuid, req.includeSecrets)) });
    }),
    listNodes: unary(log, 'ListNodes', async (req, ctx) => {
      const nodes = await agent.nodes.list(req.cluster, { signal: ctx.signal });
      return ListNodesResponse.create({
        nodes: nodes.map((n) => nodeStatusToPb(n, agent.bmc.info(n.uuid, req.includeSecrets))),
      });
    }),
    setPower: unary(log, 'SetPower', async (req, ctx) => {
      const action = powerActionFromPb(req.action);
      if (action === null)
        throw new TenksError('INVALID_SPEC', `unknown power action ${String(req.action)}`, { field: 'action' });
      const r = await agent.nodes.power(toNodeRef(req.node), action, { signal: ctx.signal });
      return SetPowerResponse.create({ powerState: powerStateToPb(r.powerState), changed: r.changed });
    }),
    getPowerState: unary(log, 'GetPowerState', async (req, ctx) => {
      const s = await agent.nodes.powerState(toNodeRef(req.node), { signal: ctx.signal });
      return GetPowerStateResponse.create({ powerState: powerStateToPb(s) });
    }),
    getBmcInfo: unary(log, 'GetBmcInfo', async (req, ctx) => {
      const n = await agent.nodes.get(toNodeRef(req.node), { signal: ctx.signal });
      return GetBmcInfoResponse.create({ bmc: bmcToPb(agent.bmc.info(n.uuid, req.includeSecrets)) });
    }),
    setupHost: unary(log, 'SetupHost', async (req, ctx) => {
      fences.admit(req.cluster, ctx.header(FENCE_METADATA_KEY));
      const bridgeType = bridgeTypeFromPb(req.bridgeType);
      if (bridgeType === null)
        throw new TenksError('INVALID_SPEC', `unknown bridge type ${String(req.bridgeType)}`, { field: 'bridge_type' });
      if (!NAME_PATTERN.test(req.cluster))
        throw new TenksError('INVALID_SPEC', `'${req.cluster}' is not a usable cluster name`, { field: 'cluster' });
      const r = await agent.network.setup(
        req.cluster,
        bridgeType,
        req.physnets.map((p) => ({ physnet: p.physnet, device: p.device, vlan: p.vlan })),
        { signal: ctx.signal },
      );
      return SetupHostResponse.create({
        physnets: agent.network.list().map(physnetToPb),
        changed: r.changed,
        changes: r.changes,
      });
    }),
    teardownHost: unary(log, 'TeardownHost', async (req, ctx) => {
      fences.admit(req.cluster, ctx.header(FENCE_METADATA_KEY));
      const r = await agent.network.teardown(req.cluster, { signal: ctx.signal });
      return TeardownHostResponse.create({ changed: r.changed, removed: r.changes });
    }),
    watchEvents: serverStream(log, 'WatchEvents', async function* (req, ctx) {
      for await (const e of agent.events(req.cluster, ctx.signal)) {
        yield WatchEventsResponse.create({
          type: eventTypeToPb(e.type),
          cluster: e.cluster,
          name: e.name,
          uuid: e.uuid,
          powerState: powerStateToPb(e.powerState),
          timeUnixMs: e.timeMs,
        });
      }
    }),
  };
}
