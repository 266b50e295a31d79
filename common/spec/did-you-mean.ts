/**
 * Optimal string alignment distance: Levenshtein plus adjacent transpositions, so `memroy_mb` is one
 * edit from `memory_mb`.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The known key `key` is most likely a typo of, or null. A near miss is at most 2 edits away (1 for
 * keys of 4 characters or fewer, where 2 edits would match unrelated words); ties go to the first
 * candidate in `known` order.
 */
export function nearMiss(key: string, known: Iterable<string>): string | null {
  const limit = key.length <= 4 ? 1 : 2;
  let best: string | null = null;
  let bestDistance = limit + 1;
  for (const k of known) {
    if (k === key) return null;
    const dist = editDistance(key.toLowerCase(), k.toLowerCase());
    if (dist < bestDistance) {
      best = k;
      bestDistance = dist;
    }
  }
  return best;
}

/** ` (did you mean 'x'?)` for a near miss, else ''. */
export function didYouMean(key: string, known: Iterable<string>): string {
  const m = nearMiss(key, known);
  return m === null ? '' : ` (did you mean '${m}'?)`;
}
