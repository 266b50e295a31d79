/**
 * Root hooks of the system tier (`.mocharc.system.json` requires this file). Before the tier: the
 * host lock, a snapshot of the host as found, then a bystander lab like a user's (see
 * bystander-lab.ts), then the snapshot the tier is checked against. After the tier: every
 * difference from that snapshot fails the run (the bystander's domains, bridge, ports and sockets
 * are part of it), its BMCs must still answer with the power state it left and its running node
 * must still run; then the lab is deleted through its own coordinator and the host must be as
 * found, with nothing of the lab left.
 */
import type { Context, RootHookObject } from 'mocha';
import { BystanderLab } from './bystander-lab.js';
import { hostProblems, hostSnapshot, settledDiff } from './host-guard.js';
import { takeHostLock, type HostLock } from './host-lock.js';
import type { HostSnapshot } from './host-snapshot.js';

/** How long a tier waits for another to finish before failing. */
const LOCK_WAIT_MS = 60 * 60_000;

const say = (line: string): void => {
  console.log(`  host check: ${line}`);
};

let lock: HostLock | null = null;
let asFound: HostSnapshot | null = null;
let before: HostSnapshot | null = null;
let lab: BystanderLab | null = null;

export const mochaHooks: RootHookObject = {
  async beforeAll(this: Context) {
    this.timeout(LOCK_WAIT_MS + 10 * 60_000);
    lock = await takeHostLock('system tier', LOCK_WAIT_MS, say);
    asFound = await hostSnapshot();
    lab = await BystanderLab.start(say);
    before = await hostSnapshot();
  },
  async afterAll(this: Context) {
    this.timeout(10 * 60_000);
    const failures: string[] = [];
    try {
      if (before !== null) {
        const p = hostProblems('system tier', await settledDiff(before));
        if (p !== null) failures.push(p);
      }
      if (lab !== null) {
        failures.push(...(await lab.problems()));
        const left = await lab.teardown();
        if (left.length > 0) failures.push(`the bystander lab's own delete left: ${left.join('; ')}`);
        lab = null;
      }
      if (asFound !== null) {
        const p = hostProblems('after the bystander lab was removed', await settledDiff(asFound));
        if (p !== null) failures.push(p);
      }
    } finally {
      await lock?.release();
      lock = null;
    }
    if (failures.length > 0) throw new Error(failures.join('\n'));
  },
};
