/**
 * What the coordinator is asked and answers (proto CoordinatorService), in tenks terms: enums are
 * lower-case names, messages that may be absent are null. common/grpc maps them from the wire.
 */
import type { HostInfo } from './agent.js';

/** States of an operation, by name. */
export const OPERATION_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
/** One of {@link OPERATION_STATES}; `unspecified` when the coordinator sent none. */
export type OperationState = (typeof OPERATION_STATES)[number] | 'unspecified';

/** The states an operation ends in. */
export const TERMINAL_OPERATION_STATES: ReadonlySet<OperationState> = new Set(['succeeded', 'failed', 'cancelled']);

/** The coordinator's id, version, and where it publishes operation events. */
export interface CoordinatorInfo {
  coordinatorId: string;
  version: string;
  natsUrls: string[];
  eventsSubjectPrefix: string;
}

/** One action of a plan. */
export interface PlanAction {
  /** `create`, `update`, `replace`, `delete`, `setup_host`, `enrol`, `flavor`, ... */
  kind: string;
  /** '' for host-wide actions. */
  node: string;
  hypervisor: string;
  changes: string[];
  nodeType: string;
}

/** What an apply of a spec would do. */
export interface Plan {
  cluster: string;
  actions: PlanAction[];
  warnings: string[];
  unchanged: number;
  /** How the cluster got its name (`name`, `state_file_path '...'`, `default`); '' when not said. */
  nameSource: string;
  /** Why an apply would be refused without prune; '' when it would not. */
  pruneRequired: string;
}

/** The outcome of one action of an operation. */
export interface NodeResult {
  node: string;
  action: string;
  ok: boolean;
  errorCode: string;
  errorMessage: string;
  hypervisor: string;
  changes: string[];
}

/** An operation (apply, delete, teardown) as the coordinator records it. */
export interface Operation {
  id: string;
  cluster: string;
  kind: string;
  state: OperationState;
  startedUnixMs: number;
  finishedUnixMs: number;
  results: NodeResult[];
  /** NATS subject of its progress events. */
  eventsSubject: string;
  errorCode: string;
  errorMessage: string;
  warnings: string[];
  /** The coordinator running it. */
  owner: string;
  actionsTotal: number;
  actionsDone: number;
}

/** A declared cluster. */
export interface Cluster {
  name: string;
  nodeCount: number;
  /** Its spec; secrets redacted unless asked for. */
  specYaml: string;
  /** The operation running on it, ''. */
  operationId: string;
  updatedUnixMs: number;
  agents: string[];
  lastOperationId: string;
  lastOperationState: OperationState;
}

/** An agent the coordinator knows, alive or not. */
export interface AgentInfo {
  id: string;
  address: string;
  /** From its heartbeats; null when none carried it. */
  host: HostInfo | null;
  alive: boolean;
  lastSeenUnixMs: number;
  bmcPortsUsed: number;
  redfishUrl: string;
}
