/** Counts of what a fuzzer saw, by kind, with an example of each. */

/** Counts by key, plus the first example of each (at most 20 keys). */
export type Tally = Record<string, { count: number; first: string }>;

/** Counts `key` in `t`, keeping `first` (its first `maxChars` characters) as the example of a new key. */
export function note(t: Tally, key: string, first: string, maxChars: number): void {
  const e = t[key];
  if (e) e.count++;
  else if (Object.keys(t).length < 20) t[key] = { count: 1, first: first.slice(0, maxChars) };
}
