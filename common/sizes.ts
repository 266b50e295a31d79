/**
 * Sizes in Tenks' syntax: plain bytes (`1048576`), or a number with a unit. Binary units: `K`/`KiB`,
 * `M`/`MiB`, `G`/`GiB`, `T`/`TiB`; decimal units as libvirt reads them: `KB`, `MB`, `GB`, `TB`.
 * `B` means bytes. Units are case-insensitive except that `b` alone is not accepted as bits.
 */
const UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/;

/** The result of parsing a size: bytes, or why it is not a size. */
export type SizeParse = { ok: true; bytes: number } | { ok: false; reason: string };

/** Parses a size; never throws. Sizes must be whole bytes, positive and at most 2^53. */
export function parseSize(input: string | number): SizeParse {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input <= 0)
      return { ok: false, reason: `size must be a positive whole number of bytes, got ${input}` };
    return { ok: true, bytes: input };
  }
  const m = SIZE.exec(input);
  if (!m) return { ok: false, reason: `'${input}' is not a size (examples: 10GiB, 512MiB, 1073741824)` };
  const [whole = '0', fraction = ''] = (m[1] ?? '0').split('.');
  const unitText = m[2] ?? '';
  const unit = unitText === '' ? 1 : UNITS[unitText.toLowerCase()];
  if (unit === undefined)
    return {
      ok: false,
      reason: `unknown size unit '${unitText}' in '${input}' (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)`,
    };
  // Exact decimal arithmetic: '1.001KB' is 1001 bytes, '1.5B' is not whole.
  const scaled = BigInt(whole + fraction) * BigInt(unit);
  const divisor = 10n ** BigInt(fraction.length);
  if (scaled % divisor !== 0n) return { ok: false, reason: `'${input}' is not a whole number of bytes` };
  const exact = scaled / divisor;
  if (exact > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: `'${input}' is too large` };
  const bytes = Number(exact);
  if (bytes <= 0) return { ok: false, reason: `size must be positive, got '${input}'` };
  return { ok: true, bytes };
}

/** Formats bytes with the largest binary unit that divides them exactly (`10GiB`, `1536MiB`). */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [
    ['TiB', 1024 ** 4],
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return `${bytes}B`;
}
