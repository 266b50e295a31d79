import { chmod, chown, lstat, mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TenksError } from '../../common/errors.js';

/*
 * Console log directories as upstream's libvirt-vm role leaves them: created if missing and, when
 * an owner is given (`libvirt_vm_log_owner`, e.g. Kolla's nova uid 42436), owned by that user and
 * group, recursively, mode 0770 — so a containerised libvirt or log collector running as that user
 * can read and write them.
 */

/** The uid and gid of `owner`: a number is both (as `chown N:N`), a name is looked up in /etc/passwd and /etc/group. */
export async function resolveOwner(owner: string, etc = '/etc'): Promise<{ uid: number; gid: number }> {
  if (/^\d+$/.test(owner)) {
    const n = Number(owner);
    return { uid: n, gid: n };
  }
  const field = (text: string, name: string, index: number): number | null => {
    for (const line of text.split('\n')) {
      const parts = line.split(':');
      if (parts[0] === name && parts[index] !== undefined && /^\d+$/.test(parts[index])) return Number(parts[index]);
    }
    return null;
  };
  const [passwd, group] = await Promise.all([
    readFile(join(etc, 'passwd'), 'utf8').catch(() => ''),
    readFile(join(etc, 'group'), 'utf8').catch(() => ''),
  ]);
  const uid = field(passwd, owner, 2);
  if (uid === null)
    throw new TenksError('INVALID_SPEC', `console log owner '${owner}' is not a user on this host`, {
      field: 'node.console_log_owner',
      hint: 'create the user, or give a numeric uid',
    });
  // The group of the same name, as upstream asks for; else the user's primary group.
  const gid = field(group, owner, 2) ?? field(passwd, owner, 3) ?? uid;
  return { uid, gid };
}

/** Makes `dir` exist and, with an owner, gives it (and everything in it) to that owner, mode 0770. */
export async function prepareConsoleLogDir(dir: string, owner: string | undefined): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    if (owner !== undefined) await giveTo(dir, await resolveOwner(owner));
  } catch (e) {
    if (e instanceof TenksError) throw e;
    throw new TenksError('UNAVAILABLE', `cannot prepare console log directory '${dir}': ${(e as Error).message}`, {
      field: 'node.console_log_dir',
      cause: e,
    });
  }
}

async function giveTo(dir: string, { uid, gid }: { uid: number; gid: number }): Promise<void> {
  const walk = async (path: string): Promise<void> => {
    const st = await lstat(path);
    if (st.isSymbolicLink()) return;
    if (st.uid !== uid || st.gid !== gid) await chown(path, uid, gid);
    if (st.isDirectory()) {
      if ((st.mode & 0o777) !== 0o770) await chmod(path, 0o770);
      for (const entry of await readdir(path)) await walk(join(path, entry));
    }
  };
  await walk(dir);
}
