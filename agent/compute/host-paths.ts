/**
 * Which host files a node spec may put behind a guest's disks. Anyone holding a client certificate
 * can ensure nodes, so a volume's `image`, `backing_image` or `existing` path is honoured only
 * inside directories the agent's configuration allows; without this a spec could attach `/dev/sda`
 * or copy `/etc/shadow` into a guest. Paths are compared after resolving symlinks and `..` as the
 * kernel would, so a link or a climb out of an allowed directory does not get through.
 */
import { realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TenksError, type FieldError } from '../../common/errors.js';
import type { NodeSpec } from './types.js';

/** Options of a {@link HostPathPolicy}. */
export interface HostPathPolicyOptions {
  /** Absolute directories image, backing_image and existing paths must lie in (`allowed_image_dirs`). */
  imageDirs: readonly string[];
  /**
   * The agent's own dir pool: upstream names a backing image by its pool volume name, which the
   * coordinator turns into a path in the pool directory; `existing` pool volumes are allowed by name.
   */
  poolDir: string | null;
}

/**
 * `path` with every symlink and `..` resolved. A path that does not exist resolves as far as it
 * exists; nothing at the rest of it can be opened.
 */
export async function resolveHostPath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    // Resolved one component at a time below.
  }
  let current = '/';
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  for (const [i, part] of parts.entries()) {
    // `current` has no symlink left in it, so its parent is what the kernel's `..` gives.
    if (part === '..') {
      current = dirname(current);
      continue;
    }
    try {
      current = await realpath(join(current, part));
    } catch {
      return join(current, ...parts.slice(i));
    }
  }
  return current;
}

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** Refuses node specs whose volumes name host paths outside the allowed directories. */
export class HostPathPolicy {
  constructor(private readonly o: HostPathPolicyOptions) {}

  /** PERMISSION naming each offending volume field and the allowed directories; reads no file. */
  async check(spec: NodeSpec, base = 'node'): Promise<void> {
    const paths: { field: string; path: string; pool: boolean }[] = [];
    spec.volumes.forEach((v, i) => {
      const field = `${base}.volumes[${i}]`;
      if (v.source.kind === 'image') paths.push({ field: `${field}.image`, path: v.source.path, pool: false });
      else if (v.source.kind === 'backing')
        paths.push({ field: `${field}.backing_image`, path: v.source.path, pool: this.o.poolDir !== null });
      else if (v.source.kind === 'existing' && v.source.ref.startsWith('/'))
        paths.push({ field: `${field}.existing`, path: v.source.ref, pool: false });
    });
    if (paths.length === 0) return;
    const resolved = new Map<string, string>();
    const resolveOnce = async (p: string): Promise<string> => {
      const known = resolved.get(p);
      if (known !== undefined) return known;
      const r = await resolveHostPath(p);
      resolved.set(p, r);
      return r;
    };
    const errors: FieldError[] = [];
    const allowed = `allowed_image_dirs: ${this.o.imageDirs.join(', ') || 'none'}`;
    for (const p of paths) {
      const dirs = p.pool && this.o.poolDir !== null ? [...this.o.imageDirs, this.o.poolDir] : this.o.imageDirs;
      const target = await resolveOnce(p.path);
      const real = await Promise.all(dirs.map(resolveOnce));
      if (!real.some((d) => inside(target, d)))
        errors.push({
          field: p.field,
          message:
            `'${p.path}' is not inside a directory this agent allows for images (${allowed}` +
            `${p.pool ? `; for backing images also the pool directory ${String(this.o.poolDir)}` : ''}) ` +
            "once symlinks and '..' are resolved",
        });
    }
    const [first] = errors;
    if (first)
      throw new TenksError(
        'PERMISSION',
        errors.length === 1
          ? `${first.field}: ${first.message}`
          : `${errors.length} volumes name host paths this agent does not allow: ${errors.map((e) => e.field).join(', ')}`,
        {
          field: first.field,
          details: errors,
          hint: "put the file in one of the allowed directories, or add its directory to the agent's allowed_image_dirs",
        },
      );
  }
}
