/** What the coordinator keeps in JetStream KV (JSON values). */
import type { ErrorCode, OperationKind } from '../../common/index.js';

/** Operation states (as the proto's OperationState, lower-case). */
export type OperationStateName = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** A declared cluster (`tenks-clusters`, key = name). */
export interface ClusterRecord {
  version: 1;
  name: string;
  /** The spec as last applied, verbatim. */
  specYaml: string;
  /** Where it came from (file name). */
  source: string;
  /** Operation holding the cluster, or null. Taken and released with compare-and-set. */
  operationId: string | null;
  lastOperationId: string | null;
  lastOperationState: OperationStateName | null;
  updatedMs: number;
}

/**
 * Where one node lives and what makes it itself (`tenks-placements`, key = `<cluster>.<node>`):
 * re-created nodes come back with the same UUID, MACs and BMC port on the same agent.
 */
export interface PlacementRecord {
  version: 1;
  cluster: string;
  node: string;
  agent: string;
  uuid: string;
  /** MACs in NIC order, as the agent chose them (empty until first seen). */
  macs: string[];
  /** IPMI port, 0 until the agent chose one (or for Redfish-only nodes). */
  ipmiPort: number;
  nodeType: string;
  /** What the node takes from its host, for scheduling other clusters around it. */
  memoryMb: number;
  vcpus: number;
  diskBytes: number;
  createdMs: number;
}

/** The outcome of one action. */
export interface ResultRecord {
  node: string;
  action: string;
  hypervisor: string;
  ok: boolean;
  code: ErrorCode | '';
  message: string;
  changes: string[];
}

/** An operation (`tenks-operations`, key = id). */
export interface OperationRecord {
  version: 1;
  id: string;
  cluster: string;
  kind: OperationKind;
  state: OperationStateName;
  /** The spec to apply (apply only), so another coordinator can resume it. */
  specYaml: string;
  source: string;
  force: boolean;
  /** Apply only: it may delete most of the cluster's nodes (see planner/prune.ts). Absent: false. */
  prune?: boolean;
  /** Coordinator running it. */
  owner: string;
  /**
   * The owner's lease: it renews the record at least every third of `leaseMs`, and stops the
   * operation itself when it could not for `leaseMs`. Others judge expiry by how long the record
   * stayed unchanged on their own clock (absent in older records: their own lease setting).
   */
  leaseMs?: number;
  /** Until when the owner's claim holds unless renewed, by the owner's clock: for people, never compared. */
  leaseUntilMs: number;
  startedMs: number;
  finishedMs: number;
  /** Failed actions, and (up to a bound) the others. */
  results: ResultRecord[];
  succeeded: number;
  failed: number;
  actionsTotal: number;
  actionsDone: number;
  errorCode: ErrorCode | '';
  errorMessage: string;
  warnings: string[];
  /** Set by CancelOperation (any coordinator); the owner stops at the next step. */
  cancelRequested: boolean;
}

/** True for states an operation never leaves. */
export function isFinished(state: OperationStateName): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}
