/**
 * What tenksctl knows about a running operation, built from two sources that each miss things:
 * NATS events (live, but not replayed: those published before the subscription are lost, and they
 * may arrive duplicated or out of order across a reconnect) and GetOperation snapshots (complete
 * for finished steps, but only as fresh as the last poll). No I/O here: the follow loop feeds it.
 *
 * Rules: a step reported by GetOperation is final and no event changes it; a finished or failed step
 * ignores later "started" events (a retry is announced by `step_failed` with `retrying`); an event
 * older than what a step already shows is ignored; an operation that a snapshot shows ended stays
 * ended, and a stale snapshot never takes an operation back from what an event said.
 */
import {
  TERMINAL_OPERATION_STATES,
  type NodeResult,
  type OpEvent,
  type Operation,
  type OperationState,
} from '../common/index.js';

/** Where a step is. `unfinished`: the operation ended without reporting it. */
export type StepStatus = 'running' | 'retrying' | 'ok' | 'failed' | 'unfinished';

/** One step of an operation: an action on a node (or a cluster-wide action on a hypervisor). */
export interface StepState {
  /** Identity of the step within the operation (see {@link stepKey}). */
  readonly key: string;
  readonly node: string;
  readonly action: string;
  hypervisor: string;
  status: StepStatus;
  /** tenks error code when failed or retrying, else ''. */
  code: string;
  message: string;
  changes: readonly string[];
  /** Coordinator time of the event behind the current status (0: from a snapshot). */
  timeMs: number;
  /** True once a GetOperation snapshot reported the step's outcome. */
  confirmed: boolean;
}

/** The identity of a step: node and action, or for cluster-wide steps action and hypervisor. */
export function stepKey(node: string, action: string, hypervisor: string): string {
  return node !== '' ? `${node}\u0000${action}` : `\u0000${action}\u0000${hypervisor}`;
}

/** How a step is named on screen: `tk0 ensure`, `hv1 setup_host`. */
export function stepLabel(s: Pick<StepState, 'node' | 'action' | 'hypervisor'>): string {
  return `${s.node !== '' ? s.node : s.hypervisor !== '' ? s.hypervisor : '(cluster)'} ${s.action}`.trim();
}

function isFinal(s: StepStatus): boolean {
  return s === 'ok' || s === 'failed' || s === 'unfinished';
}

/** One operation's progress. Feed it with {@link event} and {@link reconcile}; both return the steps that changed. */
export class OperationProgress {
  private readonly byKey = new Map<string, StepState>();
  private snapshot: Operation;
  private stateValue: OperationState;
  private totalValue: number;
  private doneFromSnapshot: number;
  private code: string;
  private message: string;
  private endedByEventValue = false;
  private confirmedEndValue = false;

  constructor(op: Operation) {
    this.snapshot = op;
    this.stateValue = 'pending';
    this.totalValue = 0;
    this.doneFromSnapshot = 0;
    this.code = '';
    this.message = '';
    this.reconcile(op);
  }

  /** Operation id. */
  get id(): string {
    return this.snapshot.id;
  }

  /** The latest GetOperation snapshot (or the Apply/Delete/Teardown answer). */
  get operation(): Operation {
    return this.snapshot;
  }

  /** The operation as best known: the latest snapshot with state and error from events when they are newer. */
  get current(): Operation {
    return { ...this.snapshot, state: this.stateValue, errorCode: this.code, errorMessage: this.message };
  }

  get state(): OperationState {
    return this.stateValue;
  }

  get stateName(): OperationState {
    return this.stateValue;
  }

  /** True when a snapshot showed the operation ended (its results are then complete). */
  get confirmedEnd(): boolean {
    return this.confirmedEndValue;
  }

  /** True when an `operation_done` event arrived (a snapshot may not show it yet). */
  get endedByEvent(): boolean {
    return this.endedByEventValue;
  }

  /** True when the operation ended by any account. */
  get ended(): boolean {
    return TERMINAL_OPERATION_STATES.has(this.stateValue);
  }

  /** Actions planned (at least the steps seen). */
  get total(): number {
    return Math.max(this.totalValue, this.byKey.size);
  }

  /** Actions finished (ok or failed). */
  get done(): number {
    let n = 0;
    for (const s of this.byKey.values()) if (s.status === 'ok' || s.status === 'failed') n++;
    return Math.min(Math.max(n, this.doneFromSnapshot), Math.max(this.total, n));
  }

  /** Every step, in the order first seen. */
  steps(): StepState[] {
    return [...this.byKey.values()];
  }

  /** Steps with this status. */
  stepsWith(status: StepStatus): StepState[] {
    return this.steps().filter((s) => s.status === status);
  }

  /** Applies one NATS event; returns the steps it changed (none for duplicates and stale events). */
  event(ev: OpEvent): StepState[] {
    if (ev.op !== this.id) return [];
    switch (ev.type) {
      case 'operation_started':
        this.totalValue = Math.max(this.totalValue, ev.actions);
        if (this.stateValue === 'pending') this.stateValue = 'running';
        return [];
      case 'operation_done':
        if (this.confirmedEndValue) return [];
        this.endedByEventValue = true;
        this.stateValue = ev.state;
        this.code = ev.code ?? '';
        this.message = ev.message ?? '';
        return [];
      case 'step_started':
        return this.stepEvent(ev.node, ev.action, ev.hypervisor, ev.timeMs, { status: 'running' });
      case 'step_finished':
        return this.stepEvent(ev.node, ev.action, ev.hypervisor, ev.timeMs, {
          status: 'ok',
          changes: ev.changes,
        });
      case 'step_failed':
        return this.stepEvent(ev.node, ev.action, ev.hypervisor, ev.timeMs, {
          status: ev.retrying ? 'retrying' : 'failed',
          code: ev.code,
          message: ev.message,
        });
    }
  }

  private stepEvent(
    node: string,
    action: string,
    hypervisor: string,
    timeMs: number,
    next: { status: StepStatus; code?: string; message?: string; changes?: readonly string[] },
  ): StepState[] {
    if (this.stateValue === 'pending') this.stateValue = 'running';
    const key = stepKey(node, action, hypervisor);
    const s = this.byKey.get(key);
    if (s === undefined) {
      const created: StepState = {
        key,
        node,
        action,
        hypervisor,
        status: next.status,
        code: next.code ?? '',
        message: next.message ?? '',
        changes: next.changes ?? [],
        timeMs,
        confirmed: false,
      };
      this.byKey.set(key, created);
      return [created];
    }
    if (s.confirmed) return [];
    if (timeMs < s.timeMs) return [];
    if (isFinal(s.status) && !isFinal(next.status)) return [];
    return this.update(s, { ...next, hypervisor: hypervisor || s.hypervisor, timeMs });
  }

  private update(
    s: StepState,
    next: {
      status: StepStatus;
      code?: string;
      message?: string;
      changes?: readonly string[];
      hypervisor?: string;
      timeMs?: number;
      confirmed?: boolean;
    },
  ): StepState[] {
    const code = next.code ?? (next.status === 'ok' ? '' : s.code);
    const message = next.message ?? (next.status === 'ok' ? '' : s.message);
    const hypervisor = next.hypervisor ?? s.hypervisor;
    const changed = s.status !== next.status || s.code !== code || s.message !== message || s.hypervisor !== hypervisor;
    s.status = next.status;
    s.code = code;
    s.message = message;
    s.hypervisor = hypervisor;
    if (next.changes !== undefined) s.changes = next.changes;
    if (next.timeMs !== undefined) s.timeMs = next.timeMs;
    if (next.confirmed !== undefined) s.confirmed = next.confirmed;
    return changed ? [s] : [];
  }

  /** Applies a GetOperation (or Cancel/Apply) snapshot; returns the steps it changed. */
  reconcile(op: Operation): StepState[] {
    if (op.id !== this.snapshot.id) return [];
    this.snapshot = op;
    this.totalValue = Math.max(this.totalValue, op.actionsTotal);
    this.doneFromSnapshot = Math.max(this.doneFromSnapshot, op.actionsDone);
    const changed: StepState[] = [];
    for (const r of op.results) changed.push(...this.result(r));
    if (TERMINAL_OPERATION_STATES.has(op.state)) {
      this.confirmedEndValue = true;
      this.stateValue = op.state;
      this.code = op.errorCode;
      this.message = op.errorMessage;
      for (const s of this.byKey.values())
        if (!isFinal(s.status)) changed.push(...this.update(s, { status: 'unfinished', code: '', message: '' }));
    } else if (!this.ended && op.state === 'running') {
      this.stateValue = op.state;
    }
    return changed;
  }

  private result(r: NodeResult): StepState[] {
    const key = stepKey(r.node, r.action, r.hypervisor);
    const next = {
      status: (r.ok ? 'ok' : 'failed') as StepStatus,
      code: r.ok ? '' : r.errorCode,
      message: r.ok ? '' : r.errorMessage,
      changes: r.changes,
      hypervisor: r.hypervisor,
      confirmed: true,
    };
    const s = this.byKey.get(key);
    if (s === undefined) {
      const created: StepState = { key, node: r.node, action: r.action, timeMs: 0, ...next };
      this.byKey.set(key, created);
      return [created];
    }
    return this.update(s, next);
  }
}
