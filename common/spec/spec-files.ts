/*
 * Several spec files as one (`tenksctl apply -f a.yml -f b.yml`), merged as Ansible merges variable
 * files given with `-e @a.yml -e @b.yml`: in order, a later file's top-level key replacing the
 * earlier value wholesale. Ansible's default hash_behaviour is `replace`, so a mapping such as
 * `node_types` is replaced, never merged key by key. Errors and warnings about a top-level key name
 * the file its value came from.
 */
import { stringify } from 'yaml';
import { parseYaml } from '../config.js';
import { invalidSpec, isTenksError, type FieldError } from '../errors.js';
import { compileClusterSpec, type CompiledClusterSpec } from './compile.js';

/** One spec file as read. */
export interface SpecFile {
  /** Its name, for messages. */
  source: string;
  text: string;
}

/** Spec files merged and compiled. */
export interface MergedClusterSpec {
  /** Warnings name the file of their key when there are several files. */
  compiled: CompiledClusterSpec;
  /** What to send to the coordinator: the file as written when there is one, else the merge as YAML. */
  specYaml: string;
  /** `a.yml`, or `a.yml + b.yml` for several. */
  source: string;
  /** Each top-level key and the file its value came from. */
  origins: ReadonlyMap<string, string>;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The top-level key a field path starts with (`specs[1].type` → `specs`). */
function topKey(field: string): string {
  return field.split(/[.[]/, 1)[0] ?? field;
}

/** `fe` with the file its top-level key came from, when known. */
function attribute(fe: FieldError, origins: ReadonlyMap<string, string>): FieldError {
  const file = origins.get(topKey(fe.field));
  return file === undefined ? fe : { field: fe.field, message: `${fe.message} (from ${file})` };
}

/**
 * The top-level keys of `files` merged in order, later files' values replacing earlier ones
 * wholesale, with the file each key came from. An empty file adds nothing; any other file that is
 * not a mapping is INVALID_SPEC naming it. YAML errors name their file, line and column.
 */
export function mergeSpecFiles(files: readonly SpecFile[]): {
  merged: Record<string, unknown>;
  origins: Map<string, string>;
} {
  const merged: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  const problems: FieldError[] = [];
  for (const f of files) {
    const value = parseYaml(f.text, f.source);
    if (value === null || value === undefined) continue;
    if (!isMapping(value)) {
      problems.push({ field: `${f.source}:(root)`, message: 'a cluster spec is a mapping of settings' });
      continue;
    }
    for (const [k, v] of Object.entries(value)) {
      merged[k] = v;
      origins.set(k, f.source);
    }
  }
  if (problems.length > 0) throw invalidSpec(problems, `fix ${files.map((f) => f.source).join(', ')} and try again`);
  return { merged, origins };
}

/**
 * Parses, merges ({@link mergeSpecFiles}) and compiles spec files. With several, every error and
 * warning about a top-level key says which file the key's value came from (`specs[0].count: must
 * be 0 or more (from b.yml)`). Throws INVALID_SPEC.
 */
export function parseClusterSpecFiles(files: readonly SpecFile[]): MergedClusterSpec {
  const [first, ...rest] = files;
  if (first === undefined) throw invalidSpec([{ field: '-f', message: 'no spec file given' }]);
  if (rest.length === 0) {
    const value = parseYaml(first.text, first.source);
    const keys = isMapping(value) ? Object.keys(value) : [];
    return {
      compiled: compileClusterSpec(value, first.source),
      specYaml: first.text,
      source: first.source,
      origins: new Map(keys.map((k) => [k, first.source])),
    };
  }
  const source = files.map((f) => f.source).join(' + ');
  const { merged, origins } = mergeSpecFiles(files);
  let compiled: CompiledClusterSpec;
  try {
    compiled = compileClusterSpec(merged, source);
  } catch (e) {
    if (!(isTenksError(e) && e.code === 'INVALID_SPEC')) throw e;
    const details = e.details.length > 0 ? e.details : [{ field: e.field ?? '(root)', message: e.message }];
    throw invalidSpec(
      details.map((d) => attribute(d, origins)),
      'fix the files named above and try again',
    );
  }
  return {
    compiled: { spec: compiled.spec, warnings: compiled.warnings.map((w) => attribute(w, origins)) },
    specYaml: stringify(merged),
    source,
    origins,
  };
}
