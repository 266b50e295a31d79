#!/usr/bin/env node
// tenksctl: runs the bundle `npm run build` makes (dist/tenksctl.cjs) when it is newer than every
// source it was built from; otherwise the TypeScript through tsx's loader (~0.7 s), so an edited
// tree never runs stale code. The bundle is compiled through a V8 code cache kept beside it
// (dist/tenksctl.cjs.cache, written by the first run and whenever V8 rejects it), which saves
// most of the ~90 ms it takes to compile 2.7 MB of JavaScript on every start.
import { readdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

const root = new URL('..', import.meta.url).pathname;
const bundle = join(root, 'dist/tenksctl.cjs');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

function isFresh() {
  if (process.env.TENKS_NO_BUNDLE !== undefined) return false;
  try {
    const built = statSync(bundle).mtimeMs;
    return (
      ['cli', 'common', 'proto/gen'].every((d) => newest(join(root, d)) <= built) &&
      statSync(join(root, 'package-lock.json')).mtimeMs <= built
    );
  } catch {
    return false;
  }
}

function runBundle() {
  const cacheFile = `${bundle}.cache`;
  let cachedData;
  try {
    if (statSync(cacheFile).mtimeMs >= statSync(bundle).mtimeMs) cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const source = readFileSync(bundle, 'utf8');
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    cachedData,
  });
  if (cachedData === undefined || script.cachedDataRejected) {
    // After the run, so the functions it compiled lazily are in the cache too. Best effort: a
    // read-only install just starts a little slower.
    process.once('exit', () => {
      try {
        const tmp = `${cacheFile}.${process.pid}`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {
        // not writable: fine
      }
    });
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
}

if (isFresh()) {
  runBundle();
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
