/** An operation's progress as its record counts it and its events tell it. */
import { actionTarget, type Action } from '../planner/index.js';
import type { OperationRecord, ResultRecord } from '../state/records.js';
import type { EventSink } from './events.js';
import type { ProgressSink } from './flow-deps.js';

/** Results kept in full in an operation record; beyond these only failures (up to a bound) and counts. */
const MAX_OK_RESULTS = 2_000;
const MAX_FAILED_RESULTS = 5_000;

/**
 * The progress sink of `op`: counts, results and warnings go into the record (then `changed` is
 * called, so it is written at the next renewal), and each step is published as an event.
 */
export function progressRecorder(op: OperationRecord, events: EventSink, changed: () => void): ProgressSink {
  const base = { op: op.id, cluster: op.cluster };
  return {
    planned: (total, warnings) => {
      op.actionsTotal += total;
      op.warnings.push(...warnings);
      changed();
      events.publish({
        ...base,
        type: 'operation_started',
        kind: op.kind,
        actions: op.actionsTotal,
        timeMs: Date.now(),
      });
    },
    hooks: {
      started: (a: Action) => {
        events.publish({
          ...base,
          type: 'step_started',
          node: actionTarget(a),
          hypervisor: a.agent,
          action: a.kind,
          timeMs: Date.now(),
        });
      },
      failed: (a, e, retrying) => {
        events.publish({
          ...base,
          type: 'step_failed',
          node: actionTarget(a),
          hypervisor: a.agent,
          action: a.kind,
          code: e.code,
          message: e.message,
          retrying,
          timeMs: Date.now(),
        });
      },
    },
    done: (res: ResultRecord) => {
      op.actionsDone++;
      if (res.ok) {
        op.succeeded++;
        if (op.succeeded <= MAX_OK_RESULTS) op.results.push(res);
        events.publish({
          ...base,
          type: 'step_finished',
          node: res.node,
          hypervisor: res.hypervisor,
          action: res.action,
          changes: res.changes,
          timeMs: Date.now(),
        });
      } else {
        op.failed++;
        if (op.failed <= MAX_FAILED_RESULTS) op.results.push(res);
      }
      changed();
    },
  };
}
