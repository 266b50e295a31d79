/** What the rest of the coordinator may use from coordinator/state/: its records in JetStream KV. */
export { followBucket, type BucketFollower } from './kv-watch.js';
export type { Versioned } from './kv-mirror.js';
export {
  emptyClusterRecord,
  isFinished,
  newOperationRecord,
  type ClusterRecord,
  type OperationRecord,
  type PlacementRecord,
  type ResultRecord,
} from './records.js';
export { StateStore } from './store.js';
