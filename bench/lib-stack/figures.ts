/** Rounding and medians of the figures benches report. */

/** `x` rounded to `d` decimals. */
export const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

/** The median of `xs` (mean of the middle two for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}
