import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { setImmediate as tick } from 'node:timers/promises';
import { TenksError } from '../../common/errors.js';
import { abortError, KeyedMutex, onAbort, Semaphore, throwIfAborted } from '../../common/semaphore.js';

/** A promise with its resolve function. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Lets every pending microtask and immediate run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
}

describe('Semaphore', () => {
  it('rejects a limit that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN])
      assert.throws(
        () => new Semaphore(bad),
        (e: unknown) => e instanceof TenksError && e.code === 'INVALID_SPEC',
      );
  });

  it('never runs more than the limit at once', async () => {
    const sem = new Semaphore(3);
    let active = 0;
    let peak = 0;
    const tasks = Array.from({ length: 20 }, (_, i) =>
      sem.run(async () => {
        active++;
        peak = Math.max(peak, active);
        for (let j = 0; j < (i % 4) + 1; j++) await tick();
        active--;
        return i;
      }),
    );
    assert.deepEqual(
      await Promise.all(tasks),
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.equal(peak, 3);
    assert.equal(active, 0);
  });

  it('starts waiting tasks in FIFO order', async () => {
    const sem = new Semaphore(1);
    const first = gate();
    const order: number[] = [];
    const running = sem.run(() => first.promise);
    const waiting = [1, 2, 3, 4].map((n) =>
      sem.run(() => {
        order.push(n);
        return Promise.resolve();
      }),
    );
    await settle();
    assert.deepEqual(order, []);
    first.open();
    await Promise.all([running, ...waiting]);
    assert.deepEqual(order, [1, 2, 3, 4]);
  });

  it('frees the slot when a task fails', async () => {
    const sem = new Semaphore(1);
    await assert.rejects(
      sem.run(() => Promise.reject(new Error('fail'))),
      /fail/,
    );
    await assert.rejects(
      sem.run(() => {
        throw new Error('sync');
      }),
      /sync/,
    );
    assert.equal(await sem.run(() => Promise.resolve('ok')), 'ok');
  });

  it('rejects a waiting task with CANCELLED when its signal aborts, and skips it', async () => {
    const sem = new Semaphore(1);
    const first = gate();
    const running = sem.run(() => first.promise);
    const ac = new AbortController();
    let cancelledRan = false;
    const cancelled = sem.run(() => {
      cancelledRan = true;
      return Promise.resolve();
    }, ac.signal);
    const next = sem.run(() => Promise.resolve('next'));
    await settle();
    ac.abort();
    await assert.rejects(cancelled, (e: unknown) => e instanceof TenksError && e.code === 'CANCELLED');
    first.open();
    await running;
    assert.equal(await next, 'next');
    assert.equal(cancelledRan, false);
    // The limit still holds after the abort: one slot, not two.
    let active = 0;
    let peak = 0;
    await Promise.all(
      [1, 2, 3].map(() =>
        sem.run(async () => {
          peak = Math.max(peak, ++active);
          await tick();
          active--;
        }),
      ),
    );
    assert.equal(peak, 1);
  });

  it('rejects at once when the signal has already aborted, keeping a TenksError reason', async () => {
    const sem = new Semaphore(2);
    await assert.rejects(
      sem.run(() => Promise.resolve(), AbortSignal.abort()),
      (e: unknown) => e instanceof TenksError && e.code === 'CANCELLED',
    );
    const reason = new TenksError('TIMEOUT', 'deadline');
    await assert.rejects(
      sem.run(() => Promise.resolve(), AbortSignal.abort(reason)),
      (e: unknown) => e === reason,
    );
  });
});

describe('abortError / throwIfAborted', () => {
  it('throws only for an aborted signal', () => {
    assert.doesNotThrow(() => {
      throwIfAborted(undefined);
    });
    assert.doesNotThrow(() => {
      throwIfAborted(new AbortController().signal);
    });
    assert.throws(
      () => {
        throwIfAborted(AbortSignal.abort());
      },
      (e: unknown) => e instanceof TenksError && e.code === 'CANCELLED',
    );
  });

  it('keeps the original reason as the cause', () => {
    const reason = new Error('user pressed ^C');
    const e = abortError(AbortSignal.abort(reason));
    assert.equal(e.code, 'CANCELLED');
    assert.equal(e.cause, reason);
  });
});

describe('KeyedMutex', () => {
  it('runs tasks of one key one at a time, in order', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    let active = 0;
    const run = (n: number): Promise<number> =>
      m.run('k', async () => {
        assert.equal(++active, 1, 'two tasks of one key overlapped');
        log.push(`start ${n}`);
        await tick();
        await tick();
        log.push(`end ${n}`);
        active--;
        return n;
      });
    assert.deepEqual(await Promise.all([run(1), run(2), run(3)]), [1, 2, 3]);
    assert.deepEqual(log, ['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  });

  it('runs tasks of different keys concurrently', async () => {
    const m = new KeyedMutex();
    const a = gate();
    let bRan = false;
    const pa = m.run('a', () => a.promise);
    const pb = m.run('b', () => {
      bRan = true;
      return Promise.resolve();
    });
    await pb;
    assert.equal(bRan, true, 'key b waited for key a');
    a.open();
    await pa;
  });

  it('keeps going after a task fails', async () => {
    const m = new KeyedMutex();
    const failed = m.run('k', () => Promise.reject(new Error('first fails')));
    const second = m.run('k', () => Promise.resolve('second'));
    await assert.rejects(failed, /first fails/);
    assert.equal(await second, 'second');
  });

  it('holds later tasks of a key until the running one finishes', async () => {
    const m = new KeyedMutex();
    const first = gate();
    let secondRan = false;
    const p1 = m.run('k', () => first.promise);
    const p2 = m.run('k', () => {
      secondRan = true;
      return Promise.resolve();
    });
    await settle();
    assert.equal(secondRan, false);
    first.open();
    await Promise.all([p1, p2]);
    assert.equal(secondRan, true);
  });
});

describe('Semaphore with many waiters on one signal', () => {
  it('adds one abort listener however many wait, and rejects them all on abort', async () => {
    const sem = new Semaphore(1);
    const ac = new AbortController();
    let adds = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    ac.signal.addEventListener = (...args: Parameters<typeof add>) => {
      adds++;
      add(...args);
    };
    const hold = gate();
    const running = sem.run(() => hold.promise, ac.signal);
    const waiting = Array.from({ length: 1000 }, () => sem.run(() => Promise.resolve(), ac.signal));
    await settle();
    assert.equal(adds, 1);
    assert.equal(sem.pending, 1000);
    ac.abort();
    const out = await Promise.allSettled(waiting);
    assert.ok(out.every((r) => r.status === 'rejected' && (r.reason as TenksError).code === 'CANCELLED'));
    assert.equal(sem.pending, 0);
    hold.open();
    await running;
    assert.equal(await sem.run(() => Promise.resolve(7)), 7);
  });

  it('forgets settled waiters so later aborts reach only those still waiting', async () => {
    const sem = new Semaphore(1);
    const first = new AbortController();
    const second = new AbortController();
    const hold = gate();
    const running = sem.run(() => hold.promise);
    const a = sem.run(() => Promise.resolve('a'), first.signal);
    const b = sem.run(() => Promise.resolve('b'), second.signal);
    const c = sem.run(() => Promise.resolve('c'), first.signal);
    second.abort();
    await assert.rejects(b, (e: unknown) => e instanceof TenksError && e.code === 'CANCELLED');
    hold.open();
    await running;
    assert.deepEqual(await Promise.all([a, c]), ['a', 'c']);
    first.abort();
    assert.equal(sem.pending, 0);
  });
});

describe('onAbort', () => {
  it('runs every live subscriber once and none that unsubscribed', () => {
    const ac = new AbortController();
    const seen: number[] = [];
    const offs = [1, 2, 3].map((n) => onAbort(ac.signal, () => seen.push(n)));
    offs[1]?.();
    ac.abort();
    ac.abort();
    assert.deepEqual(seen, [1, 3]);
    assert.doesNotThrow(() => {
      onAbort(undefined, () => seen.push(9))();
    });
  });
});

describe('onAbort listeners', () => {
  it('shares one listener among subscribers and removes it when the last one leaves', () => {
    const ac = new AbortController();
    const offs = Array.from({ length: 50 }, () => onAbort(ac.signal, () => undefined));
    assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
    for (const off of offs) off();
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  });

  it('calls a subscriber of an already aborted signal on the next microtask', async () => {
    const ac = new AbortController();
    ac.abort();
    let called = 0;
    onAbort(ac.signal, () => called++);
    assert.equal(called, 0);
    await settle();
    assert.equal(called, 1);
  });
});

// Regression (fixed): each agent's semaphore added its own listener to the operation's signal, so
// an apply over 10 agents put 11 on it and Node printed MaxListenersExceededWarning.
describe('Semaphores of many agents', () => {
  it('share one listener on a signal, and leave none once their waiters are served', async () => {
    const ac = new AbortController();
    const holds = Array.from({ length: 12 }, () => gate());
    const sems = holds.map(() => new Semaphore(1));
    const running = sems.map((s, i) => s.run(() => holds[i]?.promise ?? Promise.resolve()));
    const queued = sems.map((s) => s.run(() => Promise.resolve(), ac.signal));
    await settle();
    assert.equal(getEventListeners(ac.signal, 'abort').length, 1);
    for (const h of holds) h.open();
    await Promise.all([...running, ...queued]);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  });
});
