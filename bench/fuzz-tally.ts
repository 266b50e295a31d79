/** What bench:fuzz reports of what went wrong: counts by kind, with the first example of each. */

/** Counts by key, each with its first example. */
export type Tally = Record<string, { count: number; first: string }>;

/** Keys kept apart at most: the figures stay readable when everything goes wrong at once. */
const MAX_KEYS = 20;

/** Counts `key` in `t`; the first time, `first` (cut to `maxChars`) is kept as its example. */
export function note(t: Tally, key: string, first: string, maxChars = Infinity): void {
  const seen = t[key];
  if (seen) seen.count++;
  else if (Object.keys(t).length < MAX_KEYS) t[key] = { count: 1, first: first.slice(0, maxChars) };
}
