/**
 * One test tier at a time on a host: the host check compares the whole host before and after a
 * tier, so two tiers running at once (two engineers, two worktrees) would each see the other's
 * objects come and go. The lock is a file holding the owner's pid and start time; a lock whose
 * owner is gone (killed, crashed) is taken over.
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the lock lives: /run/lock (tmpfs, cleared at boot) when there is one. */
export const HOST_LOCK_FILE = join(existsSync('/run/lock') ? '/run/lock' : tmpdir(), 'tenks-host-tests.lock');

/** A process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or null when it is gone. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** The holder written in a lock file, or null when that process no longer runs. */
async function liveHolder(file: string): Promise<{ pid: number; what: string } | null> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const [pid, started, ...what] = text.split('\n');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return null;
  return startTime(n) === started ? { pid: n, what: what.join(' ').trim() } : null;
}

/** Locks this process holds, by file, with how many holders. */
const heldHere = new Map<string, { count: number; release: () => Promise<void> }>();

/** A held lock. */
export interface HostLock {
  release(): Promise<void>;
}

/**
 * Takes the host lock for `what` (e.g. "system tier"), waiting up to `timeoutMs` for a live holder;
 * `say` hears once that it waits and for whom. Released by `release()` or when this process exits.
 */
export async function takeHostLock(
  what: string,
  timeoutMs: number,
  say: (line: string) => void,
  file = HOST_LOCK_FILE,
): Promise<HostLock> {
  // Re-entrant within a process (a tier's hooks and the default config's both load in a run
  // given `--require`): the lock goes when the last holder releases it.
  const mine = heldHere.get(file);
  if (mine) {
    mine.count++;
    return { release: () => mine.release() };
  }
  const deadline = Date.now() + timeoutMs;
  const me = `${process.pid}\n${startTime(process.pid) ?? ''}\n${what}`;
  let told = false;
  for (;;) {
    try {
      const h = await open(file, 'wx', 0o644);
      await h.writeFile(me);
      await h.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await liveHolder(file);
    if (holder === null) {
      // The owner is gone: its lock is stale. (Another waiter may remove it first: fine.)
      await unlink(file).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(
        `the host lock ${file} is still held by pid ${holder.pid} (${holder.what}) after ${timeoutMs} ms`,
      );
    if (!told) say(`waiting for pid ${holder.pid} (${holder.what}), which holds the host lock ${file}`);
    told = true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const releaseSync = (): void => {
    try {
      if (readFileSync(file, 'utf8') === me) unlinkSync(file);
    } catch {
      // Already gone.
    }
  };
  process.once('exit', releaseSync);
  const held = {
    count: 1,
    release: (): Promise<void> => {
      if (--held.count > 0) return Promise.resolve();
      heldHere.delete(file);
      process.removeListener('exit', releaseSync);
      releaseSync();
      return Promise.resolve();
    },
  };
  heldHere.set(file, held);
  return { release: () => held.release() };
}
