/** The files part of a host snapshot: every entry under given directories, with size, mtime and hash. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostItem } from './host-items.js';

/** A directory to record, and paths below it to leave out (things that change by design). */
export interface FileRoot {
  dir: string;
  exclude?: readonly string[];
}

/** Files larger than this are compared by size and mtime only. */
const HASH_LIMIT_BYTES = 64 * 1024 * 1024;

function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => {
        resolve(h.digest('hex').slice(0, 16));
      });
  });
}

/** Every file, directory and symlink under the roots (a missing root records nothing). */
export async function fileItems(roots: readonly FileRoot[]): Promise<HostItem[]> {
  const items: HostItem[] = [];
  const walk = async (path: string, exclude: ReadonlySet<string>): Promise<void> => {
    if (exclude.has(path)) return;
    const st = await lstat(path).catch(() => null);
    if (!st) return;
    const common = { mode: (st.mode & 0o7777).toString(8), owner: `${st.uid}:${st.gid}` };
    if (st.isDirectory()) {
      items.push({ kind: 'file', name: path, fields: { type: 'dir', ...common } });
      for (const e of (await readdir(path).catch(() => [])).sort()) await walk(join(path, e), exclude);
    } else if (st.isSymbolicLink()) {
      items.push({ kind: 'file', name: path, fields: { type: 'symlink', target: await readlink(path), ...common } });
    } else {
      items.push({
        kind: 'file',
        name: path,
        fields: {
          type: st.isFile() ? 'file' : 'special',
          size: String(st.size),
          mtime: new Date(st.mtimeMs).toISOString(),
          sha256: st.isFile() && st.size <= HASH_LIMIT_BYTES ? await hashFile(path).catch(() => '') : '',
          ...common,
        },
      });
    }
  };
  for (const r of roots) await walk(r.dir, new Set(r.exclude ?? []));
  return items;
}
