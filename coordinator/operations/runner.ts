/**
 * Operations: records in the `tenks-operations` bucket, the cluster locks they hold (compare-and-set
 * on the cluster record), their lease, their progress and their events. An operation whose owner
 * stopped renewing its lease (a crashed or restarted coordinator) is taken over and run again from
 * a fresh plan: every flow converges from any starting state.
 */
import { randomBytes } from 'node:crypto';
import { isTenksError, TenksError, toTenksError, type Logger, type OperationKind } from '../../common/index.js';
import { actionTarget, type Action } from '../planner/index.js';
import { isFinished, type ClusterRecord, type OperationRecord, type ResultRecord } from '../state/records.js';
import type { Versioned } from '../state/kv-mirror.js';
import type { EventSink } from './events.js';
import { applyFlow, deleteFlow, teardownFlow, type FlowDeps, type ProgressSink } from './flows.js';

/** Results kept in full in an operation record; beyond these only failures (up to a bound) and counts. */
const MAX_OK_RESULTS = 2_000;
const MAX_FAILED_RESULTS = 5_000;

/** Options of the runner. */
export interface RunnerOptions {
  coordinatorId: string;
  leaseMs: number;
  deps: FlowDeps;
  events: EventSink;
  log: Logger;
}

interface Running {
  op: OperationRecord;
  revision: number;
  abort: AbortController;
  done: Promise<void>;
  dirty: boolean;
  lost: boolean;
}

/** A new operation id: sortable by time, unique without coordination. */
export function newOperationId(): string {
  return `op-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Starts, tracks, cancels and recovers operations. */
export class OperationRunner {
  private readonly running = new Map<string, Running>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly o: RunnerOptions) {}

  private get store() {
    return this.o.deps.store;
  }

  /** Takes over abandoned operations now and then every half lease. */
  startRecovery(): void {
    void this.recover();
    this.timer = setInterval(
      () => {
        void this.recover();
        void this.renewAll();
      },
      Math.max(500, Math.floor(this.o.leaseMs / 3)),
    );
    this.timer.unref();
  }

  /**
   * Starts an operation on `cluster` (every cluster for teardown). CONFLICT, naming the operation
   * in progress, when another one holds the cluster.
   */
  async start(
    kind: OperationKind,
    cluster: string,
    o: { specYaml: string; source: string; force: boolean },
  ): Promise<OperationRecord> {
    if (this.closed) throw new TenksError('UNAVAILABLE', 'the coordinator is shutting down');
    const now = Date.now();
    const op: OperationRecord = {
      version: 1,
      id: newOperationId(),
      cluster,
      kind,
      state: 'pending',
      specYaml: o.specYaml,
      source: o.source,
      force: o.force,
      owner: this.o.coordinatorId,
      leaseUntilMs: now + this.o.leaseMs,
      startedMs: now,
      finishedMs: 0,
      results: [],
      succeeded: 0,
      failed: 0,
      actionsTotal: 0,
      actionsDone: 0,
      errorCode: '',
      errorMessage: '',
      warnings: [],
      cancelRequested: false,
    };
    // The record exists before the lock names it, so whoever meets the lock can read who holds it.
    const revision = await this.store.operations.compareAndSet(op.id, op, null);
    const clusters = kind === 'teardown' ? this.store.clusters.values().map((c) => c.name) : [cluster];
    const locked: string[] = [];
    try {
      for (const c of clusters) {
        await this.lock(c, op);
        locked.push(c);
      }
    } catch (e) {
      for (const c of locked) await this.unlock(c, op, 'failed', false).catch(() => undefined);
      await this.store.operations.delete(op.id).catch(() => undefined);
      throw e;
    }
    this.launch(op, revision, clusters);
    return op;
  }

  private async lock(cluster: string, op: OperationRecord): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const cur = await this.store.clusters.fetch(cluster);
      const holder = cur?.value.operationId ?? null;
      if (holder !== null && holder !== op.id) {
        const h = await this.store.operations.fetch(holder);
        if (h && !isFinished(h.value.state) && h.value.leaseUntilMs > Date.now())
          throw new TenksError(
            'CONFLICT',
            `cluster '${cluster}' is being changed by operation ${holder} (${h.value.kind}, started ${new Date(h.value.startedMs).toISOString()} by ${h.value.owner})`,
            { hint: `wait for it (tenksctl watch ${holder}) or cancel it (tenksctl cancel ${holder})` },
          );
      }
      const base: ClusterRecord = cur?.value ?? {
        version: 1,
        name: cluster,
        specYaml: '',
        source: '',
        operationId: null,
        lastOperationId: null,
        lastOperationState: null,
        updatedMs: 0,
      };
      const next: ClusterRecord = {
        ...base,
        operationId: op.id,
        updatedMs: Date.now(),
        ...(op.kind === 'apply' ? { specYaml: op.specYaml, source: op.source } : {}),
      };
      try {
        await this.store.clusters.compareAndSet(cluster, next, cur?.revision ?? null);
        return;
      } catch (e) {
        if (!(isTenksError(e) && e.code === 'CONFLICT')) throw e;
        // Someone wrote the cluster between our read and write: look again.
      }
    }
    throw new TenksError('CONFLICT', `cluster '${cluster}' keeps changing; try again`);
  }

  private async unlock(
    cluster: string,
    op: OperationRecord,
    state: OperationRecord['state'],
    remove: boolean,
  ): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const cur = await this.store.clusters.fetch(cluster);
      if (cur?.value.operationId !== op.id) return;
      try {
        if (remove) await this.store.clusters.delete(cluster, cur.revision);
        else
          await this.store.clusters.compareAndSet(
            cluster,
            {
              ...cur.value,
              operationId: null,
              lastOperationId: op.id,
              lastOperationState: state,
              updatedMs: Date.now(),
            },
            cur.revision,
          );
        return;
      } catch (e) {
        if (!(isTenksError(e) && e.code === 'CONFLICT')) throw e;
      }
    }
  }

  private launch(op: OperationRecord, revision: number, clusters: string[]): void {
    const r: Running = {
      op,
      revision,
      abort: new AbortController(),
      done: Promise.resolve(),
      dirty: false,
      lost: false,
    };
    this.running.set(op.id, r);
    r.done = this.run(r, clusters)
      .catch((e: unknown) => {
        this.o.log.error('operation runner failed', { op: op.id, error: String(e) });
      })
      .finally(() => {
        this.running.delete(op.id);
      });
  }

  private sink(r: Running): ProgressSink {
    const base = { op: r.op.id, cluster: r.op.cluster };
    const ev = this.o.events;
    return {
      planned: (total, warnings) => {
        r.op.actionsTotal += total;
        r.op.warnings.push(...warnings);
        r.dirty = true;
        ev.publish({
          ...base,
          type: 'operation_started',
          kind: r.op.kind,
          actions: r.op.actionsTotal,
          timeMs: Date.now(),
        });
      },
      hooks: {
        started: (a: Action) => {
          ev.publish({
            ...base,
            type: 'step_started',
            node: actionTarget(a),
            hypervisor: a.agent,
            action: a.kind,
            timeMs: Date.now(),
          });
        },
        failed: (a, e, retrying) => {
          ev.publish({
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
        r.op.actionsDone++;
        if (res.ok) {
          r.op.succeeded++;
          if (r.op.succeeded <= MAX_OK_RESULTS) r.op.results.push(res);
          ev.publish({
            ...base,
            type: 'step_finished',
            node: res.node,
            hypervisor: res.hypervisor,
            action: res.action,
            changes: res.changes,
            timeMs: Date.now(),
          });
        } else {
          r.op.failed++;
          if (r.op.failed <= MAX_FAILED_RESULTS) r.op.results.push(res);
        }
        r.dirty = true;
      },
    };
  }

  private async run(r: Running, clusters: string[]): Promise<void> {
    const op = r.op;
    op.state = 'running';
    await this.persist(r);
    const progress = this.sink(r);
    let error: TenksError | null = null;
    const signal = r.abort.signal;
    try {
      if (op.kind === 'apply') await applyFlow(this.o.deps, op.specYaml, op.source, progress, signal);
      else if (op.kind === 'delete') await deleteFlow(this.o.deps, op.cluster, progress, signal, op.force);
      else await teardownFlow(this.o.deps, progress, signal, op.force);
    } catch (e) {
      error = toTenksError(e);
    }
    if (r.lost) {
      this.o.log.warn('operation taken over by another coordinator', { op: op.id });
      return;
    }
    if (this.closed && signal.aborted && !op.cancelRequested) {
      // Shutting down mid-operation: leave it running in the record; its lease runs out and this
      // coordinator (restarted) or another one resumes it.
      this.o.log.warn('operation left for resumption', { op: op.id });
      return;
    }
    const cancelled = signal.aborted || error?.code === 'CANCELLED';
    op.state = cancelled ? 'cancelled' : error || op.failed > 0 ? 'failed' : 'succeeded';
    if (error) {
      op.errorCode = error.code;
      op.errorMessage = error.message;
    } else if (cancelled) {
      op.errorCode = 'CANCELLED';
      op.errorMessage = 'cancelled';
    }
    op.finishedMs = Date.now();
    await this.persist(r).catch((e: unknown) => {
      this.o.log.error('final operation state not saved', { op: op.id, error: String(e) });
    });
    const remove = op.kind !== 'apply' && op.state === 'succeeded';
    for (const c of clusters) await this.unlock(c, op, op.state, remove).catch(() => undefined);
    this.o.events.publish({
      op: op.id,
      cluster: op.cluster,
      type: 'operation_done',
      state: op.state === 'succeeded' ? 'succeeded' : op.state === 'cancelled' ? 'cancelled' : 'failed',
      succeeded: op.succeeded,
      failed: op.failed,
      ...(op.errorCode !== '' ? { code: op.errorCode, message: op.errorMessage } : {}),
      timeMs: Date.now(),
    });
    this.o.log.info('operation finished', {
      op: op.id,
      kind: op.kind,
      cluster: op.cluster,
      state: op.state,
      failed: op.failed,
    });
  }

  /** Writes the record (renewing the lease); learns of cancellation and of losing the operation. */
  private async persist(r: Running): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const op = r.op;
      if (!isFinished(op.state)) op.leaseUntilMs = Date.now() + this.o.leaseMs;
      try {
        r.revision = await this.store.operations.compareAndSet(op.id, op, r.revision);
        r.dirty = false;
        return;
      } catch (e) {
        if (!(isTenksError(e) && e.code === 'CONFLICT')) throw e;
        const cur = await this.store.operations.fetch(op.id);
        if (cur?.value.owner !== this.o.coordinatorId) {
          r.lost = true;
          r.abort.abort(new TenksError('CANCELLED', 'another coordinator took the operation over'));
          return;
        }
        if (cur.value.cancelRequested && !op.cancelRequested) {
          op.cancelRequested = true;
          r.abort.abort(new TenksError('CANCELLED', 'cancelled'));
        }
        r.revision = cur.revision;
      }
    }
  }

  private async renewAll(): Promise<void> {
    for (const r of this.running.values()) {
      const seen = this.store.operations.get(r.op.id);
      if (seen?.value.cancelRequested && !r.op.cancelRequested) {
        r.op.cancelRequested = true;
        r.abort.abort(new TenksError('CANCELLED', 'cancelled'));
      }
      await this.persist(r).catch((e: unknown) => {
        this.o.log.warn('operation lease not renewed', { op: r.op.id, error: String(e) });
      });
    }
  }

  /** Runs again every unfinished operation whose owner is this coordinator (restarted) or whose lease ran out. */
  async recover(): Promise<void> {
    if (this.closed) return;
    for (const v of this.store.operations.values()) {
      if (isFinished(v.state) || this.running.has(v.id)) continue;
      const mine = v.owner === this.o.coordinatorId;
      if (!mine && v.leaseUntilMs > Date.now()) continue;
      const cur: Versioned<OperationRecord> | null = await this.store.operations.fetch(v.id).catch(() => null);
      if (!cur || isFinished(cur.value.state) || this.running.has(v.id)) continue;
      if (cur.value.owner !== this.o.coordinatorId && cur.value.leaseUntilMs > Date.now()) continue;
      const prev = cur.value.owner;
      const op: OperationRecord = {
        ...cur.value,
        owner: this.o.coordinatorId,
        leaseUntilMs: Date.now() + this.o.leaseMs,
        results: [],
        succeeded: 0,
        failed: 0,
        actionsTotal: 0,
        actionsDone: 0,
        warnings: [
          ...cur.value.warnings,
          `resumed by ${this.o.coordinatorId} (was ${prev}) at ${new Date().toISOString()}`,
        ],
      };
      let revision: number;
      try {
        revision = await this.store.operations.compareAndSet(op.id, op, cur.revision);
      } catch {
        continue; // another coordinator took it first
      }
      this.o.log.warn('resuming an interrupted operation', {
        op: op.id,
        kind: op.kind,
        cluster: op.cluster,
        previousOwner: prev,
      });
      const clusters =
        op.kind === 'teardown'
          ? this.store.clusters
              .values()
              .filter((c) => c.operationId === op.id)
              .map((c) => c.name)
          : [op.cluster];
      if (op.cancelRequested) {
        op.state = 'cancelled';
        op.finishedMs = Date.now();
        await this.store.operations.compareAndSet(op.id, op, revision).catch(() => undefined);
        for (const c of clusters) await this.unlock(c, op, 'cancelled', false).catch(() => undefined);
        continue;
      }
      this.launch(op, revision, clusters);
    }
  }

  /** Asks an operation to stop: at once when it runs here, through its record otherwise. */
  async cancel(id: string): Promise<OperationRecord> {
    const local = this.running.get(id);
    if (local) {
      local.op.cancelRequested = true;
      local.abort.abort(new TenksError('CANCELLED', 'cancelled'));
      local.dirty = true;
      return local.op;
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.store.operations.fetch(id);
      if (!cur) throw new TenksError('NOT_FOUND', `no operation ${id}`);
      if (isFinished(cur.value.state) || cur.value.cancelRequested) return cur.value;
      try {
        await this.store.operations.compareAndSet(id, { ...cur.value, cancelRequested: true }, cur.revision);
        return { ...cur.value, cancelRequested: true };
      } catch (e) {
        if (!(isTenksError(e) && e.code === 'CONFLICT')) throw e;
      }
    }
    throw new TenksError('CONFLICT', `operation ${id} keeps changing; try again`);
  }

  /** The operation: live when it runs here, else as stored. */
  get(id: string): OperationRecord | null {
    return this.running.get(id)?.op ?? this.store.operations.get(id)?.value ?? null;
  }

  /** Waits for an operation this coordinator runs (tests, shutdown). */
  async wait(id: string): Promise<void> {
    await this.running.get(id)?.done;
  }

  /** Stops taking work; lets running operations finish for `graceMs`, then cancels them (their lease lets another coordinator resume them). */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const all = [...this.running.values()];
    const finished = Promise.all(all.map((r) => r.done));
    const timeout = new Promise<'timeout'>((res) => {
      setTimeout(() => {
        res('timeout');
      }, graceMs).unref();
    });
    if ((await Promise.race([finished.then(() => 'done' as const), timeout])) === 'timeout') {
      for (const r of all) r.abort.abort(new TenksError('CANCELLED', 'the coordinator is shutting down'));
      await finished;
    }
  }
}
