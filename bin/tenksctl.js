#!/usr/bin/env node
// tenksctl: runs the bundle `npm run build` makes (dist/tenksctl.mjs, starts in ~0.25 s) when it is
// newer than every source it was built from; otherwise the TypeScript through tsx's loader
// (~0.7 s), so an edited tree never runs stale code.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bundle = join(root, 'dist/tenksctl.mjs');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

let fresh = false;
try {
  const built = statSync(bundle).mtimeMs;
  fresh =
    process.env.TENKS_NO_BUNDLE === undefined &&
    ['cli', 'common', 'proto/gen'].every((d) => newest(join(root, d)) <= built) &&
    statSync(join(root, 'package-lock.json')).mtimeMs <= built;
} catch {
  fresh = false;
}
if (fresh) {
  await import(bundle);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
