import { TenksError } from './errors.js';

interface Waiter {
  resolve: () => void;
  /** Cleared when the waiter is settled (by a slot or by its signal). */
  live: boolean;
  /** Unsubscribes from the signal. */
  off: () => void;
}

/**
 * Bounds how many tasks run at once (per agent, per libvirt connection). FIFO, abortable while
 * waiting. Waiters subscribe through {@link onAbort}: thousands of them on one operation's signal,
 * across every semaphore, cost that signal a single listener.
 */
export class Semaphore {
  private active = 0;
  private queue: Waiter[] = [];
  private head = 0;
  private waiting = 0;

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

  /** Tasks waiting for a slot. */
  get pending(): number {
    return this.waiting;
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, live: true, off: () => undefined };
      w.off = onAbort(signal, () => {
        if (!w.live) return;
        w.live = false;
        this.waiting--;
        reject(abortError(signal));
      });
      this.queue.push(w);
      this.waiting++;
    });
  }

  private next(): Waiter | undefined {
    while (this.head < this.queue.length) {
      const w = this.queue[this.head++];
      if (w?.live) {
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        return w;
      }
    }
    this.queue = [];
    this.head = 0;
    return undefined;
  }

  private release(): void {
    const w = this.next();
    if (w) {
      w.live = false;
      this.waiting--;
      w.off();
      w.resolve();
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

/** `p`, or the abort error of `signal` if it fires first (`p` itself goes on: it may be shared). */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = (): void => {
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolvePromise(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
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

const subscribers = new WeakMap<AbortSignal, { fns: Set<() => void>; fire: () => void }>();

/**
 * Calls `fn` when `signal` aborts; returns the unsubscribe function. Every subscriber of one signal
 * shares a single listener, so thousands of calls under one operation's signal stay cheap (an
 * EventTarget walks its whole listener list on each add and remove). On a signal that has already
 * aborted, `fn` runs on the next microtask.
 */
export function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    let live = true;
    queueMicrotask(() => {
      if (live) fn();
    });
    return () => {
      live = false;
    };
  }
  let group = subscribers.get(signal);
  if (!group) {
    const fns = new Set<() => void>();
    const fire = (): void => {
      subscribers.delete(signal);
      for (const f of fns) f();
    };
    group = { fns, fire };
    subscribers.set(signal, group);
    signal.addEventListener('abort', fire, { once: true });
  }
  const mine = group;
  mine.fns.add(fn);
  return () => {
    // The shared listener goes once nobody is subscribed, so a finished operation leaves none.
    if (mine.fns.delete(fn) && mine.fns.size === 0 && subscribers.get(signal) === mine) {
      subscribers.delete(signal);
      signal.removeEventListener('abort', mine.fire);
    }
  };
}
