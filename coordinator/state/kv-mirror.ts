/**
 * An in-memory copy of a JetStream KV bucket, kept current by a watch. Reads are local; writes go
 * to the bucket and into the copy at once (the watch's echo of them changes nothing), so what this
 * coordinator wrote it reads back, and what other coordinators wrote arrives within moments.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KV, KvEntry } from '@nats-io/kv';
import type { z } from 'zod';
import { decodeJson, encodeJson, TenksError, zodErrors, type Logger } from '../../common/index.js';
import { followBucket, type BucketFollower } from './kv-watch.js';

/** A value and the bucket revision it was stored at. */
export interface Versioned<T> {
  value: T;
  revision: number;
}

/** True when NATS refused a write because the key moved on (compare-and-set lost). */
export function isWrongRevision(e: unknown): boolean {
  const m = e instanceof Error ? e.message : String(e);
  return /wrong last sequence|key exists|10071/i.test(m);
}

/** A failed KV call: NATS is away or JetStream not ready (retrying later may help). */
function unavailable(e: unknown, what: string): TenksError {
  if (e instanceof TenksError) return e;
  return new TenksError(
    'UNAVAILABLE',
    `NATS JetStream: ${what} failed: ${e instanceof Error ? e.message : String(e)}`,
    {
      cause: e,
      hint: 'is nats-server running with JetStream? it may still be starting',
    },
  );
}

/** How long an unconditional write is tried again while JetStream is briefly away. */
const AGAIN_MS = [100, 200, 400, 800, 1_600, 3_200];

/**
 * Runs an unconditional (idempotent) KV write, again while it fails: a NATS server that just
 * restarted answers "jetstream is not enabled" for a moment, a cluster electing a stream leader
 * times out. A compare-and-set (`onlyUndelivered`) is sent again only when no server took it: after
 * a lost reply, a second try would read as a conflict.
 */
async function again<R>(
  write: () => Promise<R>,
  { signal, onlyUndelivered = false }: { signal?: AbortSignal | undefined; onlyUndelivered?: boolean } = {},
): Promise<R> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (e) {
      const delay = AGAIN_MS[attempt];
      // A connection closed for good, or a writer that was stopped (an operation that lost its
      // lease), does not try again.
      if (
        delay === undefined ||
        isWrongRevision(e) ||
        isClosed(e) ||
        signal?.aborted === true ||
        (onlyUndelivered && !isUndelivered(e))
      )
        throw e;
      await sleep(delay, undefined, signal ? { signal } : {}).catch(() => undefined);
    }
  }
}

/**
 * True when no JetStream server took the request (nats.js reports "no responders" as "jetstream is
 * not enabled"): nothing was written, so even a compare-and-set may be sent again. A server that
 * just restarted in a cluster answers so until it has joined.
 */
function isUndelivered(e: unknown): boolean {
  return (
    e instanceof Error &&
    (e.name === 'JetStreamNotEnabled' || /jetstream is not enabled|no responders/i.test(e.message))
  );
}

function isClosed(e: unknown): boolean {
  return e instanceof Error && (e.name === 'ClosedConnectionError' || /closed connection/i.test(e.message));
}

/** What is wrong with the value at `key`: `'op-1': state: Invalid option: ...; results[0].ok: ...`. */
export function unreadableValue(key: string, error: z.ZodError): string {
  return `'${key}': ${zodErrors(error)
    .map((e) => `${e.field}: ${e.message}`)
    .join('; ')}`;
}

/** A watched copy of one bucket of JSON values, each read with the bucket's schema. */
export class KvMirror<T> {
  private readonly entries = new Map<string, Versioned<T>>();
  /**
   * When (this process's monotonic clock) each key's current revision was first seen here. Leases
   * are judged by how long a record stayed unchanged on one clock, never by comparing times written
   * by other hosts.
   */
  private readonly seenAt = new Map<string, number>();
  private readonly follower: BucketFollower;

  constructor(
    readonly kv: KV,
    private readonly schema: z.ZodType<T>,
    private readonly log: Logger,
  ) {
    this.follower = followBucket(kv, {
      apply: (e) => {
        this.apply(e);
      },
      what: 'KV watch',
      log,
      stallMs: 10_000,
    });
  }

  /** Resolves once the copy holds every value that was in the bucket when it started. */
  ready(): Promise<void> {
    return this.follower.ready;
  }

  private apply(e: KvEntry): void {
    if (e.operation !== 'PUT') {
      const cur = this.entries.get(e.key);
      if (!cur || cur.revision <= e.revision) this.forget(e.key);
      return;
    }
    const cur = this.entries.get(e.key);
    if (cur && cur.revision >= e.revision) return;
    const v = this.read(e);
    if (v === null) return;
    this.entries.set(e.key, { value: v, revision: e.revision });
    this.seenAt.set(e.key, performance.now());
  }

  /** The value of an entry, or null (logged, naming the key and each field) when it is not a record. */
  private read(e: KvEntry): T | null {
    const r = this.schema.safeParse(decodeJson(e.value));
    if (r.success) return r.data;
    this.log.warn('ignoring an unreadable KV value', { key: e.key, problem: unreadableValue(e.key, r.error) });
    return null;
  }

  private forget(key: string): void {
    this.entries.delete(key);
    this.seenAt.delete(key);
  }

  /**
   * How long (ms, this process's clock) `key` has stayed at `revision` as seen here; 0 when the
   * copy holds another revision. A restarted process has seen everything just now.
   */
  unchangedForMs(key: string, revision: number): number {
    const cur = this.entries.get(key);
    const at = this.seenAt.get(key);
    if (cur?.revision !== revision || at === undefined) return 0;
    return performance.now() - at;
  }

  get(key: string): Versioned<T> | undefined {
    return this.entries.get(key);
  }

  /** Entries whose key starts with `prefix`. */
  withPrefix(prefix: string): [string, Versioned<T>][] {
    const out: [string, Versioned<T>][] = [];
    for (const e of this.entries) if (e[0].startsWith(prefix)) out.push(e);
    return out;
  }

  values(): T[] {
    return [...this.entries.values()].map((e) => e.value);
  }

  /** Reads the key from the bucket itself (not the copy), e.g. before a compare-and-set. */
  async fetch(key: string): Promise<Versioned<T> | null> {
    const e = await this.kv.get(key).catch((err: unknown) => {
      throw unavailable(err, `reading '${key}'`);
    });
    if (e?.operation !== 'PUT') {
      this.forget(key);
      return null;
    }
    this.apply(e);
    const v = this.read(e);
    return v === null ? null : { value: v, revision: e.revision };
  }

  /** Writes `value` whatever the key holds; `signal` stops trying again (not a write in flight). */
  async put(key: string, value: T, signal?: AbortSignal): Promise<number> {
    const revision = await again(() => this.kv.put(key, encodeJson(value)), { signal }).catch((e: unknown) => {
      throw unavailable(e, `writing '${key}'`);
    });
    this.setLocal(key, value, revision);
    return revision;
  }

  /**
   * Writes `value` only if the key is still at `revision` (null: only if it does not exist).
   * Throws CONFLICT when another writer got there first.
   */
  async compareAndSet(key: string, value: T, revision: number | null): Promise<number> {
    try {
      const data = encodeJson(value);
      const r = await again(
        () => (revision === null ? this.kv.create(key, data) : this.kv.update(key, data, revision)),
        { onlyUndelivered: true },
      );
      this.setLocal(key, value, r);
      return r;
    } catch (e) {
      if (isWrongRevision(e))
        throw new TenksError('CONFLICT', `'${key}' changed while it was being updated`, { cause: e });
      throw unavailable(e, `writing '${key}'`);
    }
  }

  async delete(key: string, revision?: number, signal?: AbortSignal): Promise<void> {
    try {
      if (revision === undefined) await again(() => this.kv.delete(key), { signal });
      else await again(() => this.kv.delete(key, { previousSeq: revision }), { signal, onlyUndelivered: true });
    } catch (e) {
      if (isWrongRevision(e))
        throw new TenksError('CONFLICT', `'${key}' changed while it was being deleted`, { cause: e });
      throw unavailable(e, `deleting '${key}'`);
    }
    this.forget(key);
  }

  private setLocal(key: string, value: T, revision: number): void {
    const cur = this.entries.get(key);
    if (!cur || cur.revision < revision) {
      this.entries.set(key, { value, revision });
      this.seenAt.set(key, performance.now());
    }
  }

  stop(): void {
    this.follower.stop();
  }
}
