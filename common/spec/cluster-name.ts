/*
 * Which cluster a spec is. tenks keeps clusters apart by name; upstream Tenks has no name and keeps
 * deployments apart by their state file (`state_file_path`, one YAML file per path), so files made
 * for upstream that must not replace each other (a-universe-from-nothing's tenks.yml,
 * tenks-compute.yml and tenks-storage.yml) differ only there. A spec without `name` is therefore named
 * after its state file:
 *
 * 1. the state file's name: of a plain path its basename; of a Jinja expression (`{{ '/'.join(
 *    [(playbook_dir | dirname), 'state-compute.yml']) }}`, which tenks does not render), the text
 *    after the last `}}` when that holds a file name, else the last quoted string literal inside
 *    the expression that ends in a file name;
 * 2. lower-cased, without a `.yml`/`.yaml`/`.json` extension and without a leading `state` followed
 *    by `-`, `_` or `.`;
 * 3. every character other than a-z and 0-9 turned into `-`, leading and trailing `-` dropped, at
 *    most 63 characters (CLUSTER_NAME_PATTERN);
 * 4. nothing left (upstream's default `state.yml`) means the default name, `tenks`.
 *
 * So upstream's default and tenks.yml (no state_file_path) make `tenks`, `state-compute.yml` makes
 * `compute`, `state-storage.yml` makes `storage`. `name`, when given, always wins.
 */
import type { FieldError } from '../errors.js';
import { CLUSTER_NAME_PATTERN } from './rules.js';

/** The name of a spec that has neither `name` nor `state_file_path` (nor a state file that names one). */
export const DEFAULT_CLUSTER_NAME = 'tenks';

/** Where a cluster's name came from. */
export type ClusterNameSource = 'name' | 'state_file_path' | 'default';

/** A spec's cluster name and where it came from. */
export interface ClusterIdentity {
  name: string;
  source: ClusterNameSource;
  /** `state_file_path` as written, or null when the spec has none. */
  stateFilePath: string | null;
}

const MAX_LENGTH = 63;
const EXTENSION = /\.(ya?ml|json)$/;
const STATE_PREFIX = /^state(?:[-_.]|$)/;

/** The last path component of `path` ('' when it ends in `/`). */
function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** What is left of a file name to name a cluster: lower case, no extension, no `state-` prefix. */
function stem(fileName: string): string {
  return fileName.toLowerCase().replace(EXTENSION, '').replace(STATE_PREFIX, '');
}

/** The quoted string literals in a piece of Jinja, in order. */
function stringLiterals(expr: string): string[] {
  const out: string[] = [];
  const re = /'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(expr); m !== null; m = re.exec(expr)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

/**
 * The state file's name in a `state_file_path` value (see the rule at the top of this file), or
 * null when the value names none (`{{ some_var }}`, a directory).
 */
export function stateFileName(value: string): string | null {
  const text = value.trim();
  // Where the last Jinja block ends (`}}`, or `%}` of a statement); -1: a plain path.
  const end = Math.max(text.lastIndexOf('}}'), text.lastIndexOf('%}'));
  if (end < 0) {
    const file = basename(text);
    return file === '' ? null : file;
  }
  const tail = basename(text.slice(end + 2).trim());
  if (holdsFileName(tail)) return tail;
  const blocks = [...text.slice(0, end + 2).matchAll(/\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g)].map(
    (m) => m[1] ?? m[2] ?? '',
  );
  const literal = stringLiterals(blocks.join(' ')).findLast((l) => basename(l.trim()) !== '');
  return literal === undefined ? null : basename(literal.trim());
}

/** Whether text after an expression is a file name, not just an extension (`{{ base }}.yml`). */
function holdsFileName(tail: string): boolean {
  return /[a-z0-9]/.test(stem(tail)) || STATE_PREFIX.test(tail.toLowerCase());
}

/**
 * The cluster name a state file name gives (the rule at the top of this file): the default name
 * when nothing is left of it, null when something is left but no usable character.
 */
export function clusterNameFromStateFile(fileName: string): string | null {
  const rest = stem(fileName);
  if (rest === '') return DEFAULT_CLUSTER_NAME;
  const name = rest
    .replace(/[^a-z0-9]/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_LENGTH)
    .replace(/-+$/, '');
  return CLUSTER_NAME_PATTERN.test(name) ? name : null;
}

/** Result of {@link resolveClusterName}. */
export type ResolvedName =
  { ok: true; identity: ClusterIdentity; warning: FieldError | null } | { ok: false; error: FieldError };

/**
 * The cluster name of a spec from its (validated) `name` and `state_file_path`, null where absent
 * or empty: `name` when given, else the state file's (see the top of this file), else the default.
 * An error names `state_file_path` when it gives no usable name; a warning when both are given and
 * disagree.
 */
export function resolveClusterName(name: string | null, stateFilePath: string | null): ResolvedName {
  const path = stateFilePath === null || stateFilePath.trim() === '' ? null : stateFilePath;
  const file = path === null ? null : stateFileName(path);
  const derived = file === null ? null : clusterNameFromStateFile(file);
  if (name !== null) {
    const warning =
      path !== null && derived !== null && derived !== name
        ? {
            field: 'name',
            message: `'${name}' is used; state_file_path alone would have named the cluster '${derived}'`,
          }
        : null;
    return { ok: true, identity: { name, source: 'name', stateFilePath: path }, warning };
  }
  if (path === null)
    return {
      ok: true,
      identity: { name: DEFAULT_CLUSTER_NAME, source: 'default', stateFilePath: null },
      warning: null,
    };
  if (derived === null)
    return {
      ok: false,
      error: {
        field: 'state_file_path',
        message:
          file === null
            ? `names no state file tenks can read a cluster name from ('${path.trim()}'); give the cluster a name (name: ...)`
            : `state file '${file}' gives no usable cluster name; give the cluster a name (name: ...)`,
      },
    };
  return { ok: true, identity: { name: derived, source: 'state_file_path', stateFilePath: path }, warning: null };
}

/**
 * How a cluster got its name, for people: `name`, `state_file_path 'state-compute.yml'` or
 * `default` (the form of Plan.name_source).
 */
export function describeNameSource(spec: { nameSource: ClusterNameSource; stateFilePath: string | null }): string {
  if (spec.nameSource !== 'state_file_path') return spec.nameSource;
  const file = spec.stateFilePath === null ? null : stateFileName(spec.stateFilePath);
  return `state_file_path '${file ?? spec.stateFilePath ?? ''}'`;
}
