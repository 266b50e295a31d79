/**
 * Following a JetStream KV bucket for good: every entry goes to `apply`, the first watch resolves
 * once the values present when it started have arrived, and a watch lost with NATS (a restart)
 * is started again with backoff until the follower is stopped. The values come back whole on a
 * new watch, so `apply` must keep whatever is newer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { Logger } from '../../common/index.js';

/** Options of {@link followBucket}. */
export interface FollowOptions {
  apply: (e: KvWatchEntry) => void;
  /** What is followed, for log lines (`<what> broke`, `<what> resumed`). */
  what: string;
  log: Logger;
  /**
   * A first watch whose initial values have not all arrived after this long is started again (the
   * end of them can fail to show, e.g. when a value expired between the status and the watch).
   * The follower is never ready with part of the bucket.
   */
  stallMs: number;
}

/** A bucket being followed. */
export interface BucketFollower {
  /** Resolves once the first watch holds every value that was in the bucket when it started. */
  ready: Promise<void>;
  stop(): void;
}

/** Starts following `kv`. */
export function followBucket(kv: KV, o: FollowOptions): BucketFollower {
  /** Aborted by stop: ends the wait before the next watch at once. */
  const stopping = new AbortController();
  let stopWatch: (() => void) | null = null;
  const isStopped = (): boolean => stopping.signal.aborted;
  /** Waits `ms` before watching again; false when the follower was stopped meanwhile. */
  const backoff = (ms: number): Promise<boolean> => sleep(ms, true, { signal: stopping.signal }).catch(() => false);

  /** Starts a watch; resolves once its initial values are in, rejects when it stalls before. */
  const watch = async (): Promise<void> => {
    let markReady: () => void = () => undefined;
    const initial = new Promise<void>((r) => (markReady = r));
    const it = await kv.watch();
    stopWatch = () => {
      it.stop();
    };
    const status = await kv.status();
    const fields = { bucket: status.bucket };
    // Nothing in the bucket now means nothing was pending when the watch began: values put since
    // arrive as updates.
    if (status.values === 0) markReady();
    let ready = false;
    void initial.then(() => (ready = true));
    void (async () => {
      for await (const e of it) {
        o.apply(e);
        // The initial values end with a delta of 0; anything newer is an update.
        if (e.isUpdate || (e.delta ?? 0) === 0) markReady();
      }
    })()
      .catch((e: unknown) => {
        if (!isStopped()) o.log.warn(`${o.what} broke`, { ...fields, error: String(e) });
      })
      .finally(() => {
        if (!isStopped() && ready) void rewatch(fields);
      });
    let stall: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      stall = setTimeout(() => {
        reject(new Error(`the initial values did not all arrive within ${o.stallMs} ms`));
      }, o.stallMs);
    });
    try {
      await Promise.race([initial, stalled]);
    } catch (e) {
      it.stop();
      throw e;
    } finally {
      clearTimeout(stall);
    }
  };

  /** The first watch, started again until it has loaded the bucket (or the follower stops). */
  const first = async (): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await watch();
        return;
      } catch (e) {
        if (isStopped()) return;
        o.log.warn(`${o.what}: not loaded yet; watching again`, { attempt, error: String(e) });
        if (!(await backoff(Math.min(200 * 2 ** attempt, 5_000)))) return;
      }
    }
  };

  const rewatch = async (fields: Record<string, unknown>): Promise<void> => {
    for (let attempt = 0; !isStopped(); attempt++) {
      if (!(await backoff(Math.min(500 * 2 ** attempt, 5_000)))) return;
      try {
        await watch();
        o.log.info(`${o.what} resumed`, fields);
        return;
      } catch (e) {
        if (attempt === 0) o.log.warn(`${o.what} not resumed yet`, { ...fields, error: String(e) });
      }
    }
  };

  return {
    ready: first(),
    stop: () => {
      stopping.abort();
      stopWatch?.();
    },
  };
}
