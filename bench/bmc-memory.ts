/**
 * Memory readings of bench:bmc: a process's RSS and PSS from /proc, an RSS that has settled, and
 * the per-node cost of a series of readings taken while an agent grows.
 */
import { readFile } from 'node:fs/promises';
import { sleep } from './lib-stack.js';
import { median } from './lib-stack/figures.js';

/** A `/proc/<pid>/status` field, in KB. */
export async function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
}

/** Proportional set size in KB: shared pages split between the processes sharing them. */
export async function pssKb(pid: number): Promise<number> {
  const t = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/^Pss:\s+(\d+)/m.exec(t)?.[1] ?? NaN);
}

/** RSS once a process has calmed down: the minimum of several samples after a pause. */
export async function settledRssKb(pid: number, pauseMs = 2000, samples = 3, everyMs = 300): Promise<number> {
  await sleep(pauseMs);
  let min = Infinity;
  for (let i = 0; i < samples; i++) {
    min = Math.min(min, await procStatusKb(pid, 'VmRSS'));
    if (i < samples - 1) await sleep(everyMs);
  }
  return min;
}

/** One reading: memory with `count` nodes (or BMCs, for the in-place series). */
export interface Reading {
  count: number;
  rssKb: number;
  heapKb: number;
}

/** Counts at which memory is read when growing to `n`: 1, every 100, and `n`. */
export function readingPoints(n: number): number[] {
  const points = [1];
  for (let k = 100; k < n; k += 100) points.push(k);
  // No tiny last step (its slope would be all noise); 100 stays, it is reported.
  const last = points[points.length - 1] ?? 1;
  if (last > 100 && n - last < 50) points.pop();
  points.push(n);
  return points;
}

/** Calls `step(from, to)` to go from one count to the next, reading memory (`read`) at each. */
export async function readAlong(
  points: number[],
  step: (from: number, to: number) => Promise<void>,
  read: () => Promise<Omit<Reading, 'count'>>,
): Promise<Reading[]> {
  const out: Reading[] = [];
  let have = 0;
  for (const n of points) {
    await step(have, n);
    have = n;
    out.push({ count: n, ...(await read()) });
  }
  return out;
}

/**
 * Median of the per-step slopes of `y` (KB per node). The anonymous RSS drops by 10-15 MB at some
 * random reading (memory the C allocator had kept, handed back; forced GC or not): that throws a
 * two-point slope over 1000 nodes off by 10-15 KB, but moves only one of the steps here.
 */
export function medianStep(series: Reading[], y: (m: Reading) => number = (m) => m.rssKb): number {
  const slopes: number[] = [];
  for (let i = 1; i < series.length; i++) {
    const [p, q] = [series[i - 1]!, series[i]!];
    slopes.push((y(q) - y(p)) / (q.count - p.count));
  }
  return median(slopes);
}

/** `[count, rssKb]` pairs of a series, for the JSON. */
export function seriesOf(r: Reading[]): number[][] {
  return r.map((m) => [m.count, m.rssKb]);
}
