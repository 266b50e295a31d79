/**
 * The clusters operations hold: an operation takes a cluster with a compare-and-set of the cluster's
 * record, naming itself, and gives it back the same way. Taking a cluster whose holder's lease ran
 * out first marks that holder failed, so it cannot also be resumed.
 */
import { isTenksError, TenksError, type Logger } from '../../common/index.js';
import type { Versioned } from '../state/kv-mirror.js';
import { emptyClusterRecord, isFinished, type ClusterRecord, type OperationRecord } from '../state/records.js';
import type { StateStore } from '../state/store.js';
import type { EventSink } from './events.js';

/** What {@link ClusterLocks} works with. */
export interface ClusterLocksOptions {
  store: StateStore;
  events: EventSink;
  log: Logger;
  /** Wall clock for the times written in records. */
  wall: () => number;
  /** Whether an unfinished operation's owner let its lease run out, as seen on this clock. */
  expired: (v: Versioned<OperationRecord>) => boolean;
}

/** Taking and giving back clusters for operations. */
export class ClusterLocks {
  constructor(private readonly o: ClusterLocksOptions) {}

  /**
   * Takes `cluster` for `op` with a compare-and-set of its record (an apply's spec goes in with it).
   * CONFLICT, naming the operation in progress, when another one holds it and its lease holds;
   * a holder whose lease ran out is marked failed first.
   */
  async take(cluster: string, op: OperationRecord): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const cur = await this.o.store.clusters.fetch(cluster);
      const holder = cur?.value.operationId ?? null;
      if (holder !== null && holder !== op.id) {
        const h = await this.o.store.operations.fetch(holder);
        if (h && !isFinished(h.value.state)) {
          if (!this.o.expired(h))
            throw new TenksError(
              'CONFLICT',
              `cluster '${cluster}' is being changed by operation ${holder} (${h.value.kind}, started ${new Date(h.value.startedMs).toISOString()} by ${h.value.owner})`,
              { hint: `wait for it (tenksctl watch ${holder}) or cancel it (tenksctl cancel ${holder})` },
            );
          // Its owner is gone: it is marked failed before the cluster changes hands, so it cannot
          // also be resumed. If its record moved meanwhile, it is alive after all: look again.
          try {
            await this.abandon(h, `cluster '${cluster}' was taken over by operation ${op.id}`);
          } catch (e) {
            if (isTenksError(e) && e.code === 'CONFLICT') continue;
            throw e;
          }
        }
      }
      const base = cur?.value ?? emptyClusterRecord(cluster);
      const next: ClusterRecord = {
        ...base,
        operationId: op.id,
        updatedMs: this.o.wall(),
        ...(op.kind === 'apply' ? { specYaml: op.specYaml, source: op.source } : {}),
      };
      try {
        await this.o.store.clusters.compareAndSet(cluster, next, cur?.revision ?? null);
        return;
      } catch (e) {
        if (!(isTenksError(e) && e.code === 'CONFLICT')) throw e;
        // Someone wrote the cluster between our read and write: look again.
      }
    }
    throw new TenksError('CONFLICT', `cluster '${cluster}' keeps changing; try again`);
  }

  /**
   * Ends an operation whose owner stopped renewing its lease: failed, with why. A compare-and-set
   * at the revision judged expired: CONFLICT when the owner (or anyone) wrote it since.
   */
  async abandon(h: Versioned<OperationRecord>, why: string): Promise<void> {
    const ended: OperationRecord = {
      ...h.value,
      state: 'failed',
      finishedMs: this.o.wall(),
      errorCode: 'UNAVAILABLE',
      errorMessage: `abandoned: coordinator ${h.value.owner} stopped renewing its lease; ${why}`,
    };
    await this.o.store.operations.compareAndSet(h.value.id, ended, h.revision);
    this.o.log.warn('operation abandoned by its owner marked failed', { op: h.value.id, owner: h.value.owner, why });
    this.o.events.publish({
      op: ended.id,
      cluster: ended.cluster,
      type: 'operation_done',
      state: 'failed',
      succeeded: ended.succeeded,
      failed: ended.failed,
      code: 'UNAVAILABLE',
      message: ended.errorMessage,
      timeMs: Date.now(),
    });
  }

  /**
   * Gives `cluster` back after `op` ended in `state` (`remove`: deletes the cluster's record, after a
   * delete or teardown that succeeded). Does nothing when `op` does not hold it.
   */
  async release(cluster: string, op: OperationRecord, state: OperationRecord['state'], remove: boolean): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const cur = await this.o.store.clusters.fetch(cluster);
      if (cur?.value.operationId !== op.id) return;
      try {
        if (remove) await this.o.store.clusters.delete(cluster, cur.revision);
        else
          await this.o.store.clusters.compareAndSet(
            cluster,
            {
              ...cur.value,
              operationId: null,
              lastOperationId: op.id,
              lastOperationState: state,
              updatedMs: this.o.wall(),
            },
            cur.revision,
          );
        return;
      } catch (e) {
        if (!(isTenksError(e) && e.code === 'CONFLICT')) throw e;
      }
    }
  }
}
