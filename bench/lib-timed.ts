/** Wall-clock timing of bench work. */

/** Seconds `f` takes. */
export async function seconds(f: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * Runs `task(i)` for i in [0, n) with `limit` in flight; returns seconds. `done(count)` is called as
 * each task ends.
 */
export function timed(
  n: number,
  limit: number,
  task: (i: number) => Promise<unknown>,
  done: (count: number) => void = () => undefined,
): Promise<number> {
  let next = 0;
  let count = 0;
  return seconds(() =>
    Promise.all(
      Array.from({ length: Math.min(limit, n) }, async () => {
        while (next < n) {
          const i = next++;
          await task(i);
          done(++count);
        }
      }),
    ),
  );
}
