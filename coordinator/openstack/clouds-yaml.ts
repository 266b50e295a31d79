/**
 * Finding and reading clouds.yaml and secure.yaml (JSON too) on the search path, and the cloud made
 * of OS_* variables: raw dictionaries with keys normalized, as openstacksdk reads them.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseDocument, visit } from 'yaml';
import { invalidSpec, TenksError, type Logger } from '../../common/index.js';

/** The extensions a clouds or secure file may have, in the order they are looked for. */
export const FILE_SUFFIXES = ['.yaml', '.yml', '.json'] as const;

/**
 * The directories searched for `clouds.yaml` and `secure.yaml`, in order: the working directory,
 * `$XDG_CONFIG_HOME/openstack`, `~/.config/openstack`, each `$XDG_CONFIG_DIRS` entry
 * (`/etc/xdg`) + `/openstack`, `/etc/openstack`.
 */
export function cloudSearchDirs(env: NodeJS.ProcessEnv, cwd: string): string[] {
  const home = env.HOME ?? homedir();
  const dirs = [cwd];
  if (env.XDG_CONFIG_HOME) dirs.push(join(env.XDG_CONFIG_HOME, 'openstack'));
  dirs.push(join(home, '.config', 'openstack'));
  for (const d of (env.XDG_CONFIG_DIRS ?? '/etc/xdg').split(':')) if (d !== '') dirs.push(join(d, 'openstack'));
  dirs.push('/etc/openstack');
  return [...new Set(dirs.map((d) => resolve(cwd, d)))];
}

/** A mapping as read from a file. */
export type Dict = Record<string, unknown>;

/** The string, or null when absent or empty (an empty variable counts as unset). */
export function nonEmpty(s: string | null | undefined): string | null {
  return s === undefined || s === null || s === '' ? null : s;
}

/** True for a mapping (not null, not a list). */
export function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keys with `-` become `_`, recursively (openstacksdk treats them alike). */
export function normalizeKeys(d: Dict): Dict {
  const out: Dict = {};
  for (const [k, v] of Object.entries(d)) out[k.replace(/-/g, '_')] = isDict(v) ? normalizeKeys(v) : v;
  return out;
}

/**
 * A whole clouds.yaml / secure.yaml: keys are normalized, but the names of clouds (and of
 * public-clouds profiles) are kept as written, as openstacksdk looks them up verbatim.
 */
function normalizeDocument(d: Dict): Dict {
  const out = normalizeKeys(d);
  for (const [raw, v] of Object.entries(d)) {
    const key = raw.replace(/-/g, '_');
    if ((key === 'clouds' || key === 'public_clouds') && isDict(v))
      out[key] = Object.fromEntries(Object.entries(v).map(([name, c]) => [name, isDict(c) ? normalizeKeys(c) : c]));
  }
  return out;
}

/** Deep merge of mappings; `b` wins. */
export function mergeDicts(a: Dict, b: Dict): Dict {
  const out: Dict = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const old = out[k];
    out[k] = isDict(v) && isDict(old) ? mergeDicts(old, v) : v;
  }
  return out;
}

/**
 * Parses clouds.yaml / secure.yaml (JSON too). Numbers keep their source text, as openstacksdk
 * turns them into strings anyway: `baremetal_api_version: 1.50` stays `1.50`, not `1.5`.
 */
function parseConfigText(text: string, path: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw invalidSpec(
      doc.errors.map((e) => ({
        field: `${path}:${e.linePos?.[0].line ?? '?'}:${e.linePos?.[0].col ?? '?'}`,
        message: e.message.split('\n')[0] ?? e.message,
      })),
    );
  }
  visit(doc, {
    Scalar(_key, node) {
      if ((typeof node.value === 'number' || typeof node.value === 'bigint') && node.source !== undefined) {
        node.value = node.source;
      }
    },
  });
  return doc.toJS() as unknown;
}

/** A file found and parsed. */
export interface FoundFile {
  path: string;
  doc: Dict;
}

/** Reads and parses the first file of `candidates` that exists; `explicit` ones must exist. */
export async function firstFile(
  candidates: readonly { path: string; explicit: string | null }[],
  log: Logger,
): Promise<FoundFile | null> {
  for (const c of candidates) {
    let text: string;
    try {
      text = await readFile(c.path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (c.explicit !== null) {
        throw new TenksError('NOT_FOUND', `${c.explicit} names '${c.path}', which cannot be read: ${code ?? 'error'}`, {
          cause: e,
          field: c.explicit,
          hint: `fix or unset ${c.explicit}`,
        });
      }
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') continue;
      if (code === 'EACCES' || code === 'EPERM') {
        // As openstacksdk does: a file we may not read is passed over, not fatal.
        log.warn('openstack config file not readable, skipped', { path: c.path });
        continue;
      }
      throw new TenksError('UNAVAILABLE', `cannot read '${c.path}': ${(e as Error).message}`, { cause: e });
    }
    const doc = parseConfigText(text, c.path);
    if (doc === null || doc === undefined) return { path: c.path, doc: {} };
    if (!isDict(doc)) throw fieldError(c.path, '(root)', "must be a mapping with a 'clouds' key");
    return { path: c.path, doc: normalizeDocument(doc) };
  }
  return null;
}

/** INVALID_SPEC naming the file (or `environment`) and the key path, never the value. */
export function fieldError(source: string, field: string, message: string, hint?: string): TenksError {
  return new TenksError('INVALID_SPEC', `${source}: ${field}: ${message}`, {
    field,
    details: [{ field, message }],
    ...(hint === undefined ? {} : { hint }),
  });
}

/** OS_* variables that only choose a cloud or a file, and do not make an environment cloud. */
const SELECTORS = new Set([
  'OS_CLOUD',
  'OS_REGION_NAME',
  'OS_CLIENT_CONFIG_FILE',
  'OS_CLIENT_SECURE_FILE',
  'OS_CLOUD_NAME',
]);

/** The cloud made of OS_* variables (`OS_AUTH_URL` → `auth_url`), or null when there is none. */
export function environmentCloud(env: NodeJS.ProcessEnv): Dict | null {
  const keys = Object.keys(env).filter(
    // OS_TEST*, OS_STD*, OS_LOG* belong to test runners, as openstacksdk also skips them.
    (k) => k.startsWith('OS_') && !/^OS_(TEST|STD|LOG)/.test(k),
  );
  if (!keys.some((k) => !SELECTORS.has(k))) return null;
  const cloud: Dict = {};
  for (const k of keys) if (!SELECTORS.has(k) || k === 'OS_REGION_NAME') cloud[k.slice(3).toLowerCase()] = env[k];
  return cloud;
}
