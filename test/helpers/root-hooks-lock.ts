/**
 * Root hooks of a mocha run without a tier config (`mocha --import=tsx test/system/x.test.ts`
 * loads the default `.mocharc.json`, which requires this file): such a run takes the host lock
 * the tiers take, so that a tier's host check never sees a single-file run's domains and links
 * come and go. Runs of unit test files only need no lock.
 */
import type { Context, RootHookObject, Suite } from 'mocha';
import { takeHostLock, type HostLock } from './host-lock.js';

const LOCK_WAIT_MS = 60 * 60_000;

let lock: HostLock | null = null;

/** The test files of a root suite. */
function filesOf(root: Suite | undefined): string[] {
  if (!root) return [];
  return [...root.suites.map((s) => s.file), ...root.tests.map((t) => t.file)].filter(
    (f): f is string => f !== undefined,
  );
}

export const mochaHooks: RootHookObject = {
  async beforeAll(this: Context) {
    const files = filesOf(this.test?.parent);
    if (files.every((f) => /(^|\/)test\/unit\//.test(f))) return;
    this.timeout(LOCK_WAIT_MS + 60_000);
    lock = await takeHostLock(`mocha ${files.join(' ')}`.slice(0, 200), LOCK_WAIT_MS, (l) => {
      console.log(`  host lock: ${l}`);
    });
  },
  async afterAll() {
    await lock?.release();
    lock = null;
  },
};
