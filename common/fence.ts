/**
 * Fencing tokens: every agent call of an operation carries the token of the coordinator's claim on
 * it, and an agent refuses a call whose token is older than one it has already seen for the same
 * cluster. A coordinator that lost its operation (paused, partitioned, its lease taken over) can
 * then no longer change that cluster's nodes, whatever its in-flight calls do.
 *
 * A token is `<epoch>.<sequence>`: the epoch is when the operations bucket was created (the NATS
 * server's clock), the sequence is the bucket revision of the write that gave the coordinator its
 * claim. Revisions only grow within a bucket, and a bucket made again (its state lost) has a later
 * epoch, so tokens order claims in the order they were made.
 */
import { TenksError } from './errors.js';

/** gRPC metadata key that carries the token. */
export const FENCE_METADATA_KEY = 'tenks-fence';

/** A parsed token. */
export interface FenceToken {
  epoch: number;
  sequence: number;
}

const TOKEN = /^(\d{1,16})\.(\d{1,16})$/;

/** `<epoch>.<sequence>`. */
export function formatFence(t: FenceToken): string {
  return `${String(t.epoch)}.${String(t.sequence)}`;
}

/** Parses a token; INVALID_SPEC naming the metadata key when it is malformed. */
export function parseFence(text: string): FenceToken {
  const m = TOKEN.exec(text);
  if (!m)
    throw new TenksError('INVALID_SPEC', `'${text.slice(0, 40)}' is not a fencing token (<epoch>.<sequence>)`, {
      field: FENCE_METADATA_KEY,
    });
  return { epoch: Number(m[1]), sequence: Number(m[2]) };
}

/** Negative when `a` was issued before `b`, 0 when equal, positive after. */
export function compareFence(a: FenceToken, b: FenceToken): number {
  return a.epoch !== b.epoch ? a.epoch - b.epoch : a.sequence - b.sequence;
}
