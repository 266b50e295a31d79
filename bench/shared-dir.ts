import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * The workplace's shared reference directory (upstream Tenks files in `compat/`, IPMI captures and
 * Redfish schemas in `reference/`), which is not part of the repository: `$TENKS_SHARED_DIR`, else
 * `../shared` beside the repository, else `/work/shared`. Null when none exists: tests that need it
 * skip with the reason, and benches say so.
 */
export function sharedDir(): string | null {
  const env = process.env.TENKS_SHARED_DIR;
  if (env !== undefined && env !== '') return existsSync(env) ? resolve(env) : null;
  for (const d of [resolve(REPO, '..', 'shared'), '/work/shared']) if (existsSync(d)) return d;
  return null;
}

/** `<shared>/<sub>`, or null when the shared directory or that part of it is missing. */
export function sharedPath(...sub: string[]): string | null {
  const d = sharedDir();
  if (d === null) return null;
  const p = join(d, ...sub);
  return existsSync(p) ? p : null;
}

/** Why a test that needs `<shared>/<sub>` is skipped. */
export function sharedMissing(...sub: string[]): string {
  return `${join('<shared>', ...sub)} is not on this machine (set TENKS_SHARED_DIR to the workplace's shared directory)`;
}
