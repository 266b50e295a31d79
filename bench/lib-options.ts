/** A bench's command-line options. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** An integer option: its value when not given, and its least value. */
export interface IntegerOption {
  default: number;
  min: number;
}

/**
 * Parses the command line (strictly: an unknown option fails): the integer options `integers`
 * declares, each of which must be an integer from its minimum up to `max` or this throws
 * `--<name> must be an integer >= <min>` (checked in declaration order), and the string options
 * `strings` names (no default).
 */
export function benchOptions<I extends string, S extends string = never>(
  integers: Readonly<Record<I, IntegerOption>>,
  o: { strings?: readonly S[]; max?: number } = {},
): Record<I, number> & Partial<Record<S, string>> {
  const names = Object.keys(integers) as I[];
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const name of names) options[name] = { type: 'string', default: String(integers[name].default) };
  for (const name of o.strings ?? []) options[name] = { type: 'string' };
  const { values } = parseArgs({ options, strict: true });
  const out: Record<string, number | string> = {};
  for (const name of names) {
    const v = Number(values[name]);
    const { min } = integers[name];
    if (!Number.isInteger(v) || v < min || v > (o.max ?? Infinity))
      throw new Error(`--${name} must be an integer >= ${min}`);
    out[name] = v;
  }
  for (const name of o.strings ?? []) {
    const v = values[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out as Record<I, number> & Partial<Record<S, string>>;
}

/*
 * numberOptions: the same idea for numbers that need not be whole (`integer: false`), with the
 * arguments given (tests) or the process's.
 */
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
