/**
 * Numeric command-line options of a bench (`--nodes 1000`), each with its default and least value,
 * parsed and checked in one place: an unknown option or a value out of range stops the bench
 * before it starts anything.
 */
import { parseArgs } from 'node:util';

/** One option: its default, its least value, and whether it must be a whole number (default: yes). */
export interface NumberOption {
  default: number;
  min: number;
  integer?: boolean;
}

/** The values of `options` given on the command line (`args`, default the process's), checked in their order. */
export function numberOptions<K extends string>(
  options: Record<K, NumberOption>,
  args: string[] = process.argv.slice(2),
): Record<K, number> {
  const names = Object.keys(options) as K[];
  const { values } = parseArgs({
    args,
    options: Object.fromEntries(names.map((n) => [n, { type: 'string', default: String(options[n].default) }])),
    strict: true,
  });
  const out = {} as Record<K, number>;
  for (const name of names) {
    const { min, integer = true } = options[name];
    const value = Number(values[name]);
    if (integer ? !Number.isInteger(value) || value < min : !(value >= min))
      throw new Error(`--${name} must be ${integer ? 'an integer ' : ''}>= ${min}`);
    out[name] = value;
  }
  return out;
}
