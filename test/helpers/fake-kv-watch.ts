/**
 * A stand-in for a JetStream KV watch, for unit tests of code that follows a bucket.
 */
import type { KvWatchEntry } from '@nats-io/kv';

/** One watch's worth of entries, then the watch stays open (as a real one does) until stopped. */
export class FakeWatch implements AsyncIterable<KvWatchEntry> {
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(private readonly entries: KvWatchEntry[]) {}

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<KvWatchEntry> {
    for (const e of this.entries) {
      if (this.stopped) return;
      await Promise.resolve();
      yield e;
    }
    while (!this.stopped) await new Promise<void>((r) => (this.wake = r));
  }
}
