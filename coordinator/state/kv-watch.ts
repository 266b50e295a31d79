/**
 * Following a JetStream KV bucket for good: every entry goes to `apply`, the first watch resolves
 * once the values present when it started have arrived, and a watch lost with NATS (a restart)
 * is started again with backoff until the follower is stopped. The values come back whole on a
 * new watch, so `apply` must keep whatever is newer.
 */
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { Logger } from '../../common/index.js';

/** Options of {@link followBucket}. */
export interface FollowOptions {
  apply: (e: KvWatchEntry) => void;
  /** What is followed, for log lines (`<what> broke`, `<what> resumed`). */
  what: string;
  log: Logger;
  /**
   * Go on after this long even when the end of the initial values never shows (a marker expired
   * between the status and the watch), with what arrived; `warn` says so in the log.
   */
  readyFallback: { ms: number; warn: boolean };
}

/** A bucket being followed. */
export interface BucketFollower {
  /** Resolves once the first watch holds every value that was in the bucket when it started. */
  ready: Promise<void>;
  stop(): void;
}

/** Starts following `kv`. */
export function followBucket(kv: KV, o: FollowOptions): BucketFollower {
  let stopped = false;
  let stopWatch: (() => void) | null = null;
  const isStopped = (): boolean => stopped;

  const watch = async (): Promise<void> => {
    const status = await kv.status();
    const fields = { bucket: status.bucket };
    let markReady: () => void = () => undefined;
    const initial = new Promise<void>((r) => (markReady = r));
    if (status.values === 0) markReady();
    const it = await kv.watch();
    stopWatch = () => {
      it.stop();
    };
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
        if (!isStopped()) void rewatch(fields);
      });
    const fallback = setTimeout(() => {
      if (o.readyFallback.warn) o.log.warn(`${o.what}: initial values took long; going on`, fields);
      markReady();
    }, o.readyFallback.ms);
    await initial;
    clearTimeout(fallback);
  };

  const rewatch = async (fields: Record<string, unknown>): Promise<void> => {
    for (let attempt = 0; !isStopped(); attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 5_000)));
      if (isStopped()) return;
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
    ready: watch(),
    stop: () => {
      stopped = true;
      stopWatch?.();
    },
  };
}
