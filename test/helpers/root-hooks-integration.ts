/**
 * Root hooks of the integration tier (`.mocharc.integration.json` requires this file): the host is
 * snapshotted before the tier and after it, and the run fails listing each difference (see
 * host-guard.ts). The tier holds the host lock meanwhile, so two tiers never overlap on one host.
 */
import type { Context, RootHookObject } from 'mocha';
import { hostProblems, hostSnapshot, settledDiff } from './host-guard.js';
import { takeHostLock, type HostLock } from './host-lock.js';
import type { HostSnapshot } from './host-snapshot.js';

/** How long a tier waits for another to finish before failing. */
const LOCK_WAIT_MS = 60 * 60_000;

let lock: HostLock | null = null;
let before: HostSnapshot | null = null;

export const mochaHooks: RootHookObject = {
  async beforeAll(this: Context) {
    this.timeout(LOCK_WAIT_MS + 60_000);
    lock = await takeHostLock('integration tier', LOCK_WAIT_MS, (l) => {
      console.log(`  host check: ${l}`);
    });
    before = await hostSnapshot();
  },
  async afterAll(this: Context) {
    this.timeout(120_000);
    try {
      if (before === null) return;
      const problems = hostProblems('integration tier', await settledDiff(before));
      if (problems !== null) throw new Error(problems);
    } finally {
      await lock?.release();
      lock = null;
    }
  },
};
