/**
 * What the coordinator keeps in JetStream KV (JSON values), and the schema each is read back with.
 * A record needs its version and the keys that make it what it is; any other field an earlier
 * version did not write gets its default, and keys a later version added are kept as they are.
 */
import { z } from 'zod';
import { ErrorCode, type OperationKind } from '../../common/index.js';

const OPERATION_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
const OPERATION_KINDS = ['apply', 'delete', 'teardown'] as const satisfies readonly OperationKind[];

/** Operation states (as the proto's OperationState, lower-case). */
export type OperationStateName = (typeof OPERATION_STATES)[number];

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
  prune?: boolean | undefined;
  /** Coordinator running it. */
  owner: string;
  /**
   * The owner's lease: it renews the record at least every third of `leaseMs`, and stops the
   * operation itself when it could not for `leaseMs`. Others judge expiry by how long the record
   * stayed unchanged on their own clock (absent in older records: their own lease setting).
   */
  leaseMs?: number | undefined;
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

/** A record's schema: version 1, its fields, and any key a later version added, kept as it is. */
const record = <S extends z.core.$ZodLooseShape>(shape: S) => z.looseObject({ version: z.literal(1), ...shape });
const text = z.string().default('');
const count = z.number().int().min(0).default(0);
const timeMs = z.number().default(0);
const texts = z.array(z.string()).default([]);
const operationState = z.enum(OPERATION_STATES);
const errorCode = z.enum([...Object.values(ErrorCode), '']).default('');

/** Reads a {@link ClusterRecord}. */
export const clusterRecordSchema = record({
  name: z.string(),
  specYaml: z.string(),
  source: text,
  operationId: z.string().nullable().default(null),
  lastOperationId: z.string().nullable().default(null),
  lastOperationState: operationState.nullable().default(null),
  updatedMs: timeMs,
}) satisfies z.ZodType<ClusterRecord>;

/** Reads a {@link PlacementRecord}. */
export const placementRecordSchema = record({
  cluster: z.string(),
  node: z.string(),
  agent: z.string(),
  uuid: z.string(),
  macs: texts,
  ipmiPort: count,
  nodeType: text,
  memoryMb: count,
  vcpus: count,
  diskBytes: count,
  createdMs: timeMs,
}) satisfies z.ZodType<PlacementRecord>;

const resultRecordSchema = z.looseObject({
  node: text,
  action: text,
  hypervisor: text,
  ok: z.boolean().default(false),
  code: errorCode,
  message: text,
  changes: texts,
}) satisfies z.ZodType<ResultRecord>;

/** Reads an {@link OperationRecord}. */
export const operationRecordSchema = record({
  id: z.string(),
  cluster: z.string(),
  kind: z.enum(OPERATION_KINDS),
  state: operationState,
  specYaml: text,
  source: text,
  force: z.boolean().default(false),
  prune: z.boolean().optional(),
  owner: text,
  leaseMs: z.number().positive().optional(),
  leaseUntilMs: timeMs,
  startedMs: timeMs,
  finishedMs: timeMs,
  results: z.array(resultRecordSchema).default([]),
  succeeded: count,
  failed: count,
  actionsTotal: count,
  actionsDone: count,
  errorCode,
  errorMessage: text,
  warnings: texts,
  cancelRequested: z.boolean().default(false),
}) satisfies z.ZodType<OperationRecord>;

/** The record of a cluster that has none yet: no spec, never operated on. */
export function emptyClusterRecord(name: string): ClusterRecord {
  return clusterRecordSchema.parse({ version: 1, name, specYaml: '' });
}

/** What a new operation's record is made of; the rest starts empty (nothing done, no error). */
export type NewOperation = Pick<
  OperationRecord,
  | 'id'
  | 'cluster'
  | 'kind'
  | 'specYaml'
  | 'source'
  | 'force'
  | 'prune'
  | 'owner'
  | 'leaseMs'
  | 'leaseUntilMs'
  | 'startedMs'
>;

/** The record of an operation about to start: pending, nothing done yet. */
export function newOperationRecord(op: NewOperation): OperationRecord {
  return operationRecordSchema.parse({ version: 1, state: 'pending', ...op });
}
