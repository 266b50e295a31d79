import type { Logger } from '../../common/index.js';
import { noOps, type HostOps } from './host-ops.js';

/** Options of a write batcher. */
export interface WriteBatcherOptions {
  /** Applies one batch of host changes. */
  apply(ops: HostOps): Promise<void>;
  /** Called when a batch failed, before its requests are retried each alone: no view held is true any more. */
  invalidate(): void;
  log: Logger;
}

interface Request {
  ops: HostOps;
  replan: () => Promise<HostOps>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Host changes of concurrent callers, written together: every request submitted in one turn of the
 * event loop goes in one `ip -batch` and one OVSDB transaction. When a batch fails, each of its
 * requests is retried alone, so one bad request does not fail its neighbours.
 */
export class WriteBatcher {
  private pending: Request[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private flushScheduled = false;

  constructor(private readonly o: WriteBatcherOptions) {}

  /**
   * Queues `ops`; settles once they are applied (or have failed alone). `replan` works the changes
   * out again from the host as it is then, for the retry.
   */
  submit(ops: HostOps, replan: () => Promise<HostOps>): Promise<void> {
    if (noOps(ops)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.pending.push({ ops, replan, resolve, reject });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flushing = this.flushing
          .then(() => this.flush())
          .catch((e: unknown) => {
            this.o.log.error('host change batch failed', { error: String(e) });
          });
      });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.o.apply({
        ovsFirst: batch.flatMap((b) => b.ops.ovsFirst ?? []),
        ip: batch.flatMap((b) => b.ops.ip),
        ipDelete: batch.flatMap((b) => b.ops.ipDelete ?? []),
        ovs: batch.flatMap((b) => b.ops.ovs),
      });
      for (const b of batch) b.resolve();
    } catch (e) {
      if (batch.length === 1) {
        batch[0]?.reject(e);
        return;
      }
      // The batch may have been applied in part: `ip -batch` stops at the failing line, after the
      // lines before it, and an OVS transaction that fails comes after the whole ip batch. The same
      // changes again would fail on what is there now ("File exists"), so each request works its
      // changes out again from a fresh read of the host.
      this.o.invalidate();
      for (const b of batch) {
        try {
          const ops = await b.replan();
          if (!noOps(ops)) await this.o.apply(ops);
          b.resolve();
        } catch (e2) {
          b.reject(e2);
        }
      }
      this.o.invalidate();
    }
  }
}
