import { z } from 'zod';
import { fieldPath } from '../config.js';
import type { FieldError } from '../errors.js';
import { didYouMean } from './did-you-mean.js';
import { isSecretKey } from './secrets.js';
import { unknownKeyMessage } from './unknown-keys.js';

/** A path in the raw spec. */
export type SpecPath = readonly (string | number)[];

/** The schema below wrappers (optional, nullable, default, prefault). */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
    else if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault) s = s.unwrap() as z.ZodType;
    else return s;
  }
}

/** The keys the object schema at `path` (inside `schema`) knows, for "did you mean". */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = unwrap(schema);
  for (const p of path) {
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType | undefined>)[String(p)];
    else if (s instanceof z.ZodRecord) s = s.valueType as z.ZodType;
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else return [];
    if (s === undefined) return [];
    s = unwrap(s);
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function describeInput(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'symbol') return 'a value (not shown)';
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v;
}

/** Our messages for a rule ("not a usable ...") read better with the value in front. */
function withValue(message: string, input: unknown): string {
  return typeof input === 'string' && message.startsWith('not ') ? `'${input}' is ${message}` : message;
}

function issueErrors(issue: z.core.$ZodIssue, base: SpecPath, schema: z.ZodType): FieldError[] {
  const path = [...base, ...(issue.path as (string | number)[])];
  const field = fieldPath('', path);
  // Secrets never appear in errors: a password's value is described by its type only.
  const secret = isSecretKey(String(path.at(-1) ?? ''));
  const given = 'input' in issue ? issue.input : undefined;
  const input = secret && given !== undefined ? Symbol('secret') : given;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(schema, issue.path);
      return issue.keys.map((k) => ({ field: fieldPath('', [...path, k]), message: unknownKeyMessage(k, known) }));
    }
    case 'invalid_key': {
      const inner = issue.issues[0];
      return [{ field, message: withValue(inner?.message ?? 'invalid key', input) }];
    }
    case 'invalid_value': {
      const values = issue.values.map(String);
      return [
        {
          field,
          message: `${describeInput(input)} is not one of ${values.join(', ')}${typeof input === 'string' ? didYouMean(input, values) : ''}`,
        },
      ];
    }
    case 'invalid_type':
      if (!('input' in issue) || input === undefined)
        return [{ field, message: issue.message.startsWith('Invalid input') ? 'required' : issue.message }];
      return [
        {
          field,
          message: issue.message.startsWith('Invalid input')
            ? `expected ${issue.expected === 'int' ? 'a whole number' : issue.expected}, got ${describeInput(input)}`
            : `${issue.message} (got ${describeInput(input)})`,
        },
      ];
    default:
      return [{ field, message: withValue(issue.message, input) }];
  }
}

/** Validates `value` against `schema`; pushes an error per problem, with its path, and returns the data or undefined. */
export function parsePart<S extends z.ZodType>(
  schema: S,
  value: unknown,
  path: SpecPath,
  errors: FieldError[],
): { ok: true; data: z.output<S> } | { ok: false } {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return { ok: true, data: r.data };
  for (const issue of r.error.issues) errors.push(...issueErrors(issue, path, schema));
  return { ok: false };
}
