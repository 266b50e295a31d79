import { TenksError } from './errors.js';

/** Bounds how many tasks run at once (per agent, per libvirt connection). FIFO, abortable while waiting. */
export class Semaphore {
  private active = 0;
  private readonly waiting: {
    resolve: () => void;
    reject: (e: unknown) => void;
    signal: AbortSignal | undefined;
    onAbort: () => void;
  }[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new TenksError('INVALID_SPEC', `concurrency limit must be a positive integer, got ${limit}`);
  }

  /** Runs `task` once a slot is free. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const entry = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(abortError(signal));
        },
      };
      signal?.addEventListener('abort', entry.onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) {
      next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve();
    } else {
      this.active--;
    }
  }
}

/** The TenksError for an aborted signal (its reason when that already is one). */
export function abortError(signal: AbortSignal | undefined): TenksError {
  const reason: unknown = signal?.reason;
  if (reason instanceof TenksError) return reason;
  return new TenksError('CANCELLED', 'operation cancelled', { cause: reason });
}

/** Throws the abort error when `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** Runs tasks keyed by a string one at a time per key (e.g. one ensure per node at once). */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
