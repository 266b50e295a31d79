/**
 * Progress events of an operation, published as JSON on `tenks.ops.<id>.events`. gRPC stays the
 * command path; these are for watching (tenksctl's progress display, dashboards, CI logs).
 */
import type { ErrorCode } from '../errors.js';

/** Kinds of operations. */
export type OperationKind = 'apply' | 'delete' | 'teardown';
/** How an operation ended. */
export type OperationEnd = 'succeeded' | 'failed' | 'cancelled';

interface Base {
  /** Operation id. */
  op: string;
  cluster: string;
  timeMs: number;
}

/** An operation's progress events. */
export type OpEvent =
  | (Base & { type: 'operation_started'; kind: OperationKind; actions: number })
  | (Base & { type: 'step_started'; node: string; hypervisor: string; action: string })
  | (Base & { type: 'step_finished'; node: string; hypervisor: string; action: string; changes: string[] })
  | (Base & {
      type: 'step_failed';
      node: string;
      hypervisor: string;
      action: string;
      code: ErrorCode;
      message: string;
      /** True when the executor will try the step again (UNAVAILABLE, with backoff). */
      retrying: boolean;
    })
  | (Base & {
      type: 'operation_done';
      state: OperationEnd;
      succeeded: number;
      failed: number;
      code?: ErrorCode;
      message?: string;
    });

/** Narrows a decoded payload to an event (null for anything else). */
export function asOpEvent(v: unknown): OpEvent | null {
  if (typeof v !== 'object' || v === null) return null;
  const e = v as Partial<OpEvent>;
  const types = ['operation_started', 'step_started', 'step_finished', 'step_failed', 'operation_done'];
  if (typeof e.type !== 'string' || !types.includes(e.type) || typeof e.op !== 'string') return null;
  return e as OpEvent;
}
