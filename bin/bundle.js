// When tenksctl runs from its bundle: dist/tenksctl.cjs is newer than every source it was built
// from (cli, common, proto/gen and the lock file) and TENKS_NO_BUNDLE is unset. bin/tenksctl.js
// and the benches read it from here, so they never disagree.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = new URL('..', import.meta.url).pathname;
export const BUNDLE = join(ROOT, 'dist/tenksctl.cjs');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** @returns {boolean} */
export function bundleIsFresh() {
  if (process.env.TENKS_NO_BUNDLE !== undefined) return false;
  try {
    const built = statSync(BUNDLE).mtimeMs;
    return (
      ['cli', 'common', 'proto/gen'].every((d) => newest(join(ROOT, d)) <= built) &&
      statSync(join(ROOT, 'package-lock.json')).mtimeMs <= built
    );
  } catch {
    return false;
  }
}
