/**
 * The coordinator's state in JetStream KV: clusters, node placements and operations. Several
 * coordinators may share it; every change of who holds a cluster is a compare-and-set.
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS, TenksError, type Logger } from '../../common/index.js';
import { KvMirror, type Versioned } from './kv-mirror.js';
import {
  clusterRecordSchema,
  operationRecordSchema,
  placementRecordSchema,
  type ClusterRecord,
  type OperationRecord,
  type PlacementRecord,
} from './records.js';

/** Key of a placement. */
export function placementKey(cluster: string, node: string): string {
  return `${cluster}.${node}`;
}

/** Clusters, placements and operations, each a watched copy of its bucket. */
export class StateStore {
  private constructor(
    readonly clusters: KvMirror<ClusterRecord>,
    readonly placements: KvMirror<PlacementRecord>,
    readonly operations: KvMirror<OperationRecord>,
    /**
     * When the operations bucket was created (ms, the NATS server's clock): the epoch of fencing
     * tokens, so a bucket made again after its state was lost issues tokens after every old one.
     */
    readonly epoch: number,
  ) {}

  /** Opens (creating when missing) the buckets and loads them. */
  static async open(nc: NatsConnection, replicas: number, log: Logger): Promise<StateStore> {
    const kvm = new Kvm(nc);
    let buckets;
    try {
      buckets = await Promise.all([
        kvm.create(BUCKETS.clusters, { history: 5, replicas }),
        kvm.create(BUCKETS.placements, { history: 1, replicas }),
        // Finished operations are kept a week.
        kvm.create(BUCKETS.operations, { history: 1, replicas, ttl: 7 * 24 * 3_600_000 }),
      ]);
    } catch (e) {
      throw new TenksError('UNAVAILABLE', `cannot open the JetStream KV buckets: ${(e as Error).message}`, {
        cause: e,
        hint: 'NATS must run with JetStream enabled (nats-server -js)',
      });
    }
    const [c, p, o] = buckets;
    const epoch = await o.status().then(
      (st) => Date.parse(st.streamInfo.created),
      (e: unknown) => {
        throw new TenksError('UNAVAILABLE', `cannot read the operations bucket: ${(e as Error).message}`, { cause: e });
      },
    );
    const store = new StateStore(
      new KvMirror<ClusterRecord>(c, clusterRecordSchema, log),
      new KvMirror<PlacementRecord>(p, placementRecordSchema, log),
      new KvMirror<OperationRecord>(o, operationRecordSchema, log),
      Number.isFinite(epoch) ? epoch : 0,
    );
    await Promise.all([store.clusters.ready(), store.placements.ready(), store.operations.ready()]);
    return store;
  }

  cluster(name: string): Versioned<ClusterRecord> | undefined {
    return this.clusters.get(name);
  }

  /** Placements of one cluster, by node name. */
  placementsOf(cluster: string): Map<string, PlacementRecord> {
    return new Map(this.placements.withPrefix(`${cluster}.`).map(([, v]) => [v.value.node, v.value]));
  }

  /** One node's placement, by key (no scan). */
  placement(cluster: string, node: string): PlacementRecord | undefined {
    return this.placements.get(placementKey(cluster, node))?.value;
  }

  /** Every placement of every cluster. */
  allPlacements(): PlacementRecord[] {
    return this.placements.values();
  }

  /** Records a placement; `signal` (the operation's) stops retries of a write that fails. */
  async putPlacement(p: PlacementRecord, signal?: AbortSignal): Promise<void> {
    await this.placements.put(placementKey(p.cluster, p.node), p, signal);
  }

  async deletePlacement(cluster: string, node: string, signal?: AbortSignal): Promise<void> {
    await this.placements.delete(placementKey(cluster, node), undefined, signal);
  }

  operation(id: string): Versioned<OperationRecord> | undefined {
    return this.operations.get(id);
  }

  stop(): void {
    this.clusters.stop();
    this.placements.stop();
    this.operations.stop();
  }
}
