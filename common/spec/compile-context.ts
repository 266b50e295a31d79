/** What every part of the cluster spec compiler shares: where problems go, and how raw input is read. */
import type { z } from 'zod';
import { fieldPath } from '../config.js';
import type { FieldError } from '../errors.js';
import type { clusterSpecSchema } from './schema.js';
import type { SpecPath } from './zod-issues.js';

/** The schema of the top level, key by key. */
export type TopShape = typeof clusterSpecSchema.shape;
/** The known top-level keys as parsed (the loose schema's output also has an index signature). */
export type Top = { [K in keyof TopShape]: z.output<TopShape[K]> };

/** The top-level values that parsed; a key is missing when its value was invalid. */
export type Scalars = Partial<Omit<Top, 'node_types' | 'specs' | 'nova_flavors' | 'hypervisors'>>;

/** Errors and warnings collected while compiling. */
export interface Ctx {
  errors: FieldError[];
  warnings: FieldError[];
}

/** A path as written in messages: `specs[1].type`. */
export const at = (path: SpecPath): string => fieldPath('', path);

/**
 * A value as upstream's `default(x, true)` reads it: missing, empty (`key:`), '' and false all mean
 * "not given" (null).
 */
export function given<T>(v: T | '' | false | null | undefined): Exclude<T, '' | false> | null {
  return v === undefined || v === null || v === '' || v === false ? null : (v as Exclude<T, '' | false>);
}

/** True for a YAML mapping (not null, not a list). */
export function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The entries of a list section: the parsed data when the whole list is valid, else each entry on
 * its own (null where invalid), so the cross-field checks still see the valid ones.
 */
export function listEntries<T>(
  whole: { ok: true; data: T[] | null | undefined } | { ok: false },
  raw: unknown,
  entry: z.ZodType<T>,
): (T | null)[] {
  if (whole.ok) return whole.data ?? [];
  if (!Array.isArray(raw)) return [];
  return raw.map((v) => {
    const r = entry.safeParse(v);
    return r.success ? r.data : null;
  });
}

/** The entries of a mapping section, as {@link listEntries}. */
export function mapEntries<T>(
  whole: { ok: true; data: Record<string, T> | null | undefined } | { ok: false },
  raw: unknown,
  entry: z.ZodType<T>,
): Map<string, T | null> {
  const out = new Map<string, T | null>();
  if (whole.ok) {
    for (const [k, v] of Object.entries(whole.data ?? {})) out.set(k, v);
  } else if (isMapping(raw)) {
    for (const [k, v] of Object.entries(raw)) {
      const r = entry.safeParse(v);
      out.set(k, r.success ? r.data : null);
    }
  }
  return out;
}
