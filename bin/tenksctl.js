#!/usr/bin/env node
// tenksctl: runs the bundle `npm run build` makes (dist/tenksctl.cjs) when it is newer than every
// source it was built from; otherwise the TypeScript through tsx's loader (~0.7 s), so an edited
// tree never runs stale code. The bundle is compiled through a V8 code cache kept beside it
// (dist/tenksctl.cjs.cache, written by the first run and whenever V8 rejects it), which saves
// most of the ~90 ms it takes to compile 2.7 MB of JavaScript on every start.
import { readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';
import { BUNDLE as bundle, bundleIsFresh } from './bundle.js';

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

if (bundleIsFresh()) {
  runBundle();
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
