/** CoordinatorService messages → tenks terms (common/api), as clients read them. */
import type * as pb from '../../proto/gen/tenks/v1/coordinator.pb.js';
import type { AgentInfo, Cluster, Operation, Plan } from '../api/index.js';
import { hostInfoFromPb } from './agent-messages.js';
import { operationStateName } from './enums.js';

export function operationFromPb(m: pb.Operation): Operation {
  return { ...m, state: operationStateName(m.state), results: m.results.map((r) => ({ ...r })) };
}

export function planFromPb(m: pb.Plan): Plan {
  return { ...m, actions: m.actions.map((a) => ({ ...a })) };
}

export function clusterFromPb(m: pb.Cluster): Cluster {
  return { ...m, lastOperationState: operationStateName(m.lastOperationState) };
}

export function agentInfoFromPb(m: pb.Agent): AgentInfo {
  return { ...m, host: m.host ? hostInfoFromPb(m.host) : null };
}
