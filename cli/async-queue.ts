/**
 * An unbounded queue read with `for await`: synchronous callbacks (timers, signal handlers, a NATS
 * subscription pump) push, one loop consumes and does the async work in order.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | null = null;
  private closed = false;

  /** Adds an item; ignored once closed. */
  push(item: T): void {
    if (this.closed) return;
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w({ value: item, done: false });
    } else this.items.push(item);
  }

  /** Ends iteration once the queued items are read. */
  close(): void {
    this.closed = true;
    const w = this.waiter;
    this.waiter = null;
    if (w !== null && this.items.length === 0) w({ value: undefined, done: true });
  }

  /** Items waiting to be read. */
  get size(): number {
    return this.items.length;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: (): Promise<IteratorResult<T>> => {
        if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: (): Promise<IteratorResult<T>> => {
        this.close();
        this.items.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
