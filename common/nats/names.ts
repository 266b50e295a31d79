/** NATS subjects and JetStream KV buckets tenks uses. One place, so every side agrees. */

/** KV buckets. Keys: agents by agent id; clusters by name; placements `<cluster>.<node>`; operations by id. */
export const BUCKETS = {
  agents: 'tenks-agents',
  clusters: 'tenks-clusters',
  placements: 'tenks-placements',
  operations: 'tenks-operations',
} as const;

/** Default prefix of operation event subjects: `tenks.ops.<operation id>.events`. */
export const OPS_SUBJECT_PREFIX = 'tenks.ops';

/** The subject of an operation's progress events. */
export function opEventsSubject(operationId: string, prefix = OPS_SUBJECT_PREFIX): string {
  return `${prefix}.${operationId}.events`;
}

/** Subject every operation's events also match (for `tenksctl watch` of everything). */
export function allOpEventsSubject(prefix = OPS_SUBJECT_PREFIX): string {
  return `${prefix}.*.events`;
}
