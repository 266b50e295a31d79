/**
 * Operations: records in the `tenks-operations` bucket, the cluster locks they hold (compare-and-set
 * on the cluster record), their lease, their progress and their events. An operation whose owner
 * stopped renewing its lease (a crashed or partitioned coordinator) is taken over and run again from
 * a fresh plan: every flow converges from any starting state.
 *
 * Leases are fenced:
 * - taking a free cluster is one compare-and-set of its record; taking one whose holder's lease
 *   expired first marks the holder failed (a compare-and-set of the holder's record), so the holder
 *   cannot also be resumed; resuming an operation is one compare-and-set of its record, and only
 *   for an operation that holds its cluster;
 * - expiry is judged by how long a record stayed at one revision on the judge's own clock, never
 *   by times other hosts wrote;
 * - an owner that could not renew for a whole lease stops its operation itself, before anyone may
 *   judge it expired;
 * - every agent call carries the claim's fencing token (common/fence.ts), so calls of a stale owner
 *   still in flight are refused by agents that already saw the new one.
 */
import { randomBytes } from 'node:crypto';
import {
  formatFence,
  isTenksError,
  TenksError,
  toTenksError,
  type Logger,
  type OperationKind,
} from '../../common/index.js';
import { isFinished, newOperationRecord, type OperationRecord } from '../state/records.js';
import type { Versioned } from '../state/kv-mirror.js';
import { applyFlow } from './apply-flow.js';
import { ClusterLocks } from './cluster-locks.js';
import { deleteFlow, teardownFlow } from './delete-flow.js';
import type { EventSink } from './events.js';
import type { FlowDeps } from './flow-deps.js';
import { progressRecorder } from './progress-recorder.js';

/** Options of the runner. */
export interface RunnerOptions {
  coordinatorId: string;
  leaseMs: number;
  deps: FlowDeps;
  events: EventSink;
  log: Logger;
  /** Wall clock for the times written in records (tests skew it); never used to judge a lease. */
  wallClockMs?: () => number;
}

interface Running {
  op: OperationRecord;
  revision: number;
  /** Fencing token of this claim, sent with every agent call. */
  fence: string;
  abort: AbortController;
  done: Promise<void>;
  dirty: boolean;
  /** The operation is no longer ours: taken over, or our lease ran out. Nothing more is written. */
  lost: boolean;
  /** Stops the operation when the lease was not renewed in time. */
  leaseTimer: NodeJS.Timeout | null;
}

/**
 * How much longer than a lease others wait before they judge it expired: the owner stops after one
 * lease without renewal, measured from before its last write; a judge measures from after it saw
 * that write, so even equal durations are safe, and the margin covers timer and scheduling delays.
 */
function takeoverMarginMs(leaseMs: number): number {
  return Math.max(1_000, Math.round(leaseMs / 5));
}

/** A new operation id: sortable by time, unique without coordination. */
export function newOperationId(): string {
  return `op-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Starts, tracks, cancels and recovers operations. */
export class OperationRunner {
  private readonly running = new Map<string, Running>();
  private readonly locks: ClusterLocks;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly o: RunnerOptions) {
    this.locks = new ClusterLocks({
      store: o.deps.store,
      events: o.events,
      log: o.log,
      wall: () => this.wall(),
      expired: (v) => this.expired(v),
    });
  }

  private get store() {
    return this.o.deps.store;
  }

  private wall(): number {
    return (this.o.wallClockMs ?? Date.now)();
  }

  /** The fencing token of a claim made by the write that gave `revision`. */
  private fenceOf(revision: number): string {
    return formatFence({ epoch: this.store.epoch, sequence: revision });
  }

  /** Whether an unfinished operation's owner let its lease run out, as seen on this clock. */
  private expired(v: Versioned<OperationRecord>): boolean {
    const leaseMs = v.value.leaseMs ?? this.o.leaseMs;
    return this.store.operations.unchangedForMs(v.value.id, v.revision) > leaseMs + takeoverMarginMs(leaseMs);
  }

  /** Takes over abandoned operations now and then every third of a lease, and renews ours as often. */
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
   * in progress, when another one holds the cluster. `prune` (apply): see planner/prune.ts.
   */
  async start(
    kind: OperationKind,
    cluster: string,
    o: { specYaml: string; source: string; force: boolean; prune?: boolean },
  ): Promise<OperationRecord> {
    if (this.closed) throw new TenksError('UNAVAILABLE', 'the coordinator is shutting down');
    const now = this.wall();
    const sentAt = performance.now();
    const op = newOperationRecord({
      id: newOperationId(),
      cluster,
      kind,
      specYaml: o.specYaml,
      source: o.source,
      force: o.force,
      ...(o.prune === true ? { prune: true } : {}),
      owner: this.o.coordinatorId,
      leaseMs: this.o.leaseMs,
      leaseUntilMs: now + this.o.leaseMs,
      startedMs: now,
    });
    // The record exists before the lock names it, so whoever meets the lock can read who holds it.
    const revision = await this.store.operations.compareAndSet(op.id, op, null);
    const clusters = kind === 'teardown' ? this.store.clusters.values().map((c) => c.name) : [cluster];
    const locked: string[] = [];
    try {
      for (const c of clusters) {
        await this.locks.take(c, op);
        locked.push(c);
      }
    } catch (e) {
      for (const c of locked) await this.locks.release(c, op, 'failed', false).catch(() => undefined);
      await this.store.operations.delete(op.id).catch(() => undefined);
      throw e;
    }
    this.launch(op, revision, clusters, sentAt);
    return op;
  }

  /** Runs `op`, claimed by the write that gave `revision`, sent at `sentAt` (this clock). */
  private launch(op: OperationRecord, revision: number, clusters: string[], sentAt: number): void {
    const r: Running = {
      op,
      revision,
      fence: this.fenceOf(revision),
      abort: new AbortController(),
      done: Promise.resolve(),
      dirty: false,
      lost: false,
      leaseTimer: null,
    };
    this.running.set(op.id, r);
    this.renewed(r, sentAt);
    r.done = this.run(r, clusters)
      .catch((e: unknown) => {
        this.o.log.error('operation runner failed', { op: op.id, error: String(e) });
      })
      .finally(() => {
        if (r.leaseTimer) clearTimeout(r.leaseTimer);
        this.running.delete(op.id);
      });
  }

  /** A write of the record sent at `sentAt` succeeded: the lease holds for a lease from then. */
  private renewed(r: Running, sentAt: number): void {
    if (r.leaseTimer) clearTimeout(r.leaseTimer);
    const leaseMs = r.op.leaseMs ?? this.o.leaseMs;
    r.leaseTimer = setTimeout(
      () => {
        this.loseLease(r, `its lease was not renewed for ${leaseMs} ms`);
      },
      Math.max(0, leaseMs - (performance.now() - sentAt)),
    );
    r.leaseTimer.unref();
  }

  /** Stops an operation that is no longer ours; whoever holds it now finishes it. */
  private loseLease(r: Running, why: string): void {
    if (r.lost || isFinished(r.op.state)) return;
    r.lost = true;
    this.o.log.error('operation stopped: no longer held by this coordinator', { op: r.op.id, why });
    r.abort.abort(new TenksError('CANCELLED', `this coordinator no longer holds the operation: ${why}`));
  }

  private async run(r: Running, clusters: string[]): Promise<void> {
    const op = r.op;
    op.state = 'running';
    await this.persist(r);
    const progress = progressRecorder(op, this.o.events, () => {
      r.dirty = true;
    });
    let error: TenksError | null = null;
    const signal = r.abort.signal;
    const deps: FlowDeps = { ...this.o.deps, port: this.o.deps.port.withFence(r.fence) };
    try {
      if (op.kind === 'apply')
        await applyFlow(deps, op.specYaml, op.source, progress, signal, { prune: op.prune === true });
      else if (op.kind === 'delete') await deleteFlow(deps, op.cluster, progress, signal, op.force);
      else await teardownFlow(deps, progress, signal, op.force);
    } catch (e) {
      error = toTenksError(e);
    }
    if (r.lost) {
      this.o.log.warn('operation left to the coordinator that holds it now', { op: op.id });
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
    op.finishedMs = this.wall();
    const saved = await this.persist(r).then(
      () => !r.lost,
      (e: unknown) => {
        // The record still says running: its lease runs out and it is run again from a fresh plan.
        this.o.log.error('operation result not saved; it will be resumed', { op: op.id, error: String(e) });
        return false;
      },
    );
    if (!saved) return;
    const remove = op.kind !== 'apply' && op.state === 'succeeded';
    for (const c of clusters) await this.locks.release(c, op, op.state, remove).catch(() => undefined);
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
    for (let attempt = 0; attempt < 5 && !r.lost; attempt++) {
      const op = r.op;
      if (!isFinished(op.state)) op.leaseUntilMs = this.wall() + (op.leaseMs ?? this.o.leaseMs);
      const sentAt = performance.now();
      try {
        r.revision = await this.store.operations.compareAndSet(op.id, op, r.revision);
        r.dirty = false;
        if (!isFinished(op.state)) this.renewed(r, sentAt);
        return;
      } catch (e) {
        if (!(isTenksError(e) && e.code === 'CONFLICT')) throw e;
        const cur = await this.store.operations.fetch(op.id);
        if (cur?.value.owner !== this.o.coordinatorId || isFinished(cur.value.state)) {
          this.loseLease(
            r,
            cur
              ? `operation ${op.id} was ${isFinished(cur.value.state) ? `ended (${cur.value.errorMessage})` : `taken over by ${cur.value.owner}`}`
              : `operation ${op.id} was deleted`,
          );
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

  /**
   * Runs again every unfinished operation whose lease ran out (its coordinator died, restarted or
   * lost NATS), from a fresh plan. One that does not hold its cluster (its coordinator died while
   * taking it) never ran: it is ended instead.
   */
  async recover(): Promise<void> {
    if (this.closed) return;
    for (const v of this.store.operations.values()) {
      if (isFinished(v.state) || this.running.has(v.id)) continue;
      const seen = this.store.operations.get(v.id);
      if (!seen || !this.expired(seen)) continue;
      const cur: Versioned<OperationRecord> | null = await this.store.operations.fetch(v.id).catch(() => null);
      if (!cur || isFinished(cur.value.state) || this.running.has(v.id) || !this.expired(cur)) continue;
      await this.resume(cur).catch((e: unknown) => {
        this.o.log.warn('interrupted operation not resumed', { op: v.id, error: String(e) });
      });
    }
  }

  private async resume(cur: Versioned<OperationRecord>): Promise<void> {
    const prev = cur.value;
    const held: string[] = [];
    const candidates =
      prev.kind === 'teardown'
        ? this.store.clusters
            .values()
            .filter((c) => c.operationId === prev.id)
            .map((c) => c.name)
        : [prev.cluster];
    for (const c of candidates) if ((await this.store.clusters.fetch(c))?.value.operationId === prev.id) held.push(c);
    if (prev.state === 'pending' || (prev.kind !== 'teardown' && held.length === 0)) {
      await this.locks.abandon(cur, 'it never held its cluster');
      for (const c of held) await this.locks.release(c, prev, 'failed', false).catch(() => undefined);
      return;
    }
    const sentAt = performance.now();
    const op: OperationRecord = {
      ...prev,
      owner: this.o.coordinatorId,
      leaseMs: this.o.leaseMs,
      leaseUntilMs: this.wall() + this.o.leaseMs,
      results: [],
      succeeded: 0,
      failed: 0,
      actionsTotal: 0,
      actionsDone: 0,
      warnings: [
        ...prev.warnings,
        `resumed by ${this.o.coordinatorId} (was ${prev.owner}) at ${new Date().toISOString()}`,
      ],
    };
    if (prev.cancelRequested) {
      op.state = 'cancelled';
      op.finishedMs = this.wall();
      await this.store.operations.compareAndSet(op.id, op, cur.revision);
      for (const c of held) await this.locks.release(c, op, 'cancelled', false).catch(() => undefined);
      return;
    }
    // The one write that makes the operation ours; it fails when its owner renewed after all or
    // someone else took it first.
    const revision = await this.store.operations.compareAndSet(op.id, op, cur.revision);
    this.o.log.warn('resuming an interrupted operation', {
      op: op.id,
      kind: op.kind,
      cluster: op.cluster,
      previousOwner: prev.owner,
    });
    this.launch(op, revision, held, sentAt);
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
