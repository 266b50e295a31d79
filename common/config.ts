import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { invalidSpec, TenksError, type FieldError } from './errors.js';
import { aliasProblem, collectionKeys } from './yaml-problems.js';

/** Renders a zod issue path as `a.b[2].c`. */
export function fieldPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Every zod issue as a field error. */
export function zodErrors(error: z.ZodError, base = ''): FieldError[] {
  return error.issues.flatMap((i) =>
    // One error per unknown key, at the key's own path.
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ field: fieldPath(base, [...i.path, k]), message: `unknown key '${k}'` }))
      : [{ field: fieldPath(base, i.path), message: i.message }],
  );
}

/**
 * Parses YAML text; syntax errors (and what the library only warns about) name the file, line and
 * column, problems it finds only while converting (aliases, collection keys) the field they are at.
 */
export function parseYaml(text: string, source: string): unknown {
  const lines = new LineCounter();
  // logLevel 'error': the library would print its warnings on stderr; they are errors here.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines, logLevel: 'error' });
  // Warnings (a tag it cannot resolve, an unknown directive) mean it read something other than
  // what was written: the value would be used as if untagged.
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    throw invalidSpec(
      problems.map((e) => ({
        field: `${source}:${e.linePos?.[0].line ?? '?'}:${e.linePos?.[0].col ?? '?'}`,
        // The parser reports running out of stack as it is; what the user did is nest too deeply.
        message: (e.message.split('\n')[0] ?? e.message).replace(
          /^Maximum call stack size exceeded/,
          'the document is nested too deeply',
        ),
      })),
    );
  }
  const keys = collectionKeys(doc, lines);
  if (keys.length > 0) throw invalidSpec(keys.map((k) => ({ field: fieldPath('', k.path), message: k.message })));
  try {
    return doc.toJS() as unknown;
  } catch (e) {
    // Unresolved aliases and alias bombs are thrown, not reported: find the alias to name its field.
    const p = e instanceof ReferenceError ? aliasProblem(doc, lines) : null;
    if (!p) throw e;
    throw invalidSpec([{ field: fieldPath('', p.path), message: p.message }]);
  }
}

/** Reads and parses a YAML file. */
export async function readYamlFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new TenksError('NOT_FOUND', `cannot read '${path}': ${(e as Error).message}`, { cause: e });
  }
  return parseYaml(text, path);
}

/** Validates `input` against `schema`; throws one INVALID_SPEC error listing every problem. */
export function compile<S extends z.ZodType>(schema: S, input: unknown, base = ''): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw invalidSpec(zodErrors(r.error, base));
  return r.data;
}
